"""Redis key names of one Guichet site, and the client factory."""

from __future__ import annotations

from dataclasses import dataclass

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
        """Hash: ``last_seq`` written, ``intake_applied`` id, ``snapshot_upto``, ``history_seq`` (in SQL)."""
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
