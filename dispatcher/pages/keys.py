"""The typed keys of the pages' state in the application."""

from __future__ import annotations

from aiohttp import web

from dispatcher.people.accounts import Accounts
from dispatcher.people.limiter import LoginLimiter
from dispatcher.people.sessions import PeopleSessions

ACCOUNTS = web.AppKey("accounts", Accounts)
SESSIONS = web.AppKey("people_sessions", PeopleSessions)
LIMITER = web.AppKey("login_limiter", LoginLimiter)
