"""Coverage numbers on a tiny hand-made catalogue and matrix."""

from __future__ import annotations

import pytest

from skills.coverage import (
    DomainCoverage,
    domain_coverage,
    process_coverage,
    shortages,
    uncovered,
)
from skills.model import (
    AgentProfile,
    Catalogue,
    Channel,
    ChannelTarget,
    Domain,
    Process,
    SkillMatrix,
)

P, C, E = Channel.PHONE, Channel.COUNTER, Channel.EMAIL


def targets(*channels: Channel) -> dict[Channel, ChannelTarget]:
    return {channel: ChannelTarget(300.0, 20.0) for channel in channels}


CATALOGUE = Catalogue(
    processes={
        "triage": Process("triage", "Accueil", "accueil", targets(*Channel)),
        "passport": Process("passport", "Passeport", "etat_civil", targets(P, C)),
        "permit": Process("permit", "Permis", "urbanisme", targets(C, E), min_level=3),
        "bins": Process("bins", "Bacs", "voirie", targets(P), min_level=1),
    },
    domains={
        "accueil": Domain("accueil", "Accueil"),
        "etat_civil": Domain("etat_civil", "État civil"),
        "urbanisme": Domain("urbanisme", "Urbanisme"),
        "voirie": Domain("voirie", "Voirie"),
    },
)


def agent(agent_id: str, channels: set[Channel], **skills: int) -> AgentProfile:
    return AgentProfile(agent_id, agent_id.title(), skills, frozenset(channels))


MATRIX = SkillMatrix(
    agents={
        a.agent_id: a
        for a in [
            agent("ana", {P, C}, triage=3, passport=3, bins=2),
            agent("bob", {C}, passport=2, permit=2, triage=1),
            agent("cem", {P}, passport=1, bins=1, triage=2),
            agent("dia", {E}, permit=3),
            agent("eli", set(), passport=3, permit=3),  # serves nothing now
        ]
    }
)


def row(rows, process: str, channel: Channel):
    return next(r for r in rows if r.process == process and r.channel is channel)


def test_process_coverage_counts() -> None:
    rows = process_coverage(MATRIX, CATALOGUE, min_agents=2)
    # one row per (process, channel it serves): 6 + 2 + 2 + 1
    assert len(rows) == 11
    passport_phone = row(rows, "passport", P)
    assert (passport_phone.competent, passport_phone.experts, passport_phone.learning) == (1, 1, 1)
    assert passport_phone.agents == ("ana",)
    assert passport_phone.short
    passport_counter = row(rows, "passport", C)
    assert (passport_counter.competent, passport_counter.experts) == (2, 1)
    assert passport_counter.agents == ("ana", "bob")
    assert not passport_counter.short
    # permit needs level 3 (its min_level): bob's 2 only learns; eli serves no channel.
    permit_counter = row(rows, "permit", C)
    assert (permit_counter.required_level, permit_counter.competent, permit_counter.learning) == (
        3,
        0,
        1,
    )
    assert row(rows, "permit", E).agents == ("dia",)
    # bins has min_level 1 but planners count competent agents (level >= 2).
    bins_phone = row(rows, "bins", P)
    assert (bins_phone.required_level, bins_phone.competent, bins_phone.learning) == (2, 1, 1)
    triage_mail = row(rows, "triage", Channel.MAIL)
    assert triage_mail.competent == 0


def test_level_threshold_and_channel_filter() -> None:
    rows = process_coverage(MATRIX, CATALOGUE, channels=[P], level=1)
    assert {r.channel for r in rows} == {P}
    assert [r.process for r in rows] == ["triage", "passport", "bins"]
    # ``level`` lowers the planner's bar, never below a process's own min_level.
    assert row(rows, "passport", P).competent == 1
    assert row(rows, "bins", P).competent == 2  # cem's level 1 counts for a min_level-1 process


def test_shortages() -> None:
    short = shortages(MATRIX, CATALOGUE, min_agents=1)
    assert [(r.process, r.channel) for r in short] == [
        ("triage", Channel.CALLBACK),
        ("triage", Channel.EMAIL),
        ("triage", Channel.WEBFORM),
        ("triage", Channel.MAIL),
        ("permit", C),
    ]
    assert len(shortages(MATRIX, CATALOGUE, min_agents=3)) == 11


def test_domain_coverage() -> None:
    rows = domain_coverage(MATRIX, CATALOGUE, min_agents=2)
    by_key = {(r.domain, r.channel): r for r in rows}
    assert by_key[("etat_civil", C)] == DomainCoverage(
        domain="etat_civil",
        label="État civil",
        channel=C,
        processes=1,
        short=0,
        fewest=2,
        short_processes=(),
        min_agents=2,
    )
    assert by_key[("etat_civil", P)].short_processes == ("passport",)
    assert by_key[("urbanisme", C)].fewest == 0
    assert ("voirie", C) not in by_key
    assert [r.domain for r in rows][:6] == ["accueil"] * 6


def test_uncovered() -> None:
    assert uncovered(MATRIX, CATALOGUE) == []
    without_dia = SkillMatrix(agents={k: v for k, v in MATRIX.agents.items() if k != "dia"})
    assert uncovered(without_dia, CATALOGUE) == ["permit"]
    assert uncovered(SkillMatrix(agents={}), CATALOGUE) == list(CATALOGUE.processes)


@pytest.mark.parametrize("min_agents", [1, 2, 5])
def test_short_flag_follows_min_agents(min_agents: int) -> None:
    for r in process_coverage(MATRIX, CATALOGUE, min_agents=min_agents):
        assert r.short == (r.competent < min_agents)
