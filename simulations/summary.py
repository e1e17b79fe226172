"""Several replications of a day: means with confidence intervals, and paired differences.

Each figure over replications is an ``Estimate``: the mean and its 95 %
confidence interval. A mean is Student's t over the replications. A share
(service level, pick-up, abandon, occupancy) gets a Wilson score interval,
which never leaves [0, 1]: its sample size is the effective one of the
replications, ``p (1 - p) / se**2``, capped by the contacts actually seen
(contacts within a day are not independent, so they never count for more;
when every replication agrees, the contacts seen still bound the certainty).
An interval needs two replications, and a figure needs ``MIN_CONTACTS``
contacts: below that it is shown as such (``n/a (1 run)``), not as a number.
``compare`` pairs the replications of two variants run on the same random
streams (the same citizens) and estimates A, B and B - A from the same pairs.
The figures' definitions are in ``results.py``.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats

from simulations.i18n import tr
from simulations.results import ALL, QueueResult, RunResult
from skills.model import ALL_CHANNELS

MIN_CONTACTS = 10
"""Fewer contacts than this over the replications: the figure is not shown."""


@dataclass(frozen=True, slots=True)
class Estimate:
    """A mean over ``n`` replications and its 95 % confidence interval [low, high].

    ``contacts``: how many contacts the figure rests on (None when not counted).
    """

    mean: float
    low: float
    high: float
    n: int
    contacts: int | None = None

    @property
    def half_width(self) -> float:
        """Half the interval's width (infinite with fewer than two replications)."""
        return (self.high - self.low) / 2.0

    @property
    def shown(self) -> bool:
        """Whether the figure rests on enough replications and contacts to be printed."""
        return self.n >= 2 and math.isfinite(self.mean) and (
            self.contacts is None or self.contacts >= MIN_CONTACTS)

    @property
    def why_not(self) -> str:
        """Why the figure is not shown: ``n/a (1 run)``, ``n/a (3 contacts)``; ``-``: no value."""
        if self.n == 0 or math.isnan(self.mean):
            return "-"
        if self.n < 2:
            return tr("n/a ({count} run)").format(count=self.n)
        return (tr("n/a ({count} contact)") if self.contacts == 1 else
                tr("n/a ({count} contacts)")).format(count=self.contacts)

    @property
    def constant(self) -> bool:
        """Every replication gave the same value (a zero-width interval says nothing)."""
        return self.n >= 2 and self.low == self.high == self.mean

    def covers(self, value: float) -> bool:
        """Whether ``value`` lies in the interval."""
        return self.low <= value <= self.high


def _t(confidence: float, n: int) -> float:
    return float(stats.t.ppf(0.5 + confidence / 2, n - 1))


def estimate(values: Iterable[float], confidence: float = 0.95,
             contacts: int | None = None) -> Estimate:
    """Mean and Student-t interval of the finite ``values`` (NaN when there are none)."""
    data = np.array([v for v in values if math.isfinite(v)], dtype=float)
    if data.size == 0:
        return Estimate(math.nan, math.nan, math.nan, 0, contacts)
    mean = float(data.mean())
    if data.size == 1:
        return Estimate(mean, -math.inf, math.inf, 1, contacts)
    half = _t(confidence, data.size) * float(data.std(ddof=1)) / math.sqrt(data.size)
    return Estimate(mean, mean - half, mean + half, int(data.size), contacts)


def estimate_share(values: Iterable[float], confidence: float = 0.95,
                   contacts: int | None = None) -> Estimate:
    """Mean and Wilson interval (always within [0, 1]) of per-replication shares."""
    data = np.array([v for v in values if math.isfinite(v)], dtype=float)
    if data.size < 2:
        base = estimate(data, confidence, contacts)
        return Estimate(base.mean, 0.0 if data.size else math.nan,
                        1.0 if data.size else math.nan, base.n, contacts)
    p = float(np.clip(data.mean(), 0.0, 1.0))
    se2 = float(data.var(ddof=1)) / data.size
    n_eff = p * (1.0 - p) / se2 if se2 > 0 else math.inf
    if contacts is not None:
        n_eff = min(n_eff, float(max(contacts, 1)))
    if not math.isfinite(n_eff):
        return Estimate(p, p, p, int(data.size), contacts)
    z = _t(confidence, data.size)
    centre = (p + z * z / (2 * n_eff)) / (1 + z * z / n_eff)
    spread = z / (1 + z * z / n_eff) * math.sqrt(p * (1 - p) / n_eff + (z / (2 * n_eff)) ** 2)  # squared last: no overflow
    low, high = max(0.0, centre - spread), min(1.0, centre + spread)
    return Estimate(p, min(low, p), max(high, p), int(data.size), contacts)


def estimate_difference(values: Iterable[float], confidence: float = 0.95,
                        share: bool = False, contacts: int | None = None) -> Estimate:
    """Mean and t interval of paired differences (of shares: kept within [-1, 1])."""
    base = estimate(values, confidence, contacts)
    if share and base.n >= 2:
        return Estimate(base.mean, max(base.low, -1.0), min(base.high, 1.0), base.n, contacts)
    return base


QUEUE_METRICS = (
    "service_level",
    "pickup_rate",
    "abandon_rate",
    "asa_s",
    "p90_wait_s",
    "still_open",
)
SHARES = frozenset({"service_level", "pickup_rate", "abandon_rate", "occupancy"})
"""The figures that are shares of contacts (or of time): Wilson intervals, within [0, 1]."""
AGENT_METRICS = ("occupancy", "served")


def _contacts(metric: str, rows: Sequence[QueueResult]) -> int | None:
    """The contacts a figure rests on: arrived ones for shares, answered ones for waits."""
    if metric in ("asa_s", "p90_wait_s"):
        return sum(r.answered for r in rows)
    if metric in SHARES:
        return sum(r.arrived for r in rows)
    return None


def _metric(metric: str, values: Iterable[float], rows: Sequence[QueueResult]) -> Estimate:
    if metric in SHARES:
        return estimate_share(values, contacts=_contacts(metric, rows))
    found = estimate(values, contacts=_contacts(metric, rows))  # waits and counts: never < 0
    return Estimate(found.mean, max(found.low, 0.0), found.high, found.n, found.contacts)


@dataclass(frozen=True, slots=True)
class QueueSummary:
    """One process on one channel over the replications (per hour: ``hour_s``)."""

    process: str
    channel: str
    target_s: float
    arrived: Estimate
    metrics: dict[str, Estimate]
    hour_s: float | None = None


@dataclass(frozen=True, slots=True)
class AgentSummary:
    """One agent over the replications."""

    agent_id: str
    metrics: dict[str, Estimate]


@dataclass(frozen=True, slots=True)
class Summary:
    """Every figure of a scenario over its replications."""

    queues: list[QueueSummary]
    hours: list[QueueSummary]
    agents: list[AgentSummary]
    replications: int
    rejected: int

    def queue(self, process: str, channel: str) -> QueueSummary | None:
        """The summary of ``process`` on ``channel`` (``*``: the channel's total)."""
        for row in self.queues:
            if row.process == process and row.channel == channel:
                return row
        return None


_CHANNEL_ORDER = {c.value: k for k, c in enumerate(ALL_CHANNELS)}


def _keys(runs: Sequence[RunResult]) -> list[tuple[str, str]]:
    """Every (process, channel) seen, by channel (live first), each channel's total last."""
    keys = {(q.process, q.channel) for run in runs for q in run.queues}
    return sorted(keys, key=lambda k: (_CHANNEL_ORDER.get(k[1], 99), k[0] == ALL, k[0]))


def _summary(rows: Sequence[QueueResult | None]) -> QueueSummary:
    """One row over the replications (None: no contact in that replication)."""
    found = [r for r in rows if r is not None]
    return QueueSummary(
        process=found[0].process,
        channel=found[0].channel,
        target_s=found[0].target_s,
        arrived=estimate(r.arrived if r else 0 for r in rows),
        metrics={m: _metric(m, [getattr(r, m) for r in found], found) for m in QUEUE_METRICS},
        hour_s=found[0].hour_s,
    )


def summarise(runs: Sequence[RunResult]) -> Summary:
    """The figures of several replications of one scenario."""
    queues = [_summary([run.queue(p, ch) for run in runs]) for p, ch in _keys(runs)]
    slots = sorted(
        {(h.channel, h.hour_s or 0.0) for run in runs for h in run.hours},
        key=lambda k: (_CHANNEL_ORDER.get(k[0], 99), k[1]),
    )
    by_slot = [{(h.channel, h.hour_s): h for h in run.hours} for run in runs]
    hours = [_summary([found.get(slot) for found in by_slot]) for slot in slots]
    agents = []
    for agent_id in dict.fromkeys(a.agent_id for run in runs for a in run.agents):
        per_run = [a for run in runs for a in run.agents if a.agent_id == agent_id]
        agents.append(
            AgentSummary(
                agent_id,
                {
                    "occupancy": estimate_share(a.occupancy for a in per_run),
                    "served": _metric("served", [a.served for a in per_run], []),
                },
            )
        )
    return Summary(queues, hours, agents, len(runs), sum(run.rejected for run in runs))


@dataclass(frozen=True, slots=True)
class Difference:
    """Variant B minus variant A for one figure of one process and channel (paired)."""

    process: str
    channel: str
    metric: str
    a: Estimate
    b: Estimate
    delta: Estimate


def compare(runs_a: Sequence[RunResult], runs_b: Sequence[RunResult]) -> list[Difference]:
    """B - A per replication pair (same seed, same citizens), with its confidence interval.

    A, B and B - A come from the same pairs: those where both variants have the figure.
    """
    found: list[Difference] = []
    for process, channel in _keys(list(runs_a) + list(runs_b)):
        pairs = [
            (a.queue(process, channel), b.queue(process, channel)) for a, b in zip(runs_a, runs_b)
        ]
        for metric in QUEUE_METRICS:
            kept = [
                (qa, qb) for qa, qb in pairs
                if qa is not None and qb is not None
                and math.isfinite(getattr(qa, metric)) and math.isfinite(getattr(qb, metric))
            ]
            rows_a = [qa for qa, _ in kept]
            rows_b = [qb for _, qb in kept]
            va = [getattr(r, metric) for r in rows_a]
            vb = [getattr(r, metric) for r in rows_b]
            seen_a, seen_b = _contacts(metric, rows_a), _contacts(metric, rows_b)
            fewest = None if seen_a is None or seen_b is None else min(seen_a, seen_b)
            found.append(
                Difference(
                    process,
                    channel,
                    metric,
                    _metric(metric, va, rows_a),
                    _metric(metric, vb, rows_b),
                    estimate_difference([y - x for x, y in zip(va, vb)], share=metric in SHARES,
                                        contacts=fewest),
                )
            )
    return found


# ----------------------------------------------------------------- CSV


def write_summary_csv(summary: Summary, path: str | Path) -> None:
    """One row per process and channel, then per channel and hour: each figure's mean and
    95 % interval ``_low`` / ``_high`` (``hour`` is empty on the whole-day rows)."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        header = ["process", "channel", "hour", "target_s", "arrived"]
        for metric in QUEUE_METRICS:
            header += [metric, f"{metric}_low", f"{metric}_high"]
        writer.writerow(header)
        for q in summary.queues + summary.hours:
            hour = "" if q.hour_s is None else f"{int(q.hour_s // 3600):02d}:00"
            row: list[object] = [q.process, q.channel, hour, _fmt(q.target_s), _fmt(q.arrived.mean)]
            for metric in QUEUE_METRICS:
                est = q.metrics[metric]
                row += [_fmt(est.mean), _fmt(est.low), _fmt(est.high)]
            writer.writerow(row)


def write_agents_csv(summary: Summary, path: str | Path) -> None:
    """One row per agent: occupancy and contacts served, mean and 95 % interval."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["agent_id", "occupancy", "occupancy_low", "occupancy_high", "served",
                         "served_low", "served_high"])
        for a in summary.agents:
            occ, served = a.metrics["occupancy"], a.metrics["served"]
            writer.writerow(
                [
                    a.agent_id,
                    _fmt(occ.mean),
                    _fmt(occ.low),
                    _fmt(occ.high),
                    _fmt(served.mean),
                    _fmt(served.low),
                    _fmt(served.high),
                ]
            )


def write_difference_csv(differences: Sequence[Difference], path: str | Path) -> None:
    """One row per process, channel and figure: A, B, B - A and its 95 % interval."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["process", "channel", "metric", "pairs", "a", "b", "delta", "delta_low",
                         "delta_high"])
        for d in differences:
            writer.writerow(
                [
                    d.process,
                    d.channel,
                    d.metric,
                    d.delta.n,
                    _fmt(d.a.mean),
                    _fmt(d.b.mean),
                    _fmt(d.delta.mean),
                    _fmt(d.delta.low),
                    _fmt(d.delta.high),
                ]
            )


def _fmt(value: float) -> str:
    return "" if not math.isfinite(value) else f"{value:.6g}"
