"""A per-contact, skill-aware estimated wait, read from the router's state (pure, no clock).

For one waiting contact (or one about to arrive): the agents who may take it
(skill at the required level, its channel, logged in and not paused), the
contacts ahead of it that compete for those agents (more urgent, in any
bucket those agents serve, each weighted by the share of its able agents that
are in this group), and when each of those agents frees up (now if free,
else after the rest of its current contact, from recent handling times).
The wait is when the agents, freeing up in turn, have taken every contact
ahead and then this one. ``HandlingTimes`` keeps the recent handling times
per process and channel from the event stream.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Iterable, Sequence

from dispatcher import events as ev
from dispatcher.events import AgentState
from dispatcher.router import Router
from dispatcher.state import LIVE_RANK, AgentRecord, Bucket, ContactRecord
from skills.model import Channel

WINDOW = 20
"""Handling times kept per process and channel."""

UNSTAFFED = float("inf")


class HandlingTimes:
    """Recent handling times (offer answered to contact ended) per process and channel."""

    def __init__(self, window: int = WINDOW) -> None:
        self.window = window
        self.recent: dict[tuple[str, Channel], deque[float]] = {}
        self._started: dict[str, tuple[str, Channel, float]] = {}
        self._offers: dict[str, tuple[str, Channel]] = {}

    def sink(self, batch: Sequence[ev.Event]) -> None:
        """Follow the events of the dispatcher."""
        for e in batch:
            if isinstance(e, ev.ContactOffered):
                self._offers[e.contact_id] = (e.process, e.channel)
            elif isinstance(e, ev.OfferAnswered):
                key = self._offers.pop(e.contact_id, None)
                if key is not None:
                    self._started[e.contact_id] = (key[0], key[1], e.at)
            elif isinstance(e, ev.ContactEnded | ev.ContactRequeued):
                self._offers.pop(e.contact_id, None)
                started = self._started.pop(e.contact_id, None)
                if started is not None and isinstance(e, ev.ContactEnded):
                    self.add(started[0], started[1], e.at - started[2])

    def add(self, process: str, channel: Channel, seconds: float) -> None:
        self.recent.setdefault((process, channel), deque(maxlen=self.window)).append(seconds)

    def mean(self, router: Router, process: str, channel: Channel) -> float:
        """The recent mean, blended with the catalogue's target while few are known."""
        target = router.catalogue.target(process, channel).handling_time_s
        seen = self.recent.get((process, channel))
        if not seen:
            return target
        weight = len(seen) / self.window
        return weight * (sum(seen) / len(seen)) + (1.0 - weight) * target

    def started_at(self, contact_id: str) -> float | None:
        found = self._started.get(contact_id)
        return None if found is None else found[2]


def _able(agent: AgentRecord, process: str, channel: Channel, level: int) -> bool:
    return (
        agent.state not in (AgentState.OFFLINE, AgentState.PAUSED)
        and channel in agent.channels
        and agent.skills.get(process, 0) >= level
    )


def _urgency(contact: ContactRecord) -> tuple[float, float, int]:
    return (-contact.rank, contact.arrived_at, contact.seq)


def _free_at(router: Router, agent: AgentRecord, now: float, times: HandlingTimes) -> float:
    """When the agent should be free again."""
    if agent.state is AgentState.AVAILABLE:
        return now
    contact = router.contacts.get(agent.contact_id or "")
    if agent.state is AgentState.WRAP_UP or contact is None:
        wrap = router.policy.wrap_up_s or 0.0
        return max(now, agent.since + wrap)
    handling = times.mean(router, contact.process, contact.channel)
    started = times.started_at(contact.contact_id) or agent.since
    return max(now + 0.1 * handling, started + handling) + (router.policy.wrap_up_s or 0.0)


def _estimate(
    router: Router,
    process: str,
    channel: Channel,
    level: int,
    mine: tuple[float, float, int],
    now: float,
    times: HandlingTimes,
    exclude: str | None = None,
) -> float:
    agents = [a for a in router.agents.values() if _able(a, process, channel, level)]
    if not agents:
        return UNSTAFFED
    group = {a.agent_id for a in agents}
    buckets: dict[tuple[str, Channel], Bucket] = {}
    for agent in agents:
        for bucket in agent.main_targets + agent.relaxed_targets:
            buckets[(bucket.process, bucket.channel)] = bucket
    ahead = 0.0
    for (b_process, b_channel), bucket in buckets.items():
        if not bucket.count:
            continue
        rivals = [c for c in bucket.waiting() if c.contact_id != exclude and _urgency(c) < mine]
        if not rivals:
            continue
        if b_process == process and b_channel == channel:
            share = 1.0
        else:
            able = [a for a in router.agents.values() if _able(a, b_process, b_channel, bucket.base_level)]
            share = sum(1 for a in able if a.agent_id in group) / max(1, len(able))
        ahead += share * len(rivals)
    free = [_free_at(router, a, now, times) for a in agents]
    heapq.heapify(free)
    handling = times.mean(router, process, channel)
    for _ in range(int(round(ahead))):
        heapq.heapreplace(free, free[0] + handling)
    return max(0.0, free[0] - now)


def contact_wait(router: Router, contact_id: str, now: float, times: HandlingTimes) -> float | None:
    """The estimated remaining wait of a waiting contact, or None if it is not waiting."""
    contact = router.queue.contacts.get(contact_id)
    if contact is None:
        return None
    return _estimate(
        router, contact.process, contact.channel, contact.required_level, _urgency(contact), now, times, contact_id
    )


def arrival_wait(
    router: Router, process: str | None, channel: Channel, now: float, times: HandlingTimes, priority: int = 0
) -> float:
    """The estimated wait of a contact arriving now (the IVR's announcement)."""
    code = process if process in router.catalogue.processes else router.catalogue.triage
    assert code is not None
    level = router.catalogue.processes[code].min_level
    live = LIVE_RANK if channel.is_live else 0
    return _estimate(router, code, channel, level, (-(live + priority), now, 1 << 62), now, times)


def waits(router: Router, contact_ids: Iterable[str], now: float, times: HandlingTimes) -> dict[str, float]:
    """The estimate of each waiting contact of ``contact_ids``."""
    found: dict[str, float] = {}
    for cid in contact_ids:
        wait = contact_wait(router, cid, now, times)
        if wait is not None:
            found[cid] = wait
    return found
