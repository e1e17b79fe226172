"""A real server with the pages on loopback: route table, guard, sessions in Redis, accounts in SQLite."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
from argon2 import PasswordHasher
from sqlalchemy.ext.asyncio import AsyncEngine

from dispatcher.history.live_stats import LiveStats
from dispatcher.history.migrate import upgrade
from dispatcher.history.writer import engine_for
from dispatcher.http.app import HttpServer, make_app
from dispatcher.observe.health import Probes
from dispatcher.pages.setup import PagesParts, install
from dispatcher.people.accounts import Accounts
from dispatcher.people.limiter import LoginLimiter
from dispatcher.people.roles import Role
from dispatcher.people.sessions import SessionPolicy
from dispatcher.router import Router
from dispatcher.service import Dispatcher
from dispatcher.store.keys import connect
from skills.catalogue import default_catalogue
from skills.matrix import default_matrix
from skills.model import Catalogue, SkillMatrix
from tests.http_helpers import device_tokens

FAST = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
PASSWORD = "mot de passe de test"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PEOPLE = {
    "borne": Role.KIOSK,
    "ecran": Role.DISPLAY,
    "agent1": Role.AGENT,
    "superviseur": Role.SUPERVISOR,
    "planif": Role.PLANNER,
    "admin": Role.ADMIN,
}


@dataclass
class PagesSite:
    url: str
    dispatcher: Dispatcher
    accounts: Accounts
    engine: AsyncEngine
    catalogue: Catalogue
    matrix: SkillMatrix
    parts: PagesParts


@contextlib.asynccontextmanager
async def pages_site(
    redis_url: str, prefix: str, sqlite_url: str, *, ami_up: bool = True, policy: SessionPolicy | None = None,
) -> AsyncIterator[PagesSite]:
    """The HTTP side with the pages, one account per role (``PEOPLE``, password ``PASSWORD``)."""
    await asyncio.to_thread(upgrade, sqlite_url)
    engine = engine_for(sqlite_url)
    accounts = Accounts(engine, FAST)
    catalogue = default_catalogue()
    matrix = default_matrix(catalogue)
    agent_id = sorted(matrix.agents)[0]
    for username, role in PEOPLE.items():
        await accounts.add(username, PASSWORD, role, agent_id=agent_id if role is Role.AGENT else None)
    dispatcher = Dispatcher(Router(catalogue, matrix))
    stats = LiveStats(since=time.time() - 3600, sla_seconds=lambda p, c: 60.0)
    dispatcher.add_sink(stats.sink)
    redis = connect(redis_url)
    probes = Probes(ami_up=lambda: ami_up, redis=redis, engine=engine, written_seq=lambda: 0, meta_key=f"{prefix}:meta")
    parts = PagesParts(accounts, redis, stats, matrix, probes, policy or SessionPolicy(),
                       LoginLimiter(redis, prefix, per_name=50, per_source=500))
    app = make_app(dispatcher, catalogue, [device_tokens()])
    install(app, parts)
    server = HttpServer(app, "127.0.0.1", 0)
    await server.start()
    try:
        yield PagesSite(server.url, dispatcher, accounts, engine, catalogue, matrix, parts)
    finally:
        await server.stop()
        await redis.aclose()
        await engine.dispose()


def browser_like() -> aiohttp.ClientSession:
    """A client that keeps cookies for 127.0.0.1, as a browser does."""
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def csrf_of(http: aiohttp.ClientSession, url: str) -> str:
    async with http.get(f"{url}/login") as r:
        found = CSRF.search(await r.text())
    assert found, "no CSRF field on the login page"
    return found.group(1)


async def log_in(http: aiohttp.ClientSession, url: str, username: str, password: str = PASSWORD) -> str:
    """Log in through the form; returns the session's CSRF token."""
    token = await csrf_of(http, url)
    async with http.post(f"{url}/login", data={"username": username, "password": password, "csrf_token": token},
                         allow_redirects=False) as r:
        assert r.status == 303, await r.text()
    return await csrf_of(http, url)
