"""The pages' gettext catalogues: extract the strings, update the ``.po`` files.

``python -m dispatcher.pages.catalogues`` re-extracts every marked string of
the templates and of this package's Python code and merges them into
``locale/{fr,en}/LC_MESSAGES/guichet.po``, keeping the translations already
there; a new string shows up empty, and the catalogue test fails until it is
translated.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po, write_po

from dispatcher.pages.i18n import DOMAIN, LANGUAGES, catalogue_path

PACKAGE = Path(__file__).resolve().parent
METHODS = [("templates/**.html", "jinja2"), ("**.py", "python")]
OPTIONS = {"templates/**.html": {"extensions": "jinja2.ext.i18n", "newstyle_gettext": "true"}}
KEYWORDS = {**DEFAULT_KEYWORDS, "_": None}


def extract() -> Catalog:
    """Every translatable string of the pages, with where it is used."""
    template = Catalog(domain=DOMAIN, project="Guichet")
    for filename, lineno, message, comments, context in extract_from_dir(
        PACKAGE, METHODS, OPTIONS, keywords=KEYWORDS, strip_comment_tags=True
    ):
        template.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return template


def update() -> None:
    """Merge the extracted strings into each language's ``.po`` (translations kept)."""
    template = extract()
    for lang in LANGUAGES:
        path = catalogue_path(lang)
        if path.exists():
            with path.open("rb") as po:
                catalog = read_po(po, locale=lang, domain=DOMAIN)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            catalog = Catalog(locale=lang, domain=DOMAIN, project="Guichet")
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        with path.open("wb") as po:
            write_po(po, catalog, width=100, omit_header=False, sort_output=True)


if __name__ == "__main__":
    update()
