"""A simulated town hall: citizens calling the fake Asterisk at a given rate.

``CallTraffic`` places calls (a Poisson stream), each with its keys for the
IVR, its patience on hold and its conversation time, and keeps the fate of
every caller (served, abandoned, still on the line) to check the dispatcher
against. It runs on any ``Scheduler``: the asyncio loop (the embedded town
hall, in real time) or ``VirtualClock`` (the AMI benchmark, as fast as the
dispatcher reads, ``run_virtual``).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from dispatcher.fake_asterisk.agi import ScriptedAgi
from dispatcher.fake_asterisk.pbx import PBX, CallScript, Chan


class _Timer:
    __slots__ = ("cancelled",)

    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class VirtualClock:
    """A ``Scheduler`` whose time moves only when ``step`` runs the next timer."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.start = start
        self.t = start
        self._heap: list[tuple[float, int, _Timer, Callable[..., Any], tuple[Any, ...]]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self.t

    @property
    def elapsed(self) -> float:
        return self.t - self.start

    def call_later(self, delay: float, fn: Callable[..., Any], *args: Any) -> _Timer:
        timer = _Timer()
        heapq.heappush(self._heap, (self.t + max(0.0, delay), next(self._seq), timer, fn, args))
        return timer

    def next_at(self) -> float | None:
        heap = self._heap
        while heap and heap[0][2].cancelled:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def step(self) -> bool:
        """Run the next timer (advancing the time to it); False when none is left."""
        if self.next_at() is None:
            return False
        at, _, _timer, fn, args = heapq.heappop(self._heap)
        self.t = max(self.t, at)
        fn(*args)
        return True


@dataclass
class Fate:
    """What happened to one caller, as the PBX saw it."""

    uniqueid: str
    placed_at: float
    bridged: int = 0
    ended_at: float | None = None

    @property
    def outcome(self) -> str:
        if self.ended_at is None:
            return "active"
        return "served" if self.bridged else "abandoned"


@dataclass
class CallTraffic:
    """Citizens calling at ``rate`` per second, qualified by a scripted IVR (no FastAGI server)."""

    pbx: PBX
    rate: float
    processes: Sequence[str]
    talk_time: tuple[float, float] = (2.0, 6.0)
    patience: tuple[float, float] = (60.0, 240.0)
    ivr_step: float = 0.4
    seed: int = 1
    fates: dict[str, Fate] = field(default_factory=dict)
    running: bool = False

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.pbx.agi_runner = self._scripted_ivr
        self.pbx.on_bridge = self._bridge

    def start(self) -> None:
        self.running = True
        self._schedule_next()

    def stop(self) -> None:
        self.running = False

    def _schedule_next(self) -> None:
        if self.running:
            self.pbx.sched.call_later(self.rng.expovariate(self.rate), self._arrive)

    def _arrive(self) -> None:
        if not self.running:
            return
        self._schedule_next()
        rng = self.rng
        number = f"06{rng.randrange(10**8):08d}"
        script = CallScript(
            dtmf=[str(rng.randrange(1, 8)), str(rng.randrange(1, 4))],
            patience=rng.uniform(*self.patience),
            talk_time=rng.uniform(*self.talk_time),
        )
        chan = self.pbx.incoming(
            number, rng.choice(("Hélène Lefèvre", "Gaëlle Martin", "Jérôme Dubois")), "100", script
        )
        self.fates[chan.uniqueid] = Fate(chan.uniqueid, self.pbx.sched.now())
        chan.on_end = self._ended

    def _ended(self, chan: Chan) -> None:
        fate = self.fates.get(chan.uniqueid)
        if fate is not None:
            fate.ended_at = self.pbx.sched.now()

    def _bridge(self, chan: Chan, leg: Chan) -> None:
        fate = self.fates.get(chan.uniqueid)
        if fate is not None:
            fate.bridged += 1

    def _scripted_ivr(self, chan: Chan, url: str) -> None:
        process = self.rng.choice(self.processes)
        keys = chan.script.dtmf if chan.script is not None else []
        commands = ["ANSWER", 'SET VARIABLE CHANNEL(language) "fr"']
        commands += ["GET DATA guichet/menu 5000 1" for _ in keys]
        commands += [
            'SET VARIABLE GUICHET_LANG "fr"',
            f'SET VARIABLE GUICHET_PROCESS "{process}"',
            'STREAM FILE guichet/attente-courte ""',
            'STREAM FILE guichet/patientez ""',
        ]
        ScriptedAgi(self.pbx, chan, commands, self.ivr_step).start()

    @property
    def active(self) -> int:
        return sum(1 for f in self.fates.values() if f.ended_at is None)


async def run_virtual(
    clock: VirtualClock,
    until: float,
    *,
    speed: float | None = None,
    backpressure: Callable[[], Any] | None = None,
    at: Sequence[tuple[float, Callable[[], Any]]] = (),
    stop_when: Callable[[], bool] | None = None,
) -> None:
    """Run the virtual clock to ``until`` seconds after its start.

    ``speed``: at most that many virtual seconds per wall second (None: as
    fast as ``backpressure`` allows; it is awaited every few steps and should
    wait while the AMI reader is behind). ``at``: callbacks at given virtual
    seconds (e.g. cutting the AMI link). ``stop_when``: end early once true.
    """
    actions = sorted(at, key=lambda pair: pair[0])
    wall0 = time.perf_counter()
    steps = 0
    while True:
        nxt = clock.next_at()
        if nxt is None or nxt - clock.start > until:
            break
        while actions and actions[0][0] <= nxt - clock.start:
            actions.pop(0)[1]()
        if speed is not None:
            ahead = (nxt - clock.start) / speed - (time.perf_counter() - wall0)
            if ahead > 0.002:
                await asyncio.sleep(min(ahead, 0.02))
                continue
        clock.step()
        steps += 1
        if steps % 32 == 0:
            if backpressure is not None:
                await backpressure()
            else:
                await asyncio.sleep(0)
            if stop_when is not None and stop_when():
                break
