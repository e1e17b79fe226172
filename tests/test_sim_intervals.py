"""Intervals that cannot mislead: shares stay in [0, 100] %, thin evidence is shown as such."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from guichet.cli import app
from simulations.results import QueueResult, RunResult
from simulations.summary import compare, estimate_difference, estimate_share, summarise

pytestmark = pytest.mark.usefixtures("english_wording")  # French, the default, is read in test_planner_lang


shares = st.lists(st.floats(0.0, 1.0, allow_nan=False), min_size=0, max_size=30)


@settings(max_examples=300, deadline=None)
@given(values=shares, contacts=st.one_of(st.none(), st.integers(0, 100_000)))
@example(values=[0.0, 4.346368320570932e-155], contacts=None)  # n_eff ~ 1e155: its square overflowed
def test_property_a_share_interval_stays_in_0_1_and_holds_its_mean(
        values: list[float], contacts: int | None) -> None:
    e = estimate_share(values, contacts=contacts)
    if not values:
        assert math.isnan(e.mean) and not e.shown
        return
    assert 0.0 <= e.low <= e.mean <= e.high <= 1.0, e
    if len(values) < 2:
        assert not e.shown and e.why_not == "n/a (1 run)"


@settings(max_examples=300, deadline=None)
@given(a=shares, b=shares)
def test_property_a_difference_of_shares_stays_in_minus_1_1(a: list[float], b: list[float]) -> None:
    deltas = [y - x for x, y in zip(a, b)]
    e = estimate_difference(deltas, share=True)
    if len(deltas) >= 2:
        assert -1.0 <= e.low <= e.mean <= e.high <= 1.0, e


def test_a_certain_looking_share_is_bounded_by_the_contacts_seen() -> None:
    # Every replication at 100 % of its 6 contacts: not a certainty, about 80-100 %
    # (the t quantile of 5 runs, 2.78, as z).
    e = estimate_share([1.0] * 5, contacts=30)
    assert e.high == 1.0 and 0.75 < e.low < 0.85
    assert estimate_share([0.5, 0.5], contacts=4).why_not == "n/a (4 contacts)"


def _run(sl: float, arrived: int, asa: float = 10.0) -> RunResult:
    q = QueueResult("passport", "phone", 20.0, arrived=arrived, answered=arrived, service_level=sl,
                    pickup_rate=1.0, abandon_rate=0.0, asa_s=asa, p90_wait_s=asa, still_open=0)
    return RunResult([q], [], [], arrived, 0, 0)


def test_whatif_a_b_and_the_difference_come_from_the_same_pairs() -> None:
    runs_a = [_run(0.5, 40), _run(0.7, 40), _run(0.9, 40)]
    missing = _run(math.nan, 40)  # B's second replication has no service level
    runs_b = [_run(0.6, 40), missing, _run(1.0, 40)]
    sl = next(d for d in compare(runs_a, runs_b) if d.metric == "service_level")
    assert (sl.a.n, sl.b.n, sl.delta.n) == (2, 2, 2)
    assert sl.a.mean == 0.7 and sl.b.mean == 0.8  # A without its second run, as B
    assert math.isclose(sl.delta.mean, sl.b.mean - sl.a.mean)
    one = next(d for d in compare(runs_a[:1], runs_b[:1]) if d.metric == "service_level")
    assert not one.delta.shown and one.delta.why_not == "n/a (1 run)"
    assert summarise(runs_a).queues[0].metrics["service_level"].high <= 1.0


def _percent_intervals(output: str) -> list[tuple[float, float]]:
    return [(float(lo), float(hi)) for lo, hi in re.findall(r"(-?\d+(?:\.\d+)?)–(-?\d+(?:\.\d+)?)", output)]


def test_simulate_prints_no_share_outside_0_100_and_fits_100_columns() -> None:
    result = CliRunner().invoke(app, ["simulate", "-r", "5", "--seed", "2"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert max(len(line) for line in lines) <= 100 and not [ln for ln in lines if "…" in ln]
    header = next(i for i, ln in enumerate(lines) if ln.lstrip().startswith("process"))
    names = lines[header].split()
    sl_end = lines[header].index("SL %") + len("SL %")
    aband_end = lines[header].index("aband. %") + len("aband. %")
    share_cells = [ln[sl_end - 12:aband_end] for ln in lines[header + 2:] if "–" in ln and ln[:1] == " "]
    bounds = [b for cell in share_cells for b in _percent_intervals(cell)]
    assert names[:2] == ["process", "channel"] and len(bounds) > 30
    assert all(0.0 <= lo <= hi <= 100.0 for lo, hi in bounds), bounds
    assert "±" not in result.output


def test_one_replication_is_shown_as_such_not_as_a_number() -> None:
    result = CliRunner().invoke(app, ["whatif", "--strategy-b", "fewest_skills", "-r", "1", "--seed", "2"])
    assert result.exit_code == 0, result.output
    assert "n/a (1 run)" in result.output
    assert not re.search(r"[+-]\d+\.\d pt", result.output)  # no difference printed from one pair
