"""Login rate limit: failures counted in Redis per name and per source address."""

from __future__ import annotations

from redis.asyncio import Redis


class LoginLimiter:
    """At most ``per_name`` failures per account and ``per_source`` per address in ``window_s``.

    The counters live in Redis with the window as expiry, so every server of a
    site shares them and a restart forgives nothing.
    """

    def __init__(
        self, redis: Redis, prefix: str = "guichet", *, per_name: int = 5, per_source: int = 30,
        window_s: int = 900,
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.per_name = per_name
        self.per_source = per_source
        self.window_s = window_s

    def _keys(self, username: str, source: str) -> tuple[str, str]:
        return f"{self.prefix}:login_fail:name:{username}", f"{self.prefix}:login_fail:source:{source}"

    async def retry_after(self, username: str, source: str) -> int:
        """Seconds until a login may be tried again (0: now)."""
        by_name, by_source = self._keys(username, source)
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in (by_name, by_source):
                pipe.get(key)
                pipe.ttl(key)
            name_n, name_ttl, source_n, source_ttl = await pipe.execute()
        wait = 0
        if name_n is not None and int(name_n) >= self.per_name:
            wait = max(wait, int(name_ttl))
        if source_n is not None and int(source_n) >= self.per_source:
            wait = max(wait, int(source_ttl))
        return max(wait, 0)

    async def failed(self, username: str, source: str) -> None:
        """Count one failed login."""
        async with self.redis.pipeline(transaction=True) as pipe:
            for key in self._keys(username, source):
                pipe.set(key, 0, ex=self.window_s, nx=True)
                pipe.incr(key)
            await pipe.execute()

    async def succeeded(self, username: str) -> None:
        """A right password forgives the account's failures (not the address's)."""
        await self.redis.delete(self._keys(username, "")[0])
