"""The pages' parts opened for a running server (accounts on the history database, probes)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable

from aiohttp import web
from redis.asyncio import ConnectionPool, Redis

from dispatcher.history.live_stats import LiveStats
from dispatcher.history.writer import engine_for
from dispatcher.observe.health import Probes
from dispatcher.pages.setup import PagesParts, install
from dispatcher.people.accounts import Accounts
from dispatcher.people.sessions import SessionPolicy
from dispatcher.store.runtime import Live
from skills.model import SkillMatrix


def people_redis(store: Redis, size: int = 512) -> Redis:
    """A client of the same Redis for sessions and logins, with a pool of its own.

    200 wallboards opening at once must not fail for want of a connection,
    and must never take the connections the live store writes with.
    """
    pool = store.connection_pool
    return Redis(connection_pool=ConnectionPool(
        connection_class=pool.connection_class, max_connections=size, **pool.connection_kwargs
    ))


def softphones(
    matrix: SkillMatrix, ami_up: Callable[[], bool], reachable: Callable[[str], bool | None]
) -> Callable[[str], str]:
    """An agent's softphone as Asterisk last reported it (``reachable(endpoint)``; None: not yet said)."""

    def softphone(agent_id: str) -> str:
        profile = matrix.agents.get(agent_id)
        if profile is None or not profile.endpoint:
            return "none"
        if not ami_up():
            return "link_down"
        known = reachable(profile.endpoint)
        return "unknown" if known is None else "ready" if known else "unreachable"

    return softphone


@contextlib.asynccontextmanager
async def open_pages(
    app: web.Application,
    live: Live,
    stats: LiveStats,
    matrix: SkillMatrix,
    database_url: str,
    ami_up: Callable[[], bool],
    reachable: Callable[[str], bool | None] = lambda _endpoint: None,
    policy: SessionPolicy | None = None,
) -> AsyncIterator[PagesParts]:
    """Install the pages on ``app`` (built by ``make_app``); their SQL engine closes on exit.

    ``database_url`` must already be migrated (``open_site`` does it).
    """
    engine = engine_for(database_url)
    redis = people_redis(live.redis)
    probes = Probes(
        ami_up=ami_up, redis=redis, engine=engine,
        written_seq=lambda: live.store.written_seq, meta_key=live.store.keys.meta,
    )
    parts = PagesParts(Accounts(engine), redis, stats, matrix, probes, policy or SessionPolicy(),
                       softphone=softphones(matrix, ami_up, reachable))
    install(app, parts)
    try:
        yield parts
    finally:
        await redis.aclose()
        await engine.dispose()
