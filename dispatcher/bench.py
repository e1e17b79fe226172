"""``guichet bench routing``: the routing core at town-hall-federation scale.

1,000 agents x 70 processes (about 10 skills each), 10,000 waiting contacts,
then a long mixed stream of "agent frees up" (its contact completes, it takes
the next one) and "contact arrives" events. Two figures are timed: the
*decision* (the choice of the contact for an agent who frees up, the step the
naive router does by a full scan of the waiting contacts) and the *event* (the
whole ``Router.handle`` call with its bookkeeping, timers and emitted events).
The naive router runs the same stream in the same process.
"""

from __future__ import annotations

import gc
import random
import time
from dataclasses import dataclass
from typing import Any

import psutil
from rich.console import Console
from rich.table import Table

from dispatcher import events as ev
from dispatcher.events import AgentState, Event
from dispatcher.naive import NaiveRouter
from dispatcher.policy import RoutingPolicy
from dispatcher.router import Router
from dispatcher.state import AgentRecord, ContactRecord
from skills.model import (
    AgentProfile,
    Catalogue,
    Channel,
    Process,
    SkillMatrix,
    usual_targets,
)

CHANNEL_MIX = (
    (Channel.PHONE, 0.45),
    (Channel.COUNTER, 0.35),
    (Channel.CALLBACK, 0.08),
    (Channel.EMAIL, 0.08),
    (Channel.WEBFORM, 0.04),
)


@dataclass(frozen=True)
class Scale:
    """The size of one benchmark run."""

    agents: int
    processes: int
    skills_per_agent: int
    waiting: int
    stream: int
    naive_stream: int


FULL = Scale(agents=1000, processes=70, skills_per_agent=10, waiting=10_000, stream=200_000, naive_stream=1_500)
QUICK = Scale(agents=100, processes=70, skills_per_agent=10, waiting=1_000, stream=5_000, naive_stream=300)


def bench_catalogue(processes: int) -> Catalogue:
    """``processes`` processes plus triage, with the usual per-channel targets."""
    targets = usual_targets()
    codes = ["triage"] + [f"p{i:02d}" for i in range(processes)]
    return Catalogue(
        processes={c: Process(code=c, label=c, domain=f"d{i % 10}", targets=targets) for i, c in enumerate(codes)}
    )


def bench_matrix(scale: Scale, rng: random.Random) -> SkillMatrix:
    """Agents with ``skills_per_agent`` random skills (levels 1-3) and one or two channels."""
    codes = [f"p{i:02d}" for i in range(scale.processes)]
    agents = {}
    for n in range(scale.agents):
        skills = {code: rng.choice((1, 2, 2, 3)) for code in rng.sample(codes, scale.skills_per_agent)}
        if n % 10 == 0:
            skills["triage"] = 2
        first = rng.choice((Channel.PHONE, Channel.COUNTER))
        channels = {first, rng.choice((Channel.CALLBACK, Channel.EMAIL, Channel.WEBFORM, first))}
        agents[f"a{n:04d}"] = AgentProfile(f"a{n:04d}", f"Agent {n}", skills, frozenset(channels))
    return SkillMatrix(agents=agents)


class Workload:
    """The seeded event stream: the initial queue, the logins, then the mixed stream."""

    def __init__(self, scale: Scale, seed: int = 7) -> None:
        self.scale = scale
        self.rng = random.Random(seed)
        self.catalogue = bench_catalogue(scale.processes)
        self.matrix = bench_matrix(scale, self.rng)
        self.codes = [f"p{i:02d}" for i in range(scale.processes)]
        self.now = 0.0
        self.next_id = 0

    def arrival(self) -> ev.ContactArrived:
        """One new contact on a random process and channel."""
        self.next_id += 1
        channel = self.rng.choices([c for c, _ in CHANNEL_MIX], [w for _, w in CHANNEL_MIX])[0]
        priority = 1 if self.rng.random() < 0.02 else 0
        return ev.ContactArrived(
            at=self.now,
            contact_id=f"c{self.next_id}",
            channel=channel,
            process=self.rng.choice(self.codes),
            priority=priority,
        )

    def setup(self) -> list[Event]:
        """The waiting queue first (everyone offline), then every agent logs in."""
        events: list[Event] = []
        for _ in range(self.scale.waiting + self.scale.agents):
            self.now += 0.01
            events.append(self.arrival())
        for agent_id in self.matrix.agents:
            self.now += 0.001
            events.append(ev.AgentStatusSet(at=self.now, agent_id=agent_id, state=AgentState.AVAILABLE))
        return events


class _TimedDecisions:
    """Times the routing decision proper: the contact chosen for an agent who frees up."""

    decision_ns: list[int]

    def _best_contact_for(self, agent: AgentRecord, now: float) -> ContactRecord | None:
        start = time.perf_counter_ns()
        found = super()._best_contact_for(agent, now)  # type: ignore[misc]
        self.decision_ns.append(time.perf_counter_ns() - start)
        return found


class TimedRouter(_TimedDecisions, Router):
    """The indexed router, its decisions timed."""


class TimedNaiveRouter(_TimedDecisions, NaiveRouter):
    """The full-scan router, its decisions timed."""


def _drive(
    router: TimedRouter | TimedNaiveRouter, workload: Workload, setup: list[Event], count: int, rng_seed: int
) -> tuple[list[int], list[int], list[str]]:
    """Run the setup then ``count`` stream events.

    Returns the time of each event (the whole ``handle`` call), of each decision,
    and the log of offers.
    """
    holding: dict[str, str] = {}
    router.decision_ns = []
    for opening in setup:
        for d in router.handle(opening):
            if isinstance(d, ev.ContactOffered):
                holding[d.agent_id] = d.contact_id
    router.decision_ns = []
    rng = random.Random(rng_seed)
    workload.rng = random.Random(rng_seed + 1)
    busy = list(holding)
    latencies: list[int] = []
    offers: list[str] = []
    clock = time.perf_counter_ns
    for _ in range(count):
        workload.now += 0.001
        if busy and rng.random() < 0.5:
            i = rng.randrange(len(busy))
            agent_id = busy[i]
            busy[i] = busy[-1]
            busy.pop()
            event: Event = ev.ContactCompleted(at=workload.now, contact_id=holding.pop(agent_id))
        else:
            event = workload.arrival()
        start = clock()
        decisions = router.handle(event)
        latencies.append(clock() - start)
        for d in decisions:
            if isinstance(d, ev.ContactOffered):
                offers.append(f"{d.contact_id}>{d.agent_id}")
                holding[d.agent_id] = d.contact_id
                busy.append(d.agent_id)
            elif isinstance(d, ev.AgentStateChanged) and d.state is AgentState.PAUSED:
                holding.pop(d.agent_id, None)
                if d.agent_id in busy:
                    busy.remove(d.agent_id)
    return latencies, router.decision_ns, offers


def _percentile(sorted_ns: list[int], q: float) -> float:
    return sorted_ns[min(len(sorted_ns) - 1, int(q * len(sorted_ns)))] / 1000.0


def run(console: Console, quick: bool) -> dict[str, Any]:
    """Run the benchmark; print the table; return the figures."""
    scale = QUICK if quick else FULL
    policy = RoutingPolicy(wrap_up_s=0.0)
    process = psutil.Process()
    rss_before = process.memory_info().rss

    workload = Workload(scale)
    setup = workload.setup()
    router = TimedRouter(workload.catalogue, workload.matrix, policy)
    gc.collect()
    gc.freeze()
    t0 = time.perf_counter()
    events_ns, decisions_ns, offers = _drive(router, workload, setup, scale.stream, rng_seed=11)
    elapsed = time.perf_counter() - t0
    rss_mb = process.memory_info().rss / 2**20
    waiting_end = len(router.queue)
    gc.unfreeze()

    naive_workload = Workload(scale)
    naive_setup = naive_workload.setup()
    naive = TimedNaiveRouter(naive_workload.catalogue, naive_workload.matrix, policy)
    naive_events, naive_decisions, naive_offers = _drive(
        naive, naive_workload, naive_setup, scale.naive_stream, rng_seed=11
    )
    same = offers[: len(naive_offers)] == naive_offers

    ev_ns, dec_ns = sorted(events_ns), sorted(decisions_ns)
    nev_ns, ndec_ns = sorted(naive_events), sorted(naive_decisions)
    figures: dict[str, Any] = {
        "agents": scale.agents,
        "processes": scale.processes,
        "waiting_at_start": scale.waiting,
        "waiting_at_end": waiting_end,
        "events": len(ev_ns),
        "decisions": len(dec_ns),
        "p50_us": round(_percentile(dec_ns, 0.50), 2),
        "p99_us": round(_percentile(dec_ns, 0.99), 2),
        "event_p50_us": round(_percentile(ev_ns, 0.50), 2),
        "event_p99_us": round(_percentile(ev_ns, 0.99), 2),
        "event_max_us": round(ev_ns[-1] / 1000.0, 1),
        "decisions_per_s": round(len(ev_ns) / elapsed),
        "rss_mb": round(rss_mb, 1),
        "rss_growth_mb": round((process.memory_info().rss - rss_before) / 2**20, 1),
        "naive_decisions": len(ndec_ns),
        "naive_p50_us": round(_percentile(ndec_ns, 0.50), 1),
        "naive_p99_us": round(_percentile(ndec_ns, 0.99), 1),
        "naive_event_p99_us": round(_percentile(nev_ns, 0.99), 1),
        "same_decisions_as_naive": same,
    }
    mean_us = sum(dec_ns) / len(dec_ns) / 1000.0
    naive_mean_us = sum(ndec_ns) / len(ndec_ns) / 1000.0
    figures["mean_us"] = round(mean_us, 2)
    figures["naive_mean_us"] = round(naive_mean_us, 1)
    figures["speedup_vs_naive"] = round(naive_mean_us / mean_us, 1)
    figures["speedup_p50"] = round(figures["naive_p50_us"] / figures["p50_us"], 1)
    figures["speedup_p99"] = round(figures["naive_p99_us"] / figures["p99_us"], 1)
    figures["event_speedup_vs_naive"] = round(
        (sum(nev_ns) / len(nev_ns)) / (sum(ev_ns) / len(ev_ns)), 1
    )

    table = Table(title=f"Routing core: {scale.agents} agents x {scale.processes} processes, {scale.waiting:,} waiting")
    table.add_column("router")
    for name in ("decisions", "decision p50 µs", "decision p99 µs", "event p50 µs", "event p99 µs"):
        table.add_column(name, justify="right")
    table.add_row(
        "indexed (Guichet)", f"{len(dec_ns):,}", f"{figures['p50_us']}", f"{figures['p99_us']}",
        f"{figures['event_p50_us']}", f"{figures['event_p99_us']}",
    )
    table.add_row(
        "naive full scan", f"{len(ndec_ns):,}", f"{figures['naive_p50_us']}", f"{figures['naive_p99_us']}",
        f"{_percentile(nev_ns, 0.5):.1f}", f"{figures['naive_event_p99_us']}",
    )
    console.print(table)
    console.print(
        "decision: the contact chosen for an agent who frees up; event: the whole Router.handle call "
        f"(bookkeeping, timers, the events it emits). {figures['decisions_per_s']:,} events/s end to end; "
        f"speed-up {figures['speedup_vs_naive']}x per decision on average (p50 {figures['speedup_p50']}x, "
        f"p99 {figures['speedup_p99']}x), {figures['event_speedup_vs_naive']}x per event; "
        f"RSS {figures['rss_mb']} MB; same decisions as the naive scan: {same}"
    )
    return figures
