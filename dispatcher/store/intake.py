"""Exactly-once intake: input events from producers that outlive the dispatcher.

Producers (a load generator, or adapters running in their own process)
``XADD`` input events to the intake stream. The dispatcher reads it from the
last applied id, applies each event and tags its batch with the intake id;
the store writes that id in the same transaction as the batch's events. A
restarted dispatcher resumes right after the last id whose effects reached
Redis: no input is skipped, none is applied twice.
"""

from __future__ import annotations

import asyncio
import logging

from redis.asyncio import Redis

from dispatcher import events as ev
from dispatcher.events import Event
from dispatcher.service import Dispatcher
from dispatcher.store.keys import read_new, stream_order
from dispatcher.store.live import OUTAGE_ERRORS, RedisStore

log = logging.getLogger(__name__)


async def publish(redis: Redis, intake_key: str, *events: Event) -> list[str]:
    """Append input events to the intake stream; returns their intake ids."""
    pipe = redis.pipeline(transaction=False)
    for event in events:
        pipe.xadd(intake_key, {"ev": ev.dumps(event)})
    return [i.decode() if isinstance(i, bytes) else i for i in await pipe.execute()]


class IntakeReader:
    """Feeds the intake stream into a dispatcher, tagging each batch for the store."""

    def __init__(self, dispatcher: Dispatcher, store: RedisStore, after: str, block_ms: int = 50) -> None:
        self.dispatcher = dispatcher
        self.store = store
        self.last = after
        self.block_ms = block_ms
        self.applied = 0
        self.malformed = 0

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Read and apply until ``stop`` (waits and retries while Redis is down).

        Stopping is by the event, checked between two short blocking reads, not
        by cancelling: a cancelled XREAD can leave redis-py waiting on its socket.
        """
        key = self.store.keys.intake
        stop = stop or asyncio.Event()
        while not stop.is_set():
            try:
                found = await read_new(self.store.redis, key, self.last, 1000, self.block_ms)
            except OUTAGE_ERRORS as exc:
                log.warning("intake unreachable: %s", exc)
                await asyncio.sleep(0.2)
                continue
            for intake_id, fields in found:
                text = intake_id.decode()
                if stream_order(text) > stream_order(self.last):  # not one a producer already handed in (``take``)
                    self.apply(text, fields.get(b"ev", b""))

    def take(self, intake_id: str, previous_id: str, line: bytes) -> bool:
        """Apply an entry its producer just added, at once, if the one before it is the last applied.

        A kiosk's ticket is then decided without waiting for the next read of the
        stream; the order of the intake, and exactly-once, are kept: the entry is
        applied only right after its predecessor, and the read skips it later.
        """
        if self.last != previous_id:
            return False
        self.apply(intake_id, line)
        return True

    def apply(self, intake_id: str, line: bytes) -> None:
        """Apply one intake entry (a malformed one is logged and skipped, its id still consumed)."""
        self.last = intake_id
        try:
            event = ev.loads(line)
        except ValueError as exc:
            self.malformed += 1
            log.error("intake %s skipped: %s", intake_id, exc)
            return
        if not event.is_input:
            self.malformed += 1
            log.error("intake %s skipped: %s is not an input event", intake_id, event.kind)
            return
        self.store.source = intake_id
        self.dispatcher.submit(event)
        self.applied += 1
