"""Small hand-made catalogues and skill matrices for the routing tests."""

from __future__ import annotations

from skills.model import (
    AgentProfile,
    Catalogue,
    Channel,
    ChannelTarget,
    Process,
    SkillMatrix,
    usual_targets,
)

PHONE, COUNTER, CALLBACK, EMAIL = Channel.PHONE, Channel.COUNTER, Channel.CALLBACK, Channel.EMAIL


def targets(overflow_phone: float | None = 60.0) -> dict[Channel, ChannelTarget]:
    """The usual targets: phone 80 % in 20 s, counter in 10 min, callback 48 h, written 72 h."""
    return usual_targets(overflow_phone)


def catalogue(*codes: str, overflow_phone: float | None = 60.0) -> Catalogue:
    """A catalogue with the triage process and ``codes`` (default: passport, creche, voirie)."""
    codes = codes or ("passport", "creche", "voirie")
    processes = {
        code: Process(code=code, label=code.title(), domain="d", targets=targets(overflow_phone))
        for code in ("triage", *codes)
    }
    return Catalogue(processes=processes)


def agent(
    agent_id: str, skills: dict[str, int], *channels: Channel, endpoint: str | None = None
) -> AgentProfile:
    """One agent profile (phone only unless channels are given)."""
    return AgentProfile(
        agent_id=agent_id,
        name=agent_id,
        skills=skills,
        channels=frozenset(channels or (Channel.PHONE,)),
        endpoint=endpoint,
    )


def matrix(*agents: AgentProfile) -> SkillMatrix:
    """A skill matrix of these agents, in order."""
    return SkillMatrix(agents={a.agent_id: a for a in agents})
