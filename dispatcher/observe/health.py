"""Health: is the process alive, and is each outside part it needs reachable (AMI, Redis, SQL)?"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

CHECK_TIMEOUT_S = 1.0


@dataclass
class Probes:
    """The outside parts and how to ask each whether it answers."""

    ami_up: Callable[[], bool]
    redis: Redis
    engine: AsyncEngine
    written_seq: Callable[[], int]
    """The number of the last event the store wrote to the Redis stream."""
    meta_key: str
    """The Redis hash where the history writer records how far SQL got (``history_seq``)."""
    last: dict[str, bool] = field(default_factory=dict)
    history_lag: int | None = None

    async def _redis(self) -> bool:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            await self.redis.ping()
            raw = await self.redis.hget(self.meta_key, "history_seq")
        self.history_lag = max(0, self.written_seq() - int(raw or 0))
        return True

    async def _sql(self) -> bool:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        return True

    async def check(self) -> dict[str, bool]:
        """Ask each part now (one second at most each, in parallel): name -> up."""

        async def guarded(name: str, probe: Callable[[], Awaitable[bool]]) -> bool:
            try:
                return await probe()
            except Exception as exc:  # an unreachable part, whatever the driver raises
                if self.last.get(name, True):
                    log.warning("health: %s is down (%s: %s)", name, type(exc).__name__, exc)
                return False

        redis_up, sql_up = await asyncio.gather(guarded("redis", self._redis), guarded("sql", self._sql))
        self.last = {"ami": self.ami_up(), "redis": redis_up, "sql": sql_up}
        return dict(self.last)
