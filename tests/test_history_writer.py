"""The SQL history on SQLite and PostgreSQL: migration, exactly-once writer, purge."""

from __future__ import annotations

import asyncio
import json

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, select, update

from dispatcher import events as ev
from dispatcher.history.migrate import upgrade
from dispatcher.history.models import (
    Base,
    CallbackRow,
    CitizenRow,
    ContactEventRow,
    ContactRow,
    HistoryProgressRow,
    SkillRow,
)
from dispatcher.history.purge import purge
from dispatcher.history.writer import HistoryWriter, engine_for, sync_reference
from dispatcher.router import Router
from dispatcher.service import Dispatcher
from dispatcher.store.keys import Keys, connect
from dispatcher.store.live import RedisStore
from dispatcher.store.loadgen import Load, town
from dispatcher.store.redis_server import RedisServer
from skills.model import Channel


async def test_migration_matches_the_models(database_url: str) -> None:
    await asyncio.to_thread(upgrade, database_url)
    engine = engine_for(database_url)
    async with engine.connect() as conn:
        diff = await conn.run_sync(
            lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata)
        )
    await engine.dispose()
    assert diff == []


async def _fill_stream(redis_url: str, keys: Keys) -> tuple[list[ev.Event], Router]:
    catalogue, matrix = town(8, processes=3)
    redis = connect(redis_url)
    dispatcher = Dispatcher(Router(catalogue, matrix))
    store = RedisStore(redis, keys)
    seen: list[ev.Event] = []
    dispatcher.add_sink(seen.extend)
    dispatcher.add_sink(store.sink)
    await store.start()
    load = Load(list(matrix.agents), [p for p in catalogue.processes if p != "triage"], rate=0.5, seed=5,
                handle_s=10, callback_share=0.3)
    for e in load.login(1_700_000_000.0):
        load.observe(dispatcher.submit(e), e.at)
    t = 1_700_000_000.0
    while t < 1_700_000_000.0 + 1200:
        for e in [*load.due(t), ev.TimePassed(at=t)]:
            load.observe(dispatcher.submit(e), e.at)
        t += 1.0
    await store.stop()
    await redis.aclose()
    return seen, dispatcher.router


async def test_writer_writes_every_event_once(
    database_url: str, redis_server: RedisServer, redis_prefix: str
) -> None:
    keys = Keys(redis_prefix)
    seen, router = await _fill_stream(redis_server.url, keys)
    await asyncio.to_thread(upgrade, database_url)
    engine = engine_for(database_url)
    catalogue, matrix = town(8, processes=3)
    await sync_reference(engine, catalogue, matrix)
    redis = connect(redis_server.url)
    writer = HistoryWriter(redis, keys, engine, page=577)
    assert await writer.catch_up() == len(seen)

    async with engine.connect() as conn:
        seqs = list(await conn.scalars(select(ContactEventRow.seq).order_by(ContactEventRow.seq)))
        contacts = {r.contact_id: r for r in await conn.execute(select(ContactRow))}
        callbacks = list(await conn.scalars(select(CallbackRow.callback_id)))
        skills = await conn.scalar(select(func.count()).select_from(SkillRow))
    assert seqs == list(range(1, len(seen) + 1))
    queued = {e.contact_id for e in seen if isinstance(e, ev.ContactQueued)}
    assert set(contacts) == queued
    ended = {e.contact_id: e for e in seen if isinstance(e, ev.ContactEnded)}
    assert {c: r.outcome for c, r in contacts.items() if r.outcome} == {
        c: e.outcome.value for c, e in ended.items()
    }
    assert set(ended) | set(router.contacts) == queued
    offered = {e.contact_id for e in seen if isinstance(e, ev.ContactOffered)}
    assert {c for c, r in contacts.items() if r.offered_at is not None} == offered
    requested = {e.callback_id for e in seen if isinstance(e, ev.CallbackRequested)}
    rejected = {e.subject for e in seen if isinstance(e, ev.Rejected) and e.input_kind == "callback_requested"}
    assert callbacks and set(callbacks) <= requested
    assert set(callbacks) == {c for c in queued if c.endswith("-cb")}
    assert rejected or len(callbacks) == len(requested)
    assert skills == sum(len(a.skills) for a in matrix.agents.values())

    # a writer crash between commit and mark, replayed: nothing changes
    async with engine.begin() as conn:
        await conn.execute(update(HistoryProgressRow).values(last_seq=len(seen) // 3))
    assert await writer.catch_up() == len(seen) - len(seen) // 3
    async with engine.connect() as conn:
        again = await conn.scalar(select(func.count()).select_from(ContactEventRow))
        contacts_again = {r.contact_id: r for r in await conn.execute(select(ContactRow))}
    assert again == len(seen)
    assert contacts_again == contacts
    payloads = [json.loads(e) for e in await _payloads(engine)]
    assert not any("caller" in p or "citizen_id" in p for p in payloads)
    await engine.dispose()
    await redis.aclose()


async def _payloads(engine) -> list[str]:
    async with engine.connect() as conn:
        return list(await conn.scalars(select(ContactEventRow.payload)))


async def test_purge_removes_personal_data_after_retention(database_url: str) -> None:
    await asyncio.to_thread(upgrade, database_url)
    engine = engine_for(database_url)
    day = 86_400.0
    async with engine.begin() as conn:
        await conn.execute(
            CitizenRow.__table__.insert(),
            [
                {"citizen_id": "old", "phone": "0600000001", "consent": True, "first_seen": 0.0, "last_seen": 10 * day},
                {"citizen_id": "new", "phone": "0600000002", "consent": True, "first_seen": 0.0, "last_seen": 390 * day},
            ],
        )
        await conn.execute(
            ContactRow.__table__.insert(),
            [
                {"contact_id": "c1", "citizen_id": "old", "arrived_at": 10 * day, "updated_seq": 1, "outcome": "served"},
                {"contact_id": "c2", "citizen_id": "new", "arrived_at": 390 * day, "updated_seq": 2, "outcome": None},
            ],
        )
        await conn.execute(
            CallbackRow.__table__.insert(),
            [{"callback_id": "c1-cb", "contact_id": "c1", "number": "0600000001", "requested_at": 10 * day, "deadline": 12 * day}],
        )
    dry = await purge(engine, 365, now=400 * day, dry_run=True)
    assert (dry.citizens, dry.contacts, dry.callbacks) == (1, 1, 1)
    done = await purge(engine, 365, now=400 * day)
    assert done == dry
    async with engine.connect() as conn:
        assert list(await conn.scalars(select(CitizenRow.citizen_id))) == ["new"]
        rows = {r.contact_id: r for r in await conn.execute(select(ContactRow))}
        number = await conn.scalar(select(CallbackRow.number))
    assert rows["c1"].citizen_id is None and rows["c1"].outcome == "served"
    assert rows["c2"].citizen_id == "new"
    assert number is None
    assert (await purge(engine, 365, now=400 * day)).citizens == 0
    await engine.dispose()


async def test_an_estimated_wait_is_flagged_in_the_contacts_table(
    database_url: str, redis_server: RedisServer, redis_prefix: str
) -> None:
    keys = Keys(redis_prefix)
    catalogue, matrix = town(2, processes=1)
    redis = connect(redis_server.url)
    dispatcher = Dispatcher(Router(catalogue, matrix))
    store = RedisStore(redis, keys)
    dispatcher.add_sink(store.sink)
    await store.start()
    process = next(p for p in catalogue.processes if p != "triage")
    t = 1_700_000_000.0
    for cid in ("gone", "seen"):
        dispatcher.submit(ev.ContactArrived(at=t, contact_id=cid, channel=Channel.PHONE, process=process))
    dispatcher.submit(ev.ContactAbandoned(at=t + 600, contact_id="gone", left_at=t + 40, approximate=True))
    dispatcher.submit(ev.ContactAbandoned(at=t + 600, contact_id="seen"))
    await store.stop()
    await asyncio.to_thread(upgrade, database_url)
    engine = engine_for(database_url)
    await sync_reference(engine, catalogue, matrix)
    assert await HistoryWriter(redis, keys, engine).catch_up() > 0
    async with engine.connect() as conn:
        rows = {r.contact_id: (r.outcome, r.waited, r.wait_approximate) for r in await conn.execute(select(ContactRow))}
    await engine.dispose()
    await redis.aclose()
    assert rows == {"gone": ("abandoned", 40.0, True), "seen": ("abandoned", 600.0, False)}
