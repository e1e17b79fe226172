"""The live dispatcher: the routing core behind a clock, with sinks for its events.

Adapters (AMI, FastAGI, kiosks, web) call ``submit`` with input events
stamped by ``clock()``; the dispatcher applies them to the core in order and
hands every event, the input then its decisions, to each sink (AMI actions,
Redis stream, SQL history, wallboard push). The core is synchronous and fast,
so ``submit`` is a plain call: no lock, no await between an input and its
decisions. A timer task sends ``TimePassed`` when the core's next timer is due.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence

from dispatcher.events import Event, TimePassed
from dispatcher.router import Router

log = logging.getLogger(__name__)

Sink = Callable[[Sequence[Event]], None]
"""Gets ``[input, *decisions]`` for every applied input; must not block."""


class Dispatcher:
    """Applies input events to a Router and fans the results out to sinks."""

    def __init__(self, router: Router, clock: Callable[[], float] = time.time) -> None:
        self.router = router
        self.clock = clock
        self._sinks: list[Sink] = []
        self._wake = asyncio.Event()
        self._timer_task: asyncio.Task[None] | None = None
        self.applied = 0

    def add_sink(self, sink: Sink) -> None:
        """Register a consumer of every ``[input, *decisions]`` batch (before the first input: see ``started``)."""
        if self.applied:
            log.error("sink %r attached after %d inputs were decided: it missed their decisions", sink, self.applied)
        self._sinks.append(sink)

    @property
    def started(self) -> bool:
        """Whether the timer task runs (every sink must be attached before)."""
        return self._timer_task is not None

    def submit(self, event: Event) -> list[Event]:
        """Apply one input event now; returns its decisions (already sent to the sinks)."""
        decisions = self.router.handle(event)
        self.applied += 1
        batch = [event, *decisions]
        for sink in self._sinks:
            try:
                sink(batch)
            except Exception:
                log.exception("sink %r failed on %s", sink, event.kind)
        self._wake.set()
        return decisions

    def tick(self) -> list[Event]:
        """Let the clock reach now: due timers fire."""
        return self.submit(TimePassed(at=self.clock()))

    async def start(self) -> None:
        """Start the timer task."""
        if self._timer_task is None:
            self._timer_task = asyncio.create_task(self._run_timers(), name="guichet-timers")

    async def stop(self) -> None:
        """Stop the timer task."""
        task, self._timer_task = self._timer_task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    async def _run_timers(self) -> None:
        while True:
            self._wake.clear()
            due = self.router.next_timer_at()
            delay = None if due is None else max(0.0, due - self.clock())
            if delay == 0.0:
                self.tick()
                continue
            try:
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow the
                # cancellation that stop() sends, and stop() would wait forever.
                async with asyncio.timeout(delay):
                    await self._wake.wait()
            except TimeoutError:
                self.tick()
