"""``guichet bench store``: persistence throughput on each path, and recovery after kill -9.

- Redis: the store sink (buffer + pipelined MULTI/EXEC flushes) against a
  baseline of one XADD round trip per event, same events, same server.
- SQLite / PostgreSQL: the history writer copying the stream into SQL.
- Recovery: a dispatcher process holding 10,000 waiting contacts and 1,000
  agents is SIGKILLed; the time from the kill until a new process has
  routed a fresh input (decision in the stream) is ``recovery_s``.
- ``lost`` / ``duplicated``: events, rows and contacts compared across every path.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from dispatcher import events as ev
from dispatcher.events import AgentState, Event
from dispatcher.router import Router
from dispatcher.store.keys import Keys, connect, last_id, read_new
from dispatcher.store.live import RedisStore
from dispatcher.store.loadgen import Load, town
from dispatcher.store.redis_server import RedisServer


def _batches(target: int) -> list[list[Event]]:
    """About ``target`` events of a busy front desk, as the dispatcher's sink batches."""
    catalogue, matrix = town(60)
    router = Router(catalogue, matrix)
    load = Load(list(matrix.agents), [p for p in catalogue.processes if p != "triage"], rate=3, handle_s=20)
    out: list[list[Event]] = []
    count = 0
    t = 1_700_000_000.0
    for event in load.login(t):
        decisions = router.handle(event)
        load.observe(decisions, t)
        out.append([event, *decisions])
    while count < target:
        for event in [*load.due(t), ev.TimePassed(at=t)]:
            decisions = router.handle(event)
            load.observe(decisions, event.at)
            out.append([event, *decisions])
            count += 1 + len(decisions)
        t += 1.0
    return out


async def _redis_path(url: str, batches: list[list[Event]], baseline_events: int) -> dict[str, Any]:
    redis = connect(url)
    keys = Keys(f"bench{uuid.uuid4().hex[:8]}")
    total = sum(len(b) for b in batches)
    store = RedisStore(redis, keys)
    await store.start()
    started = time.perf_counter()
    for batch in batches:
        store.sink(batch)
        if store.backlog >= 5_000:
            await asyncio.sleep(0)
    await store.drained()
    elapsed = time.perf_counter() - started
    await store.stop()
    entries = await redis.xlen(keys.events)
    naive_key = f"{keys.prefix}:naive"
    flat = [e for b in batches for e in b][:baseline_events]
    started = time.perf_counter()
    for event in flat:
        await redis.xadd(naive_key, {"ev": ev.dumps(event)})
    naive = time.perf_counter() - started
    await redis.delete(naive_key)
    await redis.aclose()
    return {
        "keys": keys, "events": total, "stored": entries, "seconds": elapsed,
        "per_s": total / elapsed, "baseline_per_s": len(flat) / naive,
    }


async def _sql_path(redis_url: str, keys: Keys, database_url: str, events: int) -> dict[str, Any]:
    from sqlalchemy import func, select

    from dispatcher.history.migrate import upgrade
    from dispatcher.history.models import ContactEventRow
    from dispatcher.history.writer import HistoryWriter, engine_for

    await asyncio.to_thread(upgrade, database_url)
    engine = engine_for(database_url)
    redis = connect(redis_url)
    writer = HistoryWriter(redis, keys, engine)
    started = time.perf_counter()
    written = await writer.catch_up()
    elapsed = time.perf_counter() - started
    async with engine.connect() as conn:
        rows = int(await conn.scalar(select(func.count()).select_from(ContactEventRow)) or 0)
        distinct = int(await conn.scalar(select(func.count(func.distinct(ContactEventRow.seq)))) or 0)
    await engine.dispose()
    await redis.aclose()
    return {"per_s": written / elapsed, "seconds": elapsed, "lost": events - distinct, "duplicated": rows - distinct}


async def _postgres_url() -> tuple[str | None, str | None, str]:
    """A fresh database on DATABASE_URL's server (or 127.0.0.1:5432); (url, name, note)."""
    import asyncpg
    from sqlalchemy.engine import make_url

    base = os.environ.get("DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
    if not base.startswith("postgresql"):
        return None, None, f"DATABASE_URL is not PostgreSQL ({base.split(':')[0]})"
    url = make_url(base.replace("postgresql://", "postgresql+asyncpg://", 1))
    name = f"guichet_bench_{uuid.uuid4().hex[:8]}"
    try:
        conn = await asyncpg.connect(
            host=url.host, port=url.port or 5432, user=url.username, password=url.password,
            database=url.database or "postgres", timeout=3,
        )
    except (OSError, asyncpg.PostgresError) as exc:
        return None, None, f"PostgreSQL unreachable: {exc}"
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    return url.set(database=name).render_as_string(hide_password=False), name, "ok"


async def _drop_database(url: str, name: str) -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    u = make_url(url)
    conn = await asyncpg.connect(host=u.host, port=u.port or 5432, user=u.username, password=u.password,
                                 database="postgres")
    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await conn.close()


async def _recovery(redis_url: str, agents: int, waiting: int, snapshot_every: int = 5_000) -> dict[str, Any]:
    """Fill a dispatcher process with ``waiting`` contacts and ``agents`` agents, kill -9, time the restart."""
    from dispatcher.store.crashtest import Child
    from dispatcher.store.intake import publish

    redis = connect(redis_url)
    keys = Keys(f"benchrec{uuid.uuid4().hex[:8]}")
    child = Child("dispatcher.store.runtime",
                  ["--redis-url", redis_url, "--prefix", keys.prefix, "--agents", str(agents), "--snapshot-every", str(snapshot_every)])
    await child.start()
    now = time.time()
    inputs: list[Event] = [
        ev.AgentStatusSet(at=now, agent_id=f"a{i:04d}", state=AgentState.AVAILABLE) for i in range(agents)
    ]
    channels = (ev.Channel.COUNTER, ev.Channel.EMAIL)
    inputs += [
        ev.ContactArrived(at=now + i * 1e-4, contact_id=f"r{i:06d}", channel=channels[i % 2], process=f"p{i % 8:02d}")
        for i in range(waiting + agents)
    ]
    for start in range(0, len(inputs), 2_000):
        await publish(redis, keys.intake, *inputs[start:start + 2_000])
    last_intake = await last_id(redis, keys.intake)
    while await redis.hget(keys.meta, "intake_applied") != last_intake:
        await asyncio.sleep(0.05)
    before = await redis.hlen(keys.waiting)
    last_seq = int(await redis.hget(keys.meta, "last_seq") or 0)
    child.kill()
    killed = time.perf_counter()
    await publish(redis, keys.intake, ev.ContactArrived(at=time.time(), contact_id="probe", channel=ev.Channel.EMAIL, process="p00"))
    await child.start()
    while True:
        found = await read_new(redis, keys.events, f"{last_seq}-0", 100)
        if any(b'"contact_queued"' in f[b"ev"] and b'"probe"' in f[b"ev"] for _i, f in found):
            break
        await asyncio.sleep(0.002)
    recovery = time.perf_counter() - killed
    report = child.ready[-1]
    after = await redis.hlen(keys.waiting)
    child.stop()
    for key in (keys.events, keys.intake, keys.waiting, keys.agents, keys.meta, keys.snapshot):
        await redis.delete(key)
    await redis.aclose()
    return {
        "recovery_s": recovery, "in_process_s": report["recovery_s"], "replayed": report["replayed"],
        "diverged": report["diverged"], "waiting_before": before, "waiting_after": after - 1,
        "recovered_waiting": report["waiting"],
    }


async def _run(console: Console, quick: bool) -> dict[str, Any]:
    target = 5_000 if quick else 100_000
    agents, waiting = (100, 1_000) if quick else (1_000, 10_000)
    batches = _batches(target)
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(Path(tmp) / "redis")
        redis_url = os.environ.get("GUICHET_BENCH_REDIS_URL") or server.start()
        try:
            r = await _redis_path(redis_url, batches, baseline_events=2_000 if quick else 10_000)
            sqlite = await _sql_path(redis_url, r["keys"], f"sqlite+aiosqlite:///{tmp}/bench.sqlite", r["events"])
            pg_url, pg_name, pg_note = await _postgres_url()
            pg = None
            if pg_url and pg_name:
                try:
                    pg = await _sql_path(redis_url, r["keys"], pg_url, r["events"])
                finally:
                    await _drop_database(pg_url, pg_name)
            rec = await _recovery(redis_url, agents, waiting)
            replay = await _recovery(redis_url, agents, waiting, snapshot_every=10**9)
        finally:
            server.stop()
    table = Table(title=f"guichet bench store ({r['events']} events)")
    for name in ("path", "events/s", "seconds", "notes"):
        table.add_column(name, justify="right" if name in ("events/s", "seconds") else "left")
    table.add_row("Redis, buffered pipelines", f"{r['per_s']:,.0f}", f"{r['seconds']:.2f}", "store sink + MULTI/EXEC flush")
    table.add_row("Redis, one XADD per event", f"{r['baseline_per_s']:,.0f}", "", "baseline")
    table.add_row("SQLite history", f"{sqlite['per_s']:,.0f}", f"{sqlite['seconds']:.2f}", "writer, 5,000-event transactions")
    if pg:
        table.add_row("PostgreSQL history", f"{pg['per_s']:,.0f}", f"{pg['seconds']:.2f}", "asyncpg")
    else:
        table.add_row("PostgreSQL history", "-", "", pg_note)
    table.add_row(
        f"recovery ({waiting:,} waiting, {agents:,} agents)", "", f"{rec['recovery_s']:.2f}",
        f"kill -9 -> routing; in process {rec['in_process_s']:.2f} s, {rec['replayed']} inputs replayed",
    )
    table.add_row(
        "recovery without checkpoint", "", f"{replay['recovery_s']:.2f}",
        f"replay of all {replay['replayed']} inputs; in process {replay['in_process_s']:.2f} s",
    )
    console.print(table)
    lost = (r["events"] - r["stored"]) + sqlite["lost"] + (pg["lost"] if pg else 0)
    for x in (rec, replay):
        lost += max(0, x["waiting_before"] - x["recovered_waiting"])
    duplicated = sqlite["duplicated"] + (pg["duplicated"] if pg else 0) + max(0, r["stored"] - r["events"])
    duplicated += sum(max(0, x["recovered_waiting"] - x["waiting_before"]) for x in (rec, replay))
    return {
        "events": r["events"],
        "redis_events_per_s": round(r["per_s"]),
        "redis_baseline_events_per_s": round(r["baseline_per_s"]),
        "sqlite_events_per_s": round(sqlite["per_s"]),
        "postgres_events_per_s": round(pg["per_s"]) if pg else None,
        "postgres_note": pg_note,
        "recovery_s": round(rec["recovery_s"], 3),
        "recovery_in_process_s": round(rec["in_process_s"], 3),
        "recovery_replayed_inputs": rec["replayed"],
        "recovery_diverged": rec["diverged"] + replay["diverged"],
        "recovery_replay_only_s": round(replay["recovery_s"], 3),
        "waiting": rec["waiting_before"],
        "agents": agents,
        "lost": lost,
        "duplicated": duplicated,
    }


def run(console: Console, quick: bool) -> dict[str, Any]:
    """Run the store benchmark (``quick``: small sizes, a few seconds)."""
    return asyncio.run(_run(console, quick))
