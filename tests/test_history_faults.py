"""The history writer through database faults: a locked SQLite file, a full disk, PostgreSQL refusing.

Each test routes a synthetic town while the writer runs, breaks the database
for real, keeps routing (the stream grows, the writer says ``retrying`` and
its lag), mends the database, and checks that the writer caught up by itself:
every event of the stream in SQL exactly once, every contact with the
outcome the stream gave it, one log line for the outage and one for its end.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import sqlite3
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from dispatcher import events as ev
from dispatcher.history.migrate import upgrade
from dispatcher.history.models import ContactEventRow, ContactRow
from dispatcher.history.writer import HistoryWriter, engine_for
from dispatcher.router import Router
from dispatcher.service import Dispatcher
from dispatcher.store.keys import Keys, connect
from dispatcher.store.live import RedisStore
from dispatcher.store.loadgen import Load, town
from dispatcher.store.redis_server import RedisServer

WRITER_LOG = "dispatcher.history.writer"


class Site:
    """A dispatcher and its Redis store, routing a synthetic town in virtual time."""

    def __init__(self, redis_url: str, keys: Keys) -> None:
        catalogue, matrix = town(8, processes=3)
        self.redis = connect(redis_url)
        self.dispatcher = Dispatcher(Router(catalogue, matrix))
        self.store = RedisStore(self.redis, keys)
        self.seen: list[ev.Event] = []
        self.dispatcher.add_sink(self.seen.extend)
        self.dispatcher.add_sink(self.store.sink)
        self.load = Load(list(matrix.agents), [p for p in catalogue.processes if p != "triage"], rate=0.5, seed=9,
                         handle_s=10, callback_share=0.2)
        self.t = 1_700_000_000.0

    async def start(self) -> None:
        await self.store.start()
        for e in self.load.login(self.t):
            self.load.observe(self.dispatcher.submit(e), e.at)

    async def advance(self, seconds: float) -> None:
        """Route ``seconds`` of the town's day, then wait until Redis has it all."""
        end = self.t + seconds
        while self.t < end:
            for e in [*self.load.due(self.t), ev.TimePassed(at=self.t)]:
                self.load.observe(self.dispatcher.submit(e), e.at)
            self.t += 1.0
        await self.store.drained()

    async def close(self) -> None:
        await self.store.stop()
        await self.redis.aclose()


async def _until(check: Callable[[], bool | Awaitable[bool]], what: str, timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        result = check()
        if result if isinstance(result, bool) else await result:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


@contextlib.asynccontextmanager
async def _writing(site: Site, engine: AsyncEngine) -> AsyncIterator[HistoryWriter]:
    writer = HistoryWriter(site.redis, site.store.keys, engine, max_backoff=0.2)
    stop = asyncio.Event()
    task = asyncio.create_task(writer.run(stop=stop))
    try:
        yield writer
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def _fault_and_recover(
    site: Site, writer: HistoryWriter, break_it: Callable[[], Awaitable[None]], mend: Callable[[], Awaitable[None]]
) -> int:
    """Route, break, route on, mend; returns the lag seen during the outage."""
    await site.advance(120)
    await _until(lambda: writer.written_seq == site.store.written_seq, "the writer to catch up before the fault")
    assert writer.health().status == "ok" and writer.lag == 0
    await break_it()
    await site.advance(240)
    await _until(lambda: writer.health().status == "retrying", "the writer to see the fault")
    await site.advance(120)  # routing goes on during the outage
    await asyncio.sleep(0.5)  # several failed tries: still one log line
    lag = writer.health().lag
    assert lag > 0 and writer.written_seq < site.store.written_seq
    await mend()
    await _until(
        lambda: writer.health().status == "ok" and writer.written_seq == site.store.written_seq,
        "the writer to catch up after the fault",
    )
    assert writer.lag == 0
    return lag


async def _check_history(engine: AsyncEngine, site: Site) -> None:
    async with engine.connect() as conn:
        seqs = list(await conn.scalars(select(ContactEventRow.seq).order_by(ContactEventRow.seq)))
        rows = await conn.scalar(select(func.count()).select_from(ContactEventRow))
        outcomes = dict((await conn.execute(select(ContactRow.contact_id, ContactRow.outcome))).all())
    assert seqs == list(range(1, len(site.seen) + 1)), "an event was lost or written twice"
    assert rows == len(site.seen)
    queued = {e.contact_id for e in site.seen if isinstance(e, ev.ContactQueued)}
    ended = {e.contact_id: e.outcome.value for e in site.seen if isinstance(e, ev.ContactEnded)}
    assert set(outcomes) == queued
    assert {c: o for c, o in outcomes.items() if o} == ended


def _outage_lines(caplog: pytest.LogCaptureFixture) -> tuple[int, int]:
    mine = [r for r in caplog.records if r.name == WRITER_LOG]
    down = [r for r in mine if r.levelno == logging.ERROR and "cannot write" in r.getMessage()]
    back = [r for r in mine if "writing again" in r.getMessage()]
    return len(down), len(back)


async def test_a_locked_sqlite_file_delays_the_history_and_loses_nothing(
    redis_server: RedisServer, redis_prefix: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    path = tmp_path / "history.sqlite"
    url = f"sqlite+aiosqlite:///{path}"
    await asyncio.to_thread(upgrade, url)
    engine = engine_for(url, sqlite_busy_s=0.1)
    site = Site(redis_server.url, Keys(redis_prefix))
    await site.start()
    locker = sqlite3.connect(path, isolation_level=None, check_same_thread=False)

    async def lock() -> None:
        locker.execute("BEGIN EXCLUSIVE")

    async def unlock() -> None:
        locker.execute("ROLLBACK")

    try:
        async with _writing(site, engine) as writer:
            await _fault_and_recover(site, writer, lock, unlock)
            assert "locked" in (caplog.text or "")
        await _check_history(engine, site)
        assert _outage_lines(caplog) == (1, 1)
    finally:
        locker.close()
        await site.close()
        await engine.dispose()


def _mount_tmpfs(where: Path) -> bool:
    """A 2 MB tmpfs at ``where``; False where the machine does not allow it (not root)."""
    where.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(where)], capture_output=True,
                          check=False)
    return done.returncode == 0


def _fill(path: Path) -> None:
    """Write zeros into ``path`` until the disk has no byte left."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    try:
        size = 65536
        while size:
            try:
                os.write(fd, b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                size //= 2
    finally:
        os.close(fd)


class _PageCap:
    """Where no tmpfs can be mounted: SQLite's own full-disk error (SQLITE_FULL), from ``max_page_count``."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.cap: int | None = None
        event.listen(engine.sync_engine, "connect", self._on_connect)

    def _on_connect(self, dbapi_conn: object, _record: object) -> None:
        if self.cap is not None:
            cursor = dbapi_conn.cursor()  # type: ignore[attr-defined]
            cursor.execute(f"PRAGMA max_page_count = {self.cap}")
            cursor.close()

    async def fill(self) -> None:
        async with self.engine.connect() as conn:
            self.cap = int((await conn.exec_driver_sql("PRAGMA page_count")).scalar_one())
        await self.engine.dispose()

    async def free(self) -> None:
        self.cap = None
        await self.engine.dispose()


async def test_a_full_disk_delays_the_history_and_loses_nothing(
    redis_server: RedisServer, redis_prefix: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """On a 2 MB tmpfs filled to the last byte (as root), else with SQLite's page cap: the same error."""
    caplog.set_level(logging.INFO)
    disk = tmp_path / "disk"
    mounted = await asyncio.to_thread(_mount_tmpfs, disk)
    try:
        url = f"sqlite+aiosqlite:///{disk / 'history.sqlite'}"
        await asyncio.to_thread(upgrade, url)
        engine = engine_for(url, sqlite_busy_s=0.1)
        site = Site(redis_server.url, Keys(redis_prefix))
        await site.start()
        junk = disk / "junk"
        cap = _PageCap(engine)

        async def fill() -> None:
            if mounted:
                await asyncio.to_thread(_fill, junk)
            else:
                await cap.fill()

        async def free() -> None:
            if mounted:
                junk.unlink()
            else:
                await cap.free()

        try:
            async with _writing(site, engine) as writer:
                await _fault_and_recover(site, writer, fill, free)
            assert "database or disk is full" in caplog.text
            await _check_history(engine, site)
            assert _outage_lines(caplog) == (1, 1)
        finally:
            await site.close()
            await engine.dispose()
    finally:
        if mounted:
            await asyncio.to_thread(subprocess.run, ["umount", "-l", str(disk)], check=False)


async def _admin(url: str) -> object:
    import asyncpg

    u = make_url(url)
    return await asyncpg.connect(host=u.host, port=u.port or 5432, user=u.username, password=u.password,
                                 database="postgres")


async def test_postgresql_going_away_delays_the_history_and_loses_nothing(
    redis_server: RedisServer, redis_prefix: str, postgres_server_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    url = postgres_server_url
    from tests.conftest import _empty_schema

    await _empty_schema(url)
    await asyncio.to_thread(upgrade, url)
    engine = engine_for(url)
    name = make_url(url).database
    admin = await _admin(url)
    site = Site(redis_server.url, Keys(redis_prefix))
    await site.start()

    async def restart() -> None:
        """What a PostgreSQL restart looks like to a client: connections cut, new ones refused."""
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')  # type: ignore[attr-defined]
        await admin.execute(  # type: ignore[attr-defined]
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            name,
        )

    async def back() -> None:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')  # type: ignore[attr-defined]

    try:
        async with _writing(site, engine) as writer:
            await _fault_and_recover(site, writer, restart, back)
        await _check_history(engine, site)
        assert _outage_lines(caplog) == (1, 1)
    finally:
        await back()
        await admin.close()  # type: ignore[attr-defined]
        await site.close()
        await engine.dispose()
