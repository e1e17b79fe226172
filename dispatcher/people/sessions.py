"""People's sessions: server-side in Redis, with expiry, rotated on login, CSRF-guarded.

The cookie holds only a random id (HttpOnly, SameSite=Lax); the session
(who, since when, its CSRF token) lives in Redis and expires after
``idle_s`` without a request, and ``absolute_s`` after login whatever
happens. A login always starts a NEW session (the id a visitor had before
is dropped: no session fixation). A session dies at once when its account
is disabled or its password changed after it began.
"""

from __future__ import annotations

import hmac
import json
import secrets
import time
from dataclasses import dataclass

from aiohttp import web
from aiohttp_session import Session, get_session, new_session
from aiohttp_session.redis_storage import RedisStorage
from redis.asyncio import Redis

from dispatcher.http.roles import Principal
from dispatcher.people.accounts import Accounts, Person

COOKIE = "guichet_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PERSON_KEY: web.RequestKey[Person | None] = web.RequestKey("guichet_person")
"""The person a request was found to belong to (looked up once per request)."""


@dataclass(frozen=True)
class SessionPolicy:
    """How long sessions live and how their cookie is sent."""

    idle_s: int = 2 * 3600
    absolute_s: int = 12 * 3600
    secure_cookie: bool = False
    touch_every_s: int = 300


def storage(redis: Redis, policy: SessionPolicy) -> RedisStorage:
    """The aiohttp-session storage: ids in the cookie, data in Redis with the idle expiry."""
    return RedisStorage(
        redis, cookie_name=COOKIE, max_age=policy.idle_s, httponly=True, samesite="Lax",
        secure=policy.secure_cookie, key_factory=lambda: secrets.token_urlsafe(32),
    )


def csrf_token(session: Session) -> str:
    """The session's CSRF token (created on first use)."""
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


async def csrf_ok(request: web.Request) -> bool:
    """Whether an unsafe request carries its session's CSRF token (form field or header).

    Requests with an ``Authorization`` header (device tokens) are not sent by a
    browser on its own, so they cannot be forged across sites and are let through.
    """
    if request.method in SAFE_METHODS or "Authorization" in request.headers:
        return True
    session = await get_session(request)
    expected = session.get("csrf")
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        value = (await request.post()).get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    return isinstance(expected, str) and given is not None and hmac.compare_digest(given, expected)


CSRF_PROBLEM: dict[str, object] = {
    "type": "https://guichet.example/problems/csrf",
    "title": "Accès refusé",
    "status": 403,
    "detail": "jeton CSRF absent ou faux : rechargez la page",
}


def csrf_refusal(request: web.Request) -> web.Response:
    """The 403 problem of a missing or wrong CSRF token."""
    return web.Response(
        status=403, text=json.dumps({**CSRF_PROBLEM, "instance": request.path}, ensure_ascii=False),
        content_type="application/problem+json",
    )


class PeopleSessions:
    """Finds the person of a request from its session cookie (an ``Authenticator`` of the guard)."""

    scheme = "session"

    async def authenticate(self, request: web.Request) -> Principal | None:
        """The guard's principal of the session's person: its role; an agent is its agent id."""
        person = await self.person(request)
        if person is None:
            return None
        return Principal(person.agent_id or person.username, frozenset({person.role}), self.site)

    def __init__(self, accounts: Accounts, policy: SessionPolicy, site: str | None = None) -> None:
        self.accounts = accounts
        self.policy = policy
        self.site = site
        """The site of the people's kiosk and display pages (the sites file's first)."""

    async def person(self, request: web.Request) -> Person | None:
        """The logged-in, active person of ``request``, or None (an expired session is emptied)."""
        if PERSON_KEY in request:
            return request[PERSON_KEY]
        person = await self._lookup(request)
        request[PERSON_KEY] = person
        return person

    async def _lookup(self, request: web.Request) -> Person | None:
        if COOKIE not in request.cookies:
            return None
        session = await get_session(request)
        username = session.get("user")
        if not isinstance(username, str):
            return None
        now = time.time()
        since = float(session.get("since", 0.0))
        found = await self.accounts.get(username)
        if found is None or not found[0].active or since < found[1] or now - since > self.policy.absolute_s:
            session.invalidate()
            return None
        if now - float(session.get("seen", 0.0)) > self.policy.touch_every_s:
            session["seen"] = now  # saved, so Redis's idle expiry starts again
        return found[0]

    async def log_in(self, request: web.Request, person: Person) -> Session:
        """Start a fresh session for ``person`` (new id, new CSRF token)."""
        old = await get_session(request)
        old.invalidate()
        session = await new_session(request)
        now = time.time()
        session["user"] = person.username
        session["since"] = now
        session["seen"] = now
        csrf_token(session)
        request[PERSON_KEY] = person
        return session

    async def log_out(self, request: web.Request) -> None:
        """End the session of ``request``."""
        session = await get_session(request)
        session.invalidate()
        request[PERSON_KEY] = None
