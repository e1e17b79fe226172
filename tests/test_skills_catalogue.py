"""The catalogue format, its defaults, and the bundled sample catalogue."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from skills.catalogue import (
    default_catalogue,
    format_duration,
    load_catalogue,
    parse_catalogue,
    parse_duration,
)
from skills.model import ALL_CHANNELS, Channel, ChannelTarget

# ------------------------------------------------------------------ the sample


@pytest.fixture(scope="module")
def sample():
    return default_catalogue()


def test_sample_size(sample) -> None:
    assert len(sample.processes) >= 70
    assert len(sample.domains) >= 10
    used = {p.domain for p in sample.processes.values()}
    assert used == set(sample.domains)
    for domain in (
        "etat_civil",
        "petite_enfance",
        "scolaire",
        "urbanisme",
        "social",
        "voirie",
        "elections",
        "sports_culture",
        "funeraire",
        "commerce",
    ):
        assert domain in used, domain


def test_sample_codes_labels_and_ivr_process(sample) -> None:
    assert "passport" in sample.processes  # the IVR capture's GUICHET_PROCESS
    for code, process in sample.processes.items():
        assert re.fullmatch(r"[a-z][a-z0-9_]*", code), code
        assert process.code == code
        assert process.label.strip() and process.label[0].isupper(), code
        assert process.min_level in (1, 2, 3)
    accented = [p.label for p in sample.processes.values() if re.search(r"[éèêàâçîôûÉ]", p.label)]
    assert len(accented) >= 20
    assert sample.domains["etat_civil"].label.startswith("État civil")


def test_sample_triage_and_fallbacks(sample) -> None:
    assert sample.triage == "triage"
    triage = sample.processes["triage"]
    assert triage.label == "Accueil généraliste / orientation"
    assert set(triage.targets) == set(ALL_CHANNELS)
    for process in sample.processes.values():
        assert process.fallback in sample.processes
        for channel in ALL_CHANNELS:  # the router can always ask for a target
            assert sample.target(process.code, channel).handling_time_s > 0
    assert sample.processes["housing_renewal"].fallback == "housing_application"
    assert sample.processes["passport"].fallback == "triage"


def test_sample_targets_follow_the_field_promises(sample) -> None:
    phone = sample.target("birth_certificate", Channel.PHONE)
    assert (phone.sla_seconds, phone.sla_percent) == (20, 0.8)
    counter = sample.target("birth_certificate", Channel.COUNTER)
    assert (counter.sla_seconds, counter.sla_percent) == (600, 0.8)
    assert sample.target("birth_certificate", Channel.CALLBACK).sla_seconds == 48 * 3600
    for channel in (Channel.EMAIL, Channel.WEBFORM, Channel.MAIL):
        assert sample.target("birth_certificate", channel).sla_seconds == 72 * 3600
    for process in sample.processes.values():
        for channel, target in process.targets.items():
            assert target.handling_time_s > 0
            if channel.is_live:
                assert target.overflow_after_s is not None
                assert target.overflow_after_s <= target.sla_seconds or channel is Channel.PHONE


def test_sample_overrides(sample) -> None:
    # Passports take longer at the counter than an extract of a birth certificate.
    passport = sample.processes["passport"].targets[Channel.COUNTER]
    assert passport.handling_time_s == 20 * 60
    assert sample.processes["birth_certificate"].targets[Channel.COUNTER].handling_time_s == 300
    # Domain default: urbanisme at the counter.
    assert sample.processes["prior_declaration"].targets[Channel.COUNTER].handling_time_s == 1200
    # Nobody sends a passport request by mail; a marriage file is not a phone call.
    assert Channel.MAIL not in sample.processes["passport"].targets
    assert Channel.PHONE not in sample.processes["marriage_file"].targets
    assert set(sample.processes["signature_legalisation"].targets) == {Channel.COUNTER}
    # A process without the channel gets the triage target.
    assert (
        sample.target("marriage_file", Channel.PHONE)
        == sample.processes["triage"].targets[Channel.PHONE]
    )
    assert any(p.min_level == 3 for p in sample.processes.values())
    assert any(p.min_level == 1 for p in sample.processes.values())
    assert sum(p.sheet is not None for p in sample.processes.values()) >= 30


def test_sample_file_is_the_packaged_one() -> None:
    path = Path(__file__).parents[1] / "skills" / "data" / "catalogue.yaml"
    assert load_catalogue(path) == default_catalogue()


# ------------------------------------------------------------------ format


BASE = """\
defaults:
  min_level: 2
  targets: &all
    phone:    {handling: 4m, sla: 20s, sla_percent: 80, overflow: 45s}
    counter:  {handling: 8m, sla: 10m}
    callback: {handling: 5m, sla: 48h}
    email:    {handling: 6m, sla: 72h}
    webform:  {handling: 5m, sla: 72h}
    mail:     {handling: 8m, sla: 72h}
domains:
  accueil: Accueil
  urbanisme:
    label: Urbanisme
    defaults:
      min_level: 3
      channels: [counter, email]
      targets:
        counter: {handling: 20m, overflow: 8m}
processes:
  - code: triage
    label: Accueil
    domain: accueil
"""


def test_defaults_cascade_catalogue_domain_process() -> None:
    text = BASE + (
        "  - code: permit\n    label: Permis\n    domain: urbanisme\n"
        "  - code: plu\n    label: PLU\n    domain: urbanisme\n    min_level: 2\n"
        "    channels: [phone, counter]\n"
        "    targets:\n      counter: {handling: 30m, sla_percent: 90%}\n"
        "      phone: {overflow: null}\n"
        "    sheet: urbanisme/plu\n"
    )
    catalogue = parse_catalogue(text, "c.yaml")
    permit = catalogue.processes["permit"]
    assert permit.min_level == 3
    assert set(permit.targets) == {Channel.COUNTER, Channel.EMAIL}
    assert permit.targets[Channel.COUNTER] == ChannelTarget(1200, 600, 0.8, 480)
    assert permit.targets[Channel.EMAIL] == ChannelTarget(360, 72 * 3600, 0.8, None)
    plu = catalogue.processes["plu"]
    assert plu.min_level == 2
    assert plu.targets[Channel.COUNTER] == ChannelTarget(1800, 600, 0.9, 480)
    assert plu.targets[Channel.PHONE] == ChannelTarget(240, 20, 0.8, None)
    assert plu.sheet == "urbanisme/plu"
    assert plu.fallback == "triage"
    assert catalogue.domains["urbanisme"].label == "Urbanisme"


def test_yaml_anchors_and_merge_keys_are_understood() -> None:
    text = BASE + (
        "  - code: permit\n    label: Permis\n    domain: urbanisme\n"
        "    targets:\n      counter: &slow {handling: 40m, sla: 15m}\n"
        "      email:\n        <<: *slow\n        sla: 24h\n"
    )
    permit = parse_catalogue(text, "c.yaml").processes["permit"]
    assert permit.targets[Channel.COUNTER].handling_time_s == 2400
    assert permit.targets[Channel.EMAIL].handling_time_s == 2400
    assert permit.targets[Channel.EMAIL].sla_seconds == 86400


def test_another_triage_code() -> None:
    text = "triage: accueil_general\n" + BASE.replace("code: triage", "code: accueil_general")
    catalogue = parse_catalogue(text, "c.yaml")
    assert catalogue.triage == "accueil_general"
    assert catalogue.processes["accueil_general"].fallback == "accueil_general"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90),
        ("20s", 20),
        ("10m", 600),
        ("10 min", 600),
        ("5mn", 300),
        ("48h", 172800),
        ("3d", 259200),
        ("1h30m", 5400),
        ("2m30s", 150),
        ("1.5h", 5400),
        ("0", 0),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "ten", "10 minutes", "1h30", "-5m", "5 x"])
def test_parse_duration_refuses(text: str) -> None:
    assert parse_duration(text) is None


def test_format_duration() -> None:
    assert [format_duration(s) for s in (0, 45, 600, 5400, 172800, 2.5)] == [
        "0s",
        "45s",
        "10m",
        "1h30m",
        "2d",
        "2.5s",
    ]
