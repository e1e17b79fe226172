"""The commands' gettext catalogues: extract the marked strings, update the ``.po`` files.

``python -m dispatcher.catalogues`` re-extracts every string marked with ``msg()``
or ``M_()`` (``dispatcher.i18n``) in the commands' packages and merges them into
``dispatcher/locale/{fr,en}/LC_MESSAGES/commands.po``, keeping the translations
already there; a new string shows up empty, and the catalogue test fails until it
is translated. ``simulations.catalogues`` does the same for the planner's domain.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from dispatcher.i18n import COMMANDS, LANGUAGES, Domain

ROOT = Path(__file__).resolve().parent.parent
Sources = Sequence[tuple[Path, list[tuple[str, str]]]]
COMMAND_SOURCES: Sources = (
    (ROOT / "guichet", [("**.py", "python")]),
    (ROOT / "dispatcher", [("**.py", "python")]),
    (ROOT / "skills", [("**.py", "python")]),
)
"""Where the commands' strings are."""
COMMAND_KEYWORDS = {"msg": None, "M_": None}


def extract(domain: Domain, sources: Sources, keywords: dict[str, None]) -> Catalog:
    """Every string of ``sources`` marked with one of ``keywords``, with where it is used."""
    template = Catalog(domain=domain.name, project="Guichet")
    for folder, methods in sources:
        where = folder.relative_to(ROOT).as_posix()
        for filename, lineno, message, comments, context in extract_from_dir(
            folder, methods, keywords=keywords, strip_comment_tags=True
        ):
            template.add(message, None, [(f"{where}/{filename}", lineno)], auto_comments=comments,
                         context=context)
    return template


def update(domain: Domain, template: Catalog) -> None:
    """Merge ``template`` into each language's ``.po`` of ``domain`` (translations kept)."""
    for lang in LANGUAGES:
        path = domain.catalogue_path(lang)
        if path.exists():
            with path.open("rb") as po:
                catalog = read_po(po, locale=lang, domain=domain.name)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            catalog = Catalog(locale=lang, domain=domain.name, project="Guichet")
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        with path.open("wb") as po:
            write_po(po, catalog, width=100, omit_header=False, sort_output=True)


def extract_commands() -> Catalog:
    """Every translatable string of the commands' domain."""
    return extract(COMMANDS, COMMAND_SOURCES, COMMAND_KEYWORDS)


if __name__ == "__main__":
    update(COMMANDS, extract_commands())
