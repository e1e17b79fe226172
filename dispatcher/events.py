"""The one event vocabulary of Guichet.

Adapters turn the outside world into *input* events (a contact arrived, an
agent set themselves ready, a caller hung up, time passed); the routing core
answers with *decision* events (offer this contact to that agent, requeue,
end with an outcome). The same events go to the Redis stream, the history
tables, the wallboard and the simulation's statistics.

Every event is a slotted dataclass with the time ``at`` (seconds, float) at
which it happened. Events are values: nothing mutates one after it is made
(they are not ``frozen`` only because a frozen dataclass costs three times
as much to build, and the core builds several per decision); ``to_record`` / ``from_record`` give a flat dict of JSON
scalars for storage.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from enum import Enum
from typing import Any

from mypy_extensions import mypyc_attr

from skills.model import Channel


class AgentState(str, Enum):
    """Where an agent stands (DESIGN.md: agent state)."""

    OFFLINE = "offline"
    AVAILABLE = "available"
    RESERVED = "reserved"
    BUSY = "busy"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"


class Outcome(str, Enum):
    """The single terminal outcome of every contact."""

    SERVED = "served"
    ABANDONED = "abandoned"
    CALLBACK_SCHEDULED = "callback_scheduled"
    TRANSFERRED = "transferred"
    EXPIRED = "expired"


class DeclineReason(str, Enum):
    """Why an offered contact came back to the queue."""

    NO_ANSWER = "no_answer"
    BUSY = "busy"
    UNAVAILABLE = "unavailable"
    REJECTED = "rejected"


@mypyc_attr(serializable=True)
@dataclass(slots=True, kw_only=True)
class Event:
    """Something that happened at time ``at`` (seconds)."""

    at: float

    @property
    def kind(self) -> str:
        """The event's name in records and on the stream (``contact_arrived``...)."""
        return KIND_OF[type(self)]

    @property
    def is_input(self) -> bool:
        """True for what the outside world tells the core, False for the core's decisions."""
        return type(self) not in DECISION_TYPES


# ---------------------------------------------------------------- inputs


@mypyc_attr(serializable=True)
@dataclass(slots=True, kw_only=True)
class ContactArrived(Event):
    """A citizen's request entered the front desk on ``channel``.

    ``process`` is None while the request is not qualified (it then goes to
    triage). ``arrived_at`` keeps the original arrival when it differs from
    ``at`` (a caller found again after a restart). ``deadline`` is the latest
    answer time of a deferrable contact (callback, e-mail...).
    """

    contact_id: str
    channel: Channel
    process: str | None = None
    priority: int = 0
    arrived_at: float | None = None
    deadline: float | None = None
    ticket: str | None = None
    caller: str | None = None
    citizen_id: str | None = None


@mypyc_attr(serializable=True)
@dataclass(slots=True, kw_only=True)
class ContactQualified(Event):
    """The contact's process became known (IVR choice, kiosk, triage agent)."""

    contact_id: str
    process: str


@mypyc_attr(serializable=True)
@dataclass(slots=True, kw_only=True)
class ContactAbandoned(Event):
    """The citizen left before being served (hung up, no-show at the counter)."""

    contact_id: str


@mypyc_attr(serializable=True)
@dataclass(slots=True, kw_only=True)
class CallbackRequested(Event):
    """A waiting caller asked to be called back; the callback keeps their place."""

    contact_id: str
    callback_id: str
    number: str | None = None


@mypyc_attr(serializable=True)
@dataclass(slots=True, kw_only=True)
class OfferAnswered(Event):
    """The agent picked up the offered contact (bridge, counter call-in, opened mail)."""

    contact_id: str
    agent_id: str


@mypyc_attr(serializable=True)
@dataclass(slots=True, kw_only=True)
class OfferDeclined(Event):
    """The offer failed (ring-no-answer, endpoint busy or unreachable, refused)."""

    contact_id: str
    agent_id: str
    reason: DeclineReason = DeclineReason.NO_ANSWER


@mypyc_attr(serializable=True)
@dataclass(slots=True, kw_only=True)
class ContactCompleted(Event):
    """The agent finished the contact (hang-up, "done" at the counter)."""

    contact_id: str
    outcome: Outcome = Outcome.SERVED


@mypyc_attr(serializable=True)
@dataclass(slots=True, kw_only=True)
class AgentStatusSet(Event):
    """An agent (or supervisor) asked for a state: available, paused(reason), offline."""

    agent_id: str
    state: AgentState
    reason: str | None = None


@mypyc_attr(serializable=True)
@dataclass(slots=True, kw_only=True)
class AgentProfileChanged(Event):
    """An agent's skills or channels changed (training, moved to a counter)."""

    agent_id: str
    skills: dict[str, int]
    channels: tuple[Channel, ...]


@mypyc_attr(serializable=True)
@dataclass(slots=True, kw_only=True)
class EndpointChanged(Event):
    """The agent's softphone became reachable or not (device state)."""

    agent_id: str
    reachable: bool


@mypyc_attr(serializable=True)
@dataclass(slots=True, kw_only=True)
class TimePassed(Event):
    """The clock reached ``at``: timers (relaxation, ring-no-answer, deadlines) fire."""



# ------------------------------------------------------------- decisions


@mypyc_attr(serializable=True)
@dataclass(slots=True, kw_only=True)
class ContactQueued(Event):
    """The contact waits in the one queue for ``process`` on ``channel``."""

    contact_id: str
    process: str
    channel: Channel
    priority: int
    arrived_at: float


@mypyc_attr(serializable=True)
@dataclass(slots=True, kw_only=True)
class ContactOffered(Event):
    """Decision: offer the contact to the agent (ring, call the ticket, open the mail)."""

    contact_id: str
    agent_id: str
    process: str
    channel: Channel
    level: int
    waited: float


@mypyc_attr(serializable=True)
@dataclass(slots=True, kw_only=True)
class ContactRequeued(Event):
    """The contact went back to the queue with its original arrival time."""

    contact_id: str
    reason: str


@mypyc_attr(serializable=True)
@dataclass(slots=True, kw_only=True)
class ContactRelaxed(Event):
    """The contact waited past its overflow delay: lower levels may now take it."""

    contact_id: str
    min_level: int


@mypyc_attr(serializable=True)
@dataclass(slots=True, kw_only=True)
class ContactEnded(Event):
    """The contact reached its one terminal outcome."""

    contact_id: str
    outcome: Outcome
    agent_id: str | None = None
    waited: float | None = None


@mypyc_attr(serializable=True)
@dataclass(slots=True, kw_only=True)
class AgentStateChanged(Event):
    """The agent's state changed (the core's view)."""

    agent_id: str
    state: AgentState
    reason: str | None = None
    contact_id: str | None = None


@mypyc_attr(serializable=True)
@dataclass(slots=True, kw_only=True)
class Rejected(Event):
    """An input the core could not apply (unknown contact, agent not allowed...)."""

    input_kind: str
    subject: str
    reason: str


EVENT_TYPES: dict[str, type[Event]] = {
    "contact_arrived": ContactArrived,
    "contact_qualified": ContactQualified,
    "contact_abandoned": ContactAbandoned,
    "callback_requested": CallbackRequested,
    "offer_answered": OfferAnswered,
    "offer_declined": OfferDeclined,
    "contact_completed": ContactCompleted,
    "agent_status_set": AgentStatusSet,
    "agent_profile_changed": AgentProfileChanged,
    "endpoint_changed": EndpointChanged,
    "time_passed": TimePassed,
    "contact_queued": ContactQueued,
    "contact_offered": ContactOffered,
    "contact_requeued": ContactRequeued,
    "contact_relaxed": ContactRelaxed,
    "contact_ended": ContactEnded,
    "agent_state_changed": AgentStateChanged,
    "rejected": Rejected,
}
"""Each event class by its kind."""

KIND_OF: dict[type[Event], str] = {cls: kind for kind, cls in EVENT_TYPES.items()}

DECISION_TYPES: frozenset[type[Event]] = frozenset(
    {ContactQueued, ContactOffered, ContactRequeued, ContactRelaxed, ContactEnded, AgentStateChanged, Rejected}
)
"""The core's answers; every other event is an input."""

_ENUM_FIELDS: dict[str, type[Enum]] = {
    "channel": Channel,
    "state": AgentState,
    "outcome": Outcome,
    "reason": DeclineReason,
}


def to_record(event: Event) -> dict[str, Any]:
    """A flat dict of JSON scalars: ``kind`` plus the event's fields."""
    record: dict[str, Any] = {"kind": event.kind}
    for f in dataclasses.fields(event):
        value = getattr(event, f.name)
        if isinstance(value, Enum):
            value = value.value
        elif f.name == "channels":
            value = [c.value for c in value]
        record[f.name] = value
    return record


def from_record(record: dict[str, Any]) -> Event:
    """The event a ``to_record`` dict describes; ValueError with the reason if it is not one."""
    kind = record.get("kind")
    cls = EVENT_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ValueError(f"unknown event kind {kind!r}")
    names = {f.name for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for name, value in record.items():
        if name == "kind":
            continue
        if name not in names:
            raise ValueError(f"{kind}: unknown field {name!r}")
        if name == "channels":
            value = tuple(Channel(v) for v in value)
        elif name == "reason" and cls is OfferDeclined:
            value = DeclineReason(value)
        elif name in _ENUM_FIELDS and name != "reason" and value is not None:
            value = _ENUM_FIELDS[name](value)
        values[name] = value
    try:
        return cls(**values)
    except TypeError as exc:
        raise ValueError(f"{kind}: {exc}") from None


def dumps(event: Event) -> str:
    """The event as one JSON line."""
    return json.dumps(to_record(event), ensure_ascii=False, separators=(",", ":"))


def loads(line: str | bytes) -> Event:
    """The event of one JSON line written by ``dumps``."""
    return from_record(json.loads(line))

