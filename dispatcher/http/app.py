"""The application factory, the guard every request passes, and the server's start and stop.

``make_app`` builds the one aiohttp application from the route table
(``routes.ROUTES``): each route is added under its handler's name, and the
guard middleware finds the table's record for every matched request, so the
role check cannot be forgotten: a route added outside the table is refused.
The guard then authenticates (401), checks the role (403), validates the
declared body (400/413/415/422) and turns every refusal into problem+json and
every unexpected error into a 500 with a logged id.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from aiohttp import web
from pydantic import ValidationError

from dispatcher.counter.service import CounterService
from dispatcher.http import keys
from dispatcher.http.problems import Problem, from_http_error, from_validation, internal_error
from dispatcher.http.roles import Authenticator, BadCredentials, Principal
from dispatcher.http.route import ANONYMOUS, BODY_KEY, PRINCIPAL_KEY, Handler, Route, parse_body
from dispatcher.http.routes import ROUTES
from dispatcher.service import Dispatcher
from skills.model import Catalogue

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
"""No request of the API needs more; a larger body is refused with a 413."""


def add_routes(app: web.Application, routes: Iterable[Route]) -> None:
    """Add each route of the table under its name and remember it for the guard."""
    table = app[keys.ROUTES]
    for route in routes:
        if route.name in table:
            raise ValueError(f"two routes named {route.name}")
        table[route.name] = route
        app.router.add_route(route.method, route.path, route.handler, name=route.name)


async def _authenticate(request: web.Request, authenticators: list[Authenticator]) -> Principal | None:
    for authenticator in authenticators:
        principal = await authenticator.authenticate(request)
        if principal is not None:
            return principal
    return None


async def _admit(request: web.Request, route: Route) -> None:
    """Authenticate, check the role, validate the body; raise a Problem otherwise."""
    if route.public:
        request[PRINCIPAL_KEY] = ANONYMOUS
    else:
        try:
            principal = await _authenticate(request, request.app[keys.AUTHENTICATORS])
        except BadCredentials as exc:
            raise Problem(401, "bad-credentials", str(exc), headers={"WWW-Authenticate": "Bearer"}) from None
        if principal is None:
            raise Problem(401, "no-credentials", "authentification requise", headers={"WWW-Authenticate": "Bearer"})
        if not principal.may(route.roles):
            allowed = ", ".join(sorted(r.value for r in route.roles))
            raise Problem(403, "forbidden-role", f"réservé aux rôles : {allowed}")
        request[PRINCIPAL_KEY] = principal
    if route.body is not None:
        request[BODY_KEY] = await parse_body(request, route.body)


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every request: the route's record, then admission, then the handler; refusals as problems."""
    try:
        match = request.match_info
        if match.http_exception is not None:
            raise match.http_exception
        route = request.app[keys.ROUTES].get(match.route.name or "")
        if route is None:
            log.error("refused %s %s: route outside the table", request.method, request.path)
            raise Problem(403, "route-outside-table", "cette adresse n'a pas de rôle déclaré")
        await _admit(request, route)
        return await handler(request)
    except Problem as problem:
        return problem.response(request.path)
    except ValidationError as exc:
        return from_validation(exc).response(request.path)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return from_http_error(exc).response(request.path)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - logged with an id, answered 500 with that id
        return internal_error(request, exc)


def make_app(
    dispatcher: Dispatcher,
    catalogue: Catalogue,
    authenticators: Iterable[Authenticator],
    *,
    counter: CounterService | None = None,
    routes: Iterable[Route] = ROUTES,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> web.Application:
    """The application: the guard, the route table, and the state its handlers read."""
    app = web.Application(middlewares=[guard], client_max_size=max_body_bytes)
    app[keys.DISPATCHER] = dispatcher
    app[keys.CATALOGUE] = catalogue
    app[keys.AUTHENTICATORS] = list(authenticators)
    app[keys.ROUTES] = {}
    if counter is not None:
        app[keys.COUNTER] = counter

        async def _restore(app: web.Application) -> None:
            await counter.restore()

        async def _close_feeds(app: web.Application) -> None:
            counter.close_feeds()

        app.on_startup.append(_restore)
        app.on_shutdown.append(_close_feeds)
    add_routes(app, routes)
    return app


class HttpServer:
    """Serves one application on host:port (port 0: a free one) until ``stop``."""

    def __init__(self, app: web.Application, host: str = "127.0.0.1", port: int = 8080) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        """Listen; ``port`` becomes the bound port."""
        runner = web.AppRunner(self.app, handle_signals=False, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        log.info("HTTP side listening on %s", self.url)

    async def stop(self) -> None:
        """Close the open WebSockets and streams (on_shutdown), then the listener."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
