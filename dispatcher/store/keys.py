"""Redis key names of one Guichet site, and the client factory."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff


@dataclass(frozen=True, slots=True)
class Keys:
    """The keys under one prefix (tests and several sites can share a server)."""

    prefix: str = "guichet"

    @property
    def events(self) -> str:
        """Stream of every routing event, inputs and decisions; ids ``N-0``, N the event number."""
        return f"{self.prefix}:events"

    @property
    def intake(self) -> str:
        """Stream of input events written by producers that outlive the dispatcher."""
        return f"{self.prefix}:intake"

    @property
    def waiting(self) -> str:
        """Hash contact id -> JSON of each waiting contact (live view)."""
        return f"{self.prefix}:waiting"

    @property
    def agents(self) -> str:
        """Hash agent id -> JSON of each agent's state (live view)."""
        return f"{self.prefix}:agents"

    @property
    def meta(self) -> str:
        """Hash: ``last_seq`` written, ``intake_applied`` id, ``snapshot_upto``, ``checkpoint_ms``,
        ``history_seq`` (in SQL)."""
        return f"{self.prefix}:meta"

    @property
    def snapshot(self) -> str:
        """String: the last checkpoint of the router (``snapshot.take``)."""
        return f"{self.prefix}:snapshot"


def connect(url: str) -> Redis:
    """A client that fails fast during an outage: the store handles outages itself.

    One immediate retry replaces a pooled connection the server closed while
    it was down; a stream write retried after a lost reply is recognised by
    its event ids, so the retry cannot duplicate anything.
    """
    return Redis.from_url(
        url,
        retry=Retry(NoBackoff(), 1),
        socket_connect_timeout=1.0,
        socket_timeout=5.0,
        health_check_interval=0,
    )


def event_id(seq: int) -> str:
    """The stream id of event number ``seq``."""
    return f"{seq}-0"


def seq_of(stream_id: bytes | str) -> int:
    """The event number of a stream id."""
    text = stream_id.decode() if isinstance(stream_id, bytes) else stream_id
    return int(text.partition("-")[0])


def stream_order(stream_id: str) -> tuple[int, int]:
    """A stream id (``"1733133600123-4"``) as a pair that sorts as Redis orders entries."""
    ms, _, seq = stream_id.partition("-")
    return int(ms), int(seq or 0)


Entry = tuple[bytes, dict[bytes, bytes]]
"""One stream entry: its id and its fields."""


async def read_range(redis: Redis, key: str, after: str | None = None, count: int | None = None) -> list[Entry]:
    """Entries of a stream after the id ``after`` (all from the start when None), oldest first."""
    start = "-" if after is None else f"({after}"
    return cast(list[Entry], await redis.xrange(key, min=start, max="+", count=count))


async def read_new(redis: Redis, key: str, after: str, count: int, block_ms: int | None = None) -> list[Entry]:
    """Entries after ``after``, waiting up to ``block_ms`` for the first one (XREAD)."""
    found: Any = await redis.xread({key: after}, count=count, block=block_ms)
    return [entry for _stream, entries in found or [] for entry in entries]


async def last_id(redis: Redis, key: str) -> bytes | None:
    """The id of the newest entry of a stream, or None when it is empty."""
    top: Any = await redis.xrevrange(key, count=1)
    return top[0][0] if top else None
