"""The routing core's live records: contacts, agents and the queue's buckets (plain mutable data)."""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from enum import Enum
from typing import Final

from mypy_extensions import mypyc_attr

from dispatcher.events import AgentState
from skills.model import Channel

LIVE_RANK: Final = 100
"""Added to a live contact's rank; priority classes stay below it (a small int is cached)."""
MAX_PRIORITY: Final = LIVE_RANK - 1


ENDPOINT_CHANNELS: Final = frozenset({Channel.PHONE, Channel.CALLBACK})
"""Channels whose offers ring the agent's softphone."""

ENTRY_CONTACT: Final = 4
"""Where a heap entry `[-priority, arrived_at, seq, push number, contact]` holds its contact."""


@mypyc_attr(native_class=False)  # frozen: pickled as a plain dataclass
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


@mypyc_attr(serializable=True)
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

    def most_urgent_relaxed(self, count: int) -> list[ContactRecord]:
        """Up to ``count`` contacts past their overflow delay, most urgent first."""
        found = heapq.nsmallest(count, (e for e in self.relaxed if e[ENTRY_CONTACT] is not None))
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


@mypyc_attr(serializable=True)
class ContactRecord:
    """One contact as the core sees it.

    ``seq`` is the arrival order (kept on requeue and re-qualification),
    ``rank`` orders live before deferrable then by priority class, and
    ``inv_sla`` is 1 / the channel's SLA seconds, so ``(now - arrived_at) * inv_sla``
    is the waited time relative to the target. The rest is filled in as the
    contact goes: its timers, its state, the agent holding it, its heap entries.
    """

    def __init__(
        self,
        *,
        contact_id: str,
        bucket: Bucket,
        channel: Channel,
        process: str,
        priority: int,
        arrived_at: float,
        seq: int,
        rank: int,
        inv_sla: float,
        required_level: int,
        relax_at: float | None,
        fallback_at: float | None = None,
        expire_at: float | None = None,
        qualified: bool = True,
    ) -> None:
        self.contact_id = contact_id
        self.bucket = bucket
        self.channel = channel
        self.process = process
        self.priority = priority
        self.arrived_at = arrived_at
        self.seq = seq
        self.rank = rank
        self.inv_sla = inv_sla
        self.required_level = required_level
        self.relax_at = relax_at
        self.fallback_at = fallback_at
        self.expire_at = expire_at
        self.qualified = qualified
        self.timer_at: float | None = None
        """When the contact's own timer is due, while it waits."""
        self.timer_token = 0
        """Counts the contact's timers: only the last one armed is live."""
        self.deadline: float | None = None
        self.ticket: str | None = None
        self.caller: str | None = None
        self.citizen_id: str | None = None
        self.site: str | None = None
        """The site a visitor waits in (only that site's counter agents take them), or None."""
        self.state = ContactState.WAITING
        self.agent_id: str | None = None
        self.offers = 0
        self.entry: list[object] | None = None
        self.relaxed_entry: list[object] | None = None

    def __repr__(self) -> str:
        return f"ContactRecord({self.contact_id!r}, {self.process!r}, {self.channel.value}, {self.state.value})"


@mypyc_attr(serializable=True)
class AgentRecord:
    """One agent as the core sees it.

    ``main_targets`` lists the queue buckets (process, channel) where the agent's
    level meets the process's required level, ``relaxed_targets`` those where it
    meets only the relaxed level: the only places it looks when it frees up.
    """

    def __init__(
        self, agent_id: str, seq: int, skills: dict[str, int], channels: frozenset[Channel]
    ) -> None:
        self.agent_id = agent_id
        self.seq = seq
        self.skills = skills
        self.channels = channels
        self.site: str | None = None
        """The site of the counter the agent opened: its visitors only, none of another site."""
        self.state = AgentState.OFFLINE
        self.reason: str | None = None
        self.since = 0.0
        self.idle_since = 0.0
        self.reachable = True
        """May the agent's softphone be rung now (its endpoint is up and no back-off runs)."""
        self.endpoint_up = True
        """What the last ``EndpointChanged`` (or an ``unavailable`` decline) said."""
        self.backoff_until: float | None = None
        """End of the busy back-off under way, if any."""
        self.contact_id: str | None = None
        self.pending: tuple[AgentState, str | None] | None = None
        self.logged_in_at: float | None = None
        self.busy_s = 0.0
        self.busy_since: float | None = None
        self.indexed = False
        self.index_token = 0
        self.wrap_token = 0
        self.main_targets: list[Bucket] = []
        self.relaxed_targets: list[Bucket] = []

    def __repr__(self) -> str:
        return f"AgentRecord({self.agent_id!r}, {self.state.value})"

    def occupancy(self, now: float) -> float:
        """Share of the logged-in time spent reserved, busy or in wrap-up."""
        if self.logged_in_at is None or now <= self.logged_in_at:
            return 0.0
        busy = self.busy_s + (now - self.busy_since if self.busy_since is not None else 0.0)
        return busy / (now - self.logged_in_at)


def same_site(agent: AgentRecord, contact: ContactRecord) -> bool:
    """May the agent take the contact as far as sites go: a contact without a site
    goes to anyone, a visitor only to an agent at a counter of their site."""
    site = contact.site
    return site is None or site == agent.site


# Compiled builds: a native class built from interpreted code (a checkpoint's restore) comes out
# with no attribute set, so code outside the core builds the records through these functions.


def new_contact_record(
    bucket: Bucket,
    contact_id: str,
    channel: Channel,
    process: str,
    priority: int,
    arrived_at: float,
    seq: int,
    rank: int,
    inv_sla: float,
    required_level: int,
    relax_at: float | None,
    fallback_at: float | None,
    expire_at: float | None,
    qualified: bool,
) -> ContactRecord:
    """A ContactRecord, built inside the core (see above)."""
    return ContactRecord(
        contact_id=contact_id, bucket=bucket, channel=channel, process=process, priority=priority,
        arrived_at=arrived_at, seq=seq, rank=rank, inv_sla=inv_sla, required_level=required_level,
        relax_at=relax_at, fallback_at=fallback_at, expire_at=expire_at, qualified=qualified,
    )


def new_agent_record(agent_id: str, seq: int, skills: dict[str, int], channels: frozenset[Channel]) -> AgentRecord:
    """An AgentRecord, built inside the core (see above)."""
    return AgentRecord(agent_id, seq, skills, channels)
