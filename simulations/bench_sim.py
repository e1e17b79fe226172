"""``guichet bench sim``: the simulation's speed and accuracy against Ciw and SimPy.

The model is M/M/50 at 90 % load, AHT 300 s, 200,000 contacts (5,000 with
``--quick``), service level within 20 s. Guichet's simulation sends every
contact through the real routing core (arrive, answer, complete); Ciw and
SimPy run the same textbook queue with their own FIFO servers. Each figure is
wall-clock time of a whole run (drawing the contacts, the event loop, the
statistics), on the same machine, in the same process. All three leave out
the first 5 % of the horizon (the queue starts empty) and are compared with
Erlang C; ours by the mean of ``REPLICATIONS`` runs of the same size (the
timed one and more seeds), whose interval is narrow enough for the
comparison to mean something. The core alone is timed too: the inputs our run sent it, replayed
into a fresh ``Router``, show how much of the time is routing.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from dispatcher.events import Event
from dispatcher.router import Router
from simulations import erlang
from simulations.draws import draw
from simulations.engine import Engine
from simulations.mmc import PROCESS, mmc_scenario
from simulations.results import RunResult
from simulations.summary import estimate

AGENTS = 50
LOAD = 0.9 * AGENTS
AHT_S = 300.0
THRESHOLD_S = 20.0
WARMUP_SHARE = 0.05
SEED = 2026
REPLICATIONS = 9
"""Our runs (seeds ``SEED``, ``SEED + 1``...): their median time, their mean service level.

One run of 200,000 contacts at 90 % load pins its service level down to about
+/- 2.3 points only (its waits are strongly correlated); nine runs, to about
+/- 0.8 point, which is what a planner gets from ``guichet simulate --replications 9``.
"""
PEER_RUNS = 3
"""Runs of Ciw and of SimPy (the same seed each time): their median time."""


def _guichet(contacts: int, seed: int) -> tuple[float, Engine, RunResult]:
    """(seconds, engine, its figures) of one replication: drawing the contacts and the loop."""
    scenario = mmc_scenario(AGENTS, LOAD, AHT_S, contacts, THRESHOLD_S, warmup_share=WARMUP_SHARE)
    gc.collect()
    start = time.perf_counter()
    engine = Engine(scenario, draw(scenario, seed))
    result = engine.run()
    return time.perf_counter() - start, engine, result


def _batch_half_width(engine: Engine) -> float:
    """The 95 % half-width of one run's service level, from 20 batch means.

    The contacts are taken in arrival order: consecutive waits are
    correlated, batches of 10,000 much less so.
    """
    n = len(engine.draws)
    arrival = np.asarray(engine.draws.arrival_s)
    wait = np.asarray(engine.answered_at[:n]) - arrival
    met = (wait <= THRESHOLD_S)[arrival >= engine.scenario.warmup_s]
    return estimate([float(b.mean()) for b in np.array_split(met, 20)]).half_width


def _core_only(contacts: int) -> tuple[float, int]:
    """(seconds, calls) of the routing core alone on the same day: its recorded inputs replayed."""
    scenario = mmc_scenario(AGENTS, LOAD, AHT_S, contacts, THRESHOLD_S, warmup_share=WARMUP_SHARE)
    inputs: list[Event] = []
    Engine(scenario, draw(scenario, SEED), inputs).run()
    router = Router(scenario.catalogue, scenario.matrix, scenario.policy)
    handle, next_timer_at = router.handle, router.next_timer_at
    gc.collect()
    gc.freeze()  # the recorded inputs are not the core's garbage: keep the collector off them
    start = time.perf_counter()
    for event in inputs:
        handle(event)
        next_timer_at()
    elapsed = time.perf_counter() - start
    gc.unfreeze()
    return elapsed, len(inputs)


def _ciw(contacts: int) -> tuple[float, float] | None:
    """(seconds, service level) of the same model in Ciw, None if Ciw is missing."""
    try:
        import ciw
    except ImportError:
        return None
    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=LOAD / AHT_S)],
        service_distributions=[ciw.dists.Exponential(rate=1.0 / AHT_S)],
        number_of_servers=[AGENTS],
    )
    ciw.seed(SEED)
    gc.collect()
    start = time.perf_counter()
    sim = ciw.Simulation(network)
    sim.simulate_until_max_customers(contacts, method="Arrive")
    records = sim.get_all_records()
    horizon = max(r.arrival_date for r in records)
    waits = np.array([r.waiting_time for r in records if r.arrival_date >= WARMUP_SHARE * horizon])
    elapsed = time.perf_counter() - start
    return elapsed, float(np.mean(waits <= THRESHOLD_S))


def _simpy(contacts: int) -> tuple[float, float] | None:
    """(seconds, service level) of the same model in SimPy, None if SimPy is missing."""
    try:
        import simpy
    except ImportError:
        return None
    rng = np.random.default_rng(SEED)
    gaps = rng.exponential(AHT_S / LOAD, contacts)
    services = rng.exponential(AHT_S, contacts)
    horizon = float(gaps.sum())
    waits: list[float] = []
    gc.collect()
    start = time.perf_counter()
    env = simpy.Environment()
    agents = simpy.Resource(env, capacity=AGENTS)

    def contact(service: float) -> Any:
        arrived = env.now
        with agents.request() as request:
            yield request
            if arrived >= WARMUP_SHARE * horizon:
                waits.append(env.now - arrived)
            yield env.timeout(service)

    def source() -> Any:
        for gap, service in zip(gaps.tolist(), services.tolist()):
            yield env.timeout(gap)
            env.process(contact(service))

    env.process(source())
    env.run()
    elapsed = time.perf_counter() - start
    return elapsed, float(np.mean(np.array(waits) <= THRESHOLD_S))


def _median_run(
    peer: Callable[[int], tuple[float, float] | None], contacts: int
) -> tuple[float, float] | None:
    """A peer's (median seconds, service level) over ``PEER_RUNS`` runs, None if not installed."""
    runs = [peer(contacts) for _ in range(PEER_RUNS)]
    found = [r for r in runs if r is not None]
    if not found:
        return None
    return statistics.median(r[0] for r in found), found[0][1]


def run(console: Console, quick: bool) -> dict[str, Any]:
    """M/M/50 at 90 % through the routing core, Ciw and SimPy; contacts/s and service levels."""
    contacts = 5_000 if quick else 200_000
    replications = 3 if quick else REPLICATIONS
    sl_erlang = float(erlang.service_level(AGENTS, LOAD, AHT_S, THRESHOLD_S))
    seconds: list[float] = []
    levels: list[float] = []
    for k in range(replications):
        elapsed, engine, result = _guichet(contacts, SEED + k)
        row = result.queue(PROCESS, "phone")
        assert row is not None and result.rejected == 0
        seconds.append(elapsed)
        levels.append(row.service_level)
        if k == 0:
            simulated, events = result.contacts, result.events
            sl_first, sl_first_half_width = row.service_level, _batch_half_width(engine)
        del engine, result
    ours_s = statistics.median(seconds)
    replicated = estimate(levels)
    core_s, core_calls = _core_only(contacts)
    ciw_run = _median_run(_ciw, contacts)
    simpy_run = _median_run(_simpy, contacts)

    table = Table(
        title=f"M/M/{AGENTS} at 90 % load, AHT {AHT_S:.0f} s, {contacts:,} contacts, SL {THRESHOLD_S:.0f} s"
    )
    table.add_column("simulator")
    table.add_column("seconds", justify="right")
    table.add_column("contacts/s", justify="right")
    table.add_column("service level", justify="right")
    table.add_column("vs Erlang C", justify="right")
    table.add_row(
        f"Guichet (real routing core), {replicated.n} runs",
        f"{ours_s:.2f}",
        f"{simulated / ours_s:,.0f}",
        f"{replicated.mean:.2%} ± {replicated.half_width * 100:.2f}",
        f"{(replicated.mean - sl_erlang) * 100:+.2f} pt",
    )
    table.add_row(
        f"  its first run alone (seed {SEED})",
        f"{seconds[0]:.2f}",
        f"{simulated / seconds[0]:,.0f}",
        f"{sl_first:.2%} ± {sl_first_half_width * 100:.2f}",
        f"{(sl_first - sl_erlang) * 100:+.2f} pt",
    )
    table.add_row(
        "  of which the core alone", f"{core_s:.2f}", f"{simulated / core_s:,.0f}", "", ""
    )
    for name, found in (("Ciw", ciw_run), ("SimPy", simpy_run)):
        if found is None:
            table.add_row(name, "not installed", "", "", "")
        else:
            peer_s, sl = found
            table.add_row(
                f"{name}, {PEER_RUNS} runs",
                f"{peer_s:.2f}",
                f"{contacts / peer_s:,.0f}",
                f"{sl:.2%}",
                f"{(sl - sl_erlang) * 100:+.2f} pt",
            )
    table.add_row("Erlang C", "", "", f"{sl_erlang:.2%}", "")
    console.print(table)
    console.print(
        "seconds: the median run (drawing the contacts and the event loop); "
        "service level: the mean of the runs, ± its 95 % interval."
    )
    if ciw_run is None or simpy_run is None:
        console.print(
            "Ciw or SimPy is not installed (pip install 'guichet[bench]'): compared with ours only."
        )
    return {
        "contacts": simulated,
        "events": events,
        "seconds": round(ours_s, 3),
        "runs": len(seconds),
        "seconds_min": round(min(seconds), 3),
        "seconds_max": round(max(seconds), 3),
        "contacts_per_s": round(simulated / ours_s),
        "core_only_contacts_per_s": round(simulated / core_s),
        "core_us_per_call": round(core_s / core_calls * 1e6, 2),
        "ciw_contacts_per_s": round(contacts / ciw_run[0]) if ciw_run else None,
        "simpy_contacts_per_s": round(contacts / simpy_run[0]) if simpy_run else None,
        "sl_sim": round(replicated.mean, 4),
        "sl_sim_ci95": round(replicated.half_width, 4),
        "sl_sim_replications": replicated.n,
        "sl_sim_vs_erlang_c_pt": round((replicated.mean - sl_erlang) * 100, 2),
        "sl_first_run": round(sl_first, 4),
        "sl_first_run_ci95": round(sl_first_half_width, 4),
        "sl_ciw": round(ciw_run[1], 4) if ciw_run else None,
        "sl_simpy": round(simpy_run[1], 4) if simpy_run else None,
        "sl_erlang_c": round(sl_erlang, 4),
    }
