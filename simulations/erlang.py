"""Erlang B, C and A: exact, numerically stable and vectorized.

Notation (per interval): ``a`` is the offered load in Erlangs (arrivals per
second x average handling time), ``n`` the number of agents (or lines),
``aht`` the average handling time and ``t`` the service-level threshold, both
in seconds; ``patience`` is the callers' mean patience in seconds (Erlang A).

Every function broadcasts its arguments like numpy (one cell per interval x
process, say) and returns arrays (numpy scalars for scalar input).

How it stays exact at any size (10,000 agents, 10,000 Erlangs and beyond):

* Everything goes through ``R(n, a) = 1 / B(n, a) - 1``, the sum of the
  Poisson weights below ``n`` relative to the one at ``n``, kept in log space.
  Near and above the load it is ``Q(n, a) / p(n; a)``: scipy's regularized
  upper incomplete gamma function over a Poisson probability computed with
  Loader's saddle-point formula (no ``a**n``, no ``n!``, no cancellation of
  huge logarithms).  Deep in overload (``n`` well below ``a``) it is a short
  series of positive terms that converges geometrically.
* Erlang B is ``1 / (1 + R)``, Erlang C is ``1 / (1 + (1 - a/n) R)``: sums of
  positive terms only.
* Erlang A (M/M/n+M, Palm's model) uses the same ``R`` and Kummer's function
  ``M(x, y) = 1F1(1; x + 1; y)`` (the queue part of the birth-death chain,
  ``x = n patience / aht``, ``y = a patience / aht``), again either as a
  series of positive terms or as a regularized incomplete gamma in log space,
  each where it cannot cancel (Mandelbaum & Zeltyn, "Service engineering in
  action: the Palm/Erlang-A queue", 2007).

The test suite checks every quantity against direct mpmath summations at 50
digits to 1e-9 relative, including points at 10,000 agents and Erlangs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

FloatArray = NDArray[np.float64]

_LOG_2PI = math.log(2.0 * math.pi)
_TINY = 1e-17  # relative size of the last term kept in a series
_SERIES_SIGMAS = 5.0  # series where the load is this many standard deviations away

__all__ = [
    "ErlangAResult",
    "ErlangCResult",
    "asa",
    "erlang_a",
    "erlang_b",
    "erlang_c",
    "erlang_c_metrics",
    "lines_for_blocking",
    "log_erlang_b",
    "occupancy",
    "offered_load",
    "service_level",
]


def _out(x: FloatArray) -> Any:
    """An array, or a numpy scalar for 0-d results."""
    return x[()] if x.ndim == 0 else x


def offered_load(arrivals: ArrayLike, aht_s: ArrayLike, interval_s: ArrayLike = 900.0) -> Any:
    """Offered load in Erlangs: ``arrivals`` per interval of ``interval_s`` seconds."""
    arr, aht, length = (np.asarray(v, dtype=float) for v in (arrivals, aht_s, interval_s))
    return _out(np.asarray(arr * aht / length, dtype=float))


# --------------------------------------------------------------- primitives


def _stirlerr(k: FloatArray) -> FloatArray:
    """``log Gamma(k + 1) - (k + 1/2) log k + k - log(2 pi) / 2`` for k > 0 (Loader 2000)."""
    out = np.empty_like(k)
    big = k >= 15.0
    if big.any():
        inv = 1.0 / k[big]
        inv2 = inv * inv
        out[big] = inv * (
            1.0 / 12
            - inv2
            * (1.0 / 360 - inv2 * (1.0 / 1260 - inv2 * (1.0 / 1680 - inv2 * (
                1.0 / 1188 - inv2 * 691.0 / 360360))))
        )
    small = ~big
    if small.any():
        ks = k[small]
        out[small] = special.gammaln(ks + 1.0) - (ks + 0.5) * np.log(ks) + ks - 0.5 * _LOG_2PI
    return out


def _bd0(x: FloatArray, m: FloatArray) -> FloatArray:
    """Deviance term ``x log(x/m) + m - x`` without cancellation (x >= 0, m > 0)."""
    d = x - m
    out = np.empty_like(x)
    near = np.abs(d) < 0.1 * (x + m)
    if near.any():
        xn, dn = x[near], d[near]
        v = dn / (x[near] + m[near])
        acc = dn * v
        ej = 2.0 * xn * v
        v2 = v * v
        # |v| < 0.1; term j is ~ v**(2j) relative to the sum: stop below 1e-18.
        worst = float(v2.max())
        terms = 1 if worst == 0.0 else min(13, max(1, math.ceil(-18.0 / math.log10(worst))))
        for j in range(1, terms + 1):
            ej = ej * v2
            acc = acc + ej / (2 * j + 1)
        out[near] = acc
    far = ~near
    if far.any():
        xf, mf = x[far], m[far]
        with np.errstate(divide="ignore", invalid="ignore"):
            out[far] = np.where(xf > 0, special.xlogy(xf, xf / mf) + mf - xf, mf)
    return out


def _log_poisson(k: FloatArray, m: FloatArray) -> FloatArray:
    """``log(m**k e**-m / Gamma(k + 1))`` for real k >= 0, m >= 0, without cancellation."""
    out = np.full(np.broadcast(k, m).shape, -np.inf)
    k, m = np.broadcast_arrays(k, m)
    zero_k = k == 0
    out[zero_k] = -m[zero_k]
    ok = (k > 0) & (m > 0)
    if ok.any():
        ko, mo = k[ok], m[ok]
        out[ok] = -_stirlerr(ko) - _bd0(ko, mo) - 0.5 * (_LOG_2PI + np.log(ko))
    return out


def _series(
    first: FloatArray, ratio: Callable[[float, NDArray[np.intp]], FloatArray], limit: int
) -> tuple[FloatArray, FloatArray]:
    """Sums ``S0 = sum t_j`` and ``S1 = sum j t_j`` of positive terms, vectorized.

    ``t_0 = first``; ``t_j = t_{j-1} * ratio(j, idx)`` for the cells ``idx``
    still summing.  Each cell stops once its terms are negligible; the ratios
    must end up decreasing below 1.
    """
    s0 = first.copy()
    s1 = np.zeros_like(first)
    term = first.copy()
    idx = np.arange(first.size)
    j = 0
    while idx.size and j < limit:
        j += 1
        term_i = term[idx] * ratio(float(j), idx)
        term[idx] = term_i
        s0[idx] += term_i
        s1[idx] += j * term_i
        keep = (term_i > _TINY * s0[idx]) | (j * term_i > _TINY * s1[idx])
        idx = idx[keep]
    return s0, s1


# stirlerr(k) for k = 0..15 (k = 0 unused), for whole numbers of agents.
_STIRLERR_TABLE = np.array(
    [0.0] + [math.lgamma(k + 1) - (k + 0.5) * math.log(k) + k - 0.5 * _LOG_2PI for k in range(1, 16)]
)


def _log_r_above(n: FloatArray, a: FloatArray) -> FloatArray:
    """``log R`` where every cell has a whole n > a > 0 (the staffing solvers' fast path).

    The same formulas as :func:`_log_r`, with branch-free arrays instead of masks.
    """
    inv = 1.0 / n
    inv2 = inv * inv
    series = inv * (1.0 / 12 - inv2 * (1.0 / 360 - inv2 * (1.0 / 1260 - inv2 * (
        1.0 / 1680 - inv2 * (1.0 / 1188 - inv2 * 691.0 / 360360)))))
    stirl = np.where(n < 16, _STIRLERR_TABLE[np.minimum(n, 15).astype(np.intp)], series)
    d = n - a
    v = d / (n + a)
    near = np.abs(d) < 0.1 * (n + a)
    v2 = v * v
    worst = float(np.max(v2, where=near, initial=0.0))
    terms = 1 if worst == 0.0 else min(13, max(1, math.ceil(-18.0 / math.log10(worst))))
    acc = d * v
    ej = 2.0 * n * v
    for j in range(1, terms + 1):
        ej = ej * v2
        acc = acc + ej / (2 * j + 1)
    bd0 = np.where(near, acc, special.xlogy(n, n / a) + a - n)
    log_pmf = -stirl - bd0 - 0.5 * (_LOG_2PI + np.log(n))
    return np.log(special.gammaincc(n, a)) - log_pmf


def _log_r(n: FloatArray, a: FloatArray) -> FloatArray:
    """``log R`` with ``R = 1/B(n, a) - 1 = sum_{j<n} p(j; a) / p(n; a)``, for a > 0.

    ``-inf`` for n = 0 (R = 0).  Flat 1-d arrays.
    """
    out = np.full(n.shape, -np.inf)
    deep = (n > 0) & (n <= a - _SERIES_SIGMAS * np.sqrt(a))
    gam = (n > 0) & ~deep
    if gam.any():
        ng, ag = n[gam], a[gam]
        with np.errstate(divide="ignore"):
            out[gam] = np.log(special.gammaincc(ng, ag)) - _log_poisson(ng, ag)
    if deep.any():
        nd, ad = n[deep], a[deep]
        # R = sum_{j>=1} prod_{i<j} (n - i) / a: ratios (n - j + 1) / a < 1, decreasing.
        first = nd / ad

        def ratio(j: float, idx: NDArray[np.intp]) -> FloatArray:
            return np.maximum(nd[idx] - j, 0.0) / ad[idx]

        s0, _ = _series(first, ratio, limit=int(nd.max()) + 1)
        out[deep] = np.log(s0)
    return out


def _prepare(*arrays: ArrayLike) -> tuple[tuple[int, ...], list[FloatArray]]:
    """Broadcast to a common shape; flat float copies."""
    b = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in arrays))
    shape = b[0].shape
    return shape, [np.array(x, dtype=float).reshape(-1) for x in b]


def _check(n: FloatArray, a: FloatArray) -> None:
    if np.any(n < 0) or np.any(n != np.floor(n)):
        raise ValueError("the number of agents or lines must be a whole number >= 0")
    if np.any(~(a >= 0)) or np.any(~np.isfinite(a)):
        raise ValueError("the offered load must be a finite number of Erlangs >= 0")


# ------------------------------------------------------------------ Erlang B


def log_erlang_b(n: ArrayLike, a: ArrayLike) -> Any:
    """Natural log of the Erlang B blocking probability (finite far below 1e-308)."""
    shape, (nf, af) = _prepare(n, a)
    _check(nf, af)
    out = np.where(nf == 0, 0.0, -np.inf)  # no traffic: nothing blocked (but 0 lines block all)
    pos = af > 0
    if pos.any():
        out[pos] = -np.logaddexp(0.0, _log_r(nf[pos], af[pos]))
    return _out(out.reshape(shape))


def erlang_b(n: ArrayLike, a: ArrayLike) -> Any:
    """Erlang B: the probability that a call finds all ``n`` lines busy (and is lost)."""
    return _out(np.exp(np.asarray(log_erlang_b(n, a), dtype=float)))


def lines_for_blocking(a: ArrayLike, max_blocking: ArrayLike) -> Any:
    """The fewest lines (trunks) whose Erlang B blocking is at most ``max_blocking``."""
    shape, (af, pf) = _prepare(a, max_blocking)
    if np.any(~(pf > 0)) or np.any(pf >= 1):
        raise ValueError("the blocking target must be a probability in (0, 1)")
    _check(np.zeros_like(af), af)
    n = np.zeros_like(af)
    pos = af > 0
    if pos.any():
        ap, pp = af[pos], pf[pos]
        # B(n, a) >= 1 - n/a, so every n < a (1 - p) blocks more than p: start just below.
        n0 = np.maximum(np.ceil(ap * (1.0 - pp)) - 1.0, 0.0)
        with np.errstate(over="ignore"):
            r = np.exp(_log_r(n0, ap))
        nn = n0.copy()
        idx = np.flatnonzero(1.0 / (1.0 + r) > pp)
        while idx.size:
            nn[idx] += 1.0
            r[idx] = nn[idx] * (1.0 + r[idx]) / ap[idx]
            idx = idx[1.0 / (1.0 + r[idx]) > pp[idx]]
        n[pos] = nn
    return _out(n.reshape(shape).astype(np.int64))


# ------------------------------------------------------------------ Erlang C


class ErlangCResult(NamedTuple):
    """Erlang C figures for ``n`` agents (arrays, broadcast shape)."""

    p_wait: Any
    service_level: Any
    asa: Any
    occupancy: Any


def _erlang_c_arrays(n: FloatArray, a: FloatArray) -> FloatArray:
    """P(wait) = 1 / (1 + (1 - a/n) R): 1 where n <= a, 0 without traffic (flat arrays)."""
    pw = np.ones_like(a)
    pw[a == 0] = 0.0
    stable = (n > a) & (a > 0)
    if stable.any():
        ns, as_ = n[stable], a[stable]
        pw[stable] = np.exp(-np.logaddexp(0.0, np.log((ns - as_) / ns) + _log_r(ns, as_)))
    return pw


def erlang_c(n: ArrayLike, a: ArrayLike) -> Any:
    """Erlang C: the probability that a call waits (1 when ``n <= a``: the queue never empties)."""
    shape, (nf, af) = _prepare(n, a)
    _check(nf, af)
    pw = _erlang_c_arrays(nf, af)
    return _out(pw.reshape(shape))


def _metrics_c(
    n: FloatArray, a: FloatArray, aht: FloatArray, t: FloatArray, pw: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Service level, ASA and occupancy from P(wait) (flat arrays)."""
    idle = a == 0
    stable = (n > a) & ~idle
    sl = np.zeros_like(a)
    asa_ = np.full_like(a, np.inf)
    sl[idle], asa_[idle] = 1.0, 0.0
    if stable.any():
        gap = n[stable] - a[stable]
        sl[stable] = 1.0 - pw[stable] * np.exp(-gap * t[stable] / aht[stable])
        asa_[stable] = pw[stable] * aht[stable] / gap
    with np.errstate(divide="ignore", invalid="ignore"):
        occ = np.where(idle, 0.0, np.minimum(a / n, 1.0))
    return sl, asa_, occ


def erlang_c_metrics(n: ArrayLike, a: ArrayLike, aht: ArrayLike, t: ArrayLike) -> ErlangCResult:
    """P(wait), service level within ``t`` s, ASA (s) and occupancy with ``n`` agents.

    Unstable cells (``n <= a``) wait for ever: P(wait) 1, service level 0, ASA
    infinite, occupancy 1.  Cells without traffic: 0, 1, 0, 0.
    """
    shape, (nf, af, ahtf, tf) = _prepare(n, a, aht, t)
    _check(nf, af)
    if np.any(~(ahtf > 0)) or np.any(~(tf >= 0)):
        raise ValueError("the handling time must be > 0 and the threshold >= 0 seconds")
    pw = _erlang_c_arrays(nf, af)
    sl, asa_, occ = _metrics_c(nf, af, ahtf, tf, pw)
    return ErlangCResult(*(_out(x.reshape(shape)) for x in (pw, sl, asa_, occ)))


def service_level(n: ArrayLike, a: ArrayLike, aht: ArrayLike, t: ArrayLike) -> Any:
    """Erlang C service level: the share of calls answered within ``t`` seconds."""
    return erlang_c_metrics(n, a, aht, t).service_level


def asa(n: ArrayLike, a: ArrayLike, aht: ArrayLike) -> Any:
    """Erlang C average speed of answer in seconds (mean wait of all calls)."""
    return erlang_c_metrics(n, a, aht, 0.0).asa


def occupancy(n: ArrayLike, a: ArrayLike) -> Any:
    """Share of the agents' time spent handling calls: ``a / n`` (at most 1)."""
    shape, (nf, af) = _prepare(n, a)
    _check(nf, af)
    with np.errstate(divide="ignore", invalid="ignore"):
        occ = np.where(af == 0, 0.0, np.minimum(af / nf, 1.0))
    return _out(occ.reshape(shape))


# ------------------------------------------------------------------ Erlang A


class ErlangAResult(NamedTuple):
    """Erlang A (M/M/n+M) figures for ``n`` agents (arrays, broadcast shape).

    ``sl_offered``: answered within ``t`` over all offered calls (an abandoned
    call never meets the target); ``sl_answered``: answered within ``t`` over
    answered calls; ``asa``: mean wait of answered calls; ``mean_wait``: mean
    wait of all calls, abandoned ones included; ``occupancy``: carried load per
    agent.
    """

    p_wait: Any
    p_abandon: Any
    sl_offered: Any
    sl_answered: Any
    asa: Any
    mean_wait: Any
    occupancy: Any


def _kummer(x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
    """``log M`` and ``E[k]`` for the weights ``t_k = y**k / prod_{i<=k}(x + i)``.

    ``M = sum_k t_k = 1F1(1; x + 1; y)`` and ``E[k] = sum_k k t_k / M`` (the
    mean queue seen by a waiting arrival).  x > 0, y >= 0; flat arrays.
    """
    log_m = np.empty_like(x)
    mean_k = np.empty_like(x)
    ser = y <= np.maximum(x + 1.0 - _SERIES_SIGMAS * np.sqrt(x + 1.0), 0.5 * (x + 1.0))
    if ser.any():
        xs, ys = x[ser], y[ser]

        def ratio(j: float, idx: NDArray[np.intp]) -> FloatArray:
            return ys[idx] / (xs[idx] + j)

        s0, s1 = _series(np.ones_like(xs), ratio, limit=1_000_000)
        log_m[ser] = np.log(s0)
        mean_k[ser] = s1 / s0
    gam = ~ser
    if gam.any():
        xg, yg = x[gam], y[gam]
        lm = np.log(special.gammainc(xg, yg)) - _log_poisson(xg, yg)
        log_m[gam] = lm
        # sum k t_k = y M - x (M - 1): no cancellation here, y is above x - 5 sqrt(x).
        mean_k[gam] = (yg - xg) + xg * np.exp(-lm)
    return log_m, mean_k


def _psi_diff(z: FloatArray, m: FloatArray) -> FloatArray:
    """``sum_{i<m} 1/(z + i) = digamma(z + m) - digamma(z)`` for z >= 1, m >= 1, accurately."""
    out = np.empty_like(z)
    direct = (z < 16.0) | (m >= z / 16.0)
    if direct.any():
        out[direct] = special.digamma(z[direct] + m[direct]) - special.digamma(z[direct])
    asym = ~direct
    if asym.any():
        zz, mm = z[asym], m[asym]
        w = zz + mm
        acc = np.log1p(mm / zz) + mm / (2.0 * zz * w) + mm * (2.0 * zz + mm) / (12.0 * zz**2 * w**2)
        for coef, p in ((1.0 / 120, 4), (-1.0 / 252, 6), (1.0 / 240, 8), (-1.0 / 132, 10)):
            acc = acc + coef * (w ** (-p) - zz ** (-p))
        out[asym] = acc
    return out


def _answered_wait(x: FloatArray, y: FloatArray) -> FloatArray:
    """``sum_k t_k P(served | k) H_k / sum_k t_k`` in units of the mean patience.

    An arrival that finds k callers waiting goes through k + 1 stages of rate
    ``theta (x + j + 1)``; it is served with probability ``x / (x + k + 1)``
    after a mean ``H_k = sum_{j<=k} 1 / (x + j + 1)`` patiences.  Summed from
    the mode of ``t_k`` outwards, both ways, until the terms are negligible.
    """
    mode = np.maximum(np.floor(y - x), 0.0)
    s0 = np.ones_like(x)
    num = x / (x + mode + 1.0) * _psi_diff(x + 1.0, mode + 1.0)
    for direction in (1.0, -1.0):
        term = np.ones_like(x)
        k = mode.copy()
        idx = np.arange(x.size)
        if direction < 0:
            idx = idx[mode[idx] > 0]
        while idx.size:
            xi, yi, ki = x[idx], y[idx], k[idx]
            if direction > 0:
                ti = term[idx] * yi / (xi + ki + 1.0)
                ki = ki + 1.0
            else:
                ti = term[idx] * (xi + ki) / yi
                ki = ki - 1.0
            term[idx], k[idx] = ti, ki
            wi = ti * xi / (xi + ki + 1.0) * _psi_diff(xi + 1.0, ki + 1.0)
            s0[idx] += ti
            num[idx] += wi
            keep = (ti > _TINY * s0[idx]) | (wi > _TINY * num[idx])
            if direction < 0:
                keep &= ki > 0
            idx = idx[keep]
    return num / s0


def erlang_a(
    n: ArrayLike, a: ArrayLike, aht: ArrayLike, patience: ArrayLike, t: ArrayLike
) -> ErlangAResult:
    """Erlang A (Palm's M/M/n+M): Erlang C with callers who hang up.

    Patience is exponential with mean ``patience`` seconds.  Stable for every
    ``n`` (the impatient leave), so ``n <= a`` gives finite answers.
    """
    shape, (nf, af, ahtf, pf, tf) = _prepare(n, a, aht, patience, t)
    _check(nf, af)
    if np.any(~(ahtf > 0)) or np.any(~(pf > 0)) or np.any(~np.isfinite(pf)) or np.any(~(tf >= 0)):
        raise ValueError(
            "the handling time and the patience must be > 0 (finite) and the threshold >= 0 s"
        )
    size = nf.size
    pw = np.zeros(size)
    pab = np.zeros(size)
    slo = np.ones(size)
    sla = np.ones(size)
    asa_ = np.zeros(size)
    wait = np.zeros(size)
    occ = np.zeros(size)

    none = (nf == 0) & (af > 0)  # nobody to answer: every caller waits, then hangs up
    pw[none], pab[none], slo[none], sla[none] = 1.0, 1.0, 0.0, 0.0
    asa_[none], wait[none], occ[none] = np.inf, pf[none], 0.0

    live = (nf > 0) & (af > 0)
    if live.any():
        nl, al, ahtl, pl, tl = nf[live], af[live], ahtf[live], pf[live], tf[live]
        x = nl * pl / ahtl
        y = al * pl / ahtl
        log_r = _log_r(nl, al)
        log_m, mean_k = _kummer(x, y)
        p_wait = special.expit(log_m - log_r)  # M E / (1 + (M - 1) E)
        p_ab_wait = np.minimum(mean_k / y, 1.0)
        # answered after t, given a wait: x/(x+1) e^{y(1-e^-s) - (x+1)s} M(x+1, y e^-s) / M(x, y)
        s = tl / pl
        log_m1, _ = _kummer(x + 1.0, y * np.exp(-s))
        late = x / (x + 1.0) * np.exp(-y * np.expm1(-s) - (x + 1.0) * s + log_m1 - log_m)
        p_answered = 1.0 - p_wait * p_ab_wait
        pw[live] = p_wait
        pab[live] = p_wait * p_ab_wait
        slo[live] = 1.0 - p_wait * (p_ab_wait + late)
        with np.errstate(divide="ignore", invalid="ignore"):
            sla[live] = np.where(p_answered > 0, 1.0 - p_wait * late / p_answered, 0.0)
            asa_[live] = np.where(
                p_answered > 0, p_wait * pl * _answered_wait(x, y) / p_answered, np.inf
            )
        wait[live] = p_wait * p_ab_wait * pl
        occ[live] = al * p_answered / nl
    return ErlangAResult(
        *(_out(v.reshape(shape)) for v in (pw, pab, slo, sla, asa_, wait, occ))
    )
