"""Stability at any size: 10,000 Erlangs and 10,000 agents, no overflow, no warning."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from simulations import erlang


@pytest.fixture(autouse=True)
def _strict_floats():
    """An overflow, a division by zero or a NaN escaping the library fails the test
    (underflow to 0 is the right answer for probabilities below 1e-308)."""
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
        warnings.simplefilter("error")
        yield


def test_erlang_b_and_c_at_ten_thousand_erlangs_are_finite_and_monotone() -> None:
    a = 10_000.0
    n = np.arange(9_000, 11_001)
    b = erlang.erlang_b(n, a)
    assert np.all(np.isfinite(b)) and np.all((b >= 0) & (b <= 1))
    assert np.all(np.diff(b) < 0)  # one more line never blocks more
    stable = n > a
    res = erlang.erlang_c_metrics(n[stable], a, 300.0, 20.0)
    assert np.all(np.isfinite(res.p_wait)) and np.all(np.diff(res.p_wait) < 0)
    assert np.all(np.diff(res.service_level) >= 0) and np.all(np.diff(res.asa) < 0)
    assert res.service_level[-1] == pytest.approx(1.0)
    unstable = erlang.erlang_c_metrics(n[~stable], a, 300.0, 20.0)
    assert np.all(unstable.p_wait == 1) and np.all(unstable.service_level == 0)
    assert np.all(np.isinf(unstable.asa))


def test_extremes_underflow_to_zero_not_nan() -> None:
    # B(10,000, 1) = 1.3e-35660: below double precision; its log is finite and exact.
    assert erlang.erlang_b(10_000, 1.0) == 0.0
    # log B = -log(10,000!) - log(sum_k 1/k!) = -lgamma(10,001) - 1.
    assert float(erlang.log_erlang_b(10_000, 1.0)) == pytest.approx(
        -(math.lgamma(10_001) + 1.0), rel=1e-13)
    assert erlang.erlang_c(10_000, 1.0) == 0.0
    assert float(erlang.erlang_b(1, 10_000.0)) == pytest.approx(10_000 / 10_001, rel=1e-12)
    assert erlang.erlang_b(0, 10_000.0) == 1.0
    assert erlang.erlang_b(5, 0.0) == 0.0


def test_erlang_a_at_ten_thousand_is_finite_and_monotone() -> None:
    n = np.arange(9_800, 10_301, 25)
    res = erlang.erlang_a(n, 10_000.0, 180.0, 120.0, 20.0)
    for field in res:
        assert np.all(np.isfinite(field))
    assert np.all(np.diff(res.p_wait) < 0) and np.all(np.diff(res.p_abandon) < 0)
    assert np.all(np.diff(res.sl_offered) > 0)
    # One agent for 10,000 Erlangs: everybody waits, nearly everybody hangs up.
    one = erlang.erlang_a(1, 10_000.0, 180.0, 120.0, 20.0)
    assert float(one.p_wait) == 1.0 and float(one.p_abandon) > 0.999


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError):
        erlang.erlang_b(2.5, 1.0)
    with pytest.raises(ValueError):
        erlang.erlang_b(-1, 1.0)
    with pytest.raises(ValueError):
        erlang.erlang_c(3, float("nan"))
    with pytest.raises(ValueError):
        erlang.erlang_c_metrics(3, 1.0, 0.0, 20.0)
    with pytest.raises(ValueError):
        erlang.erlang_a(3, 1.0, 180.0, 0.0, 20.0)
    with pytest.raises(ValueError):
        erlang.lines_for_blocking(3.0, 1.5)
