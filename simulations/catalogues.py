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

from dispatcher.catalogues import extract as extract_domain
from dispatcher.catalogues import update as update_domain
from simulations.i18n import PLANNER

PACKAGE = Path(__file__).resolve().parent
SOURCES = (
    (PACKAGE, [("**.py", "python")]),
    (PACKAGE.parent / "dispatcher" / "history", [("cli.py", "python"), ("stats.py", "python")]),
)
"""Where the planner's strings are: this package, and ``guichet stats`` (its tables and CSV)."""
KEYWORDS = {"tr": None, "N_": None}


def extract() -> Catalog:
    """Every translatable string of the planner's commands and reports, with where it is used."""
    return extract_domain(PLANNER, SOURCES, KEYWORDS)


def update() -> None:
    """Merge the extracted strings into each language's ``.po`` (translations kept)."""
    update_domain(PLANNER, extract())


if __name__ == "__main__":
    update()
