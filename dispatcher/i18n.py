"""The commands' languages: French first, English available, one switch for every command.

Each command family has a gettext domain whose ``.po`` files (English message ids)
are the only source, compiled in memory by Babel on first use: ``planner`` (the
planner's commands, ``simulations/locale``) and ``commands`` (the admins' and the
newcomer's commands: demo, serve, purge, db, users, agents, skills, sites;
``dispatcher/locale``). The language is chosen once for all of them: ``--lang
fr|en``, else the ``GUICHET_LANG`` environment variable, else French. In this
domain, :func:`msg` translates a string at once and :func:`M_` marks one for
later; ``python -m dispatcher.catalogues`` re-extracts them into the catalogues.
"""

from __future__ import annotations

import gettext
import io
import os
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated

import typer

LANGUAGES: tuple[str, ...] = ("fr", "en")
DEFAULT = "fr"
ENV = "GUICHET_LANG"

_chosen: ContextVar[str | None] = ContextVar("guichet_language", default=None)
"""The language chosen by ``--lang``: per context, so that a server may set it per request."""


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


@dataclass(frozen=True)
class Domain:
    """One gettext domain: its ``.po`` files under ``locale_dir/LANG/LC_MESSAGES/``."""

    name: str
    locale_dir: Path

    def catalogue_path(self, lang: str) -> Path:
        """The ``.po`` file of ``lang``."""
        return self.locale_dir / lang / "LC_MESSAGES" / f"{self.name}.po"

    def translations(self, lang: str) -> gettext.GNUTranslations:
        """The compiled catalogue of ``lang`` (one of LANGUAGES)."""
        return _compiled(self.catalogue_path(lang), lang, self.name)

    def tr(self, message: str) -> str:
        """``message`` (English, the catalogue's id) in the language in force."""
        return self.translations(language()).gettext(message)


@cache
def _compiled(path: Path, lang: str, name: str) -> gettext.GNUTranslations:
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with path.open("rb") as po:
        catalog = read_po(po, locale=lang, domain=name)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


COMMANDS = Domain("commands", Path(__file__).resolve().parent / "locale")
"""The admins' and the newcomer's commands."""


def msg(message: str) -> str:
    """``message`` (English id) in the language in force, from the ``commands`` domain."""
    return COMMANDS.tr(message)


def M_(message: str) -> str:
    """Mark ``message`` for the ``commands`` catalogue, to be translated later with :func:`msg`."""
    return message


LangOpt = Annotated[str | None, typer.Option(
    "--lang", help="Language of the messages: fr or en (default: GUICHET_LANG, else fr).",
    show_default=False)]
"""The ``--lang`` option every command takes."""


def choose_language(lang: str | None) -> str:
    """Set the commands' language from ``--lang`` (else GUICHET_LANG, else French)."""
    try:
        return set_language(lang)
    except ValueError:
        raise typer.BadParameter(f"{lang!r}: {' or '.join(LANGUAGES)}", param_hint="--lang") from None
