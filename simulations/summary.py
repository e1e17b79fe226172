"""Several replications of a day: means with confidence intervals, and paired differences.

Each figure over replications is an ``Estimate``: the mean and the half-width
of its 95 % confidence interval (Student's t). ``compare`` pairs the
replications of two variants run on the same random streams (the same
citizens) and estimates B - A with its own interval, much narrower than the
two separate intervals suggest. The figures' definitions are in ``results.py``.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats

from simulations.results import ALL, QueueResult, RunResult
from skills.model import ALL_CHANNELS


@dataclass(frozen=True, slots=True)
class Estimate:
    """A mean over replications and the half-width of its 95 % confidence interval."""

    mean: float
    half_width: float
    n: int

    @property
    def low(self) -> float:
        return self.mean - self.half_width

    @property
    def high(self) -> float:
        return self.mean + self.half_width

    def covers(self, value: float) -> bool:
        """Whether ``value`` lies in the interval."""
        return self.low <= value <= self.high


def estimate(values: Iterable[float], confidence: float = 0.95) -> Estimate:
    """Mean and Student-t half-width of the finite ``values`` (NaN when there are none)."""
    data = np.array([v for v in values if math.isfinite(v)], dtype=float)
    if data.size == 0:
        return Estimate(math.nan, math.nan, 0)
    if data.size == 1:
        return Estimate(float(data[0]), math.inf, 1)
    sd = float(data.std(ddof=1))
    t = float(stats.t.ppf(0.5 + confidence / 2, data.size - 1))
    return Estimate(float(data.mean()), t * sd / math.sqrt(data.size), int(data.size))


QUEUE_METRICS = (
    "service_level",
    "pickup_rate",
    "abandon_rate",
    "asa_s",
    "p90_wait_s",
    "still_open",
)
AGENT_METRICS = ("occupancy", "served")


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
        metrics={m: estimate(getattr(r, m) for r in found) for m in QUEUE_METRICS},
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
                agent_id, {m: estimate(getattr(a, m) for a in per_run) for m in AGENT_METRICS}
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
    """B - A per replication pair (same seed, same citizens), with its confidence interval."""
    found: list[Difference] = []
    for process, channel in _keys(list(runs_a) + list(runs_b)):
        pairs = [
            (a.queue(process, channel), b.queue(process, channel)) for a, b in zip(runs_a, runs_b)
        ]
        for metric in QUEUE_METRICS:
            va = [getattr(a, metric) if a else math.nan for a, _ in pairs]
            vb = [getattr(b, metric) if b else math.nan for _, b in pairs]
            found.append(
                Difference(
                    process,
                    channel,
                    metric,
                    estimate(va),
                    estimate(vb),
                    estimate(y - x for x, y in zip(va, vb)),
                )
            )
    return found


# ----------------------------------------------------------------- CSV


def write_summary_csv(summary: Summary, path: str | Path) -> None:
    """One row per process and channel, then per channel and hour: each figure's mean and
    95 % half-width (``hour`` is empty on the whole-day rows)."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        header = ["process", "channel", "hour", "target_s", "arrived"]
        for metric in QUEUE_METRICS:
            header += [metric, f"{metric}_ci"]
        writer.writerow(header)
        for q in summary.queues + summary.hours:
            hour = "" if q.hour_s is None else f"{int(q.hour_s // 3600):02d}:00"
            row: list[object] = [q.process, q.channel, hour, _fmt(q.target_s), _fmt(q.arrived.mean)]
            for metric in QUEUE_METRICS:
                row += [_fmt(q.metrics[metric].mean), _fmt(q.metrics[metric].half_width)]
            writer.writerow(row)


def write_agents_csv(summary: Summary, path: str | Path) -> None:
    """One row per agent: occupancy and contacts served, mean and 95 % half-width."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["agent_id", "occupancy", "occupancy_ci", "served", "served_ci"])
        for a in summary.agents:
            occ, served = a.metrics["occupancy"], a.metrics["served"]
            writer.writerow(
                [
                    a.agent_id,
                    _fmt(occ.mean),
                    _fmt(occ.half_width),
                    _fmt(served.mean),
                    _fmt(served.half_width),
                ]
            )


def write_difference_csv(differences: Sequence[Difference], path: str | Path) -> None:
    """One row per process, channel and figure: A, B, B - A and its 95 % half-width."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["process", "channel", "metric", "a", "b", "delta", "delta_ci"])
        for d in differences:
            writer.writerow(
                [
                    d.process,
                    d.channel,
                    d.metric,
                    _fmt(d.a.mean),
                    _fmt(d.b.mean),
                    _fmt(d.delta.mean),
                    _fmt(d.delta.half_width),
                ]
            )


def _fmt(value: float) -> str:
    return "" if not math.isfinite(value) else f"{value:.6g}"
