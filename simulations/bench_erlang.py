"""``guichet bench erlang``: staffing a day of 96 intervals x 70 processes at once.

Our vectorized Erlang C solver against pyworkforce's ``ErlangC`` (an optional
benchmark dependency) on the same seeded grid, both checked against an exact
answer computed with mpmath (optional too: without it the check is skipped and
the bench says what to install). pyworkforce is fed Python floats, with which
it runs fastest (numpy scalars slow its pure-Python arithmetic down by ~1.8x).
Then the whole ``guichet staffing day`` command on a forecast file of the same
size, as a planner runs it: a fresh process, the forecast read, every level
staffed, the tables printed and the CSV, SVG and HTML written.  Bars: the grid
in <= 10 ms, >= 40x faster than pyworkforce, no answer differing from the
exact one, figures exact to 1e-9, the command in < 2 s.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from rich import box
from rich.console import Console
from rich.table import Table

from simulations import staffing

INTERVALS, PROCESSES = 96, 70
QUICK_INTERVALS, QUICK_PROCESSES = 24, 10
TARGET, WITHIN_S = 0.8, 20.0
LONG_WITHIN_S = 600.0  # the counter's target: 80 % within 10 min
INTERVAL_S = 900.0
SEED = 20240615
BARS = {"grid_ms": 10.0, "speedup": 40.0, "max_rel_err": 1e-9, "command_s": 2.0}
COMMAND_RUNS, QUICK_COMMAND_RUNS = 5, 1
INSTALL_HINT = "pip install 'guichet[bench]'"


def grid(quick: bool = False, seed: int = SEED) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seeded calls per hour (0.5-600), AHT seconds (120-600) and load in Erlangs."""
    shape = (QUICK_INTERVALS, QUICK_PROCESSES) if quick else (INTERVALS, PROCESSES)
    rng = np.random.default_rng(seed)
    calls_h = rng.uniform(0.5, 600.0, shape)
    aht = rng.uniform(120.0, 600.0, shape)
    return calls_h, aht, calls_h * aht / 3600.0


def _time_ours(
    a: np.ndarray, aht: np.ndarray, within: float, repeats: int
) -> tuple[Any, float, float]:
    """The answer, then the median and the fastest time of ``repeats`` runs, in ms."""
    res = staffing.required_agents(a, aht, service_level=TARGET, within_s=within)  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        res = staffing.required_agents(a, aht, service_level=TARGET, within_s=within)
        times.append(time.perf_counter() - t0)
    return res, statistics.median(times) * 1000.0, min(times) * 1000.0


def _pyworkforce(calls_h: np.ndarray, aht: np.ndarray, within: float) -> tuple[np.ndarray, float]:
    """pyworkforce's raw positions per cell (transactions per 15 min, minutes) and its time.

    It gets Python floats (``tolist``): its arithmetic is pure Python, which numpy
    scalars slow down; the conversion is done before the clock starts.
    """
    from pyworkforce.queuing import ErlangC

    transactions = (calls_h * INTERVAL_S / 3600.0).reshape(-1).tolist()
    minutes = (aht / 60.0).reshape(-1).tolist()
    asa, interval = within / 60.0, INTERVAL_S / 60.0
    found: list[int] = []
    t0 = time.perf_counter()
    for tr, m in zip(transactions, minutes):
        erl = ErlangC(transactions=tr, aht=m, asa=asa, interval=interval)
        found.append(erl.required_positions(service_level=TARGET)["raw_positions"])
    elapsed = (time.perf_counter() - t0) * 1000.0
    return np.array(found, dtype=np.int64).reshape(calls_h.shape), elapsed


def write_day_forecast(path: Path, quick: bool = False, seed: int = SEED) -> Path:
    """A forecast file of the grid's size: 96 intervals (00:00-23:45) x 70 processes,
    half on the phone and half at the counter, in 7 domains."""
    intervals, processes = (QUICK_INTERVALS, QUICK_PROCESSES) if quick else (INTERVALS, PROCESSES)
    rng = np.random.default_rng(seed)
    lines = ["interval,process,channel,arrivals,aht_s,domain"]
    for k in range(intervals):
        minute = k * 15
        for p in range(processes):
            lines.append(f"{minute // 60:02d}:{minute % 60:02d},p{p:02d},"
                         f"{'phone' if p % 2 == 0 else 'counter'},{rng.uniform(0.1, 30.0):.2f},"
                         f"{rng.uniform(120.0, 600.0):.0f},d{p % 7}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def time_staffing_day(quick: bool = False, runs: int | None = None) -> dict[str, Any]:
    """Wall and CPU seconds of ``guichet staffing day`` on a 96 x 70 forecast, each run a
    fresh process (imports included); median and fastest of ``runs``."""
    runs = runs or (QUICK_COMMAND_RUNS if quick else COMMAND_RUNS)
    wall: list[float] = []
    cpu: list[float] = []
    with tempfile.TemporaryDirectory(prefix="guichet-bench-") as tmp:
        forecast = write_day_forecast(Path(tmp) / "day.csv", quick)
        command = [sys.executable, "-m", "guichet.cli", "staffing", "day", str(forecast),
                   "--out", str(Path(tmp) / "out")]
        for _ in range(runs):
            before = os.times()
            t0 = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True, check=False,
                                  timeout=120)
            wall.append(time.perf_counter() - t0)
            after = os.times()
            cpu.append(after.children_user + after.children_system
                       - before.children_user - before.children_system)
            if done.returncode != 0:
                raise RuntimeError(f"guichet staffing day failed: {done.stderr.strip()[-500:]}")
    return {"command_s": round(statistics.median(wall), 3), "command_min_s": round(min(wall), 3),
            "command_cpu_s": round(statistics.median(cpu), 3), "command_runs": runs}


def reference(
    n: np.ndarray, a: np.ndarray, aht: np.ndarray, within: float, dps: int = 30
) -> dict[str, np.ndarray]:
    """Exact (mpmath) P(wait), SL and ASA at ``n`` and SL at ``n - 1``, per cell.

    Erlang B by its recurrence ``1/B(k) = 1 + k/a * 1/B(k-1)`` in ``dps``
    digits (no overflow: mpmath's exponent is unbounded), then Erlang C.
    """
    import mpmath as mp

    mp.mp.dps = dps
    flat = [x.reshape(-1) for x in (n, a, aht)]
    out = {k: np.empty(flat[0].size) for k in ("p_wait", "sl", "asa", "sl_prev")}
    for i, (ni, ai, hi) in enumerate(zip(*flat)):
        ni = int(ni)
        am, hm, t = mp.mpf(float(ai)), mp.mpf(float(hi)), mp.mpf(within)
        inv = mp.mpf(1)
        inv_prev = inv
        for k in range(1, ni + 1):
            inv_prev = inv
            inv = 1 + inv * k / am
        for key_sl, k, inv_k in (("sl", ni, inv), ("sl_prev", ni - 1, inv_prev)):
            if k <= am or k < 1:
                out[key_sl][i] = 0.0  # unstable: never meets a target
                continue
            b = 1 / inv_k
            c = k * b / (k - am * (1 - b))
            out[key_sl][i] = float(1 - c * mp.exp(-(k - am) * t / hm))
            if k == ni:
                out["p_wait"][i] = float(c)
                out["asa"][i] = float(c * hm / (k - am))
    return {k: v.reshape(n.shape) for k, v in out.items()}


def run(console: Console, quick: bool = False) -> dict[str, Any]:
    """Time the grid, compare with pyworkforce and with mpmath; return the figures."""
    calls_h, aht, a = grid(quick)
    cells = a.size
    res, grid_ms, grid_min_ms = _time_ours(a, aht, WITHIN_S, repeats=20 if quick else 100)
    ours = np.asarray(res.agents)

    try:
        import mpmath  # noqa: F401
    except ImportError:
        console.print(f"mpmath is not installed ({INSTALL_HINT}): the answers are not checked "
                      "against the exact reference in this run.", markup=False,
                      highlight=False)
        differ_ref, max_rel, ref_s = None, None, None
    else:
        console.print("exact reference (mpmath, 30 digits)...", highlight=False)
        t0 = time.perf_counter()
        ref = reference(ours, a, aht, WITHIN_S, dps=30)
        ref_s = time.perf_counter() - t0
        too_few = ref["sl"] < TARGET  # the exact answer needs more agents
        too_many = (ours - 1 > a) & (ref["sl_prev"] >= TARGET)  # n - 1 would do
        differ_ref = int(np.count_nonzero(too_few | too_many))
        rel = [np.abs(np.asarray(got) - want) / np.abs(want) for got, want in (
            (res.p_wait, ref["p_wait"]), (res.service_level, ref["sl"]), (res.asa, ref["asa"]))]
        max_rel = float(max(np.max(r) for r in rel))

    figures: dict[str, Any] = {
        "cells": cells,
        "grid_ms": round(grid_ms, 3),
        "grid_min_ms": round(grid_min_ms, 3),  # the fastest run: the median minus the noise
        "pyworkforce_ms": None,
        "speedup": None,
        "answers_differ": None,
        "answers_differ_vs_reference": differ_ref,
        "max_rel_err_vs_mpmath": max_rel,
        "reference_s": None if ref_s is None else round(ref_s, 2),
    }
    table = Table(box=box.SIMPLE_HEAD, title=f"Required agents, {a.shape[0]} intervals x {a.shape[1]} processes "
                        f"({cells} cells), {TARGET:.0%} within {WITHIN_S:g} s")
    for col in ("solver", "median", "fastest", "per cell", "≠ exact", "≠ pyworkforce"):
        table.add_column(col, justify="right" if col != "solver" else "left", no_wrap=True)
    try:
        import pyworkforce  # noqa: F401
    except ImportError:
        pyworkforce_missing = True
    else:
        pyworkforce_missing = False
    if pyworkforce_missing:
        console.print(f"pyworkforce is not installed ({INSTALL_HINT}): no baseline in this "
                      "run; our figures follow.", markup=False, highlight=False,
                      style="yellow")
        figures["pyworkforce"] = "missing"
    else:
        pw, pw_ms = _pyworkforce(calls_h, aht, WITHIN_S)
        differ = int(np.count_nonzero(pw != ours))
        pw_more = int(np.count_nonzero(pw > ours))
        figures.update(pyworkforce_ms=round(pw_ms, 1), speedup=round(pw_ms / grid_ms, 1),
                       answers_differ=differ, pyworkforce_overstaffed=pw_more)
        # At the counter's long threshold, pyworkforce's starting point shows.
        res_long = staffing.required_agents(a, aht, service_level=TARGET, within_s=LONG_WITHIN_S)
        pw_long, _ = _pyworkforce(calls_h, aht, LONG_WITHIN_S)
        figures["long_within_s"] = LONG_WITHIN_S
        figures["answers_differ_long_within"] = int(np.count_nonzero(
            pw_long != np.asarray(res_long.agents)))
        table.add_row("pyworkforce", f"{pw_ms:.0f} ms", "(one run)", f"{pw_ms * 1000 / cells:.1f} µs",
                      # where ours equal the exact answers, pyworkforce's differences are its errors
                      str(differ) if differ_ref == 0 else "?", "—")
    table.add_row("guichet", f"{grid_ms:.2f} ms", f"{grid_min_ms:.2f} ms",
                  f"{grid_ms * 1000 / cells:.2f} µs", "?" if differ_ref is None else str(differ_ref),
                  "—" if figures["answers_differ"] is None else str(figures["answers_differ"]))
    console.print(table)
    if figures["speedup"] is not None:
        console.print(f"speed-up x{figures['speedup']:.0f}; at {LONG_WITHIN_S:g} s pyworkforce "
                      f"differs in {figures['answers_differ_long_within']} of {cells} cells "
                      "(it starts at round(A + 1): one agent too many when A's fraction >= 0.5)")
    if max_rel is not None and ref_s is not None:
        console.print(f"≠ exact: cells whose answer differs from the exact one (mpmath); largest "
                      f"relative error of P(wait), SL and ASA: {max_rel:.2e}; exact reference in "
                      f"{ref_s:.1f} s")

    console.print(f"guichet staffing day on {a.shape[0]} x {a.shape[1]}, fresh processes...",
                  highlight=False)
    command = time_staffing_day(quick)
    figures.update(command)
    console.print(
        f"guichet staffing day, {a.shape[0]} intervals x {a.shape[1]} processes (read, staff "
        f"every level, print, write CSV, SVG and HTML), a fresh process each time: "
        f"{command['command_s']:.2f} s wall (median of {command['command_runs']}; fastest "
        f"{command['command_min_s']:.2f} s), {command['command_cpu_s']:.2f} s CPU",
        highlight=False)
    unchecked = [name for name, value in (("speedup", figures["speedup"]),
                                          ("reference", differ_ref)) if value is None]
    if unchecked:
        figures["bars_unchecked"] = unchecked
    figures["bars_met"] = bool(
        grid_ms <= BARS["grid_ms"] and command["command_s"] < BARS["command_s"]
        and (differ_ref is None or differ_ref == 0)
        and (max_rel is None or max_rel <= BARS["max_rel_err"])
        and (figures["speedup"] is None or figures["speedup"] >= BARS["speedup"])
    )
    return figures
