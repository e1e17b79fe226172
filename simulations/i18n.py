"""The planner's words in French first, English available: the ``planner`` domain of ``dispatcher.i18n``.

The ``.po`` files under ``locale/`` (domain ``planner``) are the only source,
compiled in memory by Babel on first use; message ids are English. The switch
is the one of every command (``dispatcher.i18n``): ``--lang fr|en``, else the
``GUICHET_LANG`` environment variable, else French. Mark a string with
:func:`tr` (translated at once, in the chosen language); ``python -m
simulations.catalogues`` re-extracts the marked strings into the catalogues.
"""

from __future__ import annotations

import gettext
from pathlib import Path

from dispatcher.i18n import DEFAULT, ENV, LANGUAGES, Domain, check, language, set_language

__all__ = ["DEFAULT", "ENV", "LANGUAGES", "check", "language", "set_language"]

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "planner"
PLANNER = Domain(DOMAIN, LOCALE_DIR)


def catalogue_path(lang: str) -> Path:
    """The ``.po`` file of ``lang``."""
    return PLANNER.catalogue_path(lang)


def translations(lang: str) -> gettext.GNUTranslations:
    """The compiled catalogue of ``lang`` (one of LANGUAGES)."""
    return PLANNER.translations(lang)


def tr(message: str) -> str:
    """``message`` (English, the catalogue's id) in the language in force."""
    return PLANNER.tr(message)


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
