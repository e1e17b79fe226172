"""Who may call what: roles, the caller's principal, and the authenticators that find it.

Every route of the table names its roles; the guard of ``app.py`` asks each
authenticator in turn for the request's ``Principal`` and refuses (401 without
credentials, 403 with the wrong role) before any handler runs. Devices (kiosks,
displays) and counter agents present a bearer token given by the environment
or a secrets file; people's sessions (the pages) come as one more
``Authenticator`` in the application's list, nothing else changes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from aiohttp import web


class Role(str, Enum):
    """The roles an endpoint may name (DESIGN.md: HTTP side)."""

    PUBLIC = "public"
    """Anyone, no credentials: only the API description and the health check."""
    KIOSK = "kiosk"
    DISPLAY = "display"
    COUNTER_AGENT = "counter_agent"
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    PLANNER = "planner"
    ADMIN = "admin"


DEVICE_ROLES = frozenset({Role.KIOSK, Role.DISPLAY, Role.COUNTER_AGENT})


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller: its roles, who it is (device or agent id), and its site."""

    subject: str
    roles: frozenset[Role]
    site: str | None = None

    def may(self, allowed: frozenset[Role]) -> bool:
        return bool(self.roles & allowed)


class Authenticator(Protocol):
    """Finds the caller of a request, or None when the request carries none of its credentials."""

    scheme: str
    """The OpenAPI security scheme name this authenticator implements."""

    async def authenticate(self, request: web.Request) -> Principal | None: ...


class BadCredentials(Exception):
    """Credentials were presented but are not valid (a 401, not an anonymous request)."""


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


class DeviceTokens:
    """Bearer tokens of devices and counter agents, held as SHA-256 digests.

    The presented token is hashed and looked up by its digest, so the lookup's
    timing tells nothing about the token. Tokens themselves are never kept nor logged.
    """

    scheme = "deviceToken"

    def __init__(self, principals: Mapping[str, Principal]) -> None:
        """``principals`` maps each token to the principal it authenticates."""
        self._by_digest: dict[bytes, Principal] = {}
        for token, principal in principals.items():
            if len(token) < 16:
                raise ValueError(f"the token of {principal.subject} is shorter than 16 characters")
            self._by_digest[_digest(token)] = principal

    def __len__(self) -> int:
        return len(self._by_digest)

    async def authenticate(self, request: web.Request) -> Principal | None:
        header = request.headers.get("Authorization")
        token: str | None = None
        if header is not None:
            scheme, _, value = header.partition(" ")
            if scheme.lower() != "bearer" or not value.strip():
                raise BadCredentials("en-tête Authorization attendu : Bearer <jeton>")
            token = value.strip()
        elif "token" in request.query and _is_stream(request):
            # browsers cannot set headers on WebSocket or EventSource connections
            token = request.query["token"]
        if token is None:
            return None
        principal = self._by_digest.get(_digest(token))
        if principal is None:
            raise BadCredentials("jeton inconnu")
        return principal


def _is_stream(request: web.Request) -> bool:
    return request.headers.get("Upgrade", "").lower() == "websocket" or "text/event-stream" in request.headers.get(
        "Accept", ""
    )
