"""Plugging the pages into the application: sessions, CSRF, templates, live streams, metrics."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from aiohttp_session import session_middleware
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from dispatcher.history.live_stats import LiveStats
from dispatcher.http import keys as http_keys
from dispatcher.http.route import Answer
from dispatcher.observe.endpoints import PROBES, REGISTRY
from dispatcher.observe.health import Probes
from dispatcher.observe.metrics import LiveCollector, http_latency
from dispatcher.pages.i18n import gettext_of
from dispatcher.pages.keys import ACCOUNTS, DESKS, LIMITER, MATRIX, PLANNING, SESSIONS, SOFTPHONE, STATS, WALLBOARD
from dispatcher.pages.planning import Planning
from dispatcher.pages.live import Broadcast
from dispatcher.pages.render import page, setup_templates
from dispatcher.pages.wallboard import TodayFigures, snapshot
from dispatcher.people.accounts import Accounts
from dispatcher.people.limiter import LoginLimiter
from dispatcher.people.sessions import COOKIE, PeopleSessions, SessionPolicy, csrf_ok, csrf_refusal, storage
from skills.model import SkillMatrix



@dataclass
class PagesParts:
    """What the pages need from the running server."""

    accounts: Accounts
    redis: Redis
    stats: LiveStats
    matrix: SkillMatrix
    probes: Probes
    sessions: SessionPolicy = field(default_factory=SessionPolicy)
    limiter: LoginLimiter | None = None
    softphone: Callable[[str], str] = lambda _agent: "unknown"


@web.middleware
async def csrf_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse an unsafe request of a browser session without its CSRF token.

    Without a session cookie there is nothing to forge (the guard answers 401);
    the login form checks its own token.
    """
    if COOKIE in request.cookies and not await csrf_ok(request):
        return csrf_refusal(request)
    return await handler(request)


@web.middleware
async def page_refusals(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A page refused by the guard shows the login form (401) or says whose page it is (403), in HTML."""
    response = await handler(request)
    if response.status not in (401, 403) or request.method != "GET":
        return response
    route = request.app[http_keys.ROUTES].get(request.match_info.route.name or "")
    if route is None or route.answer_kind is not Answer.HTML:
        return response
    if response.status == 401:
        target = request.path_qs
        return await page(request, "login.html", {"next": target, "error": None}, status=401)
    tr = gettext_of(request)
    message = tr.gettext("This page is not for your role.")
    return await page(request, "refused.html", {"message": message, "login": "/login?next=" + quote(request.path_qs)},
                      status=403)


def install(app: web.Application, parts: PagesParts) -> PeopleSessions:
    """Everything the pages add to ``make_app``'s application; returns the session authenticator.

    Middlewares, outermost first: sessions, CSRF, latency, page refusals, then the guard.
    """
    counter = app.get(http_keys.COUNTER)
    sessions = PeopleSessions(parts.accounts, parts.sessions, next(iter(counter.sites.sites)) if counter else None)
    registry = CollectorRegistry()
    _histogram, measure = http_latency(registry)
    ours: list[Middleware] = [session_middleware(storage(parts.redis, parts.sessions)), csrf_guard, measure, page_refusals]
    for position, middleware in enumerate(ours):
        app.middlewares.insert(position, middleware)
    app[http_keys.AUTHENTICATORS].append(sessions)
    app[ACCOUNTS] = parts.accounts
    app[SESSIONS] = sessions
    app[LIMITER] = parts.limiter or LoginLimiter(parts.redis)
    app[STATS] = parts.stats
    app[MATRIX] = parts.matrix
    app[PROBES] = parts.probes
    app[SOFTPHONE] = parts.softphone
    dispatcher = app[http_keys.DISPATCHER]
    catalogue = app[http_keys.CATALOGUE]
    collector = LiveCollector(dispatcher.router, parts.stats, parts.probes)
    registry.register(collector)
    dispatcher.add_sink(collector.sink)
    app[REGISTRY] = registry
    today = TodayFigures(parts.stats)
    wallboard = Broadcast("wallboard", lambda: snapshot(dispatcher.router, today, catalogue, parts.matrix))
    desks = Broadcast("desks", lambda: {}, min_interval_s=0.05, refresh_s=30.0)
    for broadcast in (wallboard, desks):
        dispatcher.add_sink(broadcast.sink)
    app[WALLBOARD] = wallboard
    app[DESKS] = desks
    planning = Planning()
    app[PLANNING] = planning
    setup_templates(app)

    async def start(_app: web.Application) -> None:
        await wallboard.start()
        await desks.start()

    async def stop(_app: web.Application) -> None:
        await wallboard.stop()
        await desks.stop()
        await planning.stop()

    app.on_startup.append(start)
    app.on_shutdown.append(stop)
    return sessions
