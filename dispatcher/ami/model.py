"""The phone side's plain data: AMI actions, agents' lines, followed channels and phones.

Shared by the state machine (``calls``), its takeover after a resynchronisation
(``takeover``), the action sender and the resynchronisation reader.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from dispatcher.events import DeclineReason, Event
from skills.model import Channel, SkillMatrix

Headers = Mapping[str, "str | list[str]"]

IVR, QUEUED, RINGING, TALKING = "ivr", "queued", "ringing", "talking"

DIAL_DECLINES = {
    "NOANSWER": DeclineReason.NO_ANSWER,
    "BUSY": DeclineReason.BUSY,
    "CHANUNAVAIL": DeclineReason.UNAVAILABLE,
    "CONGESTION": DeclineReason.UNAVAILABLE,
    "INVALIDARGS": DeclineReason.UNAVAILABLE,
}
"""Dial statuses that end an offer, and what the core is told (CANCEL: we or the caller stopped it)."""
IN_USE_STATES = frozenset({"INUSE", "BUSY", "RINGING", "RINGINUSE", "ONHOLD"})
UNREGISTERED_STATES = frozenset({"UNAVAILABLE", "INVALID"})
REGISTERED_STATUSES = frozenset({"Reachable", "NonQualified", "Created", "Updated"})
UNREGISTERED_STATUSES = frozenset({"Unreachable", "Removed"})
ORIGINATE_REASONS = {
    3: DeclineReason.NO_ANSWER,
    5: DeclineReason.BUSY,
    1: DeclineReason.UNAVAILABLE,
}
"""``OriginateResponse`` Reason codes: 3 no answer, 5 busy (Asterisk 22 says 0 for a 486: unavailable)."""
GONE_MESSAGES = ("Channel does not exist", "No such channel")
HUNG_UP_MEMORY = 4096
"""How many hung-up channels are remembered (a late VarSet of one must not make a ghost)."""

# ------------------------------------------------------------ actions (plain data)


@dataclass(frozen=True, slots=True)
class Redirect:
    """Send ``channel`` to ``context``/``exten``; ``agent_id``: the offer it carries out (None: back on hold)."""

    channel: str
    context: str
    exten: str
    contact_id: str
    agent_id: str | None


@dataclass(frozen=True, slots=True)
class Hangup:
    channel: str


@dataclass(frozen=True, slots=True)
class Originate:
    """Ring the agent's phone; once answered it dials ``number`` in the callback context."""

    leg_id: str
    endpoint: str
    context: str
    number: str
    contact_id: str
    agent_id: str


Action = Redirect | Hangup | Originate
Step = Event | Action


# ------------------------------------------------------------ what is followed


@dataclass(frozen=True, slots=True)
class AgentLine:
    """An agent's softphone: ``PJSIP/agent101`` is dialled as extension ``101`` of the agent context."""

    agent_id: str
    endpoint: str
    exten: str


def agent_lines(matrix: SkillMatrix) -> dict[str, AgentLine]:
    """The agents with a softphone endpoint, by endpoint."""
    lines: dict[str, AgentLine] = {}
    for profile in matrix.agents.values():
        if not profile.endpoint:
            continue
        resource = profile.endpoint.partition("/")[2] or profile.endpoint
        digits = re.search(r"(\d+)$", resource)
        exten = digits.group(1) if digits else resource
        lines[profile.endpoint] = AgentLine(profile.agent_id, profile.endpoint, exten)
    return lines


@dataclass(frozen=True, slots=True)
class Contexts:
    """The dialplan places Guichet sends channels to."""

    holding: str = "waiting"
    agent: str = "to-agent"
    callback: str = "callback"


@dataclass(slots=True, eq=False)
class PhoneCall:
    """One caller channel (or one callback's agent leg) as the machine follows it."""

    uniqueid: str
    channel: str
    caller: str | None = None
    caller_name: str | None = None
    process: str | None = None
    citizen_id: str | None = None
    repeat: bool = False
    language: str | None = None
    in_core: bool = False
    state: str = IVR
    agent_id: str | None = None
    redirected: bool = False
    """The Redirect of the current offer was written (False: decided while the link was down)."""
    dial_started: bool = False
    closed: bool = False
    """The contact reached its outcome; the channel may still be up (callback goodbye)."""
    callback_id: str | None = None
    """For a callback's agent leg: the callback contact's id."""
    citizen_answered: bool = False
    rejected_busy: bool = False
    """A callback's agent leg got a 486 (HangupRequest Cause 17 before its OriginateResponse)."""


@dataclass(slots=True)
class Phone:
    """What the last signals say of one agent's endpoint."""

    registered: bool | None = None
    in_use: bool = False
    told: bool | None = None
    """The reachability the core was last told (None: nothing yet)."""

    @property
    def reachable(self) -> bool | None:
        if self.registered is None:
            return None if not self.in_use else False
        return self.registered and not self.in_use


@dataclass(frozen=True, slots=True)
class LiveChannel:
    """One channel Asterisk still has (a ``CoreShowChannel`` item, with the IVR's variables)."""

    uniqueid: str
    channel: str
    context: str
    exten: str = ""
    application: str = ""
    bridge_id: str = ""
    linkedid: str = ""
    age_s: float = 0.0
    caller: str | None = None
    caller_name: str | None = None
    language: str | None = None
    process: str | None = None
    citizen_id: str | None = None

    @property
    def device(self) -> str:
        """``PJSIP/agent101`` for ``PJSIP/agent101-00000004``."""
        return self.channel.rpartition("-")[0] or self.channel


@dataclass(frozen=True, slots=True)
class EndedCall:
    """A caller's hang-up as the dialplan noted it in AstDB (``[guichet-ended]``: ``guichet/<uniqueid>``)."""

    at: float
    answered: bool
    """The last Dial was answered (DIALSTATUS ANSWER): the caller talked to an agent."""
    peer: str = ""
    """The resource that Dial rang (``agent101``)."""

    @classmethod
    def parse(cls, value: str) -> EndedCall | None:
        """``<epoch>,<DIALSTATUS>,<DIALEDPEERNUMBER>``; None if unreadable."""
        when, _, rest = value.partition(",")
        status, _, peer = rest.partition(",")
        try:
            at = float(when)
        except ValueError:
            return None
        if not math.isfinite(at):
            return None
        return cls(at, status.strip() == "ANSWER", peer.strip())


@dataclass(frozen=True, slots=True)
class CoreContact:
    """A contact the core holds open on the phone or callback channel."""

    contact_id: str
    channel: Channel
    state: str
    """``waiting``, ``offered`` or ``in_service`` (``dispatcher.state.ContactState`` values)."""
    agent_id: str | None = None


@dataclass(slots=True)
class Problems:
    """Counts of the frames skipped, by kind (the adapter logs them, rate-limited)."""

    counts: dict[str, int] = field(default_factory=dict)
    last: list[tuple[str, str]] = field(default_factory=list)

    def add(self, kind: str, detail: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        self.last.append((kind, detail))


def text(value: object) -> str | None:
    if isinstance(value, list):
        value = value[-1] if value else None
    return value if isinstance(value, str) else None
