"""People's sessions over HTTP: login, rotation, expiry, disabling, CSRF, the login rate limit."""

from __future__ import annotations

import asyncio
import html
from collections.abc import AsyncIterator

import aiohttp
import pytest

from dispatcher.people.audit import entries
from dispatcher.people.sessions import COOKIE, SessionPolicy
from dispatcher.store.redis_server import RedisServer
from tests.pages_helpers import PASSWORD, PagesSite, browser_like, csrf_of, log_in, pages_site


@pytest.fixture
async def site(redis_server: RedisServer, redis_prefix: str, sqlite_url: str) -> AsyncIterator[PagesSite]:
    async with pages_site(redis_server.url, redis_prefix, sqlite_url) as running:
        yield running


def _cookie(http: aiohttp.ClientSession) -> str | None:
    return next((c.value for c in http.cookie_jar if c.key == COOKIE), None)


async def _board(http: aiohttp.ClientSession, site: PagesSite) -> int:
    async with http.get(f"{site.url}/wallboard", allow_redirects=False) as r:
        return r.status


async def _login(http: aiohttp.ClientSession, site: PagesSite, password: str, username: str = "superviseur") -> int:
    token = await csrf_of(http, site.url)
    async with http.post(f"{site.url}/login", data={"username": username, "password": password, "csrf_token": token},
                         allow_redirects=False) as r:
        return r.status


async def test_login_rotates_the_session_and_logout_ends_it(site: PagesSite) -> None:
    async with browser_like() as http:
        await csrf_of(http, site.url)
        before = _cookie(http)
        assert before
        assert await _login(http, site, PASSWORD) == 303
        after = _cookie(http)
        assert after and after != before, "the session id must change at login"
        assert await _board(http, site) == 200
        token = await csrf_of(http, site.url)
        async with http.post(f"{site.url}/logout", data={"csrf_token": token}, allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"] == "/login"
        assert await _board(http, site) == 401
    assert [e.action for e in await entries(site.engine, 2)] == ["logout", "login"]


async def test_login_goes_home_or_back_where_asked(site: PagesSite) -> None:
    async with browser_like() as http:
        token = await csrf_of(http, site.url)
        async with http.post(f"{site.url}/login", allow_redirects=False, data={
            "username": "planif", "password": PASSWORD, "csrf_token": token, "next": "//evil.example/"}) as r:
            assert r.headers["Location"] == "/planner"


async def test_wrong_password_is_refused_and_audited(site: PagesSite) -> None:
    async with browser_like() as http:
        assert await _login(http, site, "pas le bon mot") == 401
        assert await _board(http, site) == 401
    last = (await entries(site.engine, 1))[0]
    assert (last.action, last.target, last.source) == ("login_failed", "superviseur", "127.0.0.1")


async def test_unsafe_requests_need_the_csrf_token(site: PagesSite) -> None:
    async with browser_like() as http:
        await csrf_of(http, site.url)
        form = {"username": "superviseur", "password": PASSWORD}
        async with http.post(f"{site.url}/login", data=form) as r:
            assert r.status == 403 and r.content_type == "application/problem+json"
            assert "CSRF" in (await r.json())["detail"]
        async with http.post(f"{site.url}/login", data={**form, "csrf_token": "forged"}) as r:
            assert r.status == 403
        assert await _board(http, site) == 401
        await log_in(http, site.url, "superviseur")
        async with http.post(f"{site.url}/logout", allow_redirects=False) as r:
            assert r.status == 403, "logout without its token must be refused"
        assert await _board(http, site) == 200
    async with aiohttp.ClientSession() as no_cookie:
        async with no_cookie.post(f"{site.url}/login", data={**form, "csrf_token": "x"}) as r:
            assert r.status == 403


async def test_login_is_rate_limited_per_account(site: PagesSite, redis_prefix: str) -> None:
    limiter = site.parts.limiter
    assert limiter is not None
    limiter.per_name = 3
    async with browser_like() as http:
        for _ in range(3):
            assert await _login(http, site, "mauvais mot de passe") == 401
        token = await csrf_of(http, site.url)
        async with http.post(f"{site.url}/login", allow_redirects=False,
                             data={"username": "superviseur", "password": PASSWORD, "csrf_token": token}) as r:
            assert r.status == 429
            assert 0 < int(r.headers["Retry-After"]) <= 900
            assert "Trop d'essais manqués" in html.unescape(await r.text())
        assert await _login(http, site, PASSWORD, "planif") == 303, "another account is not locked"


async def test_sessions_die_when_the_account_changes(site: PagesSite) -> None:
    async with browser_like() as http:
        await log_in(http, site.url, "superviseur")
        assert await _board(http, site) == 200
        await site.accounts.set_password("superviseur", "un autre mot de passe", actor="admin")
        assert await _board(http, site) == 401
        await log_in(http, site.url, "superviseur", "un autre mot de passe")
        await site.accounts.set_active("superviseur", False, actor="admin")
        assert await _board(http, site) == 401
        assert await _login(http, site, "un autre mot de passe") == 401


async def test_idle_and_absolute_expiry(redis_server: RedisServer, redis_prefix: str, sqlite_url: str) -> None:
    short = SessionPolicy(idle_s=2, absolute_s=5, touch_every_s=0)
    async with pages_site(redis_server.url, redis_prefix, sqlite_url, policy=short) as site, browser_like() as http:
        await log_in(http, site.url, "superviseur")
        await asyncio.sleep(2.5)
        assert await _board(http, site) == 401, "a session idle longer than idle_s must end"
        await log_in(http, site.url, "superviseur")
        for _ in range(6):  # active every second: the idle expiry never comes, the absolute one does
            await asyncio.sleep(1.0)
            if await _board(http, site) == 401:
                break
        else:
            raise AssertionError("a session must end absolute_s after login, however active")
