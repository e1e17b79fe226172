"""Knowledge sheets in the catalogue: the sample's content, and each mistake reported with its line."""

from __future__ import annotations

import re

import pytest

from skills.catalogue import default_catalogue, parse_catalogue
from skills.errors import SkillFileError

BASE = """\
defaults:
  targets:
    phone:    {handling: 4m, sla: 20s}
    counter:  {handling: 8m, sla: 10m}
    callback: {handling: 5m, sla: 48h}
    email:    {handling: 6m, sla: 72h}
    webform:  {handling: 5m, sla: 72h}
    mail:     {handling: 8m, sla: 72h}
domains:
  accueil: Accueil
processes:
  - code: triage
    label: Accueil
    domain: accueil
    sheet: accueil/orientation
"""

GOOD_SHEET = """\
sheets:
  accueil/orientation:
    title: Orientation
    pieces: [Aucune]
    steps: [Écouter, Orienter]
    delay: Immédiat
    link: https://www.service-public.fr/
    en: {title: Guidance, pieces: [None], steps: [Listen, Direct], delay: At once}
"""


def test_every_sheet_the_sample_names_has_its_content() -> None:
    catalogue = default_catalogue()
    named = {p.sheet for p in catalogue.processes.values() if p.sheet}
    assert len(named) >= 30 and named == set(catalogue.sheets)
    for ref, sheet in catalogue.sheets.items():
        french = sheet.texts["fr"]
        assert french.title and french.pieces and french.steps and french.delay, ref
        assert sheet.link is None or sheet.link.startswith("https://"), ref
    english = [s for s in catalogue.sheets.values() if "en" in s.texts]
    assert len(english) >= 5
    passport = catalogue.sheets["etat-civil/passeport"]
    assert passport.text("en").title == "Passport (application, renewal)"
    assert passport.text("de").title == "Passeport (demande, renouvellement)", "French when the language is missing"
    assert catalogue.sheets["etat-civil/acte-deces"].text("en") is catalogue.sheets["etat-civil/acte-deces"].texts["fr"]


def test_a_sheet_is_read_with_its_english() -> None:
    catalogue = parse_catalogue(BASE + GOOD_SHEET, "c.yaml")
    sheet = catalogue.sheets["accueil/orientation"]
    assert sheet.texts["fr"].steps == ("Écouter", "Orienter") and sheet.text("en").delay == "At once"
    assert sheet.link == "https://www.service-public.fr/"


def _problems(text: str) -> str:
    with pytest.raises(SkillFileError) as caught:
        parse_catalogue(text, "c.yaml")
    return str(caught.value)


@pytest.mark.parametrize(("edit", "line", "reason"), [
    (("accueil/orientation:", "accueil/orientaton:"), 15, "unknown sheet 'accueil/orientation' (did you mean 'accueil/orientaton'?)"),
    (("    pieces: [Aucune]\n", ""), 17, "sheet 'accueil/orientation': missing required field 'pieces'"),
    (("steps: [Écouter, Orienter]", "steps: []"), 20, "steps is empty"),
    (("link: https://www.service-public.fr/", "link: www.service-public.fr"), 22, "is not a web address"),
    (("    delay: Immédiat\n", "    delay: Immédiat\n    delai: 2 jours\n"), 22, "unknown field 'delai' (did you mean 'delay'?)"),
    (("en: {title: Guidance, ", "en: {"), 23, "sheet 'accueil/orientation', en: missing required field 'title'"),
    (("delay: At once}\n", "delay: At once}\n  Bad Ref: {title: x}\n"), 24, "bad sheet reference 'Bad Ref'"),
])
def test_each_mistake_in_a_sheet_names_its_line(edit: tuple[str, str], line: int, reason: str) -> None:
    old, new = edit
    text = BASE + GOOD_SHEET.replace(old, new, 1)
    problems = _problems(text)
    assert reason in problems, problems
    assert len(problems.splitlines()) == 1, f"one mistake, one problem: {problems}"
    assert re.search(rf"c\.yaml:{line}\b", problems), problems
