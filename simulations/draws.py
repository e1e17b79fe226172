"""Everything random about a simulated day, drawn before routing starts.

Each contact's arrival time, process, channel, handling time, patience,
callback choice and ring-no-answer count come from seeded streams that do not
depend on routing decisions (common random numbers): two variants of the same
scenario (another skill matrix, another strategy) meet exactly the same
citizens, so their difference is the policy's, not the dice's. Each kind of
draw has its own child stream, so changing e.g. the handling distribution
leaves the arrivals untouched.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulations.model import ArrivalInterval, Scenario, distribution
from skills.model import Channel


@dataclass(slots=True)
class Draws:
    """Per contact, in arrival order: the citizen's side of the day.

    ``interval`` is the index of the contact's arrival interval in the scenario.
    """

    contact_ids: list[str]
    arrival_s: list[float]
    process: list[str]
    channel: list[Channel]
    interval: list[int]
    handling_s: list[float]
    patience_s: list[float]
    callback_u: list[float]
    no_answers: list[int]

    def __len__(self) -> int:
        return len(self.arrival_s)


def _arrivals(
    intervals: tuple[ArrivalInterval, ...], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Poisson arrival times of every interval, with the interval index of each."""
    times: list[np.ndarray] = []
    owners: list[np.ndarray] = []
    for k, interval in enumerate(intervals):
        count = int(rng.poisson(interval.arrivals)) if interval.arrivals > 0 else 0
        span = interval.end_s - interval.start_s
        times.append(interval.start_s + rng.random(count) * span)
        owners.append(np.full(count, k, dtype=np.int64))
    if not times:
        return np.empty(0), np.empty(0, dtype=np.int64)
    all_times = np.concatenate(times)
    all_owners = np.concatenate(owners)
    order = np.argsort(all_times, kind="stable")
    return all_times[order], all_owners[order]


def draw(scenario: Scenario, seed: int) -> Draws:
    """The contacts of one replication of ``scenario`` from ``seed``."""
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(5)]
    arrival_rng, handling_rng, patience_rng, callback_rng, ringing_rng = streams
    intervals = scenario.arrivals
    times, owners = _arrivals(intervals, arrival_rng)
    n = len(times)
    aht = np.array([i.handling_time_s for i in intervals])[owners] if n else np.empty(0)
    unit = distribution(scenario.handling, 1.0, scenario.handling_cv)
    handling = unit.sample(handling_rng, n) * aht
    channels = [intervals[k].channel for k in owners.tolist()]
    patience_unit = patience_rng.exponential(1.0, n)
    means = np.array([scenario.patience.get(c, np.inf) for c in channels]) if n else np.empty(0)
    with np.errstate(invalid="ignore"):
        patience = np.where(np.isinf(means), np.inf, patience_unit * means)
    callback_u = callback_rng.random(n)
    p = scenario.ringing.no_answer_probability
    no_answers = ringing_rng.geometric(1.0 - p, n) - 1 if p > 0 else np.zeros(n, dtype=np.int64)
    return Draws(
        contact_ids=[f"c{i}" for i in range(n)],
        arrival_s=times.tolist(),
        process=[intervals[k].process for k in owners.tolist()],
        channel=channels,
        interval=owners.tolist(),
        handling_s=handling.tolist(),
        patience_s=patience.tolist(),
        callback_u=callback_u.tolist(),
        no_answers=no_answers.tolist(),
    )
