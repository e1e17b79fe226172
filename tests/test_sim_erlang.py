"""The simulation through the real routing core against queueing theory.

A single-skill M/M/c (one process, one channel, identical agents, no wrap-up,
no ring-no-answer) is exactly Erlang C; with exponential patience it is
Erlang A. The simulated figures' 95 % confidence intervals over replications
must cover the formulas of ``simulations/erlang.py``.
"""

from __future__ import annotations

from simulations import erlang
from simulations.mmc import mmc_scenario
from simulations.runner import replicate

AGENTS, LOAD, AHT, THRESHOLD = 10, 8.0, 100.0, 20.0


def test_mmc_matches_erlang_c() -> None:
    scenario = mmc_scenario(AGENTS, LOAD, AHT, contacts=12_000, threshold_s=THRESHOLD)
    summary = replicate(scenario, replications=6, seed=11)
    row = summary.queue("p", "phone")
    assert row is not None and summary.rejected == 0
    expected = erlang.erlang_c_metrics(AGENTS, LOAD, AHT, THRESHOLD)
    sl, asa = row.metrics["service_level"], row.metrics["asa_s"]
    assert sl.half_width < 0.03, sl
    assert sl.covers(float(expected.service_level)), (sl, float(expected.service_level))
    assert asa.covers(float(expected.asa)), (asa, float(expected.asa))
    assert row.metrics["pickup_rate"].mean == 1.0
    occupancy = [a.metrics["occupancy"].mean for a in summary.agents]
    assert abs(sum(occupancy) / len(occupancy) - LOAD / AGENTS) < 0.02


def test_mmc_with_patience_matches_erlang_a() -> None:
    patience = 120.0
    scenario = mmc_scenario(
        AGENTS, 9.5, AHT, contacts=12_000, threshold_s=THRESHOLD, patience_s=patience
    )
    summary = replicate(scenario, replications=6, seed=5)
    row = summary.queue("p", "phone")
    assert row is not None and summary.rejected == 0
    expected = erlang.erlang_a(AGENTS, 9.5, AHT, patience, THRESHOLD)
    sl, abandon = row.metrics["service_level"], row.metrics["abandon_rate"]
    assert abandon.mean > 0.02
    assert sl.covers(float(expected.sl_offered)), (sl, float(expected.sl_offered))
    assert abandon.covers(float(expected.p_abandon)), (abandon, float(expected.p_abandon))
    assert row.metrics["asa_s"].covers(float(expected.asa))
