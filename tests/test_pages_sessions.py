"""People's sessions over HTTP: login, rotation, expiry, disabling, CSRF, the login rate limit."""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestClient, TestServer
from argon2 import PasswordHasher

from dispatcher.history.migrate import upgrade
from dispatcher.history.writer import engine_for
from dispatcher.pages import login
from dispatcher.pages.keys import SESSIONS
from dispatcher.pages.setup import install
from dispatcher.people.accounts import Accounts
from dispatcher.people.audit import entries
from dispatcher.people.limiter import LoginLimiter
from dispatcher.people.roles import Role
from dispatcher.people.sessions import COOKIE, SessionPolicy
from dispatcher.store.keys import connect
from dispatcher.store.redis_server import RedisServer

FAST = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def whoami(request: web.Request) -> web.Response:
    person = await request.app[SESSIONS].person(request)
    return web.json_response({"user": person.username if person else None})


@dataclass
class Site:
    client: TestClient
    accounts: Accounts


@pytest.fixture
async def site(redis_server: RedisServer, redis_prefix: str, tmp_path: Path) -> AsyncIterator[Site]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'h.sqlite'}"
    await asyncio.to_thread(upgrade, url)
    engine = engine_for(url)
    accounts = Accounts(engine, FAST)
    await accounts.add("claire", "un mot de passe long", Role.SUPERVISOR)
    redis = connect(redis_server.url)
    app = web.Application()
    install(app, accounts, redis, SessionPolicy(idle_s=3, absolute_s=3600, touch_every_s=0),
            LoginLimiter(redis, redis_prefix, per_name=3, per_source=10, window_s=60))
    app.router.add_get("/login", login.login_form)
    app.router.add_post("/login", login.login_submit)
    app.router.add_post("/logout", login.logout)
    app.router.add_get("/whoami", whoami)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        yield Site(client, accounts)
    finally:
        await client.close()
        await redis.aclose()
        await engine.dispose()


async def _token(client: TestClient | ClientSession, path: str = "/login") -> str:
    response = await client.get(path)
    match = CSRF.search(await response.text())
    assert match, "no CSRF field on the login page"
    return match.group(1)


async def _login(client: TestClient, password: str = "un mot de passe long", username: str = "claire") -> int:
    token = await _token(client)
    response = await client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token, "next": "/whoami"},
        allow_redirects=False,
    )
    return response.status


def _cookie(client: TestClient) -> str | None:
    for cookie in client.session.cookie_jar:
        if cookie.key == COOKIE:
            return cookie.value
    return None


async def test_login_rotates_the_session_and_logout_ends_it(site: Site) -> None:
    client = site.client
    await _token(client)
    before = _cookie(client)
    assert before
    assert await _login(client) == 303
    after = _cookie(client)
    assert after and after != before, "the session id must change at login"
    assert (await (await client.get("/whoami")).json()) == {"user": "claire"}
    page = await client.get("/login")
    token = CSRF.search(await page.text()).group(1)
    assert (await client.post("/logout", data={"csrf_token": token}, allow_redirects=False)).status == 303
    assert (await (await client.get("/whoami")).json()) == {"user": None}
    actions = [e.action for e in await entries(site.accounts.engine)]
    assert actions[0] == "login"


async def test_wrong_password_is_refused_and_audited(site: Site) -> None:
    assert await _login(site.client, "pas le bon mot") == 401
    assert (await (await site.client.get("/whoami")).json()) == {"user": None}
    assert [e.action for e in await entries(site.accounts.engine)][0] == "login_failed"


async def test_post_without_csrf_token_is_refused(site: Site) -> None:
    client = site.client
    await _token(client)
    response = await client.post("/login", data={"username": "claire", "password": "un mot de passe long"})
    assert response.status == 403
    assert response.content_type == "application/problem+json"
    assert "CSRF" in (await response.json())["detail"]
    wrong = await client.post("/login", data={"username": "claire", "password": "un mot de passe long",
                                              "csrf_token": "forged"})
    assert wrong.status == 403
    assert (await (await client.get("/whoami")).json()) == {"user": None}


async def test_login_is_rate_limited_per_account(site: Site) -> None:
    for _ in range(3):
        assert await _login(site.client, "mauvais mot de passe") == 401
    token = await _token(site.client)
    response = await site.client.post(
        "/login", data={"username": "claire", "password": "un mot de passe long", "csrf_token": token},
        allow_redirects=False,
    )
    assert response.status == 429
    assert 0 < int(response.headers["Retry-After"]) <= 60
    assert "Trop d'essais manqués" in html.unescape(await response.text())


async def test_sessions_expire_when_idle_and_die_when_the_account_changes(site: Site) -> None:
    client = site.client
    assert await _login(client) == 303
    assert (await (await client.get("/whoami")).json()) == {"user": "claire"}
    await site.accounts.set_password("claire", "un autre mot de passe", actor="admin")
    assert (await (await client.get("/whoami")).json()) == {"user": None}
    assert await _login(client, "un autre mot de passe") == 303
    await site.accounts.set_active("claire", False, actor="admin")
    assert (await (await client.get("/whoami")).json()) == {"user": None}
    await site.accounts.set_active("claire", True, actor="admin")
    assert await _login(client, "un autre mot de passe") == 303
    await asyncio.sleep(3.5)
    assert (await (await client.get("/whoami")).json()) == {"user": None}, "idle session must expire"
