"""The Redis sink of the dispatcher: event stream, live hashes, checkpoints.

``RedisStore.sink`` is a Dispatcher sink: it only appends the batch
``[input, *decisions]`` to an in-memory buffer. A background task flushes the
buffer every few milliseconds in MULTI/EXEC pipelines, whole batches only, so
the stream never holds an input without its decisions. Each event gets the
stream id ``N-0`` (N = its number), so a flush retried after a lost reply is
recognised and never written twice. The same transaction updates the live
hashes (waiting contacts, agents), the last applied intake id and, every
``snapshot_every`` inputs, a checkpoint of the router.

While Redis is unreachable the router keeps routing, the buffer grows
(``backlog`` events, about 300 bytes each) and ``health()`` says
``degraded``; when Redis answers again the backlog is written in order.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from dispatcher import events as ev
from dispatcher.events import Event
from dispatcher.store.checkpoints import FORK_ABOVE_MS, Checkpointer, CheckpointFailed
from dispatcher.store.keys import Keys, event_id

log = logging.getLogger(__name__)

OUTAGE_ERRORS = (RedisConnectionError, RedisTimeoutError, OSError)
"""What Redis being unreachable looks like to a client."""


@dataclass(slots=True)
class _Batch:
    first: int
    lines: list[str]
    events: Sequence[Event]
    source: str | None
    snapshot: bytes | asyncio.Future[bytes] | None = None


@dataclass(slots=True)
class StoreHealth:
    """What the health endpoint reports about the live store."""

    status: str
    backlog: int
    written: int
    last_error: str | None = None
    down_since: float | None = None


def waiting_view(e: ev.ContactQueued) -> str:
    """The live view of a waiting contact (no personal data)."""
    return json.dumps(
        {"process": e.process, "channel": e.channel.value, "priority": e.priority, "arrived_at": e.arrived_at},
        separators=(",", ":"),
    )


def agent_view(e: ev.AgentStateChanged) -> str:
    """The live view of an agent's state."""
    return json.dumps(
        {"state": e.state.value, "reason": e.reason, "since": e.at, "contact_id": e.contact_id},
        separators=(",", ":"),
    )


class RedisStore:
    """Buffers the dispatcher's events and writes them to Redis in order.

    ``next_seq`` is the number of the next event (1 on a new site, the recovered
    value after a restart); ``waiting`` seeds the live view of contacts still
    waiting; ``checkpoint`` returns the router's state as JSON text, taken every
    ``snapshot_every`` inputs but not twice within ``checkpoint_min_s`` (each one
    holds routing a few ms: a busy server takes fewer, and a restart replays at most
    that span of inputs), in a forked child once one took longer than ``fork_above_ms``.
    """

    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        next_seq: int = 1,
        *,
        waiting: dict[str, str] | None = None,
        checkpoint: Callable[[], bytes] | None = None,
        snapshot_every: int = 5_000,
        checkpoint_min_s: float = 0.0,
        fork_above_ms: float = FORK_ABOVE_MS,
        max_flush: int = 5_000,
        interval: float = 0.005,
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.next_seq = next_seq
        self.checkpoint = checkpoint
        self._checkpointer = Checkpointer(checkpoint, fork_above_ms) if checkpoint is not None else None
        self.snapshot_every = snapshot_every
        self.checkpoint_min_s = checkpoint_min_s
        self._checkpoint_at = -checkpoint_min_s
        self.max_flush = max_flush
        self.interval = interval
        self.source: str | None = None
        self.written_seq = next_seq - 1
        self._buffer: deque[_Batch] = deque()
        self._backlog = 0
        self._inputs_since_snapshot = 0
        self._waiting_views: dict[str, str] = dict(waiting or {})
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._down_since: float | None = None
        self._last_error: str | None = None
        self._verify_on_reconnect = False
        self.checkpoint_ms: float | None = None
        """How long the last checkpoint held routing (ms); written to ``meta`` with it."""

    # -------------------------------------------------------------- sink

    def sink(self, batch: Sequence[Event]) -> None:
        """Dispatcher sink: number the events and queue them for writing (never blocks)."""
        first = self.next_seq
        self.next_seq += len(batch)
        item = _Batch(first, [ev.dumps(e) for e in batch], batch, self.source)
        self.source = None
        self._inputs_since_snapshot += 1
        if (
            self._checkpointer is not None
            and self._inputs_since_snapshot >= self.snapshot_every
            and time.monotonic() - self._checkpoint_at >= self.checkpoint_min_s
        ):
            self._checkpoint_at = time.monotonic()
            item.snapshot = self._checkpointer.begin()
            self.checkpoint_ms = self._checkpointer.held_ms
            self._inputs_since_snapshot = 0
        self._buffer.append(item)
        self._backlog += len(batch)
        self._idle.clear()
        if self._backlog >= self.max_flush:
            self._wake.set()

    # ------------------------------------------------------------ status

    @property
    def forked_checkpoints(self) -> int:
        """Checkpoints taken by a forked child (``dispatcher.store.checkpoints``)."""
        return self._checkpointer.forked if self._checkpointer is not None else 0

    @property
    def checkpoint_encode_ms(self) -> float | None:
        """How long encoding the last checkpoint took, in this process or a forked child."""
        return self._checkpointer.took_ms if self._checkpointer is not None else None

    @property
    def backlog(self) -> int:
        """Events not yet written to Redis."""
        return self._backlog

    def health(self) -> StoreHealth:
        """``ok``, or ``degraded`` while Redis is unreachable (routing goes on from memory)."""
        status = "ok" if self._down_since is None else "degraded"
        return StoreHealth(status, self._backlog, self.written_seq, self._last_error, self._down_since)

    # -------------------------------------------------------------- flush

    async def start(self) -> None:
        """Start the background flush task."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="guichet-redis-store")

    async def stop(self, drain: bool = True, timeout: float = 30.0) -> None:
        """Stop the flush task, first writing the backlog if ``drain`` (and Redis is up)."""
        if drain and self._task is not None:
            try:
                await asyncio.wait_for(self.drained(), timeout)
            except TimeoutError:
                log.warning("store stopped with %d events not written", self._backlog)
        task, self._task = self._task, None
        if task is not None:
            self._stopping = True
            self._wake.set()
            try:
                await asyncio.wait_for(task, 5.0)
            except (TimeoutError, asyncio.CancelledError):
                pass
            self._stopping = False

    async def drained(self) -> None:
        """Wait until every buffered event is written."""
        self._wake.set()
        await self._idle.wait()

    async def _run(self) -> None:
        delay = self.interval
        while not self._stopping:
            try:
                async with asyncio.timeout(delay):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                while self._buffer:
                    await self.flush_once()
                self._idle.set()
                if self._down_since is not None:
                    log.warning("Redis is back after %.1f s", time.time() - self._down_since)
                self._down_since, self._last_error, delay = None, None, self.interval
            except OUTAGE_ERRORS as exc:
                self._went_down(exc)
                delay = min(1.0, max(0.05, delay * 2))
            except Exception as exc:
                log.exception("store flush failed; retrying")
                self._went_down(exc)
                delay = min(1.0, max(0.05, delay * 2))

    def _went_down(self, exc: BaseException) -> None:
        if self._down_since is None:
            self._down_since = time.time()
            log.error("Redis unreachable, routing from memory: %s", exc)
        self._last_error = f"{type(exc).__name__}: {exc}"
        self._verify_on_reconnect = True

    async def flush_once(self) -> None:
        """Write the oldest whole batches, up to ``max_flush`` events, in one transaction."""
        if self._verify_on_reconnect:
            await self._skip_written()
            self._verify_on_reconnect = False
        taken: list[_Batch] = []
        count = 0
        for item in self._buffer:
            if taken and count + len(item.lines) > self.max_flush:
                break
            taken.append(item)
            count += len(item.lines)
        if not taken:
            return
        for item in taken:
            if isinstance(item.snapshot, asyncio.Future):
                try:
                    item.snapshot = await item.snapshot
                except (CheckpointFailed, OSError) as exc:
                    log.warning("checkpoint skipped (the next one is taken %d inputs later): %s", self.snapshot_every, exc)
                    item.snapshot = None
        pipe = self.redis.pipeline(transaction=True)
        waiting_set: dict[Any, Any] = {}
        waiting_del: set[str] = set()
        agents_set: dict[Any, Any] = {}
        source = None
        snapshot = None
        for item in taken:
            for offset, (line, event) in enumerate(zip(item.lines, item.events)):
                fields: dict[Any, Any] = {"ev": line}
                if offset == 0 and item.source is not None:
                    fields["src"] = item.source
                pipe.xadd(self.keys.events, fields, id=event_id(item.first + offset))
                self._live_view(event, waiting_set, waiting_del, agents_set)
            source = item.source or source
            if isinstance(item.snapshot, bytes):
                snapshot = (item.first + len(item.lines) - 1, item.snapshot)
        if waiting_del:
            pipe.hdel(self.keys.waiting, *waiting_del)
        if waiting_set:
            pipe.hset(self.keys.waiting, mapping=waiting_set)
        if agents_set:
            pipe.hset(self.keys.agents, mapping=agents_set)
        last = taken[-1].first + len(taken[-1].lines) - 1
        meta: dict[Any, Any] = {"last_seq": str(last)}
        if source is not None:
            meta["intake_applied"] = source
        if snapshot is not None:
            meta["snapshot_upto"] = str(snapshot[0])
            if self.checkpoint_ms is not None:
                meta["checkpoint_ms"] = f"{self.checkpoint_ms:.3f}"
            pipe.set(self.keys.snapshot, snapshot[1])
        pipe.hset(self.keys.meta, mapping=meta)
        await pipe.execute()
        self._done(taken, last)
        if snapshot is not None:
            await self.trim(snapshot[0])

    def _done(self, taken: list[_Batch], last: int) -> None:
        for item in taken:
            self._buffer.popleft()
            self._backlog -= len(item.lines)
        self.written_seq = last

    async def _skip_written(self) -> None:
        """After a lost reply, drop the batches Redis did apply (their ids are already there)."""
        raw = await self.redis.hget(self.keys.meta, "last_seq")
        if raw is None:
            return
        top_seq = int(raw)
        while self._buffer and self._buffer[0].first + len(self._buffer[0].lines) - 1 <= top_seq:
            item = self._buffer[0]
            self._done([item], item.first + len(item.lines) - 1)

    def _live_view(
        self, e: Event, waiting_set: dict[Any, Any], waiting_del: set[str], agents_set: dict[Any, Any]
    ) -> None:
        if isinstance(e, ev.ContactQueued):
            view = self._waiting_views[e.contact_id] = waiting_view(e)
            waiting_set[e.contact_id] = view
            waiting_del.discard(e.contact_id)
        elif isinstance(e, ev.ContactRequeued):
            found = self._waiting_views.get(e.contact_id)
            if found is not None:
                waiting_set[e.contact_id] = found
                waiting_del.discard(e.contact_id)
        elif isinstance(e, (ev.ContactOffered, ev.ContactEnded)):
            waiting_set.pop(e.contact_id, None)
            waiting_del.add(e.contact_id)
            if isinstance(e, ev.ContactEnded):
                self._waiting_views.pop(e.contact_id, None)
        elif isinstance(e, ev.AgentStateChanged):
            agents_set[e.agent_id] = agent_view(e)

    async def trim(self, snapshot_upto: int) -> None:
        """Drop event entries both covered by the checkpoint and written to the SQL history,
        and intake entries already applied (the last one stays: it marks the position)."""
        history_seq, applied = await self.redis.hmget(self.keys.meta, ["history_seq", "intake_applied"])
        if applied is not None:
            await self.redis.xtrim(self.keys.intake, minid=applied, approximate=False)
        if history_seq is None:
            return
        floor = min(snapshot_upto, int(history_seq)) + 1
        if floor > 1:
            await self.redis.xtrim(self.keys.events, minid=event_id(floor), approximate=False)
