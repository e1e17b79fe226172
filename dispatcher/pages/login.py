"""Login, logout and the language switch: the public pages of people's sessions."""

from __future__ import annotations

import logging
from urllib.parse import quote

from aiohttp import web

from dispatcher.pages.i18n import COOKIE as LANG_COOKIE
from dispatcher.pages.i18n import LANGUAGES, _, gettext_of
from dispatcher.pages.keys import ACCOUNTS, LIMITER, SESSIONS
from dispatcher.pages.render import HOME_OF_ROLE, page
from dispatcher.people.audit import audit
from dispatcher.people.sessions import csrf_ok, csrf_refusal

log = logging.getLogger(__name__)


def safe_next(target: str | None, default: str = "/") -> str:
    """A local path to go back to after login (never another site)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def source_of(request: web.Request) -> str:
    """The client's address (the peer: a proxy must be trusted explicitly, not by header)."""
    return request.remote or "unknown"


async def login_form(request: web.Request) -> web.Response:
    """The login form."""
    return await page(request, "login.html", {"next": safe_next(request.query.get("next")), "error": None})


async def login_submit(request: web.Request) -> web.StreamResponse:
    """Check the password; a fresh session and a redirect home, or the form again with the reason."""
    if not await csrf_ok(request):
        return csrf_refusal(request)
    form = await request.post()
    username = str(form.get("username", "")).strip().lower()
    password = str(form.get("password", ""))
    target = safe_next(str(form.get("next", "")) or None, "")
    tr = gettext_of(request)
    limiter = request.app[LIMITER]
    wait = await limiter.retry_after(username, source_of(request))
    if wait > 0:
        minutes = max(1, (wait + 59) // 60)
        error = tr.ngettext(
            "Too many failed attempts: try again in %(n)d minute.",
            "Too many failed attempts: try again in %(n)d minutes.", minutes,
        ) % {"n": minutes}
        response = await page(request, "login.html", {"next": target, "error": error}, status=429)
        response.headers["Retry-After"] = str(wait)
        return response
    accounts = request.app[ACCOUNTS]
    person = await accounts.verify(username, password) if username and password else None
    if person is None:
        await limiter.failed(username, source_of(request))
        await audit(accounts.engine, username or "-", "login_failed", username or None, source=source_of(request))
        log.info("login refused for %r from %s", username, source_of(request))
        error = tr.gettext(_("Wrong username or password."))
        return await page(request, "login.html", {"next": target, "error": error}, status=401)
    await limiter.succeeded(username)
    await request.app[SESSIONS].log_in(request, person)
    await audit(accounts.engine, person.username, "login", person.username, source=source_of(request))
    raise web.HTTPSeeOther(target or HOME_OF_ROLE.get(person.role.value, "/"))


async def logout(request: web.Request) -> web.StreamResponse:
    """End the session; back to the login form."""
    person = await request.app[SESSIONS].person(request)
    await request.app[SESSIONS].log_out(request)
    if person is not None:
        await audit(request.app[ACCOUNTS].engine, person.username, "logout", person.username, source=source_of(request))
    raise web.HTTPSeeOther("/login")


async def home(request: web.Request) -> web.StreamResponse:
    """``/``: the person's page, or the login form."""
    person = await request.app[SESSIONS].person(request)
    raise web.HTTPSeeOther(HOME_OF_ROLE.get(person.role.value, "/login") if person else "/login")


async def switch_language(request: web.Request) -> web.StreamResponse:
    """``/lang/{lang}?next=...``: remember the language in a cookie, go back."""
    lang = request.match_info["lang"]
    if lang not in LANGUAGES:
        raise web.HTTPNotFound()
    response = web.HTTPSeeOther(quote(safe_next(request.query.get("next")), safe="/?=&"))
    response.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, samesite="Lax", httponly=True)
    raise response
