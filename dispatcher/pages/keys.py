"""The typed keys of the pages' state in the application."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from dispatcher.history.live_stats import LiveStats
from dispatcher.pages.live import Broadcast
from dispatcher.pages.planning import Planning
from dispatcher.people.accounts import Accounts
from dispatcher.people.limiter import LoginLimiter
from dispatcher.people.sessions import PeopleSessions
from skills.model import SkillMatrix

ACCOUNTS = web.AppKey("accounts", Accounts)
SESSIONS = web.AppKey("people_sessions", PeopleSessions)
LIMITER = web.AppKey("login_limiter", LoginLimiter)
STATS = web.AppKey("live_stats", LiveStats)
MATRIX = web.AppKey("skill_matrix", SkillMatrix)
WALLBOARD = web.AppKey("wallboard_broadcast", Broadcast)
SOFTPHONE: web.AppKey[Callable[[str], str]] = web.AppKey("softphone")
"""agent id -> its softphone as Asterisk reports it: ready, unreachable, unknown, none, link_down."""
DESKS = web.AppKey("desks_broadcast", Broadcast)
"""Ticks the agent pages and the displays (each builds its own small view)."""
PLANNING = web.AppKey("planning", Planning)
