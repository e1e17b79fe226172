"""Live pushes to the pages: routing events coalesced into snapshots, sent over SSE.

A ``Broadcast`` is a dispatcher sink: a batch of events only marks it dirty
(constant time, so routing never waits for a screen). Its task then builds
one snapshot, at most every ``min_interval_s``, encodes it once and hands the
same bytes to every subscriber. A subscriber holds only the newest snapshot
not yet sent: a slow screen skips to the present instead of piling up
memory, and what it shows is always whole. ``first_event_at`` in each
snapshot is when the oldest event it covers happened, so a screen can tell
how late it is (the benchmark measures exactly that).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from aiohttp import web

from dispatcher.events import Event

log = logging.getLogger(__name__)

HEARTBEAT_S = 15.0


class Subscriber:
    """One open screen: the newest payload it has not been sent yet."""

    def __init__(self) -> None:
        self.pending: bytes | None = None
        self.closed = False
        self._ready = asyncio.Event()

    def offer(self, payload: bytes) -> None:
        self.pending = payload
        self._ready.set()

    def close(self) -> None:
        self.closed = True
        self._ready.set()

    async def next(self, timeout: float) -> bytes | None:
        """The next payload, or None after ``timeout`` (time for a heartbeat) or once closed."""
        if self.pending is None and not self.closed:
            try:
                async with asyncio.timeout(timeout):
                    await self._ready.wait()
            except TimeoutError:
                return None
        self._ready.clear()
        payload, self.pending = self.pending, None
        return payload


class Broadcast:
    """Builds one snapshot per burst of events and pushes it to every subscriber.

    Without events, a snapshot still goes out every ``refresh_s`` (waits grow).
    """

    def __init__(
        self,
        name: str,
        build: Callable[[], dict[str, Any]],
        *,
        min_interval_s: float = 0.2,
        refresh_s: float | None = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self.build = build
        self.min_interval_s = min_interval_s
        self.refresh_s = refresh_s
        self.clock = clock
        self.subscribers: set[Subscriber] = set()
        self.seq = 0
        self.published = 0
        self.latest: bytes | None = None
        self._first_event_at: float | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def sink(self, batch: Sequence[Event]) -> None:
        """Dispatcher sink: remember that something changed (and since when)."""
        if self._first_event_at is None:
            self._first_event_at = batch[0].at
        self._wake.set()

    def poke(self) -> None:
        """Something outside the event stream changed (a link went down, time went by)."""
        if self._first_event_at is None:
            self._first_event_at = self.clock()
        self._wake.set()

    def subscribe(self) -> Subscriber:
        """A new screen; it gets the latest snapshot at once."""
        subscriber = Subscriber()
        if self.latest is None:
            self.latest = self._encode(None)
        subscriber.offer(self.latest)
        self.subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)

    def _encode(self, first_event_at: float | None) -> bytes:
        self.seq += 1
        snapshot = self.build()
        snapshot["seq"] = self.seq
        snapshot["first_event_at"] = first_event_at
        data = json.dumps(snapshot, ensure_ascii=False, separators=(",", ":"))
        return f"id: {self.seq}\nevent: snapshot\ndata: {data}\n\n".encode()

    def publish(self) -> None:
        """Build and send one snapshot now; with no screen open, build nothing."""
        first, self._first_event_at = self._first_event_at, None
        if not self.subscribers:
            self.latest = None  # stale from now on: the next screen gets a fresh one at subscribe
            return
        self.latest = self._encode(first)
        self.published += 1
        for subscriber in self.subscribers:
            subscriber.offer(self.latest)

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"guichet-broadcast-{self.name}")

    async def stop(self) -> None:
        """Stop publishing; every open screen's stream ends."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        for subscriber in list(self.subscribers):
            subscriber.close()

    async def _run(self) -> None:
        last = 0.0
        while True:
            try:
                async with asyncio.timeout(self.refresh_s):
                    await self._wake.wait()
            except TimeoutError:
                pass  # nothing happened: a fresh snapshot all the same (waits and timers grow)
            wait = last + self.min_interval_s - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self._wake.clear()
            try:
                self.publish()
            except Exception:
                log.exception("broadcast %s: snapshot failed", self.name)
            last = time.monotonic()


async def stream(request: web.Request, broadcast: Broadcast) -> web.StreamResponse:
    """An SSE response carrying ``broadcast``'s snapshots until the screen leaves or the server stops."""
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )
    await response.prepare(request)
    subscriber = broadcast.subscribe()
    try:
        while not subscriber.closed:
            payload = await subscriber.next(HEARTBEAT_S)
            await response.write(payload if payload is not None else b": heartbeat\n\n")
    except ConnectionResetError:
        pass
    finally:
        broadcast.unsubscribe(subscriber)
    return response
