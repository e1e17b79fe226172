"""The staffing solvers return truly the fewest agents, cell by cell."""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest

from simulations import erlang, staffing
from tests.test_erlang_reference import ref_c


def _grid(seed: int, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    calls_h = rng.uniform(0.5, 600.0, shape)
    aht = rng.uniform(120.0, 600.0, shape)
    return calls_h * aht / 3600.0, aht


def _meets_c(n, a, aht, within, sl, asa, occ):
    res = erlang.erlang_c_metrics(n, a, aht, within)
    ok = (n > a) & (res.service_level >= sl)
    if asa is not None:
        ok &= res.asa <= asa
    if occ is not None:
        with np.errstate(divide="ignore"):
            ok &= a / n <= occ
    return ok


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize(
    ("sl", "within", "asa", "occ"),
    [(0.8, 20.0, None, None), (0.9, 10.0, 15.0, None), (0.8, 600.0, None, 0.85),
     (0.5, 3600.0, None, None), (0.95, 30.0, 8.0, 0.8)],
)
def test_erlang_c_answers_are_minimal(seed, sl, within, asa, occ) -> None:
    a, aht = _grid(seed, (48, 30))
    res = staffing.required_agents(a, aht, service_level=sl, within_s=within, asa_s=asa,
                                   max_occupancy=occ)
    n = np.asarray(res.agents)
    assert np.all(_meets_c(n, a, aht, within, sl, asa, occ))
    assert not np.any(_meets_c(n - 1, a, aht, within, sl, asa, occ))
    # The figures returned are those of the answer.
    again = erlang.erlang_c_metrics(n, a, aht, within)
    np.testing.assert_allclose(res.service_level, again.service_level, rtol=1e-12)
    np.testing.assert_allclose(res.asa, again.asa, rtol=1e-12)
    np.testing.assert_allclose(res.occupancy, a / n, rtol=1e-15)


def test_answers_agree_with_the_exact_mpmath_answer() -> None:
    a, aht = _grid(7, (6, 5))
    res = staffing.required_agents(a, aht, service_level=0.8, within_s=20.0)
    for (i, j), n in np.ndenumerate(np.asarray(res.agents)):
        ai, hi = float(a[i, j]), float(aht[i, j])
        assert ref_c(int(n), ai, hi, 20.0)["service_level"] >= mp.mpf("0.8")
        if n - 1 > ai:
            assert ref_c(int(n) - 1, ai, hi, 20.0)["service_level"] < mp.mpf("0.8")


def test_smallest_candidate_is_not_skipped_at_long_thresholds() -> None:
    # A = 4.6 Erl (fraction >= 0.5): 5 agents answer 80 % within an hour.  A search that
    # starts at round(A + 1) = 6, as pyworkforce's does, over-staffs by one.
    res = staffing.required_agents(4.6, 300.0, service_level=0.8, within_s=3600.0)
    assert int(res.agents) == 5
    assert float(erlang.service_level(5, 4.6, 300.0, 3600.0)) >= 0.8


def test_occupancy_cap_has_no_floating_point_artefact() -> None:
    # 8.5 / 0.85 is 10.000000000000002 in floating point: ceil() would say 11.
    res = staffing.required_agents(8.5, 300.0, service_level=None, max_occupancy=0.85)
    assert int(res.agents) == 10
    res = staffing.required_agents(3.4, 300.0, service_level=None, max_occupancy=0.85)
    assert int(res.agents) == 4


def test_no_traffic_needs_no_agent() -> None:
    res = staffing.required_agents([0.0, 0.0, 2.0], 300.0, service_level=0.8, within_s=20.0,
                                   shrinkage=0.3)
    assert list(res.agents) == [0, 0, int(res.agents[2])] and res.agents[2] > 0
    assert list(res.scheduled[:2]) == [0, 0]
    assert list(res.service_level[:2]) == [1.0, 1.0] and list(res.asa[:2]) == [0.0, 0.0]
    night = staffing.required_agents(np.zeros((96, 70)), 240.0, patience_s=120.0)
    assert np.all(night.agents == 0)


@pytest.mark.parametrize(
    ("agents", "shrinkage", "scheduled"),
    [(21, 0.3, 30), (7, 0.3, 10), (14, 0.3, 20), (42, 0.3, 60), (10, 0.0, 10),
     (10, 0.25, 14), (1, 0.5, 2), (3, 0.35, 5), (0, 0.3, 0), (17, 0.15, 20)],
)
def test_shrinkage_rounds_up_to_the_fewest_heads(agents, shrinkage, scheduled) -> None:
    # 21 / 0.7 = 30.000000000000004 in floating point: 30 heads, not 31.
    assert int(staffing.scheduled_agents(agents, shrinkage)) == scheduled
    assert scheduled * (1 - shrinkage) >= agents - 1e-9
    assert scheduled == 0 or (scheduled - 1) * (1 - shrinkage) < agents - 1e-9


def test_shrinkage_is_applied_by_the_solver() -> None:
    res = staffing.required_agents(10.0, 180.0, service_level=0.8, within_s=20.0, shrinkage=0.3)
    assert int(res.agents) == 14 and int(res.scheduled) == 20


@pytest.mark.parametrize("seed", [4, 5])
def test_erlang_a_answers_are_minimal(seed) -> None:
    a, aht = _grid(seed, (6, 8))
    patience = np.random.default_rng(seed).uniform(30.0, 600.0, a.shape)
    res = staffing.required_agents(a, aht, service_level=0.8, within_s=20.0, asa_s=30.0,
                                   patience_s=patience)
    n = np.asarray(res.agents)

    def meets(k):
        r = erlang.erlang_a(np.maximum(k, 0), a, aht, patience, 20.0)
        return (k >= 1) & (r.sl_offered >= 0.8) & (r.asa <= 30.0)

    assert np.all(meets(n)) and not np.any(meets(n - 1))
    # Abandonment lightens the load: never more agents than Erlang C for these targets.
    c = staffing.required_agents(a, aht, service_level=0.8, within_s=20.0, asa_s=30.0)
    assert np.all(n <= np.asarray(c.agents))
    assert np.all(np.asarray(res.p_abandon) > 0)


def test_vectorized_grid_matches_cell_by_cell() -> None:
    a, aht = _grid(11, (96, 70))
    grid = staffing.required_agents(a, aht, service_level=0.8, within_s=20.0)
    for i, j in [(0, 0), (17, 33), (95, 69), (50, 1)]:
        one = staffing.required_agents(a[i, j], aht[i, j], service_level=0.8, within_s=20.0)
        assert int(one.agents) == grid.agents[i, j]


@pytest.mark.parametrize(
    "kwargs",
    [{"service_level": 1.2}, {"asa_s": 0.0}, {"max_occupancy": 1.5}, {"shrinkage": 1.0},
     {"patience_s": -1.0}, {"within_s": -5.0}],
)
def test_bad_targets_are_refused(kwargs) -> None:
    with pytest.raises(ValueError):
        staffing.required_agents(5.0, 180.0, **kwargs)


def test_bad_traffic_is_refused() -> None:
    with pytest.raises(ValueError):
        staffing.required_agents(-1.0, 180.0)
    with pytest.raises(ValueError):
        staffing.required_agents(float("nan"), 180.0)
    with pytest.raises(ValueError):
        staffing.required_agents(1.0, 0.0)
