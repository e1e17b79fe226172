"""The planner's words in French first, English available: the pages' gettext mechanism.

Like ``dispatcher.pages.i18n``, the ``.po`` files under ``locale/`` (domain
``planner``) are the only source, compiled in memory by Babel on first use;
message ids are English. One switch for every planner command: ``--lang fr|en``,
else the ``GUICHET_LANG`` environment variable, else French. Mark a string with
:func:`tr` (translated at once, in the chosen language); ``python -m
simulations.catalogues`` re-extracts the marked strings into the catalogues.
"""

from __future__ import annotations

import gettext
import io
import os
from contextvars import ContextVar
from functools import cache
from pathlib import Path

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "planner"
LANGUAGES: tuple[str, ...] = ("fr", "en")
DEFAULT = "fr"
ENV = "GUICHET_LANG"

_chosen: ContextVar[str | None] = ContextVar("planner_language", default=None)
"""The language chosen by ``--lang``: per context, so that a server may set it per request."""


def catalogue_path(lang: str) -> Path:
    """The ``.po`` file of ``lang``."""
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(lang: str) -> gettext.GNUTranslations:
    """The compiled catalogue of ``lang`` (one of LANGUAGES)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with catalogue_path(lang).open("rb") as po:
        catalog = read_po(po, locale=lang, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def check(lang: str | None) -> str | None:
    """``lang`` if it is one of LANGUAGES (or None); ValueError naming the choices otherwise."""
    if lang is not None and lang not in LANGUAGES:
        raise ValueError(f"{lang!r}: fr or en")
    return lang


def set_language(lang: str | None) -> str:
    """Choose the language (None: ``GUICHET_LANG``, else French); returns the one in force."""
    _chosen.set(check(lang))
    return language()


def language() -> str:
    """The language in force: the one chosen, else ``GUICHET_LANG`` if valid, else French."""
    chosen = _chosen.get()
    if chosen is not None:
        return chosen
    env = os.environ.get(ENV, "").strip().lower()[:2]
    return env if env in LANGUAGES else DEFAULT


def tr(message: str) -> str:
    """``message`` (English, the catalogue's id) in the language in force."""
    return translations(language()).gettext(message)


def N_(message: str) -> str:
    """Mark ``message`` for the catalogue, to be translated later (e.g. by :func:`translations`)."""
    return message


CHANNELS: dict[str, str] = {
    "phone": N_("phone"), "counter": N_("counter"), "callback": N_("callback"),
    "email": N_("email"), "mail": N_("mail"), "webform": N_("webform"),
}
"""The channels' codes and their names (English ids)."""


def channel_name(code: str) -> str:
    """The name of the channel ``code`` in the language in force (the code if unknown)."""
    return tr(CHANNELS[code]) if code in CHANNELS else code


def number(value: float, digits: int) -> str:
    """``value`` with ``digits`` decimals, a decimal comma in French."""
    text = f"{value:.{digits}f}"
    return text.replace(".", ",") if language() == "fr" else text
