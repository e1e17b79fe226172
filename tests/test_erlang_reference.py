"""Erlang B, C and A against direct high-precision summations (mpmath, 50 digits).

The references below share no code with ``simulations/erlang.py``: they sum
the birth-death chain term by term (``a**k / k!`` and, for Erlang A, the
queue states with their abandonment and a regularized incomplete beta for
the answered-in-time probability), in 50 significant digits.
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest

from simulations import erlang

DPS = 50
REL = 1e-9


def ref_b(n: int, a: float) -> mp.mpf:
    """Erlang B: ``(a**n / n!) / sum_k a**k / k!``, summed directly."""
    with mp.workdps(DPS):
        am = mp.mpf(a)
        term = mp.mpf(1)
        total = mp.mpf(1)
        for k in range(1, n + 1):
            term = term * am / k
            total += term
        return term / total


def ref_c(n: int, a: float, aht: float, t: float) -> dict[str, mp.mpf]:
    """Erlang C from the direct Erlang B: P(wait), SL within t, ASA (n > a)."""
    with mp.workdps(DPS):
        am, b = mp.mpf(a), ref_b(n, a)
        c = n * b / (n - am * (1 - b))
        return {
            "p_wait": c,
            "service_level": 1 - c * mp.exp(-(n - am) * mp.mpf(t) / aht),
            "asa": c * aht / (n - am),
        }


def ref_a(n: int, a: float, aht: float, patience: float, t: float) -> dict[str, mp.mpf]:
    """Erlang A by direct summation of the M/M/n+M chain.

    States j <= n weigh ``a**j / j!``; state n + k weighs ``pi_n * prod_{i<=k}
    lambda / (n mu + i theta)``.  An arrival finding k callers waiting goes
    through k + 1 exponential stages of rates ``theta (x + j + 1)`` (x = n
    mu / theta); it is served with probability ``x / (x + k + 1)``, after a
    wait longer than t with probability ``I_{exp(-theta t)}(x + 1, k + 1)``
    (regularized incomplete beta; hypoexponential with evenly spaced rates),
    summed here by its recurrence in k.
    """
    with mp.workdps(DPS):
        am, pat, tm = mp.mpf(a), mp.mpf(patience), mp.mpf(t)
        x, y = n * pat / aht, am * pat / aht
        term = mp.mpf(1)
        low = mp.mpf(1)
        for j in range(1, n + 1):
            term = term * am / j
            low += term
        pi_n, below = term, low - term
        u, m = mp.exp(-tm / pat), x + 1
        tk, inc_beta, step = mp.mpf(1), u**m, u**m * (1 - u) * m
        s = s_ab = s_late = s_wait = harmonic = mp.mpf(0)
        k = 0
        while True:
            harmonic += 1 / (x + k + 1)
            served = x / (x + k + 1)
            s += tk
            s_ab += tk * (k + 1) / (x + k + 1)
            s_late += tk * served * inc_beta
            s_wait += tk * served * harmonic
            if k > y - x + 10 and tk < s * mp.mpf(10) ** (-DPS - 5):
                break
            k += 1
            tk = tk * y / (x + k)
            inc_beta += step
            step = step * (1 - u) * (m + k) / (k + 1)
        total = below + pi_n * s
        p_ab = pi_n * s_ab / total
        answered = 1 - p_ab
        in_time = answered - pi_n * s_late / total
        return {
            "p_wait": pi_n * s / total,
            "p_abandon": p_ab,
            "sl_offered": in_time,
            "sl_answered": in_time / answered,
            "asa": pi_n * s_wait / total * pat / answered,
            "mean_wait": p_ab * pat,
            "occupancy": am * answered / n,
        }


def rel_err(got: float, want: mp.mpf) -> float:
    return float(abs(mp.mpf(float(got)) - want) / abs(want))


def test_incomplete_beta_recurrence_of_the_reference() -> None:
    with mp.workdps(DPS):
        m, u = mp.mpf("3.7"), mp.mpf("0.8")
        value, step = u**m, u**m * (1 - u) * m
        for k in range(1, 6):
            value += step
            step = step * (1 - u) * (m + k) / (k + 1)
        assert abs(value - mp.betainc(m, 6, 0, u, regularized=True)) < mp.mpf(10) ** -45


# (n, a): small, around the load, deep overload, far above the load, and large.
B_GRID = [
    (0, 3.0), (1, 0.5), (1, 1e-6), (5, 20.0), (10, 10.0), (11, 10.0), (30, 30.000001),
    (50, 49.5), (100, 80.0), (200, 0.01), (3, 10_000.0), (100, 10_000.0), (1000, 990.0),
    (1000, 1200.0), (9000, 10_000.0), (9600, 10_000.0), (10_000, 9000.0),
    (10_000, 9800.0), (10_000, 10_000.0), (10_000, 10_100.0), (10_000, 1.0),
]


@pytest.mark.parametrize(("n", "a"), B_GRID)
def test_erlang_b_matches_direct_sum(n: int, a: float) -> None:
    want = ref_b(n, a)
    got = erlang.erlang_b(n, a)
    if want > mp.mpf("1e-300"):
        assert rel_err(got, want) < REL
    else:  # below double precision: 0, and its log is still exact
        assert got == 0.0
    with mp.workdps(DPS):
        assert abs(float(erlang.log_erlang_b(n, a)) - mp.log(want)) < REL * max(1, abs(mp.log(want)))


@pytest.mark.parametrize(("n", "a"), [(n, a) for n, a in B_GRID if n > a])
@pytest.mark.parametrize(("aht", "t"), [(180.0, 20.0), (600.0, 0.0), (120.0, 600.0)])
def test_erlang_c_matches_direct_sum(n: int, a: float, aht: float, t: float) -> None:
    want = ref_c(n, a, aht, t)
    got = erlang.erlang_c_metrics(n, a, aht, t)._asdict()
    for key, value in want.items():
        if value > mp.mpf("1e-300"):
            assert rel_err(got[key], value) < REL, key


A_GRID = [
    # n, a, aht, patience, t
    (1, 0.5, 180, 120, 20), (10, 10, 180, 180, 20), (11, 10, 180, 60, 20),
    (5, 20, 300, 120, 20), (50, 49.5, 240, 600, 20), (100, 80, 180, 180, 60),
    (100, 120, 180, 90, 20), (1000, 990, 180, 180, 20), (1000, 1200, 180, 180, 20),
    (200, 150, 180, 3600, 20), (20, 2, 300, 1, 20), (30, 29, 200, 20_000, 20),
    (3, 30, 120, 60, 0), (10_000, 10_000, 180, 180, 20), (10_000, 9800, 180, 180, 20),
    (10_000, 10_100, 180, 180, 20),
]


@pytest.mark.parametrize(("n", "a", "aht", "patience", "t"), A_GRID)
def test_erlang_a_matches_the_birth_death_chain(
    n: int, a: float, aht: float, patience: float, t: float
) -> None:
    want = ref_a(n, a, aht, patience, t)
    got = erlang.erlang_a(n, a, aht, patience, t)._asdict()
    for key, value in want.items():
        if value >= 1e-6:
            assert rel_err(got[key], value) < REL, (key, float(got[key]), value)
        else:  # a tiny service level in heavy overload is a difference of near-equal terms
            assert abs(float(got[key]) - float(value)) < 1e-15, key


def test_erlang_a_tends_to_erlang_c_with_endless_patience() -> None:
    n, a, aht, t = 12, 10.0, 180.0, 20.0
    c = erlang.erlang_c_metrics(n, a, aht, t)
    res = erlang.erlang_a(n, a, aht, 1e9, t)
    assert float(res.p_abandon) < 1e-6
    assert float(res.p_wait) == pytest.approx(float(c.p_wait), rel=1e-5)
    assert float(res.sl_offered) == pytest.approx(float(c.service_level), rel=1e-5)
    assert float(res.asa) == pytest.approx(float(c.asa), rel=1e-5)


def test_functions_are_vectorized_and_broadcast() -> None:
    rng = np.random.default_rng(3)
    a = rng.uniform(0.1, 50, (4, 5))
    n = np.floor(a) + rng.integers(1, 6, (4, 5))
    b = erlang.erlang_b(n, a)
    assert b.shape == (4, 5)
    for i in range(4):
        for j in range(5):
            assert rel_err(b[i, j], ref_b(int(n[i, j]), float(a[i, j]))) < REL
    c = erlang.erlang_c_metrics(n, a, 180.0, np.array([10.0, 20.0, 30.0, 40.0, 60.0]))
    assert c.service_level.shape == (4, 5)
    res = erlang.erlang_a(n[:, :1], a[:, :1], 180.0, [60.0, 120.0, 240.0], 20.0)
    assert res.p_abandon.shape == (4, 3)
    assert isinstance(erlang.erlang_b(10, 10.0), np.floating)
