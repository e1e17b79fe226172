"""People's accounts in SQL: argon2 hashes, roles, disabling; every change audited.

Passwords are hashed with argon2id (argon2-cffi, RFC 9106 defaults). Hashing
is deliberately slow, so the async methods run it in a thread and never block
the event loop.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from dispatcher.history.models import UserRow
from dispatcher.i18n import msg
from dispatcher.people.audit import record
from dispatcher.people.roles import PERSON_ROLES, Role

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
MIN_PASSWORD = 10


class AccountError(ValueError):
    """A refused account change; the message says why (French first, for the admin)."""


@dataclass(frozen=True)
class Person:
    """Who a session belongs to."""

    username: str
    display_name: str
    role: Role
    agent_id: str | None
    active: bool


def _person(row: Any) -> Person:
    return Person(row.username, row.display_name, Role(row.role), row.agent_id, row.active)


def check_password(password: str) -> None:
    """Refuse a password too short to stand an offline guess."""
    if len(password) < MIN_PASSWORD:
        raise AccountError(msg("password too short: {count} characters at least").format(count=MIN_PASSWORD))


class Accounts:
    """The ``users`` table: add, change password, disable, list, and verify a login."""

    def __init__(self, engine: AsyncEngine, hasher: PasswordHasher | None = None) -> None:
        self.engine = engine
        self.hasher = hasher or PasswordHasher()
        self._dummy = self.hasher.hash("guichet-timing-equaliser")

    async def add(
        self,
        username: str,
        password: str,
        role: Role,
        *,
        display_name: str | None = None,
        agent_id: str | None = None,
        actor: str = "cli",
    ) -> Person:
        """Create an account; an agent account must name its agent of the skill matrix."""
        if not USERNAME.match(username):
            raise AccountError(msg("login {username!r} invalid: lower case, digits, . _ - (2 to 64)").format(username=username))
        if role not in PERSON_ROLES:
            raise AccountError(msg("role {role!r} impossible for a person").format(role=role.value))
        if role is Role.AGENT and not agent_id:
            raise AccountError(msg("an agent account must name its agent of the skill matrix (--agent)"))
        check_password(password)
        digest = await asyncio.to_thread(self.hasher.hash, password)
        now = time.time()
        async with self.engine.begin() as conn:
            if (await conn.execute(select(UserRow.username).where(UserRow.username == username))).first():
                raise AccountError(msg("login {username!r} already exists").format(username=username))
            await conn.execute(
                insert(UserRow).values(
                    username=username, display_name=display_name or username, role=role.value,
                    agent_id=agent_id, password_hash=digest, active=True, created_at=now,
                    password_changed_at=now,
                )
            )
            await record(conn, actor, "user_added", username, {"role": role.value, "agent_id": agent_id})
        return Person(username, display_name or username, role, agent_id, True)

    async def set_password(self, username: str, password: str, *, actor: str = "cli") -> None:
        """Replace a password (the person's other sessions end: see ``changed_at``)."""
        check_password(password)
        digest = await asyncio.to_thread(self.hasher.hash, password)
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(UserRow).where(UserRow.username == username)
                .values(password_hash=digest, password_changed_at=time.time())
            )
            if result.rowcount == 0:
                raise AccountError(msg("no account {username!r}").format(username=username))
            await record(conn, actor, "password_changed", username, {})

    async def set_active(self, username: str, active: bool, *, actor: str = "cli") -> None:
        """Disable (or enable again) an account; a disabled account's sessions stop at once."""
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(UserRow).where(UserRow.username == username)
                .values(active=active, password_changed_at=time.time())
            )
            if result.rowcount == 0:
                raise AccountError(msg("no account {username!r}").format(username=username))
            await record(conn, actor, "user_enabled" if active else "user_disabled", username, {})

    async def list(self) -> list[Person]:
        """Every account, by username."""
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(UserRow).order_by(UserRow.username))).all()
        return [_person(r) for r in rows]

    async def get(self, username: str) -> tuple[Person, float] | None:
        """The account and when its password last changed (sessions older than that are void)."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(UserRow).where(UserRow.username == username))).first()
        if row is None:
            return None
        return _person(row), row.password_changed_at

    async def verify(self, username: str, password: str) -> Person | None:
        """The person if the password is right and the account active; else None.

        An unknown name costs the same hash check as a wrong password (no user enumeration).
        """
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(UserRow).where(UserRow.username == username))).first()
        digest = row.password_hash if row is not None else self._dummy
        try:
            await asyncio.to_thread(self.hasher.verify, digest, password)
        except (VerificationError, InvalidHashError):
            return None
        if row is None or not row.active:
            return None
        if self.hasher.check_needs_rehash(digest):
            fresh = await asyncio.to_thread(self.hasher.hash, password)
            async with self.engine.begin() as conn:
                await conn.execute(update(UserRow).where(UserRow.username == username).values(password_hash=fresh))
        return _person(row)
