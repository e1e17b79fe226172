"""The one event vocabulary of Guichet.

Adapters turn the outside world into *input* events (a contact arrived, an
agent set themselves ready, a caller hung up, time passed); the routing core
answers with *decision* events (offer this contact to that agent, requeue,
end with an outcome). The same events go to the Redis stream, the history
tables, the wallboard and the simulation's statistics.

Every event is a small class with the time ``at`` (seconds, float) at which
it happened, its other attributes named in ``fields``. Events are values:
nothing mutates one after it is made. They are written out (an explicit
keyword-only ``__init__`` rather than a dataclass) because the core and the
simulation build several per decision and, compiled by mypyc, an explicit
``__init__`` costs a few dozen nanoseconds where a dataclass's costs over a
microsecond. ``to_record`` / ``from_record`` give a flat dict of JSON scalars
for storage.
"""

from __future__ import annotations

import json
import math
from enum import Enum
from typing import Any, ClassVar, Final

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


class Event:
    """Something that happened at time ``at`` (seconds).

    ``fields`` names the event's attributes in order: they make its record,
    its equality (same class, same values), its repr and its pickle.
    """

    fields: ClassVar[tuple[str, ...]] = ("at",)

    def __init__(self, *, at: float) -> None:
        self.at = at

    @property
    def kind(self) -> str:
        """The event's name in records and on the stream (``contact_arrived``...)."""
        return KIND_OF[type(self)]

    @property
    def is_input(self) -> bool:
        """True for what the outside world tells the core, False for the core's decisions."""
        return type(self) not in DECISION_TYPES

    def values(self) -> tuple[Any, ...]:
        """The values of ``fields``, in order."""
        return tuple([getattr(self, name) for name in self.fields])

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Event)
        return self.values() == other.values()

    __hash__ = None  # type: ignore[assignment]  # mutable value objects, like dataclasses

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.fields)
        return f"{type(self).__name__}({shown})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.values()))


def _rebuild(cls: type[Event], values: tuple[Any, ...]) -> Event:
    """The event of class ``cls`` with these field values (for pickle)."""
    build: Any = cls
    return build(**dict(zip(cls.fields, values)))


# ---------------------------------------------------------------- inputs


class ContactArrived(Event):
    """A citizen's request entered the front desk on ``channel``.

    ``process`` is None while the request is not qualified (it then goes to
    triage). ``arrived_at`` keeps the original arrival when it differs from
    ``at`` (a caller found again after a restart). ``deadline`` is the latest
    answer time of a deferrable contact (callback, e-mail...). ``site`` is the
    building a visitor waits in: only an agent at a counter of that site takes
    them; a contact without a site goes to any agent.
    """

    fields = (
        "at",
        "contact_id",
        "channel",
        "process",
        "priority",
        "arrived_at",
        "deadline",
        "ticket",
        "caller",
        "citizen_id",
        "site",
    )

    def __init__(
        self,
        *,
        at: float,
        contact_id: str,
        channel: Channel,
        process: str | None = None,
        priority: int = 0,
        arrived_at: float | None = None,
        deadline: float | None = None,
        ticket: str | None = None,
        caller: str | None = None,
        citizen_id: str | None = None,
        site: str | None = None,
    ) -> None:
        self.at = at
        self.contact_id = contact_id
        self.channel = channel
        self.process = process
        self.priority = priority
        self.arrived_at = arrived_at
        self.deadline = deadline
        self.ticket = ticket
        self.caller = caller
        self.citizen_id = citizen_id
        self.site = site


class ContactQualified(Event):
    """The contact's process became known (IVR choice, kiosk, triage agent)."""

    fields = ("at", "contact_id", "process")

    def __init__(self, *, at: float, contact_id: str, process: str) -> None:
        self.at = at
        self.contact_id = contact_id
        self.process = process


class ContactTransferred(Event):
    """The agent holding the contact hands it to the named agent ``to_agent_id``.

    The contact is offered to that agent at once (it keeps its arrival and its one
    outcome to come); the core refuses if that agent cannot take it now.
    """

    fields = ("at", "contact_id", "agent_id", "to_agent_id")

    def __init__(self, *, at: float, contact_id: str, agent_id: str, to_agent_id: str) -> None:
        self.at = at
        self.contact_id = contact_id
        self.agent_id = agent_id
        self.to_agent_id = to_agent_id


class ContactAbandoned(Event):
    """The citizen left before being served (hung up, no-show at the counter).

    ``left_at``: the best evidence of when they left, when it is older than ``at``
    (e.g. the moment the PBX link went down); ``approximate``: that time is an estimate.
    """

    fields = ("at", "contact_id", "left_at", "approximate")

    def __init__(
        self,
        *,
        at: float,
        contact_id: str,
        left_at: float | None = None,
        approximate: bool = False,
    ) -> None:
        self.at = at
        self.contact_id = contact_id
        self.left_at = left_at
        self.approximate = approximate


class CallbackRequested(Event):
    """A waiting caller asked to be called back; the callback keeps their place."""

    fields = ("at", "contact_id", "callback_id", "number")

    def __init__(
        self,
        *,
        at: float,
        contact_id: str,
        callback_id: str,
        number: str | None = None,
    ) -> None:
        self.at = at
        self.contact_id = contact_id
        self.callback_id = callback_id
        self.number = number


class OfferAnswered(Event):
    """The agent picked up the offered contact (bridge, counter call-in, opened mail)."""

    fields = ("at", "contact_id", "agent_id")

    def __init__(self, *, at: float, contact_id: str, agent_id: str) -> None:
        self.at = at
        self.contact_id = contact_id
        self.agent_id = agent_id


class ContactTakenOver(Event):
    """The PBX put a waiting (or re-queued) contact through to an agent on its own
    (a late answer seen after an outage): the contact is in service with that agent."""

    fields = ("at", "contact_id", "agent_id")

    def __init__(self, *, at: float, contact_id: str, agent_id: str) -> None:
        self.at = at
        self.contact_id = contact_id
        self.agent_id = agent_id


class OfferDeclined(Event):
    """The offer failed (ring-no-answer, endpoint busy or unreachable, refused)."""

    fields = ("at", "contact_id", "agent_id", "reason")

    def __init__(
        self,
        *,
        at: float,
        contact_id: str,
        agent_id: str,
        reason: DeclineReason = DeclineReason.NO_ANSWER,
    ) -> None:
        self.at = at
        self.contact_id = contact_id
        self.agent_id = agent_id
        self.reason = reason


class ContactCompleted(Event):
    """The agent finished the contact (hang-up, "done" at the counter).

    ``left_at``: when the conversation really ended, when it is older than ``at``
    (read from the PBX after an outage, or the moment the link went down);
    ``approximate``: that time is an estimate.
    """

    fields = ("at", "contact_id", "outcome", "left_at", "approximate")

    def __init__(
        self,
        *,
        at: float,
        contact_id: str,
        outcome: Outcome = Outcome.SERVED,
        left_at: float | None = None,
        approximate: bool = False,
    ) -> None:
        self.at = at
        self.contact_id = contact_id
        self.outcome = outcome
        self.left_at = left_at
        self.approximate = approximate


class AgentStatusSet(Event):
    """An agent (or supervisor) asked for a state: available, paused(reason), offline."""

    fields = ("at", "agent_id", "state", "reason")

    def __init__(
        self,
        *,
        at: float,
        agent_id: str,
        state: AgentState,
        reason: str | None = None,
    ) -> None:
        self.at = at
        self.agent_id = agent_id
        self.state = state
        self.reason = reason


class AgentProfileChanged(Event):
    """An agent's skills or channels changed (training, moved to a counter).

    ``site`` is the site of the counter the agent opened: they then take the
    visitors of that site only (None: no counter, no visitor with a site).
    """

    fields = ("at", "agent_id", "skills", "channels", "site")

    def __init__(
        self,
        *,
        at: float,
        agent_id: str,
        skills: dict[str, int],
        channels: tuple[Channel, ...],
        site: str | None = None,
    ) -> None:
        self.at = at
        self.agent_id = agent_id
        self.skills = skills
        self.channels = channels
        self.site = site


class EndpointChanged(Event):
    """The agent's softphone became reachable or not (device state)."""

    fields = ("at", "agent_id", "reachable")

    def __init__(self, *, at: float, agent_id: str, reachable: bool) -> None:
        self.at = at
        self.agent_id = agent_id
        self.reachable = reachable


class TimePassed(Event):
    """The clock reached ``at``: timers (relaxation, ring-no-answer, deadlines) fire."""

    fields = ("at",)

    def __init__(self, *, at: float) -> None:
        self.at = at



# ------------------------------------------------------------- decisions


class ContactQueued(Event):
    """The contact waits in the one queue for ``process`` on ``channel``."""

    fields = ("at", "contact_id", "process", "channel", "priority", "arrived_at")

    def __init__(
        self,
        *,
        at: float,
        contact_id: str,
        process: str,
        channel: Channel,
        priority: int,
        arrived_at: float,
    ) -> None:
        self.at = at
        self.contact_id = contact_id
        self.process = process
        self.channel = channel
        self.priority = priority
        self.arrived_at = arrived_at


class ContactOffered(Event):
    """Decision: offer the contact to the agent (ring, call the ticket, open the mail)."""

    fields = ("at", "contact_id", "agent_id", "process", "channel", "level", "waited")

    def __init__(
        self,
        *,
        at: float,
        contact_id: str,
        agent_id: str,
        process: str,
        channel: Channel,
        level: int,
        waited: float,
    ) -> None:
        self.at = at
        self.contact_id = contact_id
        self.agent_id = agent_id
        self.process = process
        self.channel = channel
        self.level = level
        self.waited = waited


class ContactRequeued(Event):
    """The contact went back to the queue with its original arrival time."""

    fields = ("at", "contact_id", "reason")

    def __init__(self, *, at: float, contact_id: str, reason: str) -> None:
        self.at = at
        self.contact_id = contact_id
        self.reason = reason


class ContactRequalified(Event):
    """The contact's process changed while an agent holds its offer; the offer stands."""

    fields = ("at", "contact_id", "process", "agent_id")

    def __init__(self, *, at: float, contact_id: str, process: str, agent_id: str) -> None:
        self.at = at
        self.contact_id = contact_id
        self.process = process
        self.agent_id = agent_id


class ContactRelaxed(Event):
    """The contact waited past its overflow delay: lower levels may now take it."""

    fields = ("at", "contact_id", "min_level")

    def __init__(self, *, at: float, contact_id: str, min_level: int) -> None:
        self.at = at
        self.contact_id = contact_id
        self.min_level = min_level


class ContactEnded(Event):
    """The contact reached its one terminal outcome.

    ``ended_at``: when it really ended, when that is older than ``at`` (a caller gone
    while the dispatcher could not see them); ``approximate``: that end time (and an
    unserved contact's ``waited``) is an estimate.
    """

    fields = ("at", "contact_id", "outcome", "agent_id", "waited", "approximate", "ended_at")

    def __init__(
        self,
        *,
        at: float,
        contact_id: str,
        outcome: Outcome,
        agent_id: str | None = None,
        waited: float | None = None,
        approximate: bool = False,
        ended_at: float | None = None,
    ) -> None:
        self.at = at
        self.contact_id = contact_id
        self.outcome = outcome
        self.agent_id = agent_id
        self.waited = waited
        self.approximate = approximate
        self.ended_at = ended_at


class AgentStateChanged(Event):
    """The agent's state changed (the core's view)."""

    fields = ("at", "agent_id", "state", "reason", "contact_id")

    def __init__(
        self,
        *,
        at: float,
        agent_id: str,
        state: AgentState,
        reason: str | None = None,
        contact_id: str | None = None,
    ) -> None:
        self.at = at
        self.agent_id = agent_id
        self.state = state
        self.reason = reason
        self.contact_id = contact_id


class Rejected(Event):
    """An input the core could not apply (unknown contact, agent not allowed...)."""

    fields = ("at", "input_kind", "subject", "reason")

    def __init__(self, *, at: float, input_kind: str, subject: str, reason: str) -> None:
        self.at = at
        self.input_kind = input_kind
        self.subject = subject
        self.reason = reason


EVENT_TYPES: dict[str, type[Event]] = {
    "contact_arrived": ContactArrived,
    "contact_qualified": ContactQualified,
    "contact_transferred": ContactTransferred,
    "contact_abandoned": ContactAbandoned,
    "callback_requested": CallbackRequested,
    "offer_answered": OfferAnswered,
    "contact_taken_over": ContactTakenOver,
    "offer_declined": OfferDeclined,
    "contact_completed": ContactCompleted,
    "agent_status_set": AgentStatusSet,
    "agent_profile_changed": AgentProfileChanged,
    "endpoint_changed": EndpointChanged,
    "time_passed": TimePassed,
    "contact_queued": ContactQueued,
    "contact_offered": ContactOffered,
    "contact_requeued": ContactRequeued,
    "contact_requalified": ContactRequalified,
    "contact_relaxed": ContactRelaxed,
    "contact_ended": ContactEnded,
    "agent_state_changed": AgentStateChanged,
    "rejected": Rejected,
}
"""Each event class by its kind."""

KIND_OF: dict[type[Event], str] = {cls: kind for kind, cls in EVENT_TYPES.items()}

DECISION_TYPES: frozenset[type[Event]] = frozenset(
    {
        ContactQueued,
        ContactOffered,
        ContactRequeued,
        ContactRequalified,
        ContactRelaxed,
        ContactEnded,
        AgentStateChanged,
        Rejected,
    }
)
"""The core's answers; every other event is an input."""

INPUT_TYPES: frozenset[type[Event]] = frozenset(EVENT_TYPES.values()) - DECISION_TYPES
"""What the outside world may tell the core."""

NUMBER: Final = 0
NUMBER_OR_NONE: Final = 1
TEXT: Final = 2
TEXT_OR_NONE: Final = 3
INTEGER: Final = 4
FLAG: Final = 5
CHANNEL: Final = 6
CHANNELS: Final = 7
SKILLS: Final = 8
STATE: Final = 9
OUTCOME: Final = 10
DECLINE: Final = 11
"""What a field may hold: a finite number, text, an integer, a boolean, an enum member,
a tuple of channels, a skill map (process -> level, an integer >= 0); ``..._OR_NONE``: or None."""

_EXPECTED: Final = (
    "a finite number",
    "a finite number or null",
    "a string",
    "a string or null",
    "an integer",
    "true or false",
    "a channel",
    "a list of channels",
    "a map of process to level (integer >= 0)",
    "an agent state",
    "an outcome",
    "a decline reason",
)

_BY_NAME: dict[str, int] = {
    "at": NUMBER,
    "contact_id": TEXT,
    "agent_id": TEXT,
    "to_agent_id": TEXT,
    "callback_id": TEXT,
    "channel": CHANNEL,
    "channels": CHANNELS,
    "process": TEXT,
    "priority": INTEGER,
    "level": INTEGER,
    "min_level": INTEGER,
    "arrived_at": NUMBER_OR_NONE,
    "deadline": NUMBER_OR_NONE,
    "waited": NUMBER,
    "ticket": TEXT_OR_NONE,
    "caller": TEXT_OR_NONE,
    "citizen_id": TEXT_OR_NONE,
    "site": TEXT_OR_NONE,
    "number": TEXT_OR_NONE,
    "reason": TEXT,
    "outcome": OUTCOME,
    "state": STATE,
    "skills": SKILLS,
    "reachable": FLAG,
    "input_kind": TEXT,
    "left_at": NUMBER_OR_NONE,
    "ended_at": NUMBER_OR_NONE,
    "approximate": FLAG,
    "subject": TEXT,
}

_BY_CLASS: dict[tuple[type[Event], str], int] = {
    (ContactArrived, "process"): TEXT_OR_NONE,
    (OfferDeclined, "reason"): DECLINE,
    (AgentStatusSet, "reason"): TEXT_OR_NONE,
    (AgentStateChanged, "reason"): TEXT_OR_NONE,
    (AgentStateChanged, "contact_id"): TEXT_OR_NONE,
    (ContactEnded, "agent_id"): TEXT_OR_NONE,
    (ContactEnded, "waited"): NUMBER_OR_NONE,
}

SCHEMA: dict[type[Event], tuple[tuple[str, int], ...]] = {
    cls: tuple((name, _BY_CLASS.get((cls, name), _BY_NAME[name])) for name in cls.fields)
    for cls in EVENT_TYPES.values()
}
"""Each event class's fields with what each may hold."""

_ENUMS: dict[int, type[Enum]] = {CHANNEL: Channel, STATE: AgentState, OUTCOME: Outcome, DECLINE: DeclineReason}


def kind_name(value: object) -> str:
    """The kind of an event, or the class name of anything else (for a rejection)."""
    for cls, kind in KIND_OF.items():
        if type(value) is cls:
            return kind
    return type(value).__name__


def _is_number(value: object) -> bool:
    return isinstance(value, (float, int)) and not isinstance(value, bool) and math.isfinite(value)


def fits(what: int, value: object) -> bool:
    """Does ``value`` hold what a field of this kind may (see ``NUMBER``...)."""
    if what == NUMBER:
        return _is_number(value)
    if what == NUMBER_OR_NONE:
        return value is None or _is_number(value)
    if what == TEXT:
        return isinstance(value, str)
    if what == TEXT_OR_NONE:
        return value is None or isinstance(value, str)
    if what == INTEGER:
        return isinstance(value, int) and not isinstance(value, bool)
    if what == FLAG:
        return type(value) is bool
    if what == CHANNELS:
        return isinstance(value, tuple) and all(isinstance(c, Channel) for c in value)
    if what == SKILLS:
        if not isinstance(value, dict):
            return False
        for process, level in value.items():
            if not isinstance(process, str) or not isinstance(level, int) or isinstance(level, bool) or level < 0:
                return False
        return True
    return isinstance(value, _ENUMS[what])


def problem(event: Event) -> str | None:
    """Why this event is not well-typed (the first bad field), or None when it is."""
    schema = SCHEMA.get(type(event))
    if schema is None:
        return f"{type(event).__name__} is no event"
    for name, what in schema:
        value = getattr(event, name, None)
        if not fits(what, value):
            return f"field {name!r}: expected {_EXPECTED[what]}, got {value!r}"
    return None


def to_record(event: Event) -> dict[str, Any]:
    """A flat dict of JSON scalars: ``kind`` plus the event's fields."""
    record: dict[str, Any] = {"kind": event.kind}
    for name in event.fields:
        value = getattr(event, name)
        if isinstance(value, Enum):
            value = value.value
        elif name == "channels":
            value = [c.value for c in value]
        record[name] = value
    return record


def decode_value(what: int, value: Any) -> Any:
    """A record's value as the event holds it (enums from their values, numbers as floats)."""
    if what in _ENUMS and isinstance(value, str):
        try:
            return _ENUMS[what](value)
        except ValueError:
            return value
    if what == CHANNELS and isinstance(value, (list, tuple)):
        found = []
        for item in value:
            try:
                found.append(Channel(item) if isinstance(item, str) else item)
            except ValueError:
                found.append(item)
        return tuple(found)
    if (what == NUMBER or what == NUMBER_OR_NONE) and _is_number(value):
        return float(value)
    if what == SKILLS and isinstance(value, dict):
        return dict(value)
    return value


def from_record(record: dict[str, Any]) -> Event:
    """The event a ``to_record`` dict describes; ValueError with the reason if it is not one.

    Every field is checked (type, finite numbers, known enum values), so that the
    routing core only ever receives well-typed events.
    """
    if not isinstance(record, dict):
        raise ValueError(f"an event record is a JSON object, got {type(record).__name__}")  # noqa: TRY004
    kind = record.get("kind")
    cls = EVENT_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ValueError(f"unknown event kind {kind!r}")
    schema = dict(SCHEMA[cls])
    values: dict[str, Any] = {}
    for name, value in record.items():
        if name == "kind":
            continue
        what = schema.get(name)
        if what is None:
            raise ValueError(f"{kind}: unknown field {name!r}")
        value = decode_value(what, value)
        if not fits(what, value):
            raise ValueError(f"{kind}: field {name!r}: expected {_EXPECTED[what]}, got {record[name]!r}")
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

