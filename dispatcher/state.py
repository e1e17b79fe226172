"""The routing core's live records of contacts and agents (plain mutable data)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

from dispatcher.events import AgentState
from skills.model import Channel

LIVE_RANK = 100
"""Added to a live contact's rank; priority classes stay below it (a small int is cached)."""
MAX_PRIORITY = LIVE_RANK - 1

if TYPE_CHECKING:
    from dispatcher.waiting import Bucket


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
