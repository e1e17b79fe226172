"""Plain records of one simulated day: per process and channel, per hour, per agent.

``tally`` turns a finished engine into a ``RunResult``; ``summary.py``
gathers several replications.

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

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from dispatcher.events import AgentState, Outcome
from skills.model import Catalogue, Channel

if TYPE_CHECKING:
    from simulations.engine import Engine

ALL = "*"
"""The process name of the per-channel total rows."""

HOUR_S = 3600.0

WORKING = (AgentState.RESERVED, AgentState.BUSY, AgentState.WRAP_UP)


@dataclass(slots=True)
class QueueResult:
    """One process on one channel (process ``*``: all processes of the channel).

    ``hour_s``: for the per-hour rows, the start of the hour the contacts arrived in.
    """

    process: str
    channel: str
    target_s: float
    hour_s: float | None = None
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
    hours: list[QueueResult]
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
    keys: list[tuple[str, Channel]],
    group: np.ndarray,
    targets: list[float],
    c: _Contacts,
    hours: list[float] | None = None,
) -> list[QueueResult]:
    """One row per key (per hour: ``hours[k]``); ``group`` gives each contact's key index."""
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
            process=process,
            channel=channel.value,
            target_s=targets[k],
            hour_s=hours[k] if hours is not None else None,
            arrived=arrived[k],
            answered=answered[k],
            answered_in_target=in_target[k],
            abandoned=abandoned[k],
            callbacks=callbacks[k],
            expired=expired[k],
            still_open=still_open[k],
            not_yet_due=not_yet_due[k],
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
    by_channel = channel_of_key[group]
    queues += _rows(totals, by_channel, [math.nan] * len(totals), contacts)
    hour = (arrival // HOUR_S).astype(np.int64)
    first = int(hour.min()) if hour.size else 0
    span = int(hour.max()) - first + 1 if hour.size else 0
    slots = [(ch, first + h) for ch in channels for h in range(span)]
    hours = _rows(
        [(ALL, ch) for ch, _ in slots],
        by_channel * span + (hour - first),
        [math.nan] * len(slots),
        contacts,
        [h * HOUR_S for _, h in slots],
    )
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
    return RunResult(queues, hours, agents, n, engine.events, len(engine.rejected))
