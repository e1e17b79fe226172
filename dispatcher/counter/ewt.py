"""A per-contact, skill-aware estimated wait, read from the router's state (pure, no clock).

The estimate plays the next minutes forward in a small fluid model of the
routing rules, started from the router's live state:

- the logged-in agents, each free again now (available), after the rest of
  its current contact (busy: the recent handling times of that process and
  channel, given the time already spent) or after its wrap-up;
- the contacts waiting in every bucket those agents serve, in the core's
  order (priority class, then waited time relative to the channel's SLA, then
  arrival), and the contacts still to come there at the recent arrival rate
  (a caller arriving in a minute may go first at a mixed desk);
- each agent freeing up takes the most urgent contact among the buckets it
  serves, for that bucket's recent mean handling time plus the wrap-up.

The estimate is when the contact itself is taken. ``Recent`` keeps the
recent handling times and arrival rates per process and channel from the
dispatcher's events. Used by the kiosks, the displays and the IVR.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from dispatcher import events as ev
from dispatcher.events import AgentState
from dispatcher.router import Router
from dispatcher.state import LIVE_RANK, AgentRecord, Bucket, ContactRecord, same_site
from skills.model import Channel

WINDOW = 30
"""Handling times kept per process and channel."""
RATE_WINDOW_S = 1800.0
"""Arrivals counted over this past span for the rate of contacts to come."""
HORIZON_S = 6 * 3600.0
UNSTAFFED = float("inf")

Key = tuple[str, Channel]


class Recent:
    """Recent handling times (answer to end) and arrival times per process and channel."""

    def __init__(self, window: int = WINDOW) -> None:
        self.window = window
        self.handling: dict[Key, deque[float]] = {}
        self.arrivals: dict[Key, deque[float]] = {}
        self._offers: dict[str, Key] = {}
        self._started: dict[str, tuple[Key, float]] = {}

    def sink(self, batch: Sequence[ev.Event]) -> None:
        """Follow the events of the dispatcher."""
        for e in batch:
            if isinstance(e, ev.ContactQueued):
                if e.arrived_at >= e.at - 1.0:  # a fresh arrival, not a requeue or a restart
                    self.arrivals.setdefault((e.process, e.channel), deque()).append(e.at)
            elif isinstance(e, ev.ContactOffered):
                self._offers[e.contact_id] = (e.process, e.channel)
            elif isinstance(e, ev.OfferAnswered):
                key = self._offers.pop(e.contact_id, None)
                if key is not None:
                    self._started[e.contact_id] = (key, e.at)
            elif isinstance(e, ev.ContactEnded | ev.ContactRequeued):
                self._offers.pop(e.contact_id, None)
                started = self._started.pop(e.contact_id, None)
                if started is not None and isinstance(e, ev.ContactEnded):
                    self.add(started[0], e.at - started[1])

    def add(self, key: Key, seconds: float) -> None:
        self.handling.setdefault(key, deque(maxlen=self.window)).append(seconds)

    def mean(self, router: Router, key: Key) -> float:
        """The recent mean handling time, blended with the catalogue's target while few are known."""
        target = router.catalogue.target(key[0], key[1]).handling_time_s
        seen = self.handling.get(key)
        if not seen:
            return target
        weight = len(seen) / self.window
        return weight * (sum(seen) / len(seen)) + (1.0 - weight) * target

    def remaining(self, router: Router, key: Key, elapsed: float) -> float:
        """The expected rest of a contact already handled for ``elapsed`` seconds."""
        seen = [x - elapsed for x in self.handling.get(key, ()) if x > elapsed]
        mean = self.mean(router, key)
        if len(seen) >= 3:
            return sum(seen) / len(seen)
        return max(mean - elapsed, 0.25 * mean)

    def rate(self, key: Key, now: float) -> float:
        """Arrivals per second over the recent span."""
        times = self.arrivals.get(key)
        if not times:
            return 0.0
        while times and times[0] < now - RATE_WINDOW_S:
            times.popleft()
        return len(times) / RATE_WINDOW_S

    def started_at(self, contact_id: str) -> float | None:
        found = self._started.get(contact_id)
        return None if found is None else found[1]


@dataclass
class _Line:
    """One bucket in the forward play: its waiting contacts in order, then the ones to come."""

    bucket: Bucket
    waiting: list[ContactRecord]
    handling: float
    next_at: float
    spacing: float
    taken: int = 0

    def head(self, t: float) -> tuple[int, float, float] | None:
        """(rank, arrival, seq-ish) of the next contact present at time t."""
        if self.taken < len(self.waiting):
            c = self.waiting[self.taken]
            return (c.rank, c.arrived_at, float(c.seq))
        if self.next_at <= t:
            rank = LIVE_RANK if self.bucket.live else 0
            return (rank, self.next_at, float("inf"))
        return None

    def take(self) -> ContactRecord | None:
        if self.taken < len(self.waiting):
            self.taken += 1
            return self.waiting[self.taken - 1]
        self.next_at += self.spacing
        return None


def _urgent(a: tuple[int, float, float], la: _Line, b: tuple[int, float, float], lb: _Line, t: float) -> bool:
    """Is head ``a`` of line ``la`` more urgent than ``b`` (rule 2: rank, waited/SLA, arrival)?"""
    if a[0] != b[0]:
        return a[0] > b[0]
    ra = (t - a[1]) * la.bucket.inv_sla
    rb = (t - b[1]) * lb.bucket.inv_sla
    if ra != rb:
        return ra > rb
    return (a[1], a[2]) < (b[1], b[2])


def _free_at(router: Router, agent: AgentRecord, now: float, recent: Recent) -> float:
    wrap = router.policy.wrap_up_s or 0.0
    if agent.state is AgentState.AVAILABLE:
        return now
    if agent.state is AgentState.WRAP_UP:
        return max(now, agent.since + wrap)
    contact = router.contacts.get(agent.contact_id or "")
    if contact is None:
        return now
    key = (contact.process, contact.channel)
    started = recent.started_at(contact.contact_id)
    if agent.state is AgentState.RESERVED or started is None:
        return now + recent.mean(router, key) + wrap
    return now + recent.remaining(router, key, now - started) + wrap


def _mine_from(agent: AgentRecord, mine: ContactRecord, now: float, fallback: Bucket | None) -> float | None:
    """From when the agent may take the contact: now, past its overflow delay, or in its fallback group."""
    if mine.bucket in agent.main_targets:
        return now
    found: float | None = None
    if mine.relax_at is not None and mine.bucket in agent.relaxed_targets:
        found = mine.relax_at
    if mine.fallback_at is not None and fallback is not None and fallback in agent.main_targets:
        found = mine.fallback_at if found is None else min(found, mine.fallback_at)
    return found


def contact_wait(router: Router, contact_id: str, now: float, recent: Recent) -> float | None:
    """The estimated remaining wait of a waiting contact, or None if it is not waiting."""
    mine = router.queue.contacts.get(contact_id)
    if mine is None:
        return None
    fallback = router.queue.buckets.get((mine.bucket.rules.fallback, mine.channel))
    lines: dict[Bucket, _Line] = {}
    for key, bucket in router.queue.buckets.items():
        rate = recent.rate(key, now)
        waiting = [c for c in bucket.waiting() if c is not mine and _may_share(mine, c)] if bucket.count else []
        if not waiting and rate == 0.0:
            continue  # nobody there now, nobody expected
        waiting.sort(key=lambda c: (-c.rank, c.arrived_at, c.seq))
        spacing = 1.0 / rate if rate > 0 else float("inf")
        lines[bucket] = _Line(bucket, waiting, recent.mean(router, key), now + spacing / 2, spacing)
    serves: list[tuple[AgentRecord, list[_Line], float | None]] = []
    for agent in router.agents.values():
        if agent.state in (AgentState.OFFLINE, AgentState.PAUSED) or not same_site(agent, mine):
            continue
        own = [lines[b] for b in agent.main_targets if b in lines]
        serves.append((agent, own, _mine_from(agent, mine, now, fallback)))
    if all(start is None for _a, _o, start in serves):
        return UNSTAFFED
    wrap = router.policy.wrap_up_s or 0.0
    free = [(_free_at(router, agent, now, recent), n) for n, (agent, _own, _start) in enumerate(serves)]
    heapq.heapify(free)
    mine_head = (mine.rank, mine.arrived_at, float(mine.seq))
    mine_line = _Line(mine.bucket, [mine], 0.0, float("inf"), float("inf"))
    while free:
        t, n = heapq.heappop(free)
        if t - now > HORIZON_S:
            return HORIZON_S
        agent, own, start = serves[n]
        best: _Line | None = None
        best_head: tuple[int, float, float] | None = None
        if start is not None and start <= t:
            best, best_head = mine_line, mine_head
        for line in own:
            head = line.head(t)
            if head is not None and (best is None or best_head is None or _urgent(head, line, best_head, best, t)):
                best, best_head = line, head
        if best is mine_line:
            return max(0.0, t - now)
        if best is None:
            upcoming = [line.next_at for line in own if line.next_at > t]
            if start is not None and start > t:
                upcoming.append(start)
            if upcoming:
                heapq.heappush(free, (min(upcoming), n))
            continue
        best.take()
        heapq.heappush(free, (t + best.handling + wrap, n))
    return UNSTAFFED


def _may_share(mine: ContactRecord, other: ContactRecord) -> bool:
    """May the agents who could take ``mine`` take ``other`` too (sites: a visitor of another
    site waits for other agents)."""
    return mine.site is None or other.site is None or other.site == mine.site


def arrival_wait(router: Router, contact_id: str, now: float, recent: Recent) -> float:
    """The estimate of a contact just arrived: 0 when it was offered at once (the IVR's announcement)."""
    found = contact_wait(router, contact_id, now, recent)
    return 0.0 if found is None else found
