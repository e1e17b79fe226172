"""IVR menu files: the bundled one is valid; bad ones are refused with the place and the reason."""

from __future__ import annotations

import pytest

from ivr.menu import GENERALIST, Menu, MenuError, load_menu, parse_menu
from skills.catalogue import default_catalogue

GOOD = """
languages: [fr, en]
language_keys: {"9": en}
prompts:
  welcome: guichet/bienvenue
  invalid: {fr: guichet/choix-invalide, en: guichet/invalid-choice}
  generalist: guichet/orientation
  known_citizen: guichet/bonjour
  repeat_caller: guichet/rappel-recent
  wait_intro: guichet/attente-estimee
  minutes: guichet/minutes
  wait_short: guichet/attente-courte
  no_agent: guichet/aucun-conseiller
  callback_offer: guichet/proposition-rappel
  callback_confirmed: guichet/rappel-confirme
  hold: guichet/patientez
menu:
  prompt: guichet/menu
  choices:
    1: {prompt: guichet/etat-civil, choices: {1: passport, 2: id_card}}
    0: generalist
"""


def test_the_bundled_menu_is_valid_against_the_bundled_catalogue() -> None:
    catalogue = default_catalogue()
    config = load_menu(catalogue=catalogue)
    assert config.language == "fr" and "en" in config.languages
    assert config.language_keys == {"9": "en"}
    assert config.processes() <= set(catalogue.processes)
    assert "passport" in config.processes()
    first = config.menu.choices["1"]
    assert isinstance(first, Menu) and first.choices["1"] == "passport"
    assert config.menu.choices["0"] == GENERALIST


def test_prompts_per_language() -> None:
    config = parse_menu(GOOD)
    assert config.prompt("invalid", "fr") == "guichet/choix-invalide"
    assert config.prompt("invalid", "en") == "guichet/invalid-choice"
    assert config.prompt("welcome", "en") == "guichet/bienvenue"  # Asterisk picks sounds/en/...


@pytest.mark.parametrize(
    "change, message",
    [
        (
            (
                "1: {prompt: guichet/etat-civil, choices: {1: passport, 2: id_card}}",
                "1: {prompt: guichet/etat-civil, choices: {1: pasport}}",
            ),
            "menu.choices.1.choices.1: unknown process 'pasport'",
        ),
        (("0: generalist", "A: generalist"), "menu.choices.A: 'A' is not a phone key"),
        (("  hold: guichet/patientez\n", ""), "prompts.hold: missing"),
        (
            ("welcome: guichet/bienvenue", "welcome: guichet/bien venue"),
            "prompts.welcome: expected a sound file",
        ),
        (
            ('language_keys: {"9": en}', 'language_keys: {"9": de}'),
            "language_keys: 'de' is not in languages",
        ),
        (
            ("languages: [fr, en]", "languages: [fr, en]\nretries: -1"),
            "retries: expected a number >= 0",
        ),
        (("languages: [fr, en]", "langages: [fr]"), "unknown key 'langages'"),
    ],
)
def test_bad_menus_are_refused_with_the_place(change: tuple[str, str], message: str) -> None:
    text = GOOD.replace(*change)
    assert text != GOOD
    with pytest.raises(MenuError) as err:
        parse_menu(text, "menus.yaml", default_catalogue())
    assert f"menus.yaml: {message}" in str(err.value)


def test_not_yaml_names_the_line() -> None:
    with pytest.raises(MenuError, match=r"menus.yaml: line \d+: not valid YAML"):
        parse_menu("menu: [\n  oops: {", "menus.yaml")


def test_a_missing_file() -> None:
    with pytest.raises(MenuError, match="nowhere.yaml: file not found"):
        load_menu("nowhere.yaml")
