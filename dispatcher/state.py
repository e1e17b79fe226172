"""The routing core's live records: contacts, agents and the queue's buckets (plain mutable data)."""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from enum import Enum

from dispatcher.events import AgentState
from skills.model import Channel

LIVE_RANK = 100
"""Added to a live contact's rank; priority classes stay below it (a small int is cached)."""
MAX_PRIORITY = LIVE_RANK - 1


ENDPOINT_CHANNELS = frozenset({Channel.PHONE, Channel.CALLBACK})
"""Channels whose offers ring the agent's softphone."""

ENTRY_CONTACT = 4
"""Where a heap entry `[-priority, arrived_at, seq, push number, contact]` holds its contact."""


@dataclass(frozen=True, slots=True)
class BucketRules:
    """What every contact of one process on one channel shares."""

    sla_seconds: float
    base_level: int
    relaxed_level: int
    overflow_after_s: float | None
    max_wait_s: float | None
    offer_timeout_s: float | None
    fallback: str


class Bucket:
    """The contacts waiting for one process on one channel."""

    __slots__ = (
        "process",
        "channel",
        "live",
        "needs_endpoint",
        "rules",
        "inv_sla",
        "base_level",
        "relaxed_level",
        "main",
        "relaxed",
        "count",
        "relaxed_count",
        "head",
        "free_main",
        "free_relaxed",
    )

    def __init__(self, process: str, channel: Channel, rules: BucketRules) -> None:
        self.process = process
        self.channel = channel
        self.live = channel.is_live
        self.needs_endpoint = channel in ENDPOINT_CHANNELS
        self.rules = rules
        self.inv_sla = 1.0 / rules.sla_seconds
        self.base_level = rules.base_level
        self.relaxed_level = rules.relaxed_level
        self.main: list[list[object]] = []
        self.relaxed: list[list[object]] = []
        self.count = 0
        self.relaxed_count = 0
        self.head: ContactRecord | None = None
        """The first contact of ``main`` once known; None when it must be looked up again."""
        self.free_main: list[tuple[object, ...]] = []
        """Free agents at or above the required level, best first (static strategies)."""
        self.free_relaxed: list[tuple[object, ...]] = []
        """Free agents at the relaxed level only, best first (static strategies)."""

    def first(self) -> ContactRecord:
        """The most urgent waiting contact (the bucket must not be empty)."""
        head = self.head
        if head is None:
            main = self.main
            while main[0][ENTRY_CONTACT] is None:
                heapq.heappop(main)
            head = self.head = main[0][ENTRY_CONTACT]  # type: ignore[assignment]
        return head  # type: ignore[return-value]

    def most_urgent(self, count: int) -> list[ContactRecord]:
        """Up to ``count`` waiting contacts, most urgent first."""
        found = heapq.nsmallest(count, (e for e in self.main if e[ENTRY_CONTACT] is not None))
        return [e[ENTRY_CONTACT] for e in found]  # type: ignore[misc]

    def waiting(self) -> list[ContactRecord]:
        """Every waiting contact of the bucket, in no particular order."""
        return [e[ENTRY_CONTACT] for e in self.main if e[ENTRY_CONTACT] is not None]  # type: ignore[misc]


class ContactState(str, Enum):
    """Where a contact stands in the core."""

    WAITING = "waiting"
    OFFERED = "offered"
    IN_SERVICE = "in_service"
    ENDED = "ended"


@dataclass(slots=True, eq=False, kw_only=True)
class ContactRecord:
    """One contact as the core sees it.

    ``seq`` is the arrival order (kept on requeue and re-qualification),
    ``rank`` orders live before deferrable then by priority class, and
    ``inv_sla`` is 1 / the channel's SLA seconds, so ``(now - arrived_at) * inv_sla``
    is the waited time relative to the target.
    """

    contact_id: str
    bucket: Bucket
    channel: Channel
    process: str
    priority: int
    arrived_at: float
    seq: int
    rank: int
    inv_sla: float
    required_level: int
    relax_at: float | None
    fallback_at: float | None = None
    timer_at: float | None = None
    deadline: float | None = None
    expire_at: float | None = None
    ticket: str | None = None
    caller: str | None = None
    citizen_id: str | None = None
    qualified: bool = True
    state: ContactState = ContactState.WAITING
    agent_id: str | None = None
    offers: int = 0
    entry: list[object] | None = None
    relaxed_entry: list[object] | None = None


@dataclass(slots=True, eq=False)
class AgentRecord:
    """One agent as the core sees it.

    ``main_targets`` lists the queue buckets (process, channel) where the agent's
    level meets the process's required level, ``relaxed_targets`` those where it
    meets only the relaxed level: the only places it looks when it frees up.
    """

    agent_id: str
    seq: int
    skills: dict[str, int]
    channels: frozenset[Channel]
    state: AgentState = AgentState.OFFLINE
    reason: str | None = None
    since: float = 0.0
    idle_since: float = 0.0
    reachable: bool = True
    contact_id: str | None = None
    pending: tuple[AgentState, str | None] | None = None
    logged_in_at: float | None = None
    busy_s: float = 0.0
    busy_since: float | None = None
    indexed: bool = False
    index_token: int = 0
    wrap_token: int = 0
    main_targets: list[Bucket] = field(default_factory=list)
    relaxed_targets: list[Bucket] = field(default_factory=list)

    def occupancy(self, now: float) -> float:
        """Share of the logged-in time spent reserved, busy or in wrap-up."""
        if self.logged_in_at is None or now <= self.logged_in_at:
            return 0.0
        busy = self.busy_s + (now - self.busy_since if self.busy_since is not None else 0.0)
        return busy / (now - self.logged_in_at)
