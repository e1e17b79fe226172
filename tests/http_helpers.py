"""A real aiohttp server on loopback for the HTTP tests, with known device tokens."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable, Mapping

import aiohttp
from aiohttp import web

from dispatcher.http.app import HttpServer
from dispatcher.http.roles import DeviceTokens, Principal, Role

KIOSK_TOKEN = "kiosk-token-0123456789abcdef"
DISPLAY_TOKEN = "display-token-0123456789abcdef"
AGENT_TOKEN = "agent-token-0123456789abcdef"


def device_tokens(extra: Mapping[str, Principal] | None = None) -> DeviceTokens:
    """A kiosk and a display of site ``hdv``, and counter agent ``a01``."""
    return DeviceTokens(
        {
            KIOSK_TOKEN: Principal("hdv-borne-1", frozenset({Role.KIOSK}), "hdv"),
            DISPLAY_TOKEN: Principal("hdv-ecran-1", frozenset({Role.DISPLAY}), "hdv"),
            AGENT_TOKEN: Principal("a01", frozenset({Role.COUNTER_AGENT})),
            **(extra or {}),
        }
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@contextlib.asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[tuple[str, aiohttp.ClientSession]]:
    """The application on a free loopback port, and a client session."""
    server = HttpServer(app, "127.0.0.1", 0)
    await server.start()
    try:
        async with aiohttp.ClientSession() as session:
            yield server.url, session
    finally:
        await server.stop()


def problem_fields(body: dict[str, object]) -> Iterable[str]:
    errors = body.get("errors") or []
    assert isinstance(errors, list)
    return [str(e["field"]) for e in errors if isinstance(e, dict)]
