"""The history writer: the Redis event stream into SQL, exactly once.

It reads the stream from the event number after its progress mark, folds a
page of events into rows and writes them in ONE transaction together with
the new mark, so a crash either writes a whole page or nothing. Rows are
also idempotent (``ON CONFLICT DO NOTHING`` on the event number, first-wins
upserts on contacts), a second guard. Pages end on batch boundaries (an
input and its decisions are never split), so a rejected input is seen with
its rejection. After each page the mark is copied to Redis (``history_seq``)
so the store trims only what SQL already holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import and_, case, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from dispatcher import events as ev
from dispatcher.history.fold import FIRST_WINS, LAST_WINS, Fold
from dispatcher.history.models import (
    AgentRow,
    AgentStateRow,
    CallbackRow,
    CitizenRow,
    ContactEventRow,
    ContactRow,
    HistoryProgressRow,
    ProcessRow,
    SkillRow,
)
from dispatcher.store.keys import Keys, event_id, read_range, seq_of
from dispatcher.store.live import OUTAGE_ERRORS
from skills.model import Catalogue, SkillMatrix

log = logging.getLogger(__name__)

STREAM = "events"


def engine_for(url: str) -> AsyncEngine:
    """An async engine (SQLite: WAL journal, so readers never block the writer)."""
    engine = create_async_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        from sqlalchemy import event

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

    return engine


def _insert(conn: AsyncConnection, table: Any) -> Any:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


async def sync_reference(engine: AsyncEngine, catalogue: Catalogue, matrix: SkillMatrix) -> None:
    """Upsert the processes, agents and skills (the history's reference tables)."""
    async with engine.begin() as conn:
        processes = [
            {"code": p.code, "label": p.label, "domain": p.domain, "min_level": p.min_level}
            for p in catalogue.processes.values()
        ]
        agents = [
            {
                "agent_id": a.agent_id, "name": a.name, "endpoint": a.endpoint, "desk": a.desk,
                "channels": ",".join(sorted(c.value for c in a.channels)),
            }
            for a in matrix.agents.values()
        ]
        skills = [
            {"agent_id": a.agent_id, "process": p, "level": level}
            for a in matrix.agents.values()
            for p, level in a.skills.items()
        ]
        for table, rows, key in (
            (ProcessRow.__table__, processes, "code"),
            (AgentRow.__table__, agents, "agent_id"),
        ):
            if rows:
                stmt = _insert(conn, table)
                cols = {c: stmt.excluded[c] for c in rows[0] if c != key}
                await conn.execute(stmt.on_conflict_do_update(index_elements=[key], set_=cols), rows)
        if matrix.agents:
            await conn.execute(delete(SkillRow).where(SkillRow.agent_id.in_(list(matrix.agents))))
        if skills:
            await conn.execute(_insert(conn, SkillRow.__table__), skills)


async def write_fold(conn: AsyncConnection, fold: Fold) -> None:
    """Write the rows of one fold (inside the caller's transaction)."""
    for table, rows in (
        (ContactEventRow.__table__, fold.events),
        (AgentStateRow.__table__, fold.agent_states),
        (CallbackRow.__table__, fold.callbacks),
    ):
        if rows:
            await conn.execute(_insert(conn, table).on_conflict_do_nothing(), rows)
    if fold.citizens:
        stmt = _insert(conn, CitizenRow.__table__)
        table = CitizenRow.__table__
        await conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["citizen_id"],
                set_={
                    "last_seen": case(
                        (stmt.excluded.last_seen > table.c.last_seen, stmt.excluded.last_seen),
                        else_=table.c.last_seen,
                    ),
                    "phone": func.coalesce(stmt.excluded.phone, table.c.phone),
                },
            ),
            list(fold.citizens.values()),
        )
    if fold.contacts:
        stmt = _insert(conn, ContactRow.__table__)
        table = ContactRow.__table__
        newer = stmt.excluded.updated_seq > table.c.updated_seq
        set_: dict[str, Any] = {c: func.coalesce(table.c[c], stmt.excluded[c]) for c in FIRST_WINS}
        for c in (*LAST_WINS, "updated_seq"):
            set_[c] = case((newer, stmt.excluded[c]), else_=table.c[c])
        await conn.execute(
            stmt.on_conflict_do_update(index_elements=["contact_id"], set_=set_),
            list(fold.contacts.values()),
        )
        answered = [c for c, row in fold.contacts.items() if row["answered_at"] is not None or row["ended_at"] is not None]
        if answered:
            # The wait until answered, even when the arrival was folded in an earlier page.
            row = ContactRow
            await conn.execute(
                update(row)
                .where(and_(row.contact_id.in_(answered), row.answered_at.is_not(None), row.arrived_at.is_not(None)))
                .values(waited=row.answered_at - row.arrived_at)
            )


class HistoryWriter:
    """Copies the event stream of one site into the SQL history."""

    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        engine: AsyncEngine,
        *,
        callback_deadline_s: float = 48 * 3600.0,
        triage: str = "triage",
        page: int = 5_000,
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.engine = engine
        self.callback_deadline_s = callback_deadline_s
        self.triage = triage
        self.page = page
        self.written = 0

    async def progress(self) -> int:
        """The number of the last event already in SQL (0: none)."""
        async with self.engine.connect() as conn:
            found = await conn.scalar(
                select(HistoryProgressRow.last_seq).where(HistoryProgressRow.stream == STREAM)
            )
        return int(found or 0)

    async def step(self) -> int:
        """Write the next page of whole batches; returns the number of events written."""
        last = await self.progress()
        entries = await read_range(self.redis, self.keys.events, event_id(last), self.page)
        if not entries:
            return 0
        if seq_of(entries[0][0]) != last + 1 and last:
            log.error("history gap: events %d..%d were trimmed before being written", last + 1, seq_of(entries[0][0]) - 1)
        decoded = [(seq_of(i), ev.loads(f[b"ev"])) for i, f in entries]
        if len(entries) == self.page:
            cut = max((k for k, (_s, e) in enumerate(decoded) if e.is_input), default=0)
            decoded = decoded[:cut] or decoded
        fold = Fold(self.callback_deadline_s, self.triage)
        for seq, event in decoded:
            fold.add(seq, event)
        fold.finish()
        async with self.engine.begin() as conn:
            await write_fold(conn, fold)
            stmt = _insert(conn, HistoryProgressRow.__table__)
            await conn.execute(
                stmt.on_conflict_do_update(index_elements=["stream"], set_={"last_seq": stmt.excluded.last_seq}),
                [{"stream": STREAM, "last_seq": fold.last_seq}],
            )
        await self.redis.hset(self.keys.meta, "history_seq", str(fold.last_seq))
        self.written += len(decoded)
        return len(decoded)

    async def catch_up(self) -> int:
        """Write until the stream holds nothing new; returns the events written."""
        total = 0
        while n := await self.step():
            total += n
        return total

    async def run(self, poll: float = 0.05, stop: asyncio.Event | None = None) -> None:
        """Write until ``stop`` (waits and retries while Redis is unreachable), then catch up.

        Stop it with the event rather than by cancelling: a cancellation in the
        middle of a SQLite transaction leaves the database locked.
        """
        stop = stop or asyncio.Event()
        while not stop.is_set():
            try:
                if not await self.step():
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(poll):
                            await stop.wait()
            except OUTAGE_ERRORS as exc:
                log.warning("history writer waiting for Redis: %s", exc)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.5):
                        await stop.wait()
        await self.catch_up()


async def _serve(redis_url: str, prefix: str, database_url: str) -> None:
    from dispatcher.store.keys import connect

    engine = engine_for(database_url)
    writer = HistoryWriter(connect(redis_url), Keys(prefix), engine)
    print("ready", flush=True)
    await writer.run()


def main(argv: list[str] | None = None) -> None:
    """Run the history writer of one site until killed (the database must be migrated)."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--prefix", default="guichet")
    parser.add_argument("--database-url", required=True)
    args = parser.parse_args(argv)
    try:
        asyncio.run(_serve(args.redis_url, args.prefix, args.database_url))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
