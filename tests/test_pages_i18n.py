"""The pages' catalogues: every marked string translated in French and English, nothing stale."""

from __future__ import annotations

from babel.messages.pofile import read_po

from dispatcher.pages.catalogues import extract
from dispatcher.pages.i18n import DOMAIN, LANGUAGES, catalogue_path, translations


def _ids(message_id: str | tuple[str, ...]) -> str:
    return message_id if isinstance(message_id, str) else message_id[0]


def test_every_string_is_translated_in_every_language() -> None:
    wanted = {_ids(m.id) for m in extract() if m.id}
    assert len(wanted) > 10
    for lang in LANGUAGES:
        with catalogue_path(lang).open("rb") as po:
            catalog = read_po(po, locale=lang, domain=DOMAIN)
        have = {_ids(m.id): m for m in catalog if m.id}
        assert sorted(wanted - set(have)) == [], f"{lang}: strings missing from the catalogue"
        assert sorted(set(have) - wanted) == [], f"{lang}: strings no page uses any more"
        untranslated = [i for i, m in have.items() if not all(m.string if isinstance(m.string, tuple) else [m.string])]
        assert untranslated == [], f"{lang}: untranslated"
        assert [i for i, m in have.items() if m.fuzzy] == [], f"{lang}: fuzzy"


def test_french_differs_from_english_and_placeholders_survive() -> None:
    fr, en = translations("fr"), translations("en")
    assert fr.gettext("Log out") == "Déconnexion" and en.gettext("Log out") == "Log out"
    for message in extract():
        if not message.id:
            continue
        source = _ids(message.id)
        for lang in LANGUAGES:
            text = translations(lang).gettext(source) if isinstance(message.id, str) else translations(lang).ngettext(source, message.id[1], 2)
            assert ("%(" in text) == ("%(" in source), f"{lang}: placeholder lost in {source!r}"
