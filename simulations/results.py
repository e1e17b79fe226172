"""Plain records of a simulation: per process and channel, per agent, over replications.

One replication gives a ``RunResult``; several give a ``Summary`` where each
figure is an ``Estimate`` (mean and the half-width of its 95 % confidence
interval, Student's t over replications). ``compare`` pairs the replications
of two variants run on the same random streams and estimates the difference.

Definitions (DESIGN.md):
- service level: contacts answered within the target (the catalogue's
  ``sla_seconds`` of the process on the channel) / contacts arrived, leaving
  out those still open at closing time that are not yet past their target (a
  callback asked for at 16:00 may still be honoured tomorrow);
- pick-up rate: answered / arrived; abandon rate: abandoned / arrived;
- ASA: mean wait of the answered contacts; p90 wait: their 90th percentile;
- occupancy: time reserved, busy or in wrap-up / that plus the time available.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from scipy import stats

from dispatcher.events import AgentState, Outcome
from skills.model import ALL_CHANNELS, Catalogue, Channel

if TYPE_CHECKING:
    from simulations.engine import Engine

ALL = "*"
"""The process name of the per-channel total rows."""

WORKING = (AgentState.RESERVED, AgentState.BUSY, AgentState.WRAP_UP)


@dataclass(slots=True)
class AgentClock:
    """Seconds an agent spent in each state after the warm-up, and contacts served."""

    state: AgentState = AgentState.OFFLINE
    since: float = 0.0
    seconds: dict[AgentState, float] = field(default_factory=dict)
    served: int = 0

    def move(self, state: AgentState, at: float, warmup: float) -> None:
        """The agent entered ``state`` at ``at``."""
        start = max(warmup, self.since)
        if at > start:
            self.seconds[self.state] = self.seconds.get(self.state, 0.0) + (at - start)
        self.state, self.since = state, at


@dataclass(slots=True)
class QueueResult:
    """One process on one channel (process ``*``: all processes of the channel)."""

    process: str
    channel: str
    target_s: float
    arrived: int = 0
    answered: int = 0
    answered_in_target: int = 0
    abandoned: int = 0
    callbacks: int = 0
    expired: int = 0
    still_open: int = 0
    not_yet_due: int = 0
    service_level: float = math.nan
    pickup_rate: float = math.nan
    abandon_rate: float = math.nan
    asa_s: float = math.nan
    p90_wait_s: float = math.nan
    max_wait_s: float = math.nan


@dataclass(slots=True)
class AgentResult:
    """One agent over the day (after the warm-up)."""

    agent_id: str
    logged_in_s: float
    available_s: float
    working_s: float
    paused_s: float
    served: int
    occupancy: float


@dataclass(slots=True)
class RunResult:
    """The figures of one replication."""

    queues: list[QueueResult]
    agents: list[AgentResult]
    contacts: int
    events: int
    rejected: int
    seed: int | None = None

    def queue(self, process: str, channel: str) -> QueueResult | None:
        """The row of ``process`` on ``channel`` (``*``: the channel's total), if any contact came."""
        for row in self.queues:
            if row.process == process and row.channel == channel:
                return row
        return None


def _target_s(catalogue: Catalogue, process: str, channel: Channel, fallback: float) -> float:
    """The SLA seconds of ``process`` on ``channel``; ``fallback`` when the catalogue has none."""
    code = process if process in catalogue.processes else catalogue.triage
    try:
        return catalogue.target(code, channel).sla_seconds
    except KeyError:
        return fallback


_OUTCOME_CODES: dict[Outcome | None, int] = {None: 0} | {o: k + 1 for k, o in enumerate(Outcome)}
_ABANDONED = _OUTCOME_CODES[Outcome.ABANDONED]
_CALLBACK = _OUTCOME_CODES[Outcome.CALLBACK_SCHEDULED]
_EXPIRED = _OUTCOME_CODES[Outcome.EXPIRED]


@dataclass(slots=True)
class _Contacts:
    """Every contact of a run (then its callbacks) as arrays, warm-up left out."""

    arrival: np.ndarray
    wait: np.ndarray
    answered: np.ndarray
    in_target: np.ndarray
    outcome: np.ndarray
    not_yet_due: np.ndarray


def _rows(
    keys: list[tuple[str, Channel]], group: np.ndarray, targets: list[float], c: _Contacts
) -> list[QueueResult]:
    """One row per key; ``group`` gives each contact's key index."""
    size = len(keys)

    def count(mask: np.ndarray | None = None) -> list[int]:
        return np.bincount(group if mask is None else group[mask], minlength=size).tolist()

    arrived, answered, in_target = count(), count(c.answered), count(c.in_target)
    abandoned, callbacks = count(c.outcome == _ABANDONED), count(c.outcome == _CALLBACK)
    expired = count(c.outcome == _EXPIRED)
    still_open, not_yet_due = count((c.outcome == 0) & ~c.answered), count(c.not_yet_due)
    rows = []
    for k, (process, channel) in enumerate(keys):
        if not arrived[k]:
            continue
        row = QueueResult(
            process,
            channel.value,
            targets[k],
            arrived[k],
            answered[k],
            in_target[k],
            abandoned[k],
            callbacks[k],
            expired[k],
            still_open[k],
            not_yet_due[k],
        )
        judged = row.arrived - row.not_yet_due
        row.service_level = row.answered_in_target / judged if judged else math.nan
        row.pickup_rate = row.answered / row.arrived
        row.abandon_rate = row.abandoned / row.arrived
        if row.answered:
            waits = c.wait[c.answered & (group == k)]
            row.asa_s = float(waits.mean())
            row.p90_wait_s = float(np.percentile(waits, 90))
            row.max_wait_s = float(waits.max())
        rows.append(row)
    return rows


def tally(engine: Engine, close: float) -> RunResult:
    """The figures of a finished engine, the day closed at ``close``."""
    draws, scenario = engine.draws, engine.scenario
    n = len(draws)
    catalogue = scenario.catalogue
    # A key per (process, channel) of the arrival intervals, then of their callbacks.
    keys: dict[tuple[str, Channel], int] = {}
    for interval in scenario.arrivals:
        keys.setdefault((interval.process, interval.channel), len(keys))
    for interval in scenario.arrivals:
        keys.setdefault((interval.process, Channel.CALLBACK), len(keys))
    key_list = list(keys)
    deadline = scenario.policy.callback_deadline_s
    targets = [
        _target_s(catalogue, p, ch, deadline if ch is Channel.CALLBACK else math.inf)
        for p, ch in key_list
    ]
    channels = list(dict.fromkeys(ch for _, ch in key_list))
    channel_of_key = np.array([channels.index(ch) for _, ch in key_list], dtype=np.int64)
    owners = np.asarray(draws.interval, dtype=np.int64)
    direct = np.array([keys[(i.process, i.channel)] for i in scenario.arrivals], dtype=np.int64)
    callback = np.array(
        [keys[(i.process, Channel.CALLBACK)] for i in scenario.arrivals], dtype=np.int64
    )
    group = np.concatenate([direct[owners], callback[owners]]) if n else np.empty(0, dtype=np.int64)
    arrival = np.tile(np.asarray(draws.arrival_s, dtype=float), 2)
    answered_at = np.asarray(engine.answered_at, dtype=float)
    codes = _OUTCOME_CODES
    outcome = np.fromiter((codes[o] for o in engine.outcome), dtype=np.int8, count=2 * n)
    exists = np.concatenate([np.ones(n, dtype=bool), outcome[:n] == _CALLBACK])
    keep = exists & (arrival >= scenario.warmup_s)
    group, arrival, answered_at, outcome = (
        group[keep],
        arrival[keep],
        answered_at[keep],
        outcome[keep],
    )
    target = np.asarray(targets, dtype=float)[group] if group.size else np.empty(0)
    answered = ~np.isnan(answered_at)
    wait = answered_at - arrival
    contacts = _Contacts(
        arrival=arrival,
        wait=wait,
        answered=answered,
        in_target=answered & (wait <= target),
        outcome=outcome,
        not_yet_due=(outcome == 0) & ~answered & (close - arrival < target),
    )
    queues = _rows(key_list, group, targets, contacts)
    totals = [(ALL, ch) for ch in channels]
    queues += _rows(totals, channel_of_key[group], [math.nan] * len(totals), contacts)
    agents = []
    for agent_id, clock in engine.clocks.items():
        clock.move(clock.state, close, scenario.warmup_s)
        secs = clock.seconds
        working = sum(secs.get(s, 0.0) for s in WORKING)
        available = secs.get(AgentState.AVAILABLE, 0.0)
        paused = secs.get(AgentState.PAUSED, 0.0)
        busy_or_free = working + available
        agents.append(
            AgentResult(
                agent_id=agent_id,
                logged_in_s=working + available + paused,
                available_s=available,
                working_s=working,
                paused_s=paused,
                served=clock.served,
                occupancy=working / busy_or_free if busy_or_free > 0 else math.nan,
            )
        )
    return RunResult(queues, agents, n, engine.events, len(engine.rejected))


# ------------------------------------------------------- replications


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
    """One process on one channel over the replications."""

    process: str
    channel: str
    target_s: float
    arrived: Estimate
    metrics: dict[str, Estimate]


@dataclass(frozen=True, slots=True)
class AgentSummary:
    """One agent over the replications."""

    agent_id: str
    metrics: dict[str, Estimate]


@dataclass(frozen=True, slots=True)
class Summary:
    """Every figure of a scenario over its replications."""

    queues: list[QueueSummary]
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


def summarise(runs: Sequence[RunResult]) -> Summary:
    """The figures of several replications of one scenario."""
    queues = []
    for process, channel in _keys(runs):
        rows = [run.queue(process, channel) for run in runs]
        found = [r for r in rows if r is not None]
        queues.append(
            QueueSummary(
                process=process,
                channel=channel,
                target_s=found[0].target_s,
                arrived=estimate(r.arrived if r else 0 for r in rows),
                metrics={m: estimate(getattr(r, m) for r in found) for m in QUEUE_METRICS},
            )
        )
    agents = []
    for agent_id in dict.fromkeys(a.agent_id for run in runs for a in run.agents):
        per_run = [a for run in runs for a in run.agents if a.agent_id == agent_id]
        agents.append(
            AgentSummary(
                agent_id, {m: estimate(getattr(a, m) for a in per_run) for m in AGENT_METRICS}
            )
        )
    return Summary(queues, agents, len(runs), sum(run.rejected for run in runs))


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
    """One row per process and channel: each figure's mean and 95 % half-width."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        header = ["process", "channel", "target_s", "arrived"]
        for metric in QUEUE_METRICS:
            header += [metric, f"{metric}_ci"]
        writer.writerow(header)
        for q in summary.queues:
            row: list[object] = [q.process, q.channel, q.target_s, _fmt(q.arrived.mean)]
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
