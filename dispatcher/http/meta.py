"""The API's own endpoints: its description and its health."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel

from dispatcher.http import keys
from dispatcher.http.openapi import document


class Health(BaseModel):
    """Whether the server routes."""

    status: str
    contacts_waiting: int
    agents: int


async def openapi_json(request: web.Request) -> web.Response:
    """The OpenAPI 3.1 document of every route of the table."""
    return web.json_response(document(request.app[keys.ROUTES].values()))


async def health(request: web.Request) -> web.Response:
    """``ok`` and a few figures, no personal data."""
    router = request.app[keys.DISPATCHER].router
    answer = Health(status="ok", contacts_waiting=len(router.queue), agents=len(router.agents))
    return web.json_response(answer.model_dump())
