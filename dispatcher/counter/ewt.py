"""A per-contact, skill-aware estimated wait, read from the router's state (pure, no clock).

The estimate plays the next minutes forward in a small model of the routing
rules, started from the router's live state:

- the logged-in agents of the contact's site, each free again now
  (available), after the rest of its current contact (busy: the recent
  handling times of that process and channel, given the time already spent)
  or after its wrap-up;
- the contacts waiting in every bucket the agents who could take this one
  serve (at their level, or at the relaxed level once a contact is past its
  overflow delay), in the core's order (priority class, then waited time
  relative to the channel's SLA, then arrival), and the contacts still to come
  there at the recent arrival rate (a caller arriving in a minute may go
  first at a mixed desk);
- each agent freeing up takes the most urgent contact it may take, for that
  bucket's recent mean handling time plus the wrap-up.

The wait is when the contact itself is taken: the median of several plays
with durations and arrivals drawn from their recent spread (the rest of a
contact in service drawn given the time it has lasted); one play of the means
for a contact far down a long queue, whose bucket's pace then serves the
contacts behind it for a while. ``Recent`` keeps the recent handling times and
arrival rates per process and channel and each bucket's waiting entries in the
core's order, from the dispatcher's events. Used by the kiosks, the displays
and the IVR, once per ticket and per caller: compiled with the routing core
(``setup.py``), and its cost is measured by ``guichet bench ewt``.
"""

from __future__ import annotations

import bisect
import heapq
import math
import random
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

from dispatcher import events as ev
from dispatcher.events import AgentState
from dispatcher.router import Router
from dispatcher.state import ENTRY_CONTACT, LIVE_RANK, AgentRecord, Bucket, ContactRecord, same_site
from skills.model import Channel

WINDOW = 30
"""Handling times kept per process and channel."""
RATE_WINDOW_S = 1800.0
"""Arrivals counted over this past span for the rate of contacts to come."""
HORIZON_S = 6 * 3600.0
STEPS = 48
"""Agent decisions in the play of the means; past them the rest is extrapolated, and that play is
the estimate (a long queue: the sum of many handling times varies little)."""
ORDER_S = 300.0
"""A bucket's sorted waiting entries are sorted again from the queue this often (see ``Recent.order``):
they follow every (re)queued contact through the events, the rebuild only catches up on what the
events did not say (a restart) and drops the served entries."""
PACE_S = 60.0
"""A contact at least ``STEPS`` deep in its bucket gets ``ahead`` x its bucket's pace, the seconds per
contact of that bucket served in the last play of the means there, while the pace is this fresh and
no agent logged in or out since (the play costs a millisecond with a long queue, the lookup nothing)."""
ELIGIBLE_S = 5.0
"""The buckets that compete for a contact's agents, and their arrival rates, are looked up again this often."""
MAX_QUEUED = 8192
SAMPLED_STEPS = 4 * STEPS
"""The same, for each drawn play (drawn arrivals may come first)."""
DRAWS = 15
PRIOR_CV = 0.5
"""Spread (standard deviation / mean) of handling times until ``MIN_SPREAD_SAMPLES`` are seen."""
MIN_SPREAD_SAMPLES = 10
UNSTAFFED = float("inf")
_NORMAL = NormalDist()

Key = tuple[str, Channel]


class Recent:
    """Recent handling times (answer to end) and arrival times per process and channel."""

    def __init__(self, window: int = WINDOW) -> None:
        self.window = window
        self.handling: dict[Key, deque[float]] = {}
        self.arrivals: dict[Key, deque[float]] = {}
        self._offers: dict[str, Key] = {}
        self._started: dict[str, tuple[Key, float]] = {}
        self._cv: dict[Channel, float] = {}
        self._orders: dict[tuple[Bucket, str | None], tuple[float, list[list[object]], list[int]]] = {}
        self._queued: list[str] = []
        """Contacts (re)queued lately, for the sorted entries kept by ``order``."""
        self._rebuilt_at = -math.inf
        """When a sorted entries list was last sorted again: one a look, so that they do not all come due at once."""
        self._by_bucket: dict[Bucket, list[str]] = {}
        """The same, sorted out by bucket."""
        self.roster = 0
        """Counts the changes of who is logged in and of agents' skills (cached plays depend on them)."""
        self._logged: dict[str, bool] = {}
        self.paces: dict[tuple[Bucket, str | None], tuple[float, int, float]] = {}
        """(bucket, site) -> (when, roster, seconds per contact of that bucket served) of the last deep play."""
        self._eligible: dict[object, tuple[float, _Cast]] = {}

    def sink(self, batch: Sequence[ev.Event]) -> None:
        """Follow the events of the dispatcher."""
        if len(self._queued) > 4 * MAX_QUEUED:  # nobody looked for long: every list sorted again at its next look
            self._queued.clear()
            self._by_bucket.clear()
            self._orders.clear()
        for e in batch:
            if isinstance(e, ev.ContactQueued | ev.ContactRequeued | ev.ContactQualified):
                self._queued.append(e.contact_id)
            if isinstance(e, ev.AgentStateChanged):
                logged = e.state not in (AgentState.OFFLINE, AgentState.PAUSED)
                if self._logged.get(e.agent_id) is not logged:
                    self._logged[e.agent_id] = logged
                    self.roster += 1
            elif isinstance(e, ev.AgentProfileChanged):
                self.roster += 1
            elif isinstance(e, ev.ContactQueued):
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
        self._cv.pop(key[1], None)

    def cv(self, channel: Channel) -> float:
        """The spread of the channel's recent handling times (standard deviation / mean), every
        process pooled, each time relative to its process's mean; ``PRIOR_CV`` while few are known."""
        found = self._cv.get(channel)
        if found is None:
            relative = []
            for (_process, on), seen in self.handling.items():
                if on is channel and len(seen) >= 2:
                    mean = sum(seen) / len(seen)
                    relative += [x / mean for x in seen] if mean > 0 else []
            n = len(relative)
            if n < MIN_SPREAD_SAMPLES:
                found = PRIOR_CV
            else:
                found = math.sqrt(sum((x - 1.0) ** 2 for x in relative) / (n - 1))
            self._cv[channel] = found
        return found

    def mean(self, router: Router, key: Key) -> float:
        """The recent mean handling time, blended with the catalogue's target while few are known."""
        target = router.catalogue.target(key[0], key[1]).handling_time_s
        seen = self.handling.get(key)
        if not seen:
            return target
        weight = len(seen) / self.window
        return weight * (sum(seen) / len(seen)) + (1.0 - weight) * target

    def remaining(self, router: Router, key: Key, elapsed: float) -> float:
        """The expected rest of a contact already handled for ``elapsed`` seconds: the mean of a
        lognormal of the recent mean and spread, given that it lasts longer than ``elapsed``."""
        return _rest_mean(self.mean(router, key), self.cv(key[1]), elapsed)

    def rate(self, key: Key, now: float) -> float:
        """Arrivals per second over the recent span."""
        times = self.arrivals.get(key)
        if not times:
            return 0.0
        while times and times[0] < now - RATE_WINDOW_S:
            times.popleft()
        return len(times) / RATE_WINDOW_S

    def order(self, router: Router, bucket: Bucket, site: str | None, now: float) -> tuple[list[list[object]], int]:
        """The bucket's waiting entries that agents of ``site`` may take, in the core's order, and
        the index of the first one still waiting.

        Kept sorted: the contacts (re)queued in the bucket since the last look
        are inserted, the ones served are blanked in place by the core (so
        skipped here, and dropped once they are half the list); sorted again
        from the queue once ``ORDER_S`` old (what the events did not say: a restart).
        """
        queued = self._bucket_queued(router, bucket)
        key = (bucket, site)
        found = self._orders.get(key)
        if found is None or (not found[0] <= now <= found[0] + ORDER_S and self._rebuilt_at != now):  # one late list a look
            self._rebuilt_at = now
            entries = sorted(
                e for e in bucket.main
                if (c := e[ENTRY_CONTACT]) is not None and (site is None or c.site is None or c.site == site)  # type: ignore[attr-defined]
            )
            found = self._orders[key] = (now, entries, [0, len(queued)])
        _built, entries, marks = found
        contacts = router.queue.contacts
        for contact_id in queued[marks[1]:]:
            c = contacts.get(contact_id)
            if c is None or c.bucket is not bucket or c.entry is None or not (site is None or c.site is None or c.site == site):
                continue
            at = bisect.bisect_left(entries, c.entry)
            if at == len(entries) or entries[at] is not c.entry:
                if at <= marks[0]:  # before the first one waiting: the served ones before it go first
                    del entries[:marks[0]]
                    at = max(0, at - marks[0])
                entries.insert(at, c.entry)
                marks[0] = min(marks[0], at)
        marks[1] = len(queued)
        i = marks[0]
        while i < len(entries) and entries[i][ENTRY_CONTACT] is None:
            i += 1
        if i > 64 and 2 * i > len(entries):  # the served ones: dropped, not walked
            del entries[:i]
            i = 0
        marks[0] = i
        return entries, i

    def _bucket_queued(self, router: Router, bucket: Bucket) -> list[str]:
        """The contacts (re)queued in ``bucket`` lately: the events' contacts sorted out by bucket
        once, so that each sorted entries list reads only its own bucket's."""
        contacts = router.queue.contacts
        for contact_id in self._queued:
            c = contacts.get(contact_id)
            if c is not None:
                self._by_bucket.setdefault(c.bucket, []).append(contact_id)
        self._queued.clear()
        queued = self._by_bucket.setdefault(bucket, [])
        if len(queued) > MAX_QUEUED:  # drop what every list of the bucket has read
            mine = [(key, found) for key, found in self._orders.items() if key[0] is bucket]
            for key, (_at, _entries, marks) in mine:
                if marks[1] < len(queued) - MAX_QUEUED // 2:  # not looked at for long: sorted again
                    del self._orders[key]
            low = min((f[2][1] for k, f in mine if k in self._orders), default=len(queued))
            del queued[:low]
            for key, (_at, _entries, marks) in mine:
                if key in self._orders:
                    marks[1] -= low
        return queued

    def started_at(self, contact_id: str) -> float | None:
        found = self._started.get(contact_id)
        return None if found is None else found[1]

    def ahead(self, router: Router, mine: ContactRecord, now: float) -> int:
        """How many waiting entries of its bucket (that its site's agents may take) come before the
        contact in the core's order: a bisection in the sorted entries, no scan of the queue (a
        contact gone from the middle of the line, an abandon, still counts until the entries are
        sorted again, ``ORDER_S``)."""
        if mine.entry is None:
            return 0
        entries, first = self.order(router, mine.bucket, mine.site, now)
        return max(0, bisect.bisect_left(entries, mine.entry) - first)

    def eligible(self, players: list[_Player], now: float) -> _Cast:
        """The buckets the agents who may take the contact serve, with their recent arrival rates
        (kept ``ELIGIBLE_S`` for the same agents: they change when someone logs in or out)."""
        key = (self.roster, tuple((id(p.buckets), p.start is not None) for p in players))
        found = self._eligible.get(key)
        if found is None or not found[0] <= now <= found[0] + ELIGIBLE_S:
            if len(self._eligible) > 64:
                self._eligible.clear()
            buckets = list(dict.fromkeys(b for p in players if p.start is not None for b in (*p.buckets, *p.relaxed)))
            index = {b: k for k, b in enumerate(buckets)}
            cast = _Cast(
                buckets, [self.rate((b.process, b.channel), now) for b in buckets], index,
                [frozenset(index[b] for b in p.buckets if b in index) for p in players],
                [[index[b] for b in p.relaxed if b in index] for p in players],
            )
            found = self._eligible[key] = (now, cast)
        return found[1]


class _Line:
    """One bucket in the forward play: its waiting contacts in the core's order, then the ones to come.

    The play walks the bucket's sorted entries (``Recent.order``) from the
    first one still waiting: a look costs O(1), never a scan of the queue.
    """

    __slots__ = ("ahead_taken", "bucket", "entries", "handling", "i", "mine", "next_at", "spacing")

    def __init__(
        self, bucket: Bucket, mine: ContactRecord | None, order: tuple[list[list[object]], int],
        handling: float, next_at: float, spacing: float,
    ) -> None:
        self.bucket = bucket
        self.mine = mine
        self.entries, self.i = order
        self.handling = handling
        self.next_at = next_at
        self.spacing = spacing
        self.ahead_taken = 0
        """Contacts taken in the play that were ahead of ``mine`` in its own bucket."""

    @property
    def present(self) -> ContactRecord | None:
        """The line's next waiting contact, if any."""
        entries, mine = self.entries, self.mine
        i = self.i
        while i < len(entries):
            found: ContactRecord | None = entries[i][ENTRY_CONTACT]  # type: ignore[assignment]
            if found is not None and found is not mine:
                self.i = i
                return found
            i += 1
        self.i = i
        return None

    def head(self, t: float, relaxed: bool = False) -> tuple[int, float, float] | None:
        """(rank, arrival, seq-ish) of the next contact present at time t (``relaxed``: for an agent
        at the relaxed level only, the next one past its overflow delay)."""
        c = self.present
        if relaxed:
            return (c.rank, c.arrived_at, float(c.seq)) if c is not None and c.relax_at is not None and c.relax_at <= t else None
        if c is not None:
            return (c.rank, c.arrived_at, float(c.seq))
        if self.next_at <= t:
            rank = LIVE_RANK if self.bucket.live else 0
            return (rank, self.next_at, float("inf"))
        return None

    def take(self, mine_key: tuple[int, float, int] | None, rng: random.Random | None) -> None:
        """The play gives the line's next contact (a present one, else one to come) to an agent."""
        c = self.present
        if c is None:
            self.next_at += self.spacing if rng is None else rng.expovariate(1.0 / self.spacing)
            return
        self.i += 1
        if mine_key is not None and (-c.rank, c.arrived_at, c.seq) < mine_key:
            self.ahead_taken += 1


def _urgent(a: tuple[int, float, float], la: _Line, b: tuple[int, float, float], lb: _Line, t: float) -> bool:
    """Is head ``a`` of line ``la`` more urgent than ``b`` (rule 2: rank, waited/SLA, arrival)?"""
    if a[0] != b[0]:
        return a[0] > b[0]
    ra = (t - a[1]) * la.bucket.inv_sla
    rb = (t - b[1]) * lb.bucket.inv_sla
    if ra != rb:
        return ra > rb
    return (a[1], a[2]) < (b[1], b[2])


def _lognormal(rng: random.Random, mean: float, cv: float) -> float:
    sigma2 = math.log(1.0 + cv * cv)
    return rng.lognormvariate(math.log(mean) - sigma2 / 2, math.sqrt(sigma2))


def _shape(mean: float, cv: float, elapsed: float) -> tuple[float, float, float]:
    """(mu, sigma, z) of a lognormal of that mean and spread, z the standard score of ``elapsed``."""
    sigma = math.sqrt(math.log(1.0 + cv * cv))
    mu = math.log(mean) - sigma * sigma / 2
    z = (math.log(elapsed) - mu) / sigma if elapsed > 0.0 else -math.inf
    return mu, sigma, z


def _rest_mean(mean: float, cv: float, elapsed: float) -> float:
    """E[X - elapsed | X > elapsed] for a lognormal X of that mean and spread (closed form)."""
    if mean <= 0.0 or cv <= 0.0:
        return max(mean - elapsed, 0.0)
    _mu, sigma, z = _shape(mean, cv, elapsed)
    tail = 1.0 - _NORMAL.cdf(z) if z != -math.inf else 1.0
    if tail < 1e-9:  # far past every plausible length: a little more
        return 0.05 * mean
    return max(mean * (1.0 - _NORMAL.cdf(z - sigma) if z != -math.inf else 1.0) / tail - elapsed, 0.0)


def _rest_shape(mean: float, cv: float, elapsed: float) -> tuple[float, float, float, float]:
    """(mu, sigma, F(elapsed), elapsed) of the lognormal of that mean and spread: what a draw of
    the rest needs, computed once per estimate (sigma 0: no spread, the rest is the mean's)."""
    if mean <= 0.0 or cv <= 0.0:
        return mean, 0.0, 0.0, elapsed
    mu, sigma, z = _shape(mean, cv, elapsed)
    return mu, sigma, _NORMAL.cdf(z) if z != -math.inf else 0.0, elapsed


def _rest_from(rng: random.Random, shape: tuple[float, float, float, float]) -> float:
    mu, sigma, low, elapsed = shape
    if sigma == 0.0:
        return max(mu - elapsed, 0.0)
    u = low + (1.0 - low) * rng.random()
    if u >= 1.0 - 1e-12:
        return 0.05 * math.exp(mu + sigma * sigma / 2)
    return max(math.exp(mu + sigma * _NORMAL.inv_cdf(max(u, 1e-12))) - elapsed, 0.0)


@dataclass(frozen=True, slots=True)
class _Player:
    """An agent in the play: when it frees up (its current contact's key and time spent, if any)."""

    free_at: float
    busy: Key | None
    elapsed: float
    start: float | None
    """From when it may take the contact itself (None: never)."""
    buckets: Sequence[Bucket]
    relaxed: Sequence[Bucket]
    """Where it takes only the contacts past their overflow delay."""


def _players(router: Router, mine: ContactRecord, now: float, recent: Recent) -> list[_Player]:
    """The logged-in agents of the contact's site, and for each when it frees up and may take it."""
    fallback = router.queue.buckets.get((mine.bucket.rules.fallback, mine.channel))
    wrap = router.policy.wrap_up_s or 0.0
    found = []
    for agent in router.agents.values():
        if agent.state in (AgentState.OFFLINE, AgentState.PAUSED) or not same_site(agent, mine):
            continue
        busy: Key | None = None
        elapsed = 0.0
        free_at = now
        if agent.state is AgentState.WRAP_UP:
            free_at = max(now, agent.since + wrap)
        elif agent.state is not AgentState.AVAILABLE and (contact := router.contacts.get(agent.contact_id or "")) is not None:
            busy = (contact.process, contact.channel)
            started = recent.started_at(contact.contact_id)
            if agent.state is AgentState.RESERVED or started is None:
                free_at = now + recent.mean(router, busy) + wrap
            else:
                elapsed = now - started
                free_at = now + recent.remaining(router, busy, elapsed) + wrap
        start = _mine_from(agent, mine, now, fallback)
        found.append(_Player(free_at, busy, elapsed, start, agent.main_targets, agent.relaxed_targets))
    return found


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
    """The estimated remaining wait of a waiting contact, or None if it is not waiting.

    A contact served after more than ``STEPS`` decisions gets that play of the
    means: the sum of many handling times varies little. Otherwise the play is run
    ``DRAWS`` times with handling times, remaining times and arrivals drawn
    from their recent spread, and the median of those waits (``central``) is the estimate
    (the one that errs least on average; and the first of several busy agents
    to free up comes earlier than their means say).
    """
    waits = wait_draws(router, contact_id, now, recent)
    return None if waits is None else central(waits)


def central(waits: list[float]) -> float:
    """The estimate from the sorted waits of the plays: their median, as the mean of the middle
    five (a median of fifteen draws that moves less from one draw to the next)."""
    mid = len(waits) // 2
    if len(waits) < 5:
        return waits[mid]
    middle = waits[mid - 2:mid + 3]
    return waits[mid] if middle[-1] == UNSTAFFED else sum(middle) / 5


def wait_draws(router: Router, contact_id: str, now: float, recent: Recent) -> list[float] | None:
    """The waits of the plays behind the estimate, sorted (one for a long queue or nobody to serve)."""
    mine = router.queue.contacts.get(contact_id)
    if mine is None:
        return None
    ahead = recent.ahead(router, mine, now)
    pace_key = (mine.bucket, mine.site)
    if ahead >= STEPS:  # deep in a long queue: its bucket's recent pace
        found = recent.paces.get(pace_key)
        if found is not None and found[1] == recent.roster and found[0] <= now <= found[0] + PACE_S:
            return [min(HORIZON_S, ahead * found[2])]
    players = _players(router, mine, now, recent)
    if all(p.start is None for p in players):
        return [UNSTAFFED]
    cast = recent.eligible(players, now)
    rates = cast.rates
    lines = [b if (b.count or rates[k] > 0.0) else None for k, b in enumerate(cast.buckets)]  # somebody there, or expected
    keep = [n for n, p in enumerate(players) if p.start is not None or any(lines[k] is not None for k in (*cast.main[n], *cast.relaxed[n]))]
    orders = [
        None if b is None else (recent.order(router, b, mine.site, now) if b.count else ([], 0), recent.mean(router, (b.process, b.channel)))
        for b in lines
    ]
    kept = [players[n] for n in keep]
    active = [k for k, b in enumerate(lines) if b is not None]
    present: list[_Line | None] = [None] * len(lines)
    future = []
    for k in active:
        b, prepared = lines[k], orders[k]
        if b is not None and prepared is not None:
            line = _Line(b, mine, prepared[0], prepared[1], math.inf, math.inf)
            if line.present is None:
                future.append(k)
            else:
                present[k] = line
    stage = _Stage(
        lines, rates, orders, kept, [cast.main[n] for n in keep], [cast.relaxed[n] for n in keep],
        cast.index.get(mine.bucket), active, _Board(present), future,
        [None if p.busy is None else _rest_shape(recent.mean(router, p.busy), recent.cv(p.busy[1]), p.elapsed) for p in kept],
    )
    wait, steps, pace = _play(router, mine, ahead, stage, now, recent, None, STEPS)
    if steps > STEPS or wait >= HORIZON_S:  # many served first: the sum of many handling times varies little
        if pace is not None and steps > STEPS:
            recent.paces[pace_key] = (now, recent.roster, pace)
        return [wait]
    rng = random.Random(mine.seq)
    return sorted(_play(router, mine, ahead, stage, now, recent, rng, SAMPLED_STEPS)[0] for _ in range(DRAWS))


@dataclass(frozen=True, slots=True)
class _Cast:
    """The buckets competing for a contact's agents (numbered), their arrival rates, and for each
    agent the numbers of the buckets it serves at its level and at the relaxed level only."""

    buckets: list[Bucket]
    rates: list[float]
    index: dict[Bucket, int]
    main: list[frozenset[int]]
    relaxed: list[list[int]]


@dataclass(frozen=True, slots=True)
class _Stage:
    """What every play of one estimate shares: the buckets in play (None: empty and nobody expected),
    the agents, and the bucket numbers each one serves."""

    buckets: list[Bucket | None]
    rates: list[float]
    orders: list[tuple[tuple[list[list[object]], int], float] | None]
    """Per bucket in play: its sorted waiting entries and first one waiting, and its mean handling time."""
    players: list[_Player]
    main: list[frozenset[int]]
    relaxed: list[list[int]]
    mine: int | None
    """The number of the contact's own bucket, if in play."""
    active: list[int]
    """The numbers of the buckets in play."""
    board: _Board
    """The heads of the lines that have a contact waiting, the same at the start of every play."""
    future: list[int]
    """The lines with nobody waiting, whose next contact (drawn in each play) is still to come."""
    rests: list[tuple[float, float, float, float] | None]
    """Per agent busy with a contact: how the rest of it is drawn (see ``_rest_shape``)."""


_Item = tuple[int, float, float, int]
"""A line's next contact in a play's board: (-rank, arrival, seq, line number): sorted, the core's
order among the lines of one SLA (for them waited/SLA orders as the arrival does)."""


class _Board:
    """The next contact of every line of a play, sorted per SLA: an agent freeing up walks its
    SLA's sorted heads to the first line it serves instead of looking at each of its lines."""

    __slots__ = ("items", "lines", "sorted")

    def __init__(self, lines: list[_Line | None], base: _Board | None = None, fresh: Sequence[int] = ()) -> None:
        """``base``: a board of the same lines whose present heads are still right (copied), and
        ``fresh`` the lines to place anew (their next contact is still to come)."""
        self.lines = lines
        if base is None:
            self.items: list[_Item | None] = [None] * len(lines)
            self.sorted: dict[float, list[_Item]] = {}
            fresh = [k for k, line in enumerate(lines) if line is not None]
        else:
            self.items = base.items.copy()
            self.sorted = {sla: items.copy() for sla, items in base.sorted.items()}
        for k in fresh:
            line = lines[k]
            if line is not None:
                self._put(k, line)

    def _put(self, k: int, line: _Line) -> None:
        c = line.present
        if c is not None:
            item: _Item = (-c.rank, c.arrived_at, float(c.seq), k)
        elif line.next_at != math.inf:
            item = (-(LIVE_RANK if line.bucket.live else 0), line.next_at, math.inf, k)
        else:
            return
        self.items[k] = item
        bisect.insort(self.sorted.setdefault(line.bucket.inv_sla, []), item)

    def moved(self, k: int, line: _Line) -> None:
        """Line ``k`` gave its next contact: its new head takes its place in the order."""
        old = self.items[k]
        if old is not None:
            items = self.sorted[line.bucket.inv_sla]
            del items[bisect.bisect_left(items, old)]
            self.items[k] = None
        self._put(k, line)

    def first(self, serves: frozenset[int], t: float) -> list[_Item]:
        """Per SLA, the most urgent head at time t among the lines served (at most one each)."""
        found = []
        for items in self.sorted.values():
            for item in items:
                if item[3] in serves and item[1] <= t:
                    found.append(item)
                    break
        return found


def _horizon_pace(played: float, own_line: _Line | None) -> float:
    """The pace of a play stopped at the horizon: what it took per contact of the bucket, or the
    horizon itself if none was taken (every contact of the bucket then waits past it)."""
    return played / own_line.ahead_taken if own_line is not None and own_line.ahead_taken else HORIZON_S


def _play(
    router: Router,
    mine: ContactRecord,
    ahead: int,
    stage: _Stage,
    now: float,
    recent: Recent,
    rng: random.Random | None,
    cap: int,
) -> tuple[float, int, float | None]:
    """One play forward (means; or draws from ``rng``): the contact's wait, the decisions played and,
    when capped, the pace of its bucket (seconds per contact of it served).

    At most ``cap`` agent decisions are played: a contact still behind others
    then gets the rest at the pace its own bucket was served in the play, so an
    estimate costs the same however long the queue is.
    """
    wrap = router.policy.wrap_up_s or 0.0
    lines: list[_Line | None] = [None] * len(stage.buckets)
    for k in stage.active:
        bucket, rate, prepared = stage.buckets[k], stage.rates[k], stage.orders[k]
        if bucket is None or prepared is None:
            continue
        spacing = 1.0 / rate if rate > 0 else math.inf
        first = spacing / 2 if rng is None or rate == 0.0 else rng.expovariate(rate)
        lines[k] = _Line(bucket, mine, prepared[0], prepared[1], now + first, spacing)
    board = _Board(lines, stage.board, stage.future)
    players = stage.players
    if rng is None:
        free = [(p.free_at, n) for n, p in enumerate(players)]
    else:
        free = [(p.free_at if shape is None else now + _rest_from(rng, shape) + wrap, n) for n, (p, shape) in enumerate(zip(players, stage.rests))]
    heapq.heapify(free)
    mine_head = (mine.rank, mine.arrived_at, float(mine.seq))
    mine_key = (-mine.rank, mine.arrived_at, mine.seq)
    mine_line = _Line(mine.bucket, None, ([], 0), 0.0, math.inf, math.inf)
    own_line = lines[stage.mine] if stage.mine is not None else None
    steps = 0
    while free:
        t, n = heapq.heappop(free)
        if t - now > HORIZON_S:  # past the horizon: so is every contact behind the ones taken
            return HORIZON_S, steps, _horizon_pace(t - now, own_line)
        steps += 1
        if steps > cap and own_line is not None and own_line.ahead_taken:
            pace = (t - now) / own_line.ahead_taken
            return min(HORIZON_S, t - now + max(0, ahead - own_line.ahead_taken) * pace), steps, pace
        if steps > 8 * cap:
            return HORIZON_S, steps, _horizon_pace(t - now, own_line)
        serves, start = stage.main[n], players[n].start
        best: _Line | None = None
        best_head: tuple[int, float, float] | None = None
        best_k = -1
        if start is not None and start <= t:
            best, best_head = mine_line, mine_head
        for item in board.first(serves, t):
            line = lines[item[3]]
            head = (-item[0], item[1], item[2])
            if line is not None and (best is None or best_head is None or _urgent(head, line, best_head, best, t)):
                best, best_head, best_k = line, head, item[3]
        for k in stage.relaxed[n]:
            line = lines[k]
            if line is not None and (head2 := line.head(t, True)) is not None and (
                best is None or best_head is None or _urgent(head2, line, best_head, best, t)
            ):
                best, best_head, best_k = line, head2, k
        if best is mine_line:
            return max(0.0, t - now), steps, None
        if best is None:
            upcoming = [line.next_at for k in serves if (line := lines[k]) is not None and line.next_at > t]
            upcoming += [
                c.relax_at for k in stage.relaxed[n]
                if (line := lines[k]) is not None and (c := line.present) and c.relax_at and c.relax_at > t
            ]
            if start is not None and start > t:
                upcoming.append(start)
            if upcoming:
                heapq.heappush(free, (min(upcoming), n))
            continue
        best.take(mine_key if best is own_line else None, rng)
        board.moved(best_k, best)
        handling = best.handling if rng is None else _lognormal(rng, best.handling, recent.cv(best.bucket.channel))
        heapq.heappush(free, (t + handling + wrap, n))
    return UNSTAFFED, steps, None


def arrival_wait(router: Router, contact_id: str, now: float, recent: Recent) -> float:
    """The estimate of a contact just arrived: 0 when it was offered at once (the IVR's announcement)."""
    found = contact_wait(router, contact_id, now, recent)
    return 0.0 if found is None else found
