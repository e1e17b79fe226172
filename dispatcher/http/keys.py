"""The typed keys of the application's state (``app[DISPATCHER]``...)."""

from __future__ import annotations

from aiohttp import web

from dispatcher.counter.service import CounterService
from dispatcher.http.problems import Problem
from dispatcher.http.roles import Authenticator
from dispatcher.http.route import Route
from dispatcher.service import Dispatcher
from skills.model import Catalogue

DISPATCHER = web.AppKey("dispatcher", Dispatcher)
CATALOGUE = web.AppKey("catalogue", Catalogue)
AUTHENTICATORS = web.AppKey("authenticators", list[Authenticator])
"""Asked in order for the caller; the pages add people's sessions here."""
ROUTES = web.AppKey("routes", dict[str, Route])
"""The route table by handler name, for the guard."""
COUNTER = web.AppKey("counter", CounterService)
"""Tickets, displays and desks (absent: the counter routes answer 503)."""


def counter_of(request: web.Request) -> CounterService:
    """The counter service, or a 503 problem when this server has none."""
    counter = request.app.get(COUNTER)
    if counter is None:
        raise Problem(503, "no-counter", "le guichet n'est pas configuré sur ce serveur")
    return counter
