"""The audit log: sensitive actions (forced states, exports, purges, user changes) in SQL."""

from __future__ import annotations

import getpass
import json
import os
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dispatcher.history.models import AuditRow


@dataclass(frozen=True)
class AuditEntry:
    """One line of the audit log."""

    at: float
    actor: str
    action: str
    target: str | None
    detail: dict[str, Any]
    source: str | None


def operator() -> str:
    """Who runs a command, for the audit log: ``cli:`` and the system user."""
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):
        return f"cli:uid{os.getuid()}"


async def record(
    conn: AsyncConnection,
    actor: str,
    action: str,
    target: str | None,
    detail: dict[str, Any],
    source: str | None = None,
) -> None:
    """Add one entry inside the caller's transaction (it commits with the change it records)."""
    await conn.execute(
        insert(AuditRow).values(
            at=time.time(), actor=actor, action=action, target=target,
            detail=json.dumps(detail, ensure_ascii=False, sort_keys=True), source=source,
        )
    )


async def audit(
    engine: AsyncEngine, actor: str, action: str, target: str | None = None,
    detail: dict[str, Any] | None = None, source: str | None = None,
) -> None:
    """Record one sensitive action in its own transaction."""
    async with engine.begin() as conn:
        await record(conn, actor, action, target, detail or {}, source)


async def entries(engine: AsyncEngine, limit: int = 100) -> list[AuditEntry]:
    """The latest entries, newest first."""
    async with engine.connect() as conn:
        rows = (await conn.execute(select(AuditRow).order_by(AuditRow.audit_id.desc()).limit(limit))).all()
    return [AuditEntry(r.at, r.actor, r.action, r.target, json.loads(r.detail), r.source) for r in rows]
