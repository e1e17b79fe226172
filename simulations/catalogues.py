"""The planner's gettext catalogues: extract the strings, update the ``.po`` files.

``python -m simulations.catalogues`` re-extracts every string marked with
``tr()`` or ``N_()`` in this package and in ``guichet stats`` and merges them into
``locale/{fr,en}/LC_MESSAGES/planner.po``, keeping the translations already
there (the pages' ``dispatcher.pages.catalogues`` does the same for the
pages); a new string shows up empty, and the catalogue test fails until it is
translated.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from simulations.i18n import DOMAIN, LANGUAGES, catalogue_path

PACKAGE = Path(__file__).resolve().parent
SOURCES = (
    (PACKAGE, [("**.py", "python")]),
    (PACKAGE.parent / "dispatcher" / "history", [("cli.py", "python"), ("stats.py", "python")]),
)
"""Where the planner's strings are: this package, and ``guichet stats`` (its tables and CSV)."""
KEYWORDS = {"tr": None, "N_": None}


def extract() -> Catalog:
    """Every translatable string of the planner's commands and reports, with where it is used."""
    template = Catalog(domain=DOMAIN, project="Guichet")
    for folder, methods in SOURCES:
        where = folder.relative_to(PACKAGE.parent).as_posix()
        for filename, lineno, message, comments, context in extract_from_dir(
            folder, methods, keywords=KEYWORDS, strip_comment_tags=True
        ):
            template.add(message, None, [(f"{where}/{filename}", lineno)], auto_comments=comments,
                         context=context)
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
