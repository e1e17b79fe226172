"""The planner's objects: what a simulated day is made of.

Named after Ciw's vocabulary: arrival and service *distributions*, caller
*patience*, agent *schedules*, plus the front desk's own knobs (callbacks,
ring-no-answer). Plain frozen dataclasses, no I/O; ``scenario.py`` builds them
from files and ``engine.py`` runs them through the real routing core.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from dispatcher.policy import RoutingPolicy
from skills.model import Catalogue, Channel, SkillMatrix


@dataclass(frozen=True, slots=True)
class Exponential:
    """Exponential durations of the given mean (seconds): the M of M/M/c."""

    mean: float

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``size`` independent durations."""
        return rng.exponential(self.mean, size)


@dataclass(frozen=True, slots=True)
class Lognormal:
    """Lognormal durations of the given mean and coefficient of variation (sd / mean).

    Real handling times are skewed to the right: most contacts are short, a few
    are very long; a lognormal with cv around 0.6-1 fits them better than an
    exponential.
    """

    mean: float
    cv: float = 0.8

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``size`` independent durations."""
        sigma2 = math.log1p(self.cv * self.cv)
        mu = math.log(self.mean) - sigma2 / 2
        return rng.lognormal(mu, math.sqrt(sigma2), size)


@dataclass(frozen=True, slots=True)
class Deterministic:
    """Always the same duration (seconds)."""

    mean: float

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``size`` copies of the value."""
        return np.full(size, self.mean)


Distribution = Exponential | Lognormal | Deterministic

HANDLING_KINDS = ("exponential", "lognormal", "deterministic")


def distribution(kind: str, mean: float, cv: float = 0.8) -> Distribution:
    """The distribution named ``kind`` (exponential, lognormal, deterministic) of this mean."""
    if kind == "exponential":
        return Exponential(mean)
    if kind == "lognormal":
        return Lognormal(mean, cv)
    if kind == "deterministic":
        return Deterministic(mean)
    raise ValueError(f"unknown distribution {kind!r} (expected one of {', '.join(HANDLING_KINDS)})")


@dataclass(frozen=True, slots=True)
class ArrivalInterval:
    """Contacts for one process on one channel during [start_s, end_s): a Poisson stream.

    ``arrivals`` is the expected count over the interval (the forecast's figure),
    ``handling_time_s`` the mean handling time (AHT) of these contacts.
    """

    start_s: float
    end_s: float
    process: str
    channel: Channel
    arrivals: float
    handling_time_s: float

    @property
    def rate(self) -> float:
        """Arrivals per second."""
        return self.arrivals / (self.end_s - self.start_s)


@dataclass(frozen=True, slots=True)
class Shift:
    """One agent logged in from ``start_s`` to ``end_s`` serving ``channels``.

    ``channels`` None: the channels of the agent's skill-matrix row.
    """

    agent_id: str
    start_s: float
    end_s: float
    channels: frozenset[Channel] | None = None


@dataclass(frozen=True, slots=True)
class CallbackOffer:
    """Rule 7: when the estimated wait exceeds ``threshold_s``, ``share`` of callers take a callback."""

    threshold_s: float = 120.0
    share: float = 0.5


@dataclass(frozen=True, slots=True)
class Ringing:
    """How offers are picked up: after ``answer_delay_s``; with ``no_answer_probability``
    the agent does not pick up (ring-no-answer, rule 5), the core's timer requeues the
    contact and the agent is back ``back_after_s`` later."""

    answer_delay_s: float = 0.0
    no_answer_probability: float = 0.0
    back_after_s: float = 60.0


@dataclass(frozen=True, slots=True)
class Scenario:
    """Everything one simulated run needs.

    - ``arrivals``: the forecast as Poisson intervals per process and channel.
    - ``handling``: the distribution kind for handling times (their mean is the interval's AHT).
    - ``patience``: per live channel, the mean patience of a waiting citizen
      (exponential, as in Erlang A); a channel absent here: infinite patience.
    - ``schedule``: the agents' shifts; None: every agent of the matrix, all day.
    - ``level_factors``: handling-time multiplier by the level of the agent who serves
      (e.g. ``{1: 1.3}``: a trainee takes 30 % longer); a level absent here: 1.
    - ``warmup_s``: contacts arriving before this are routed but left out of the results.
    - ``close_s``: the simulation stops here (contacts still open are counted as such);
      None: after the last shift, or when everything ended if there is no schedule.
    """

    catalogue: Catalogue
    matrix: SkillMatrix
    arrivals: tuple[ArrivalInterval, ...]
    policy: RoutingPolicy = field(default_factory=RoutingPolicy)
    handling: str = "exponential"
    handling_cv: float = 0.8
    patience: dict[Channel, float] = field(default_factory=dict)
    schedule: tuple[Shift, ...] | None = None
    callback: CallbackOffer | None = None
    ringing: Ringing = field(default_factory=Ringing)
    level_factors: dict[int, float] = field(default_factory=dict)
    warmup_s: float = 0.0
    close_s: float | None = None

    @property
    def start_s(self) -> float:
        """The start of the first arrival interval (or shift)."""
        starts = [a.start_s for a in self.arrivals]
        if self.schedule:
            starts += [s.start_s for s in self.schedule]
        return min(starts, default=0.0)

    @property
    def end_s(self) -> float:
        """When the simulation stops (``math.inf``: when every contact has ended)."""
        if self.close_s is not None:
            return self.close_s
        if self.schedule:
            return max(s.end_s for s in self.schedule)
        return math.inf
