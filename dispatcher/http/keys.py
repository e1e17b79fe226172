"""The typed keys of the application's state (``app[DISPATCHER]``...)."""

from __future__ import annotations

from aiohttp import web

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
