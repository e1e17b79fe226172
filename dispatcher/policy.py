"""The routing policy: every configurable default of routing rules 1-7."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from mypy_extensions import mypyc_attr

from skills.model import TRAINEE, Channel


class Strategy(str, Enum):
    """How to choose among several free agents for one contact (rule 3)."""

    MOST_SUITABLE = "most_suitable"
    """Highest level for the process, then the agent idle longest."""
    FEWEST_SKILLS = "fewest_skills"
    """The agent with the fewest skills first, to keep scarce experts free."""
    LEAST_OCCUPIED = "least_occupied"
    """The agent with the lowest occupancy since logging in, to balance the load."""


def _offer_timeouts() -> dict[Channel, float | None]:
    return {
        Channel.PHONE: 20.0,
        Channel.CALLBACK: 30.0,
        Channel.COUNTER: None,
        Channel.EMAIL: None,
        Channel.WEBFORM: None,
        Channel.MAIL: None,
    }


def _max_waits() -> dict[Channel, float | None]:
    return {channel: None for channel in Channel} | {Channel.COUNTER: 8 * 3600.0}


@mypyc_attr(native_class=False)  # frozen: pickled as a plain dataclass
@dataclass(frozen=True, slots=True)
class RoutingPolicy:
    """Knobs of the routing core; the defaults follow DESIGN.md.

    - ``strategy``: agent selection when several agents are free (rule 3).
    - ``offer_timeout_s``: ring-no-answer delay per channel (rule 5); None: no timer
      (the counter agent says "no-show", a written contact stays with its agent).
    - ``relaxed_level``: the level a contact accepts once past its overflow delay (rule 4).
    - ``fallback_after_overflows``: a contact still waiting after this many overflow
      delays goes to its process's fallback group (the generalist triage skill), with
      its arrival time kept (rule 4's "wider group"); None: never.
    - ``wrap_up_s``: after-contact work before the agent is available again; None: manual.
    - ``callback_deadline_s``: how long the town has to honour a callback (rule 7: 24-48 h).
    - ``max_wait_s``: a contact still waiting after this long ends ``expired`` (e.g. counter
      tickets left at closing time); None: never.
    - ``batch_assignment``: assign several freed agents at once optimally (rule 3).
    - ``busy_backoff_s``: after a ``busy`` decline (486 Busy Here, do-not-disturb) the agent
      gets no call (phone, callback) for this long, whatever its device state says
      meanwhile; then its softphone is as the last ``EndpointChanged`` said.
    - ``no_answer_unpause_s``: an agent paused ``no_answer`` by ring-no-answer is available
      again after this long; None: it stays paused until it says it is ready.
    - ``ended_window``: how many ended contact ids the core remembers to refuse a duplicate
      (it keeps at least the last half of them): memory stays flat over a long day.
    - ``late_timer_s``: a timer the core learns is due more than this late (no input or
      ``TimePassed`` meanwhile: a restart, an outage) fires, with every other one due, at the
      time given, not at its due time, so that it starts nothing in the past (no offer
      stamped before the restart, then paused for not ringing); None: always at its due time.
    """

    strategy: Strategy = Strategy.MOST_SUITABLE
    offer_timeout_s: dict[Channel, float | None] = field(default_factory=_offer_timeouts)
    relaxed_level: int = TRAINEE
    fallback_after_overflows: float | None = 2.0
    wrap_up_s: float | None = 10.0
    callback_deadline_s: float = 48 * 3600.0
    max_wait_s: dict[Channel, float | None] = field(default_factory=_max_waits)
    batch_assignment: bool = True
    busy_backoff_s: float = 30.0
    no_answer_unpause_s: float | None = None
    ended_window: int = 20_000
    late_timer_s: float | None = None
