"""Staffing solvers: the fewest agents that meet a service target, for many cells at once.

A *cell* is one interval of one process (or skill group).  For each cell the
solver returns the fewest agents ``n`` such that

* the service level (share answered within ``within_s`` seconds) is at least
  ``service_level``, when given;
* the average speed of answer is at most ``asa_s`` seconds, when given;
* the occupancy ``a / n`` is at most ``max_occupancy``, when given;
* the queue is stable (``n > a``; Erlang C only: with abandonment, Erlang A,
  every ``n >= 1`` is stable),

and "fewest" is meant literally: ``n - 1`` agents miss one of the targets.
A cell without traffic needs 0 agents.  The scheduled head count adds the
shrinkage (breaks, training, absence): the fewest ``m`` with
``m (1 - shrinkage) >= n``.

Erlang C cells are solved together: each starts at the smallest stable,
occupancy-compliant ``n`` (one exact evaluation in log space), then the cells
still missing a target step up one agent at a time with the Erlang B
recurrence, the finished cells dropping out of the arrays.  Erlang A cells
(``patience_s`` given) are solved by a vectorized bisection.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from simulations import erlang
from simulations.erlang import FloatArray
from simulations.i18n import tr

__all__ = ["StaffingResult", "required_agents", "scheduled_agents"]

# m (1 - shrinkage) >= n is tested with this relative slack, so that the
# floating-point quotient 21 / (1 - 0.3) = 30.000000000000004 gives 30, not 31.
_ROUNDING_SLACK = 1e-12


class StaffingResult(NamedTuple):
    """Per cell: required agents and the figures they achieve (broadcast shape).

    ``agents``: productive agents on the phones/counters; ``scheduled``: head
    count once shrinkage is added.  ``p_abandon`` is 0 for Erlang C.
    """

    agents: Any
    scheduled: Any
    service_level: Any
    asa: Any
    occupancy: Any
    p_wait: Any
    p_abandon: Any


def scheduled_agents(agents: ArrayLike, shrinkage: ArrayLike) -> Any:
    """The fewest ``m`` with ``m * (1 - shrinkage) >= agents`` (``agents / (1 - s)`` rounded up)."""
    n, s = np.broadcast_arrays(np.asarray(agents, dtype=float), np.asarray(shrinkage, dtype=float))
    if np.any(~(s >= 0)) or np.any(s >= 1):
        raise ValueError(tr("shrinkage must be in [0, 1)"))
    m = np.ceil(n / (1.0 - s) * (1.0 - _ROUNDING_SLACK))
    out = np.where(n > 0, m, 0.0).astype(np.int64)
    return out[()] if out.ndim == 0 else out


def _occupancy_floor(a: FloatArray, max_occ: FloatArray) -> FloatArray:
    """The fewest n with ``a / n <= max_occ`` as evaluated in floating point."""
    with np.errstate(divide="ignore", invalid="ignore"):
        n = np.maximum(np.ceil(a / max_occ), 1.0)
        lower = np.maximum(n - 1.0, 1.0)
        n = np.where((lower < n) & (a / lower <= max_occ), lower, n)
        n = np.where(a / n > max_occ, n + 1.0, n)
    return n


def _meets_c(
    n: FloatArray, a: FloatArray, r: FloatArray, aht: FloatArray, decay: FloatArray,
    sl: FloatArray, asa_max: FloatArray,
) -> tuple[np.ndarray, FloatArray, FloatArray, FloatArray]:
    """Targets met, with P(wait), SL and ASA, for stable cells.

    ``r`` is ``R = 1/B - 1`` and ``decay`` is ``exp(-(n - a) t / AHT)``.
    """
    gap = n - a
    with np.errstate(over="ignore"):
        pw = 1.0 / (1.0 + gap / n * r)
    sl_n = 1.0 - pw * decay
    asa_n = pw * aht / gap
    return (sl_n >= sl) & (asa_n <= asa_max), pw, sl_n, asa_n


def _solve_c(
    a: FloatArray, aht: FloatArray, t: FloatArray, sl: FloatArray, asa_max: FloatArray,
    max_occ: FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Fewest agents for cells with a > 0 (flat arrays): n, P(wait), SL, ASA.

    Every cell starts at its smallest stable, occupancy-compliant n; the cells
    still short of a target step up together, one agent at a time, on a
    working set that is compacted only once it has shrunk enough (fancy
    indexing costs more than the arithmetic on a few finished cells).
    """
    n = np.maximum(np.floor(a) + 1.0, _occupancy_floor(a, max_occ))
    with np.errstate(over="ignore"):
        r = np.exp(erlang._log_r_above(n, a))
    decay = np.exp(-(n - a) * t / aht)
    ok, pw, sl_n, asa_n = _meets_c(n, a, r, aht, decay, sl, asa_max)
    where = np.flatnonzero(~ok)
    # Working set: n, R, decay, a, AHT, SL target, ASA target, exp(-t / AHT).
    cols = [x[where] for x in (n, r, decay, a, aht, sl, asa_max)]
    cols.append(np.exp(-t[where] / aht[where]))
    done = np.zeros(where.size, dtype=bool)
    w_pw = w_sl = w_asa = np.empty(0)
    while not done.all():
        todo = ~done
        if np.count_nonzero(todo) < 0.6 * where.size:  # write the finished back, drop them
            fin = where[done]
            n[fin], pw[fin], sl_n[fin], asa_n[fin] = (
                cols[0][done], w_pw[done], w_sl[done], w_asa[done])
            where = where[todo]
            cols = [c[todo] for c in cols]
            todo = np.ones(where.size, dtype=bool)
        wn, wr, wdecay, wa, waht, wsl, wasa, wstep = cols
        wn = wn + todo
        with np.errstate(over="ignore"):
            wr = np.where(todo, wn * (1.0 + wr) / wa, wr)  # R(n) = n (1 + R(n - 1)) / a
        wdecay = np.where(todo, wdecay * wstep, wdecay)
        cols[:3] = [wn, wr, wdecay]
        done, w_pw, w_sl, w_asa = _meets_c(wn, wa, wr, waht, wdecay, wsl, wasa)
    if where.size:
        n[where], pw[where], sl_n[where], asa_n[where] = cols[0], w_pw, w_sl, w_asa
    return n, pw, sl_n, asa_n


def _meets_a(
    n: FloatArray, a: FloatArray, aht: FloatArray, t: FloatArray, patience: FloatArray,
    sl: FloatArray, asa_max: FloatArray, max_occ: FloatArray, max_ab: FloatArray,
) -> tuple[np.ndarray, erlang.ErlangAResult]:
    res = erlang.erlang_a(n, a, aht, patience, t)
    ok = (
        (n >= 1)
        & (np.asarray(res.sl_offered) >= sl)
        & (np.asarray(res.asa) <= asa_max)
        & (np.asarray(res.occupancy) <= max_occ)
        & (np.asarray(res.p_abandon) <= max_ab)
    )
    return ok, res


def _solve_a(
    a: FloatArray, aht: FloatArray, t: FloatArray, patience: FloatArray, sl: FloatArray,
    asa_max: FloatArray, max_occ: FloatArray, max_ab: FloatArray,
) -> FloatArray:
    """Fewest agents under Erlang A by bisection (cells with a > 0, flat arrays)."""
    # Erlang C's answer is a good first upper bound; double it where it falls short.
    hi, _, _, _ = _solve_c(a, aht, t, sl, asa_max, max_occ)
    idx = np.arange(a.size)
    while idx.size:
        ok, _ = _meets_a(hi[idx], a[idx], aht[idx], t[idx], patience[idx], sl[idx],
                         asa_max[idx], max_occ[idx], max_ab[idx])
        idx = idx[~ok]
        hi[idx] *= 2.0
    lo = np.zeros_like(a)  # lo always misses (0 agents serve nobody), hi always meets
    idx = np.flatnonzero(hi - lo > 1.0)
    while idx.size:
        mid = np.floor((lo[idx] + hi[idx]) / 2.0)
        ok, _ = _meets_a(mid, a[idx], aht[idx], t[idx], patience[idx], sl[idx],
                         asa_max[idx], max_occ[idx], max_ab[idx])
        hi[idx] = np.where(ok, mid, hi[idx])
        lo[idx] = np.where(ok, lo[idx], mid)
        idx = idx[hi[idx] - lo[idx] > 1.0]
    return hi


def required_agents(
    a: ArrayLike,
    aht_s: ArrayLike,
    *,
    service_level: ArrayLike | None = 0.8,
    within_s: ArrayLike = 20.0,
    asa_s: ArrayLike | None = None,
    max_occupancy: ArrayLike | None = None,
    shrinkage: ArrayLike = 0.0,
    patience_s: ArrayLike | None = None,
    max_abandon: ArrayLike | None = None,
) -> StaffingResult:
    """The fewest agents meeting every given target, per cell (arguments broadcast).

    ``a``: offered load in Erlangs (see :func:`simulations.erlang.offered_load`);
    ``aht_s``: average handling time; ``service_level`` within ``within_s``
    seconds (``None``: no service-level target); ``asa_s``: the highest average
    speed of answer; ``max_occupancy``: the highest share of busy time;
    ``shrinkage``: share of paid time off the phones; ``patience_s``: callers'
    mean patience, which switches to Erlang A (service level of offered calls,
    ASA of answered calls), where ``max_abandon`` caps the share that hang up
    (ignored by Erlang C cells, where nobody abandons).
    """
    sl_arg = np.nan if service_level is None else service_level
    asa_arg = np.inf if asa_s is None else asa_s
    occ_arg = 1.0 if max_occupancy is None else max_occupancy
    pat_arg = np.inf if patience_s is None else patience_s
    ab_arg = np.inf if max_abandon is None else max_abandon
    shape, (af, ahtf, slf, tf, asaf, occf, shf, patf, abf) = erlang._prepare(
        a, aht_s, sl_arg, within_s, asa_arg, occ_arg, shrinkage, pat_arg, ab_arg
    )
    if np.any(~np.isfinite(af)) or np.any(af < 0):
        raise ValueError(tr("the offered load must be a finite number of Erlangs >= 0"))
    if np.any(~(ahtf > 0)) or np.any(~np.isfinite(ahtf)):
        raise ValueError(tr("the average handling time must be > 0 seconds"))
    if np.any(~(tf >= 0)):
        raise ValueError(tr("the service-level threshold must be >= 0 seconds"))
    has_sl = ~np.isnan(slf)
    if np.any(has_sl & ~((slf > 0) & (slf < 1))):
        raise ValueError(tr("the service-level target must be in (0, 1), e.g. 0.8"))
    if np.any(~(asaf > 0)):
        raise ValueError(tr("the ASA target must be > 0 seconds"))
    if np.any(~(occf > 0)) or np.any(occf > 1):
        raise ValueError(tr("the maximum occupancy must be in (0, 1]"))
    if np.any(~(patf > 0)):
        raise ValueError(tr("the mean patience must be > 0 seconds"))
    if np.any(~(abf > 0)) or np.any((abf >= 1) & np.isfinite(abf)):
        raise ValueError(tr("the maximum abandon rate must be in (0, 1), e.g. 0.05"))
    slf = np.where(has_sl, slf, -np.inf)

    size = af.size
    agents = np.zeros(size)
    sl_out = np.ones(size)
    asa_out = np.zeros(size)
    occ_out = np.zeros(size)
    pw_out = np.zeros(size)
    pab_out = np.zeros(size)

    busy = af > 0
    with_a = busy & np.isfinite(patf)
    with_c = busy & ~with_a
    if with_c.any():
        ac = af[with_c]
        n, pw, sl_n, asa_n = _solve_c(
            ac, ahtf[with_c], tf[with_c], slf[with_c], asaf[with_c], occf[with_c]
        )
        agents[with_c], pw_out[with_c], sl_out[with_c], asa_out[with_c] = n, pw, sl_n, asa_n
        occ_out[with_c] = ac / n
    if with_a.any():
        sel = with_a
        n = _solve_a(af[sel], ahtf[sel], tf[sel], patf[sel], slf[sel], asaf[sel], occf[sel],
                     abf[sel])
        res = erlang.erlang_a(n, af[sel], ahtf[sel], patf[sel], tf[sel])
        agents[sel] = n
        sl_out[sel], asa_out[sel], occ_out[sel] = res.sl_offered, res.asa, res.occupancy
        pw_out[sel], pab_out[sel] = res.p_wait, res.p_abandon

    scheduled = np.asarray(scheduled_agents(agents, shf))

    def shaped(x: np.ndarray) -> Any:
        x = x.reshape(shape)
        return x[()] if x.ndim == 0 else x

    return StaffingResult(
        agents=shaped(agents.astype(np.int64)),
        scheduled=shaped(scheduled.reshape(-1)),
        service_level=shaped(sl_out),
        asa=shaped(asa_out),
        occupancy=shaped(occ_out),
        p_wait=shaped(pw_out),
        p_abandon=shaped(pab_out),
    )
