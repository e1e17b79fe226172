"""The sites file: the sample loads, mistakes are refused with file, line and reason, by the command too."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dispatcher.counter.sites import counter_policy, default_sites, load_sites
from dispatcher.http.tokens import TokenConfigError, device_subjects, load_tokens
from dispatcher.policy import RoutingPolicy
from skills.catalogue import default_catalogue
from skills.errors import SkillFileError
from skills.matrix import default_matrix
from skills.model import Channel


@pytest.fixture(autouse=True)
def _english(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests read the English wording (French is the default): GUICHET_LANG=en, inherited by the commands."""
    monkeypatch.setenv("GUICHET_LANG", "en")

CATALOGUE = default_catalogue()
GOOD_LETTERS = "letters: {" + ", ".join(f"{d}: {chr(65 + i)}" for i, d in enumerate(CATALOGUE.domains)) + "}\n"


def test_the_sample_has_the_town_hall_and_an_annexe_with_mixed_desks() -> None:
    sites = default_sites(CATALOGUE)
    assert set(sites.sites) == {"hdv", "annexe"}
    assert sites.sites["hdv"].counters["guichet 1"] == frozenset({Channel.COUNTER, Channel.PHONE})
    assert sites.device("annexe-borne-1") == ("kiosk", "annexe") and sites.device("hdv-ecran-2") == ("display", "hdv")
    assert sites.letters["etat_civil"] == "A" and set(sites.letters) == set(CATALOGUE.domains)
    assert sites.priority_classes["disability"].advance_s == 600.0
    assert counter_policy(RoutingPolicy(), sites).offer_timeout_s[Channel.COUNTER] == sites.rules.agent_away_after_s


@pytest.mark.parametrize(
    "body, line, reason",
    [
        ("sites:\n  hdv:\n    label: X\n    counters:\n      g1: [counter, fone]\n", 5, "unknown channel 'fone'"),
        ("sites:\n  hdv:\n    label: X\n    counters:\n      g1: [phone]\n", 5, "a counter serves the 'counter' channel"),
        ("sites:\n  hdv:\n    label: X\n    kiosks: [Borne 1]\n    counters: {g1: [counter]}\n", 4, "bad device id"),
        ("sites:\n  hdv:\n    label: X\n    kiosks: [k1]\n    counters: {g1: [counter]}\n  b:\n    label: Y\n    displays: [k1]\n    counters: {g2: [counter]}\n", 8, "device k1 already listed"),
        ("sites:\n  hdv:\n    label: X\n    counters: {g1: [counter]}\n    printers: [p]\n", 5, "unknown field 'printers'"),
        ("counter: {recalls: many}\nsites:\n  hdv: {label: X, counters: {g1: [counter]}}\n", 1, "counter, recalls: expected 0 to 10"),
        ("priority_classes:\n  vip: {label: VIP, label_en: VIP, advance: 2h}\nsites:\n  hdv: {label: X, counters: {g1: [counter]}}\n", 2, "between 1s and 1h"),
    ],
)
def test_mistakes_are_refused_with_file_line_and_reason(tmp_path: Path, body: str, line: int, reason: str) -> None:
    path = tmp_path / "sites.yaml"
    path.write_text("version: 1\n" + body + GOOD_LETTERS, encoding="utf-8")
    with pytest.raises(SkillFileError) as refused:
        load_sites(path, CATALOGUE)
    problems = [p for p in refused.value.problems if reason in p.reason]
    assert problems, str(refused.value)
    assert problems[0].path == str(path) and problems[0].line == line + 1  # + the version line


def test_letters_must_cover_every_domain_once(tmp_path: Path) -> None:
    path = tmp_path / "sites.yaml"
    path.write_text("version: 1\nletters: {etat_civil: A, voirie: A, nowhere: B}\nsites:\n  hdv: {label: X, counters: {g1: [counter]}}\n", encoding="utf-8")
    with pytest.raises(SkillFileError) as refused:
        load_sites(path, CATALOGUE)
    text = str(refused.value)
    assert f"{path}:2: letters, voirie: letter A already given to etat_civil" in text
    assert f"{path}:2: letters: unknown domain 'nowhere'" in text
    assert "no ticket letter for the domains" in text and "elections" in text


def test_guichet_sites_check_says_ok_or_every_problem(tmp_path: Path) -> None:
    ok = subprocess.run([sys.executable, "-m", "guichet.cli", "sites", "check"], capture_output=True, text=True, check=False)
    assert ok.returncode == 0 and "OK, 2 sites, 12 counters" in ok.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nsites: [1, 2\n", encoding="utf-8")
    refused = subprocess.run([sys.executable, "-m", "guichet.cli", "sites", "check", str(bad)], capture_output=True, text=True, check=False)
    assert refused.returncode == 2 and f"{bad}:" in refused.stderr and "YAML syntax error" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_tokens_name_known_devices_and_agents_only(tmp_path: Path) -> None:
    sites = default_sites(CATALOGUE)
    subjects = device_subjects(sites, default_matrix(CATALOGUE))
    tokens = load_tokens(subjects, "hdv-borne-1=0123456789abcdef0123,a101=fedcba9876543210fedc")
    assert len(tokens) == 2
    for env, reason in (
        ("hdv-borne-1=short", "shorter than 16"),
        ("nobody=0123456789abcdef0123", "unknown device or agent 'nobody'"),
        ("hdv-borne-1=0123456789abcdef0123,hdv-ecran-1=0123456789abcdef0123", "same token as hdv-borne-1"),
        ("hdv-borne-1", "expected id=token"),
    ):
        with pytest.raises(TokenConfigError, match=reason) as refused:
            load_tokens(subjects, env)
        assert "0123456789abcdef" not in str(refused.value)
    secrets_file = tmp_path / "tokens"
    secrets_file.write_text("# kiosks\n\nhdv-borne-1 = 0123456789abcdef0123\nhdv-borne-1 = 0123456789abcdef9999\n", encoding="utf-8")
    with pytest.raises(TokenConfigError, match=rf"{secrets_file}:4: hdv-borne-1 already has a token"):
        load_tokens(subjects, None, secrets_file)
