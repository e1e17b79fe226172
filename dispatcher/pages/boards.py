"""The supervisor's wallboard page and its live stream."""

from __future__ import annotations

from aiohttp import web

from dispatcher.http import keys as http_keys
from dispatcher.pages.keys import MATRIX, STATS, WALLBOARD
from dispatcher.pages.live import stream
from dispatcher.pages.render import page
from dispatcher.pages.wallboard import snapshot


async def wallboard(request: web.Request) -> web.Response:
    """The wallboard, rendered with the state of now; the stream keeps it current."""
    app = request.app
    view = snapshot(app[http_keys.DISPATCHER].router, app[STATS], app[http_keys.CATALOGUE], app[MATRIX])
    return await page(request, "wallboard.html", {"view": view})


async def wallboard_events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: one ``snapshot`` per burst of routing events."""
    return await stream(request, request.app[WALLBOARD])
