"""``guichet bench ewt``: the estimated wait given at arrival against the wait then had.

Simulated mornings of the sample town hall (its forecast, skill matrix and
schedule; phone and counter, 8:30-12:30, the forecast's own 9-12 h peak;
several seeds) run through the real routing core. For each contact the
estimate given when it arrived is recorded by two estimators, then the wait it
actually had until an agent took it:

- Guichet's (``dispatcher.counter.ewt``): per contact and skill-aware;
- app_queue's (Asterisk ``apps/app_queue.c``): ``recalc_holdtime`` keeps
  ``holdtime = (3 * holdtime + wait) >> 2`` over the answered callers (integer
  seconds), and ``say_position`` announces ``(holdtime + 30) / 60`` whole
  minutes (the 30 s round to the nearest minute); kept here per process and
  channel, one queue each.

Loads: the forecast is a busy Monday of a 45,000-inhabitant town hall, with
its morning peak; the mornings are played at that load (x1.0) and at a peak
morning 30 % busier (x1.3: the Monday after a bank holiday, the spring
passport rush), both pooled. x1.6, used before, is 60 % above a busy
Monday that already has its peak: an overload the schedule is not made for
(the counter queue builds from 9:00 to 11:00, up to 9 visitors waiting
against 4-6 at x1.0 and x1.3), not the peak morning the estimate is for.

The figure is the mean absolute error as a share of the mean actual wait;
``spread_share`` is the error the estimator's own model expects of itself
(the mean distance of its plays to their median): the part of the wait that
handling times and arrivals still to come leave unknowable at arrival.
"""

from __future__ import annotations

import heapq
import math
import random
import time
from dataclasses import dataclass, field, replace
from typing import Any

from rich.console import Console
from rich.table import Table

from dispatcher import events as ev
from dispatcher.counter import ewt
from dispatcher.counter.sites import default_sites
from dispatcher.events import AgentState, Event
from dispatcher.policy import RoutingPolicy
from dispatcher.router import Router
from simulations.draws import draw
from simulations.forecast import load_forecast, sample_forecast_path
from simulations.model import ArrivalInterval, Scenario
from simulations.scenario import default_schedule_path, load_schedule
from skills.catalogue import default_catalogue
from skills.matrix import default_matrix
from skills.model import Channel

MORNING = (8.5 * 3600, 12.5 * 3600)
CHANNELS = (Channel.PHONE, Channel.COUNTER)
APP_QUEUE_OFFSET_S = 30
LOADS = (1.0, 1.3)


class AppQueueEstimate:
    """app_queue's announced holdtime, per queue (process and channel), in seconds."""

    def __init__(self) -> None:
        self.holdtime: dict[tuple[str, Channel], int] = {}

    def estimate(self, process: str, channel: Channel) -> float:
        """At arrival (waited 0): the holdtime rounded to the nearest whole minute."""
        return 60.0 * ((self.holdtime.get((process, channel), 0) + APP_QUEUE_OFFSET_S) // 60)

    def answered(self, process: str, channel: Channel, wait: float) -> None:
        old = self.holdtime.get((process, channel), 0)
        self.holdtime[(process, channel)] = ((old << 2) - old + int(wait)) >> 2


@dataclass
class Tally:
    """Estimates, the estimator's own spread, and actual waits of the answered contacts of one channel."""

    ours: list[float] = field(default_factory=list)
    naive: list[float] = field(default_factory=list)
    actual: list[float] = field(default_factory=list)
    spread: list[float] = field(default_factory=list)

    def add(self, ours: float, naive: float, actual: float, spread: float = 0.0) -> None:
        self.ours.append(ours)
        self.naive.append(naive)
        self.actual.append(actual)
        self.spread.append(spread)

    def extend(self, other: Tally) -> None:
        self.ours += other.ours
        self.naive += other.naive
        self.actual += other.actual
        self.spread += other.spread

    def mae(self, estimates: list[float]) -> float:
        return sum(abs(e - a) for e, a in zip(estimates, self.actual)) / max(1, len(self.actual))

    @property
    def mean_wait(self) -> float:
        return sum(self.actual) / max(1, len(self.actual))

    @property
    def mean_spread(self) -> float:
        return sum(self.spread) / max(1, len(self.spread))


def _estimate(router: Router, contact_id: str, at: float, recent: ewt.Recent) -> tuple[float, float]:
    """Guichet's estimate of a contact just arrived, and the mean distance of its plays to it."""
    waits = ewt.wait_draws(router, contact_id, at, recent)
    if waits is None:
        return 0.0, 0.0
    median = ewt.central(waits)
    if median == ewt.UNSTAFFED:
        return median, 0.0
    return median, sum(abs(w - median) for w in waits) / len(waits)


def scenario(load: float) -> Scenario:
    """The sample town hall's morning, phone and counter, arrivals scaled by ``load``."""
    catalogue = default_catalogue()
    matrix = default_matrix(catalogue)
    forecast = load_forecast(sample_forecast_path())
    step = forecast.interval_min * 60.0
    arrivals = tuple(
        ArrivalInterval(r.minute * 60.0, r.minute * 60.0 + step, r.process, Channel(r.channel), r.arrivals * load, r.aht_s)
        for r in forecast.rows
        if Channel(r.channel) in CHANNELS and MORNING[0] <= r.minute * 60.0 < MORNING[1]
    )
    schedule = load_schedule(default_schedule_path(), matrix)
    return Scenario(
        catalogue=catalogue,
        matrix=matrix,
        arrivals=arrivals,
        policy=replace(RoutingPolicy(), wrap_up_s=10.0),
        handling="lognormal",
        handling_cv=0.5,
        patience={Channel.PHONE: 300.0, Channel.COUNTER: 3600.0},
        schedule=schedule,
        close_s=MORNING[1],
    )


_ARRIVE, _COMPLETE, _ABANDON, _LOGIN, _LOGOUT = range(5)


def replicate(sc: Scenario, seed: int) -> dict[Channel, Tally]:
    """One simulated morning: each answered contact's two estimates and its wait."""
    draws = draw(sc, seed)
    router = Router(sc.catalogue, sc.matrix, sc.policy)
    times = ewt.Recent()
    app_queue = AppQueueEstimate()
    heap: list[tuple[float, int, int, Any]] = []
    seq = 0

    def push(at: float, kind: int, payload: Any) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(heap, (at, seq, kind, payload))

    for i, at in enumerate(draws.arrival_s):
        push(at, _ARRIVE, i)
    for shift in sc.schedule or ():
        push(shift.start_s, _LOGIN, shift.agent_id)
        push(shift.end_s, _LOGOUT, shift.agent_id)
    index = {cid: i for i, cid in enumerate(draws.contact_ids)}
    arrived: dict[str, float] = {}
    estimates: dict[str, tuple[float, float, float]] = {}
    answered: set[str] = set()
    tallies = {c: Tally() for c in CHANNELS}

    def apply(event: Event) -> None:
        decisions = router.handle(event)
        times.sink([event, *decisions])
        for d in decisions:
            if isinstance(d, ev.ContactOffered) and d.contact_id not in answered:
                answered.add(d.contact_id)
                wait = d.at - arrived[d.contact_id]
                app_queue.answered(d.process, d.channel, wait)
                ours, naive, spread = estimates[d.contact_id]
                tallies[d.channel].add(ours, naive, wait, spread)
                answer = ev.OfferAnswered(at=d.at, contact_id=d.contact_id, agent_id=d.agent_id)
                times.sink([answer, *router.handle(answer)])
                push(d.at + draws.handling_s[index[d.contact_id]], _COMPLETE, d.contact_id)

    on_shift: dict[str, int] = {}
    while heap:
        at, _, kind, payload = heap[0]
        due = router.next_timer_at()
        if due is not None and due < at:
            apply(ev.TimePassed(at=due))
            continue
        heapq.heappop(heap)
        if at > sc.end_s:
            break
        if kind == _ARRIVE:
            i = payload
            cid, process, channel = draws.contact_ids[i], draws.process[i], draws.channel[i]
            arrived[cid] = at
            naive = app_queue.estimate(process, channel)
            decisions = router.handle(ev.ContactArrived(at=at, contact_id=cid, channel=channel, process=process))
            times.sink([ev.ContactArrived(at=at, contact_id=cid, channel=channel, process=process), *decisions])
            ours, spread = _estimate(router, cid, at, times)
            estimates[cid] = (ours, naive, spread)
            for d in decisions:
                if isinstance(d, ev.ContactOffered):
                    apply_offer = d
                    answered.add(cid)
                    tallies[channel].add(estimates[cid][0], naive, 0.0)
                    app_queue.answered(process, channel, 0.0)
                    answer = ev.OfferAnswered(at=at, contact_id=cid, agent_id=apply_offer.agent_id)
                    times.sink([answer, *router.handle(answer)])
                    push(at + draws.handling_s[i], _COMPLETE, cid)
            if draws.patience_s[i] != math.inf:
                push(at + draws.patience_s[i], _ABANDON, cid)
        elif kind == _COMPLETE:
            apply(ev.ContactCompleted(at=at, contact_id=payload))
        elif kind == _ABANDON:
            if payload not in answered and payload in router.contacts:
                apply(ev.ContactAbandoned(at=at, contact_id=payload))
        elif kind == _LOGIN:
            on_shift[payload] = on_shift.get(payload, 0) + 1
            apply(ev.AgentStatusSet(at=at, agent_id=payload, state=AgentState.AVAILABLE))
        else:
            on_shift[payload] -= 1
            if on_shift[payload] == 0:
                apply(ev.AgentStatusSet(at=at, agent_id=payload, state=AgentState.OFFLINE))
    return tallies


STRESS_WAITING = 10_000
STRESS_TICKETS_S = 50.0
"""Kiosk tickets per second in the stress state (phone callers: ``STRESS_CALLS_S``)."""
STRESS_CALLS_S = 0.5
"""Five times the forecast's busiest quarter-hour on the phone (about 0.1 call/s): callers still
reach an agent, so their estimates are the short-queue ones, with draws (the costliest)."""
STRESS_CV = 0.5
"""Spread of the handling times in the stress state, as in the mornings."""


def stress(waiting: int = STRESS_WAITING, measured: int = 2000, seed: int = 7) -> dict[str, Any]:
    """The cost of one estimate in a loaded state built through the real Router: the sample town
    hall's agents seated at the counters of its two sites (the ones without a counter of the
    site file at the annexe), ``waiting`` visitors waiting over both sites, then tickets at
    ``STRESS_TICKETS_S`` and phone callers at ``STRESS_CALLS_S`` while the agents serve
    (lognormal handling times of the catalogue's targets): every ticket's ``contact_wait`` and
    every caller's ``arrival_wait`` timed (wall clock), in microseconds."""
    catalogue = default_catalogue()
    matrix = default_matrix(catalogue)
    sites = default_sites(catalogue)
    forecast = load_forecast(sample_forecast_path())
    counter = sorted({r.process for r in forecast.rows if r.channel == Channel.COUNTER.value})
    phone = sorted({r.process for r in forecast.rows if r.channel == Channel.PHONE.value})
    router = Router(catalogue, matrix, replace(RoutingPolicy(), wrap_up_s=10.0))
    recent = ewt.Recent()
    rng = random.Random(seed)
    ends: list[tuple[float, str]] = []
    now = 9 * 3600.0

    def feed(event: Event) -> None:
        out = router.handle(event)
        recent.sink([event, *out])
        for d in out:
            if isinstance(d, ev.ContactOffered):
                answer = ev.OfferAnswered(at=d.at, contact_id=d.contact_id, agent_id=d.agent_id)
                recent.sink([answer, *router.handle(answer)])
                mean = catalogue.target(d.process, d.channel).handling_time_s
                sigma2 = math.log(1.0 + STRESS_CV**2)  # lognormal of that mean, as the simulation draws
                heapq.heappush(ends, (d.at + rng.lognormvariate(math.log(mean) - sigma2 / 2, math.sqrt(sigma2)), d.contact_id))

    def advance(to: float) -> None:
        while True:
            due = router.next_timer_at()
            first = min(due if due is not None else math.inf, ends[0][0] if ends else math.inf)
            if first > to:
                return
            if ends and ends[0][0] == first:
                feed(ev.ContactCompleted(at=first, contact_id=heapq.heappop(ends)[1]))
            else:
                feed(ev.TimePassed(at=first))

    for n, (agent_id, profile) in enumerate(matrix.agents.items()):
        seat = sites.counter_site(profile.desk) if profile.desk else None
        site = seat.code if seat is not None else ("annexe" if Channel.COUNTER in profile.channels else None)
        feed(ev.AgentProfileChanged(at=now, agent_id=agent_id, skills=dict(profile.skills), channels=tuple(profile.channels), site=site))
        feed(ev.AgentStatusSet(at=now, agent_id=agent_id, state=AgentState.AVAILABLE))
    site_codes = sorted(sites.sites)
    for i in range(waiting):
        now += 0.02
        advance(now)
        feed(ev.ContactArrived(
            at=now, contact_id=f"v{i}", channel=Channel.COUNTER, process=rng.choice(counter),
            priority=1 if rng.random() < 0.05 else 0, site=site_codes[i % len(site_codes)],
        ))
    costs: list[float] = []
    calls: list[float] = []
    next_ticket, next_call = now, now
    for k in range(measured):
        now = min(next_ticket, next_call)
        advance(now)
        if now == next_call:
            next_call += rng.expovariate(STRESS_CALLS_S)
            cid = f"p{k}"
            feed(ev.ContactArrived(at=now, contact_id=cid, channel=Channel.PHONE, process=rng.choice(phone)))
            started = time.perf_counter()
            ewt.arrival_wait(router, cid, now, recent)
            calls.append((time.perf_counter() - started) * 1e6)
        else:
            next_ticket += rng.expovariate(STRESS_TICKETS_S)
            cid = f"t{k}"
            feed(ev.ContactArrived(
                at=now, contact_id=cid, channel=Channel.COUNTER, process=rng.choice(counter), site=rng.choice(site_codes),
            ))
            started = time.perf_counter()
            ewt.contact_wait(router, cid, now, recent)
        costs.append((time.perf_counter() - started) * 1e6)
    costs.sort()
    calls.sort()
    return {
        "estimate_us_p50": round(costs[len(costs) // 2], 1),
        "estimate_us_p99": round(costs[int(len(costs) * 0.99)], 1),
        "call_us_p50": round(calls[len(calls) // 2], 1) if calls else None,
        "call_us_max": round(calls[-1], 1) if calls else None,
        "waiting": sum(1 for c in router.queue.contacts.values() if c.channel is Channel.COUNTER),
        "estimates": len(costs),
        "calls": len(calls),
    }


def run(console: Console, quick: bool) -> dict[str, Any]:
    """Several seeds of the morning at each load; the table, then the figures."""
    seeds = range(1, 4 if quick else 11)
    started = time.perf_counter()
    total = {c: Tally() for c in CHANNELS}
    for load in LOADS:
        sc = scenario(load)
        for seed in seeds:
            for channel, tally in replicate(sc, seed).items():
                total[channel].extend(tally)
    elapsed = time.perf_counter() - started
    cost = stress(measured=500 if quick else 2000)
    loads = ", ".join(f"×{load}" for load in LOADS)
    table = Table(title=f"Estimated wait at arrival vs actual wait — {len(seeds)} mornings at each load ({loads})")
    for name in ("channel", "contacts", "mean wait", "Guichet MAE", "share", "own spread", "app_queue MAE", "share", "ratio"):
        table.add_column(name, justify="right")
    overall = Tally()
    for channel, tally in total.items():
        overall.extend(tally)
    rows = [*((c.value, t) for c, t in total.items()), ("all", overall)]
    for name, t in rows:
        mean = t.mean_wait or 1.0
        ours, naive = t.mae(t.ours), t.mae(t.naive)
        table.add_row(
            name, str(len(t.actual)), f"{t.mean_wait:.0f} s", f"{ours:.0f} s", f"{ours / mean:.0%}",
            f"{t.mean_spread / mean:.0%}", f"{naive:.0f} s", f"{naive / mean:.0%}", f"{naive / ours:.1f}×" if ours else "-",
        )
    console.print(table)
    console.print(
        f"One estimate with {cost['waiting']:,} visitors waiting over 2 sites and phone callers flowing: "
        f"median {cost['estimate_us_p50']:.0f} µs, p99 {cost['estimate_us_p99']:.0f} µs ({cost['estimates']} estimates; "
        f"the {cost['calls']} callers': median {cost['call_us_p50'] or 0:.0f} µs, max {cost['call_us_max'] or 0:.0f} µs)"
    )
    mean = overall.mean_wait or 1.0
    ours, naive = overall.mae(overall.ours), overall.mae(overall.naive)
    figures: dict[str, Any] = {
        "mae_share": round(ours / mean, 4),
        "naive_mae_share": round(naive / mean, 4),
        "ratio": round(naive / ours, 2) if ours else None,
        "spread_share": round(overall.mean_spread / mean, 4),
        "contacts": len(overall.actual),
        "mean_wait_s": round(overall.mean_wait, 1),
        "seeds": len(seeds),
        "loads": list(LOADS),
        "seconds": round(elapsed, 2),
        **cost,
    }
    for channel, t in total.items():
        m = t.mean_wait or 1.0
        figures[f"{channel.value}_mae_share"] = round(t.mae(t.ours) / m, 4)
        figures[f"{channel.value}_naive_mae_share"] = round(t.mae(t.naive) / m, 4)
        figures[f"{channel.value}_spread_share"] = round(t.mean_spread / m, 4)
    return figures
