"""The role x endpoint matrix, generated from THE route table: every refusal proven over HTTP.

For each route that is not public: no credentials -> 401; a person's session
or a device token of a role the route does not name -> 403; a role it names
gets past the guard. A route added to the table is in the matrix at once.
"""

from __future__ import annotations

import re

import aiohttp

from dispatcher.http.roles import Role
from dispatcher.http.route import Answer, Route
from dispatcher.http.routes import ROUTES
from dispatcher.store.redis_server import RedisServer
from tests.http_helpers import AGENT_TOKEN, DISPLAY_TOKEN, KIOSK_TOKEN, bearer
from tests.pages_helpers import PEOPLE, browser_like, log_in, pages_site

DEVICES = {Role.KIOSK: KIOSK_TOKEN, Role.DISPLAY: DISPLAY_TOKEN, Role.COUNTER_AGENT: AGENT_TOKEN}
PARAM = re.compile(r"\{(\w+)(?::[^}]*)?\}")


def _path(route: Route) -> str:
    return PARAM.sub(lambda m: "x1", route.path)


async def _status(http: aiohttp.ClientSession, url: str, route: Route, headers: dict[str, str]) -> tuple[int, str]:
    body = {} if route.method != "GET" else None
    async with http.request(route.method, url + _path(route), json=body, headers=headers, allow_redirects=False,
                            timeout=aiohttp.ClientTimeout(total=10)) as r:
        text = "" if route.answer_kind is Answer.SSE and r.status == 200 else await r.text()
        return r.status, text


async def test_every_route_refuses_the_wrong_callers(redis_server: RedisServer, redis_prefix: str,
                                                     sqlite_url: str) -> None:
    guarded = [r for r in ROUTES if not r.public]
    assert len(guarded) >= 2
    async with pages_site(redis_server.url, redis_prefix, sqlite_url) as site:
        people: dict[Role, tuple[aiohttp.ClientSession, str]] = {}
        try:
            for username, role in PEOPLE.items():
                http = browser_like()
                people[role] = (http, await log_in(http, site.url, username))
            async with aiohttp.ClientSession() as anonymous:
                for route in guarded:
                    where = f"{route.method} {route.path}"
                    status, _ = await _status(anonymous, site.url, route, {})
                    assert status == 401, f"{where} without credentials: {status}"
                    for role, (http, csrf) in people.items():
                        status, text = await _status(http, site.url, route, {"X-CSRF-Token": csrf})
                        if role in route.roles:
                            assert status not in (401, 403) or "forbidden-role" not in text, f"{where} as {role.value}"
                        else:
                            assert status == 403, f"{where} as {role.value}: {status}"
                    for role, token in DEVICES.items():
                        status, text = await _status(anonymous, site.url, route, bearer(token))
                        if role in route.roles:
                            assert status not in (401, 403) or "forbidden-role" not in text, f"{where} as {role.value}"
                        else:
                            assert status == 403, f"{where} as device {role.value}: {status}"
        finally:
            for http, _ in people.values():
                await http.close()


async def test_a_page_without_session_shows_the_login_form_with_401(redis_server: RedisServer, redis_prefix: str,
                                                                   sqlite_url: str) -> None:
    async with pages_site(redis_server.url, redis_prefix, sqlite_url) as site, browser_like() as http:
        async with http.get(f"{site.url}/wallboard") as r:
            assert r.status == 401 and r.content_type == "text/html"
            page = await r.text()
        assert 'action="/login"' in page and 'name="next" value="/wallboard"' in page
        await log_in(http, site.url, "planif")
        async with http.get(f"{site.url}/wallboard") as r:
            assert r.status == 403 and "n’est pas ouverte à votre rôle" in await r.text()
