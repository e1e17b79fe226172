"""Translations of the pages: gettext catalogues (Babel), French first, English available.

The ``.po`` files under ``locale/`` are the only source: they are compiled in
memory at start, so there is no build step and no stale ``.mo`` file. A
request's language is its ``lang`` cookie (set by the language switch), else
the best of its ``Accept-Language``, else French.
"""

from __future__ import annotations

import gettext
import io
from functools import cache
from pathlib import Path

from aiohttp import web
from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "guichet"
LANGUAGES: tuple[str, ...] = ("fr", "en")
DEFAULT = "fr"
COOKIE = "guichet_lang"


def catalogue_path(lang: str) -> Path:
    """The ``.po`` file of ``lang``."""
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(lang: str) -> gettext.GNUTranslations:
    """The compiled catalogue of ``lang`` (one of LANGUAGES)."""
    with catalogue_path(lang).open("rb") as po:
        catalog = read_po(po, locale=lang, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def language_of(request: web.Request) -> str:
    """The page language of ``request``: the switch's cookie, else Accept-Language, else French."""
    chosen = request.cookies.get(COOKIE)
    if chosen in LANGUAGES:
        return chosen
    header = request.headers.get("Accept-Language", "")
    wanted = [part.split(";")[0].strip().replace("-", "_") for part in header.split(",") if part.strip()]
    best = Locale.negotiate(wanted, list(LANGUAGES), sep="_") if wanted else None
    return best.language if best is not None else DEFAULT


def gettext_of(request: web.Request) -> gettext.GNUTranslations:
    """The translations for ``request``'s language."""
    return translations(language_of(request))


def _(message: str) -> str:
    """Mark a string for extraction; translate it later with ``gettext_of(request)``."""
    return message
