"""Plain data of the process catalogue and the skill matrix.

These types are shared by the file loaders of ``skills/``, the routing core of
``dispatcher/`` and the simulation: frozen dataclasses, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Channel(str, Enum):
    """The door a citizen knocked on."""

    PHONE = "phone"
    COUNTER = "counter"
    CALLBACK = "callback"
    EMAIL = "email"
    WEBFORM = "webform"
    MAIL = "mail"

    @property
    def is_live(self) -> bool:
        """Live channels need an agent now; the others are worked between live contacts."""
        return self in LIVE_CHANNELS


LIVE_CHANNELS = frozenset({Channel.PHONE, Channel.COUNTER})
ALL_CHANNELS: tuple[Channel, ...] = tuple(Channel)

TRAINEE, COMPETENT, EXPERT = 1, 2, 3
LEVELS = (TRAINEE, COMPETENT, EXPERT)


@dataclass(frozen=True, slots=True)
class ChannelTarget:
    """What the town promises for one process on one channel.

    ``sla_percent`` of contacts answered within ``sla_seconds``; after
    ``overflow_after_s`` of waiting the contact may go to lower skill levels.
    """

    handling_time_s: float
    sla_seconds: float
    sla_percent: float = 0.8
    overflow_after_s: float | None = None


def usual_targets(phone_overflow_s: float | None = 60.0) -> dict[Channel, ChannelTarget]:
    """Targets every channel of a synthetic process: phone 80 % in 20 s, counter 80 %
    in 10 min, callbacks within 48 h, written requests within 72 h (DESIGN.md)."""
    return {
        Channel.PHONE: ChannelTarget(240, 20, 0.8, phone_overflow_s),
        Channel.COUNTER: ChannelTarget(600, 600, 0.8, 900),
        Channel.CALLBACK: ChannelTarget(300, 48 * 3600, 0.9, None),
        Channel.EMAIL: ChannelTarget(400, 72 * 3600, 0.9, None),
        Channel.WEBFORM: ChannelTarget(400, 72 * 3600, 0.9, None),
        Channel.MAIL: ChannelTarget(400, 72 * 3600, 0.9, None),
    }


@dataclass(frozen=True, slots=True)
class Process:
    """An administrative procedure (démarche), e.g. a passport application."""

    code: str
    label: str
    domain: str
    targets: dict[Channel, ChannelTarget]
    min_level: int = COMPETENT
    fallback: str = "triage"
    sheet: str | None = None


@dataclass(frozen=True, slots=True)
class SheetText:
    """A knowledge sheet in one language."""

    title: str
    pieces: tuple[str, ...]
    """The documents the citizen brings."""
    steps: tuple[str, ...]
    """What the agent and the citizen do, in order."""
    delay: str
    """How long it takes (appointment, processing, validity)."""


@dataclass(frozen=True, slots=True)
class KnowledgeSheet:
    """What an agent needs at hand for a process, in French and, where the catalogue has it, English."""

    ref: str
    texts: dict[str, SheetText]
    """By language: ``fr`` always, ``en`` where written."""
    link: str | None = None
    """The official page (service-public.fr...)."""

    def text(self, lang: str) -> SheetText:
        """The sheet in ``lang``, else in French."""
        return self.texts.get(lang) or self.texts["fr"]


@dataclass(frozen=True, slots=True)
class Domain:
    """A group of processes (état civil, petite enfance...)."""

    code: str
    label: str


@dataclass(frozen=True, slots=True)
class Catalogue:
    """All processes of a town, by code, with the generalist triage process."""

    processes: dict[str, Process]
    domains: dict[str, Domain] = field(default_factory=dict)
    triage: str = "triage"
    sheets: dict[str, KnowledgeSheet] = field(default_factory=dict)
    """The knowledge sheets, by the reference the processes give (``Process.sheet``)."""

    def target(self, process: str, channel: Channel) -> ChannelTarget:
        """The target of ``process`` on ``channel`` (the triage one if the process has none)."""
        proc = self.processes[process]
        found = proc.targets.get(channel)
        if found is None:
            found = self.processes[self.triage].targets[channel]
        return found


@dataclass(frozen=True, slots=True)
class AgentProfile:
    """One agent's skills (process code -> level 1..3) and the channels served now."""

    agent_id: str
    name: str
    skills: dict[str, int]
    channels: frozenset[Channel]
    endpoint: str | None = None
    desk: str | None = None
    site: str | None = None
    """The site of ``desk`` when it is a counter: the agent takes that site's visitors only."""


@dataclass(frozen=True, slots=True)
class SkillMatrix:
    """Every agent's profile, by agent id, in file order."""

    agents: dict[str, AgentProfile]
