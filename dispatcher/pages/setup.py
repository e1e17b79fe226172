"""Plugging the pages into the application: sessions, CSRF, templates, their state."""

from __future__ import annotations

import json

from aiohttp import web
from aiohttp.typedefs import Handler
from aiohttp_session import session_middleware
from redis.asyncio import Redis

from dispatcher.pages.keys import ACCOUNTS, LIMITER, SESSIONS
from dispatcher.pages.render import setup_templates
from dispatcher.people.accounts import Accounts
from dispatcher.people.limiter import LoginLimiter
from dispatcher.people.sessions import PeopleSessions, SessionPolicy, csrf_ok, storage

CSRF_PROBLEM = {
    "type": "https://guichet.example/problems/csrf",
    "title": "Accès refusé",
    "status": 403,
    "detail": "jeton CSRF absent ou faux : rechargez la page",
}


@web.middleware
async def csrf_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse an unsafe request of a browser session without its CSRF token."""
    if not await csrf_ok(request):
        return web.Response(
            status=403, text=json.dumps({**CSRF_PROBLEM, "instance": request.path}, ensure_ascii=False),
            content_type="application/problem+json",
        )
    return await handler(request)


def install(
    app: web.Application,
    accounts: Accounts,
    redis: Redis,
    policy: SessionPolicy = SessionPolicy(),
    limiter: LoginLimiter | None = None,
) -> PeopleSessions:
    """Sessions (outermost), then CSRF, before the app's own middlewares; the templates."""
    sessions = PeopleSessions(accounts, policy)
    app.middlewares.insert(0, session_middleware(storage(redis, policy)))
    app.middlewares.insert(1, csrf_guard)
    app[ACCOUNTS] = accounts
    app[SESSIONS] = sessions
    app[LIMITER] = limiter or LoginLimiter(redis)
    setup_templates(app)
    return sessions
