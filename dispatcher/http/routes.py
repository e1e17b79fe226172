"""THE route table: every endpoint of the server, its handler, its roles, its description.

Add an endpoint here and nowhere else: the guard checks its roles, the
OpenAPI document describes it, and a test checks both for every line.
"""

from __future__ import annotations

from dispatcher.http import meta
from dispatcher.http.roles import Role
from dispatcher.http.route import Route, roles
from dispatcher.pages.routes import ROUTES as PAGE_ROUTES

API = "/api/v1"

ROUTES: list[Route] = [
    Route("GET", f"{API}/openapi.json", meta.openapi_json, roles(Role.PUBLIC),
          "Description OpenAPI 3.1 de l'API", "meta"),
    Route("GET", f"{API}/health", meta.health, roles(Role.PUBLIC),
          "État du serveur (sans donnée personnelle)", "meta", answer=meta.Health),
    *PAGE_ROUTES,
]
