"""The event loop in virtual time around the real routing core.

The engine plays the outside world of ``dispatcher.router.Router``: citizens
arrive, agents log in and out on their shifts, pick up offers (or let them
ring out), finish their contacts; callers hang up when their patience runs out
or take a callback when the announced wait is long. Every one of these is sent
to the core as the same input event the live dispatcher would send, and the
core's decisions (offers, requeues, ends, agent states) drive what happens
next. Time is virtual: the loop jumps from one event to the next.

The loop is kept lean for speed: one heap of ``(time, seq, kind, payload)``
tuples, the pre-sorted arrivals merged in without going through the heap, and
the core's own timers (ring-no-answer, wrap-up, relaxation, expiry) woken with
``TimePassed`` exactly when ``next_timer_at()`` says.
"""

from __future__ import annotations

import gc
import heapq
import math
from collections.abc import Callable
from typing import Any, Final

from dispatcher import events as ev
from dispatcher.events import AgentState, Event, Outcome
from dispatcher.router import Router
from simulations.draws import Draws, draw
from simulations.model import Scenario
from simulations.results import RunResult, tally
from skills.model import Channel

_ANSWER: Final = 0
_COMPLETE: Final = 1
_ABANDON: Final = 2
_LOGIN: Final = 3
_LOGOUT: Final = 4
_BACK: Final = 5

_NO_ANSWER: Final = ev.DeclineReason.NO_ANSWER.value
_PAUSED: Final = AgentState.PAUSED
_SERVED: Final = Outcome.SERVED
PROGRESS_EVERY: Final = 20_000
"""Events between two calls of the progress callback."""

Progress = Callable[[float], None]
"""Called now and then with the share of the day simulated (0..1)."""


class AgentClock:
    """Seconds an agent spent in each state after the warm-up, and contacts served."""

    def __init__(self) -> None:
        self.state = AgentState.OFFLINE
        self.since = 0.0
        self.seconds: dict[AgentState, float] = {}
        self.served = 0

    def move(self, state: AgentState, at: float, warmup: float) -> None:
        """The agent entered ``state`` at ``at``."""
        start = max(warmup, self.since)
        if at > start:
            self.seconds[self.state] = self.seconds.get(self.state, 0.0) + (at - start)
        self.state, self.since = state, at


class Engine:
    """One replication: the scenario's draws through a fresh routing core."""

    def __init__(self, scenario: Scenario, draws: Draws, inputs: list[Event] | None = None) -> None:
        """``inputs``, if given, collects every input event sent to the core, in order."""
        if scenario.policy.wrap_up_s is None:
            raise ValueError(
                "a simulation needs a wrap-up of so many seconds (0 for none), not a manual one"
            )
        self.scenario = scenario
        self.draws = draws
        self.router = Router(scenario.catalogue, scenario.matrix, scenario.policy)
        self.inputs = inputs
        n = len(draws)
        self.index: dict[str, int] = {cid: i for i, cid in enumerate(draws.contact_ids)}
        self.contact_ids: list[str] = draws.contact_ids + [""] * n
        self.answered_at: list[float] = [math.nan] * (2 * n)
        self.outcome: list[Outcome | None] = [None] * (2 * n)
        self.token: list[int] = [0] * (2 * n)
        self.clocks: dict[str, AgentClock] = {a: AgentClock() for a in scenario.matrix.agents}
        self.on_shift: dict[str, int] = dict.fromkeys(scenario.matrix.agents, 0)
        self.handling_s: list[float] = draws.handling_s + draws.handling_s
        self.no_answers: list[int] = draws.no_answers + draws.no_answers
        self.rejected: list[ev.Rejected] = []
        self.events = 0
        self._heap: list[tuple[float, int, int, Any]] = []
        self._seq = 0
        self._answers: list[tuple[int, str, float, int]] = []
        self._level_factors = scenario.level_factors
        self._timer_at: float | None = None
        self._warmup = scenario.warmup_s
        ringing = scenario.ringing
        self._answer_delay = ringing.answer_delay_s
        self._back_after = ringing.back_after_s
        self._rona = ringing.no_answer_probability > 0
        self._rona_channels = frozenset(
            c for c, t in scenario.policy.offer_timeout_s.items() if t is not None
        )

    # -------------------------------------------------------------- loop

    def run(self, progress: Progress | None = None) -> RunResult:
        """Simulate the day; return its figures.

        The cyclic garbage collector is paused during the loop: the loop makes
        millions of short-lived objects but almost no reference cycles (a few
        hundred in a run of 200,000 contacts), so its passes over the growing
        heap would cost about a tenth of the run for nothing.
        """
        collecting = gc.isenabled()
        gc.disable()
        try:
            return self._run(progress)
        finally:
            if collecting:
                gc.enable()

    def _run(self, progress: Progress | None) -> RunResult:
        self._schedule_shifts()
        draws = self.draws
        arrival_s, heap = draws.arrival_s, self._heap
        n = len(arrival_s)
        end = self.scenario.end_s
        start = self.scenario.start_s
        span = (end if math.isfinite(end) else (arrival_s[-1] if n else start)) - start
        ai = 0
        inf = math.inf
        now = start
        while True:
            t_arrival = arrival_s[ai] if ai < n else inf
            t_heap = heap[0][0] if heap else inf
            timer = self._timer_at
            t_timer = timer if timer is not None else inf
            if t_timer <= t_arrival and t_timer <= t_heap:
                if t_timer == inf or t_timer > end:
                    break
                now = t_timer
                self._apply(ev.TimePassed(at=now))
                continue
            if t_arrival <= t_heap:
                if t_arrival > end:
                    break
                now = t_arrival
                self._arrive(ai, now)
                ai += 1
            else:
                if t_heap > end:
                    break
                now, _seq, kind, payload = heapq.heappop(heap)
                if kind == _COMPLETE:
                    self._complete(payload, now)
                elif kind == _ABANDON:
                    self._abandon(payload, now)
                elif kind == _ANSWER:
                    self._answer(payload, now)
                elif kind == _LOGIN:
                    self._login(payload, now)
                elif kind == _LOGOUT:
                    self._logout(payload, now)
                else:
                    self._back(payload, now)
            self.events += 1
            if progress is not None and self.events % PROGRESS_EVERY == 0 and span > 0:
                progress(min(1.0, (now - start) / span))
        close = now if not math.isfinite(end) else end
        if progress is not None:
            progress(1.0)
        return tally(self, close)

    def _push(self, at: float, kind: int, payload: Any) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (at, self._seq, kind, payload))

    def _schedule_shifts(self) -> None:
        schedule = self.scenario.schedule
        if schedule is None:
            start = self.scenario.start_s
            for agent_id in self.scenario.matrix.agents:
                self._push(start, _LOGIN, (agent_id, None))
            return
        for shift in sorted(schedule, key=lambda s: (s.start_s, s.agent_id)):
            self._push(shift.start_s, _LOGIN, (shift.agent_id, shift.channels))
            self._push(shift.end_s, _LOGOUT, shift.agent_id)

    # ---------------------------------------------------- the core's I/O

    def _apply(self, event: Event) -> None:
        """Send one input to the core and react to its decisions."""
        if self.inputs is not None:
            self.inputs.append(event)
        router = self.router
        outs = router.handle(event)
        self._timer_at = router.next_timer_at()
        token, index, clocks = self.token, self.index, self.clocks
        for out in outs:
            if isinstance(out, ev.AgentStateChanged):
                at = out.at
                clocks[out.agent_id].move(out.state, at, self._warmup)
                if out.state is _PAUSED and out.reason == _NO_ANSWER:
                    self._push(at + self._back_after, _BACK, out.agent_id)
            elif isinstance(out, ev.ContactOffered):
                self._offered(out)
            elif isinstance(out, ev.ContactEnded):
                i = index[out.contact_id]
                self.outcome[i] = out.outcome
                token[i] += 1
                if out.outcome is _SERVED and out.agent_id:
                    clocks[out.agent_id].served += 1
            elif isinstance(out, ev.ContactRequeued):
                token[index[out.contact_id]] += 1
            elif isinstance(out, ev.Rejected):
                self.rejected.append(out)
        answers = self._answers
        if answers:
            ready = answers[:]
            answers.clear()
            for i, agent_id, at, level in ready:
                self._answered(i, agent_id, at, level)

    def _offered(self, out: ev.ContactOffered) -> None:
        i = self.index[out.contact_id]
        self.token[i] += 1
        if self._rona and out.channel in self._rona_channels and self.no_answers[i]:
            self.no_answers[i] -= 1
            return
        if self._answer_delay > 0:
            payload = (i, out.agent_id, self.token[i], out.level)
            self._push(out.at + self._answer_delay, _ANSWER, payload)
        else:
            self._answers.append((i, out.agent_id, out.at, out.level))

    def _answered(self, i: int, agent_id: str, now: float, level: int) -> None:
        self._apply(ev.OfferAnswered(at=now, contact_id=self.contact_ids[i], agent_id=agent_id))
        if math.isnan(self.answered_at[i]):  # the first pick-up (RONA may offer again)
            self.answered_at[i] = now
        handling = self.handling_s[i]
        if self._level_factors:
            handling *= self._level_factors.get(level, 1.0)
        self._seq += 1
        heapq.heappush(self._heap, (now + handling, self._seq, _COMPLETE, i))

    # ---------------------------------------------------------- events

    def _arrive(self, i: int, now: float) -> None:
        draws = self.draws
        channel = draws.channel[i]
        process = draws.process[i]
        callback = self.scenario.callback
        wants_callback = (
            callback is not None
            and channel is Channel.PHONE
            and draws.callback_u[i] < callback.share
            and self.router.estimated_wait(process, channel, now) > callback.threshold_s
        )
        cid = draws.contact_ids[i]
        self._apply(ev.ContactArrived(at=now, contact_id=cid, channel=channel, process=process))
        patience = draws.patience_s[i]
        if patience != math.inf:
            self._push(now + patience, _ABANDON, i)
        if wants_callback and self.token[i] == 0 and self.outcome[i] is None:
            j = i + len(draws)
            callback_id = cid + "-cb"
            self.contact_ids[j] = callback_id
            self.index[callback_id] = j
            self._apply(ev.CallbackRequested(at=now, contact_id=cid, callback_id=callback_id))

    def _answer(self, payload: tuple[int, str, int, int], now: float) -> None:
        i, agent_id, token, level = payload
        if self.token[i] == token:
            self._answered(i, agent_id, now, level)

    def _complete(self, i: int, now: float) -> None:
        self._apply(ev.ContactCompleted(at=now, contact_id=self.contact_ids[i]))

    def _abandon(self, i: int, now: float) -> None:
        if self.outcome[i] is None and math.isnan(self.answered_at[i]):
            self._apply(ev.ContactAbandoned(at=now, contact_id=self.contact_ids[i]))

    def _login(self, payload: tuple[str, frozenset[Channel] | None], now: float) -> None:
        agent_id, channels = payload
        self.on_shift[agent_id] += 1
        agent = self.router.agents[agent_id]
        if channels is None:  # the shift serves the channels of the agent's matrix row
            channels = self.scenario.matrix.agents[agent_id].channels
        if channels != agent.channels:
            self._apply(
                ev.AgentProfileChanged(
                    at=now,
                    agent_id=agent_id,
                    skills=dict(agent.skills),
                    channels=tuple(sorted(channels, key=lambda c: c.value)),
                )
            )
        self._apply(ev.AgentStatusSet(at=now, agent_id=agent_id, state=AgentState.AVAILABLE))

    def _logout(self, agent_id: str, now: float) -> None:
        self.on_shift[agent_id] -= 1
        if self.on_shift[agent_id] == 0:
            self._apply(ev.AgentStatusSet(at=now, agent_id=agent_id, state=AgentState.OFFLINE))

    def _back(self, agent_id: str, now: float) -> None:
        """The agent who let an offer ring out is ready again (if still on shift)."""
        if self.on_shift[agent_id] and self.router.agents[agent_id].state is AgentState.PAUSED:
            self._apply(ev.AgentStatusSet(at=now, agent_id=agent_id, state=AgentState.AVAILABLE))


def simulate(scenario: Scenario, seed: int, progress: Progress | None = None) -> RunResult:
    """One replication of ``scenario`` with the random streams of ``seed``."""
    result = Engine(scenario, draw(scenario, seed)).run(progress)
    result.seed = seed
    return result
