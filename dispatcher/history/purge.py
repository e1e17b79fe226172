"""Retention of citizens' personal data (CNIL): what ``guichet purge`` removes.

After ``retention_days`` the citizen row (phone, consent) is deleted, and
the contacts and callbacks that point to it lose the link and the number.
The anonymous figures (times, process, channel, agent, outcome) and the
event trace (written without personal fields) stay for the statistics.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from dispatcher.history.models import CallbackRow, CitizenRow, ContactRow
from dispatcher.people.audit import record

DAY_S = 86_400.0


@dataclass(frozen=True, slots=True)
class PurgeResult:
    """How many rows lost their personal data (or would, in a dry run)."""

    cutoff: float
    citizens: int
    contacts: int
    callbacks: int


async def purge(
    engine: AsyncEngine, retention_days: int, now: float, dry_run: bool = False, actor: str = "cli"
) -> PurgeResult:
    """Remove personal data older than ``retention_days`` before ``now``; a real purge is audited (``actor``)."""
    if retention_days < 1:
        raise ValueError("retention_days must be at least 1")
    cutoff = now - retention_days * DAY_S
    citizens_q = CitizenRow.last_seen < cutoff
    contacts_q = (ContactRow.arrived_at < cutoff) & (ContactRow.citizen_id.is_not(None))
    callbacks_q = (CallbackRow.requested_at < cutoff) & (CallbackRow.number.is_not(None))
    async with engine.begin() as conn:
        counts = []
        for model, where in ((CitizenRow, citizens_q), (ContactRow, contacts_q), (CallbackRow, callbacks_q)):
            counts.append(int(await conn.scalar(select(func.count()).select_from(model).where(where)) or 0))
        if not dry_run:
            await conn.execute(delete(CitizenRow).where(citizens_q))
            await conn.execute(update(ContactRow).where(contacts_q).values(citizen_id=None))
            await conn.execute(update(CallbackRow).where(callbacks_q).values(number=None))
            await record(conn, actor, "purge", None, {
                "retention_days": retention_days, "cutoff": cutoff,
                "citizens": counts[0], "contacts": counts[1], "callbacks": counts[2],
            })
    return PurgeResult(cutoff, *counts)
