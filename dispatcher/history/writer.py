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

import argparse
import asyncio
import contextlib
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
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
from skills.model import Catalogue, SkillMatrix

log = logging.getLogger(__name__)

STREAM = "events"


def sqlite_url(path: Path) -> str:
    """The URL of a SQLite history file, created owner-only (0600) in an owner-only directory (0700).

    SQLite gives its journal and WAL files the database file's mode.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    os.chmod(path, 0o600)
    return f"sqlite+aiosqlite:///{path}"


def engine_for(url: str, sqlite_busy_s: float = 5.0) -> AsyncEngine:
    """An async engine (SQLite: WAL journal, so readers never block the writer;
    a locked file is waited for ``sqlite_busy_s`` before it is an error)."""
    connect_args = {"timeout": sqlite_busy_s} if url.startswith("sqlite") else {}
    engine = create_async_engine(url, pool_pre_ping=True, connect_args=connect_args)
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


@dataclass(frozen=True, slots=True)
class WriterHealth:
    """What the health endpoint and the metrics report about the history writer."""

    status: str
    """``ok``, or ``retrying`` while the database (or Redis) refuses its writes."""
    lag: int
    """Events in the stream not yet in SQL."""
    written_seq: int
    """The last event number in SQL."""
    last_error: str | None = None
    down_since: float | None = None


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
        max_backoff: float = 5.0,
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.engine = engine
        self.callback_deadline_s = callback_deadline_s
        self.triage = triage
        self.page = page
        self.max_backoff = max_backoff
        self.written = 0
        self.written_seq = 0
        self.stream_seq = 0
        self.down_since: float | None = None
        self.last_error: str | None = None
        self.errors = 0

    @property
    def lag(self) -> int:
        """Events in the stream not yet in SQL (as of the writer's last look)."""
        return max(0, self.stream_seq - self.written_seq)

    def health(self) -> WriterHealth:
        """``ok`` or ``retrying``, with the lag in events."""
        status = "ok" if self.down_since is None else "retrying"
        return WriterHealth(status, self.lag, self.written_seq, self.last_error, self.down_since)

    async def progress(self) -> int:
        """The number of the last event already in SQL (0: none)."""
        async with self.engine.connect() as conn:
            found = await conn.scalar(
                select(HistoryProgressRow.last_seq).where(HistoryProgressRow.stream == STREAM)
            )
        return int(found or 0)

    async def step(self) -> int:
        """Write the next page of whole batches; returns the number of events written."""
        top = await self.redis.hget(self.keys.meta, "last_seq")
        self.stream_seq = int(top or 0)
        last = self.written_seq = await self.progress()
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
        self.written_seq = fold.last_seq
        self.stream_seq = max(self.stream_seq, fold.last_seq)
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
        """Write until ``stop``, retrying with backoff through any error, then catch up.

        Stop it with the event rather than by cancelling: a cancellation in the
        middle of a SQLite transaction leaves the database locked.
        """
        stop = stop or asyncio.Event()
        backoff = poll
        while not stop.is_set():
            try:
                written = await self.step()
            except Exception as exc:  # noqa: BLE001 - any database or Redis error: wait, then the same page again
                self._failed(exc)
                backoff = min(self.max_backoff, max(0.05, backoff * 2))
                await _wait(stop, backoff)
                continue
            self._recovered()
            backoff = poll
            if not written:
                await _wait(stop, poll)
        with contextlib.suppress(Exception):
            await self.catch_up()
        if self.lag:
            log.warning("history writer stopped %d events behind the stream (written at the next start)", self.lag)

    def _failed(self, exc: BaseException) -> None:
        self.errors += 1
        self.last_error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        if self.down_since is None:
            self.down_since = time.time()
            log.error(
                "history writer cannot write (routing goes on, events wait in the stream), retrying: %s",
                self.last_error,
            )

    def _recovered(self) -> None:
        if self.down_since is None:
            return
        log.warning(
            "history writer writing again after %.1f s and %d failed tries; %d events to catch up",
            time.time() - self.down_since, self.errors, self.lag,
        )
        self.down_since, self.last_error, self.errors = None, None, 0


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await stop.wait()


async def _serve(args: argparse.Namespace) -> None:
    import signal
    import sys
    import threading

    from dispatcher.store.keys import connect

    engine = engine_for(args.database_url)
    writer = HistoryWriter(
        connect(args.redis_url), Keys(args.prefix), engine,
        callback_deadline_s=args.callback_deadline_s, triage=args.triage,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    if args.stop_on_eof:  # the server's pipe: closed when it stops, or dies (even by kill -9)

        def watch() -> None:
            sys.stdin.read()
            loop.call_soon_threadsafe(stop.set)

        threading.Thread(target=watch, name="guichet-history-stdin", daemon=True).start()
    print("ready", flush=True)
    try:
        await writer.run(stop=stop)
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> None:
    """Run the history writer of one site until stopped (the database must be migrated).

    SIGTERM or SIGINT (or, with ``--stop-on-eof``, the end of standard input)
    stops it cleanly: it writes what the stream holds, then exits.
    """
    from dispatcher.observe.logs import FORMATS, LEVELS, setup

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--prefix", default="guichet")
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--callback-deadline-s", type=float, default=48 * 3600.0)
    parser.add_argument("--triage", default="triage")
    parser.add_argument("--log-level", choices=LEVELS, default="info")
    parser.add_argument("--log-format", choices=FORMATS, default="text")
    parser.add_argument("--stop-on-eof", action="store_true", help="Stop when standard input ends.")
    args = parser.parse_args(argv)
    setup(args.log_level, args.log_format)
    try:
        asyncio.run(_serve(args))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
