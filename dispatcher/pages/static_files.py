"""The pages' own static files (CSS, the small scripts), served from the package."""

from __future__ import annotations

import mimetypes

from aiohttp import web

from dispatcher.pages.render import STATIC

TYPES = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}


async def static_file(request: web.Request) -> web.StreamResponse:
    """``/static/{name}``: one file of the package's ``static/`` folder (no sub-folders)."""
    name = request.match_info["name"]
    path = STATIC / name
    if "/" in name or name.startswith(".") or not path.is_file():
        raise web.HTTPNotFound()
    kind = TYPES.get(path.suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"
    return web.FileResponse(path, headers={"Content-Type": kind, "Cache-Control": "max-age=300"})
