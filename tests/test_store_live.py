"""The Redis store against a real redis-server: stream, live hashes, checkpoints, recovery."""

from __future__ import annotations

import json

import pytest

from dispatcher import events as ev
from dispatcher.router import Router
from dispatcher.service import Dispatcher
from dispatcher.store import snapshot
from dispatcher.store.intake import IntakeReader, publish
from dispatcher.store.keys import Keys, connect, seq_of
from dispatcher.store.live import RedisStore
from dispatcher.store.loadgen import Load, town
from dispatcher.store.recovery import recover
from dispatcher.store.redis_server import RedisServer


def _load(matrix, catalogue, seed: int = 3) -> Load:
    processes = [p for p in catalogue.processes if p != "triage"]
    return Load(list(matrix.agents), processes, rate=0.8, seed=seed, handle_s=12)


async def _run(dispatcher: Dispatcher, load: Load, start: float, stop: float) -> None:
    t = start
    while t < stop:
        for event in [*load.due(t), ev.TimePassed(at=t)]:
            load.observe(dispatcher.submit(event), event.at)
        t += 0.5


@pytest.mark.parametrize("fork_above_ms", [float("inf"), -1.0], ids=["in-process", "forked"])
async def test_stream_holds_every_event_once_and_recovery_matches(
    redis_server: RedisServer, redis_prefix: str, fork_above_ms: float
) -> None:
    catalogue, matrix = town(10, processes=4)
    keys = Keys(redis_prefix)
    redis = connect(redis_server.url)
    dispatcher = Dispatcher(Router(catalogue, matrix))
    store = RedisStore(
        redis, keys, checkpoint=lambda: snapshot.take(dispatcher.router), snapshot_every=300, max_flush=200,
        fork_above_ms=fork_above_ms,
    )
    seen: list[str] = []
    dispatcher.add_sink(lambda batch: seen.extend(ev.dumps(e) for e in batch))
    dispatcher.add_sink(store.sink)
    await store.start()
    load = _load(matrix, catalogue)
    for e in load.login(0.0):
        load.observe(dispatcher.submit(e), 0.0)
    await _run(dispatcher, load, 0.0, 600.0)
    await store.stop()
    assert store.backlog == 0
    assert (store.forked_checkpoints > 0) == (fork_above_ms < 0)

    entries = await redis.xrange(keys.events)
    meta = await redis.hgetall(keys.meta)
    assert int(meta[b"snapshot_upto"]) > 0
    if len(entries) < len(seen):
        assert seq_of(entries[0][0]) > 1, "only a trim may shorten the stream"
    tail = [fields[b"ev"].decode() for _id, fields in entries]
    assert tail == seen[len(seen) - len(tail):]
    assert [seq_of(i) for i, _ in entries] == list(range(len(seen) - len(tail) + 1, len(seen) + 1))

    waiting = {k.decode(): json.loads(v) for k, v in (await redis.hgetall(keys.waiting)).items()}
    assert set(waiting) == set(dispatcher.router.queue.contacts)
    for cid, view in waiting.items():
        assert view["arrived_at"] == dispatcher.router.contacts[cid].arrived_at
    agents = {k.decode(): json.loads(v) for k, v in (await redis.hgetall(keys.agents)).items()}
    assert {a: v["state"] for a, v in agents.items()} == {
        a: r.state.value for a, r in dispatcher.router.agents.items()
    }

    rec = await recover(redis, keys, catalogue, matrix)
    assert rec.diverged == 0
    assert 0 < rec.replayed < 300
    assert rec.next_seq == len(seen) + 1
    twin_load = _load(matrix, catalogue)
    twin_load.__dict__.update({k: v for k, v in load.__dict__.items() if k not in ("rng", "_due")})
    twin_load.rng.setstate(load.rng.getstate())
    twin_load._due = list(load._due)
    recovered = Dispatcher(rec.router)
    after_original: list[str] = []
    after_recovered: list[str] = []
    dispatcher.add_sink(lambda b: after_original.extend(ev.dumps(e) for e in b))
    recovered.add_sink(lambda b: after_recovered.extend(ev.dumps(e) for e in b))
    await _run(dispatcher, load, 600.0, 900.0)
    await _run(recovered, twin_load, 600.0, 900.0)
    assert len(after_original) > 200
    assert after_recovered == after_original
    await redis.aclose()


async def test_intake_is_applied_once_across_restarts(redis_server: RedisServer, redis_prefix: str) -> None:
    catalogue, matrix = town(3, processes=2)
    keys = Keys(redis_prefix)
    redis = connect(redis_server.url)
    arrivals = [
        ev.ContactArrived(at=float(i), contact_id=f"c{i}", channel=ev.Channel.EMAIL, process="p00")
        for i in range(30)
    ]
    ids = await publish(redis, keys.intake, *arrivals[:20])
    rec = await recover(redis, keys, catalogue, matrix)
    dispatcher = Dispatcher(rec.router)
    store = RedisStore(redis, keys, rec.next_seq)
    dispatcher.add_sink(store.sink)
    reader = IntakeReader(dispatcher, store, rec.intake_applied)
    for entry_id, fields in (await redis.xrange(keys.intake))[:12]:
        reader.apply(entry_id.decode(), fields[b"ev"])
    await store.start()
    await store.stop()
    assert (await redis.hget(keys.meta, "intake_applied")).decode() == ids[11]
    for entry_id, fields in (await redis.xrange(keys.intake))[12:15]:
        reader.apply(entry_id.decode(), fields[b"ev"])  # applied, never written: the "crash"

    await publish(redis, keys.intake, *arrivals[20:], ev.ContactArrived(at=99.0, contact_id="c0", channel=ev.Channel.EMAIL))
    await redis.xadd(keys.intake, {"ev": b"{not json"})
    rec = await recover(redis, keys, catalogue, matrix)
    assert rec.intake_applied == ids[11]
    assert len(rec.router.contacts) == 12
    dispatcher = Dispatcher(rec.router)
    store = RedisStore(redis, keys, rec.next_seq)
    dispatcher.add_sink(store.sink)
    reader = IntakeReader(dispatcher, store, rec.intake_applied)
    for entry_id, fields in await redis.xrange(keys.intake, min=f"({rec.intake_applied}"):
        reader.apply(entry_id.decode(), fields[b"ev"])
    await store.start()
    await store.stop()
    assert reader.malformed == 1
    entries = await redis.xrange(keys.events)
    kinds = [json.loads(f[b"ev"])["kind"] for _i, f in entries]
    sources = [f[b"src"].decode() for _i, f in entries if b"src" in f]
    assert len(sources) == len(set(sources)) == 31
    assert kinds.count("contact_arrived") == 31
    assert kinds.count("rejected") == 1
    assert sorted(dispatcher.router.contacts) == sorted(f"c{i}" for i in range(30))
    await redis.aclose()


async def test_a_flush_retried_after_a_lost_reply_is_not_written_twice(
    redis_server: RedisServer, redis_prefix: str
) -> None:
    catalogue, matrix = town(2, processes=2)
    keys = Keys(redis_prefix)
    redis = connect(redis_server.url)
    dispatcher = Dispatcher(Router(catalogue, matrix))
    store = RedisStore(redis, keys)
    dispatcher.add_sink(store.sink)
    for i in range(3):
        dispatcher.submit(ev.ContactArrived(at=float(i), contact_id=f"c{i}", channel=ev.Channel.EMAIL, process="p00"))
    applied = list(store._buffer)
    await store.flush_once()
    dispatcher.submit(ev.ContactArrived(at=9.0, contact_id="c9", channel=ev.Channel.EMAIL, process="p00"))
    # the reply of the first flush was "lost": its batches are still queued, ahead of the new one
    store._buffer.extendleft(reversed(applied))
    store._backlog += sum(len(b.lines) for b in applied)
    store._verify_on_reconnect = True
    await store.flush_once()
    assert store.backlog == 0
    entries = await redis.xrange(keys.events)
    kinds = [json.loads(f[b"ev"])["kind"] for _i, f in entries]
    assert kinds.count("contact_arrived") == 4
    assert [seq_of(i) for i, _f in entries] == list(range(1, len(entries) + 1))
    await redis.aclose()


async def test_a_producer_hands_in_its_entry_only_right_after_the_last_applied(
    redis_server: RedisServer, redis_prefix: str
) -> None:
    """``IntakeReader.take``: at once when nothing is ahead, never out of order, never twice."""
    import asyncio

    catalogue, matrix = town(3, processes=2)
    keys = Keys(redis_prefix)
    redis = connect(redis_server.url)
    rec = await recover(redis, keys, catalogue, matrix)
    dispatcher = Dispatcher(rec.router)
    store = RedisStore(redis, keys, rec.next_seq)
    applied: list[str] = []
    dispatcher.add_sink(lambda batch: applied.extend(e.contact_id for e in batch[:1] if isinstance(e, ev.ContactArrived)))
    dispatcher.add_sink(store.sink)
    reader = IntakeReader(dispatcher, store, rec.intake_applied, block_ms=20)

    def arrival(name: str) -> bytes:
        return ev.dumps(ev.ContactArrived(at=1.0, contact_id=name, channel=ev.Channel.EMAIL, process="p00")).encode()

    first = await redis.xadd(keys.intake, {"ev": arrival("first")})
    assert reader.take(first.decode(), "0-0", arrival("first"))  # nothing ahead: applied at once
    ahead = await redis.xadd(keys.intake, {"ev": arrival("ahead")})  # another producer's, not read yet
    mine = await redis.xadd(keys.intake, {"ev": arrival("mine")})
    assert not reader.take(mine.decode(), ahead.decode(), arrival("mine"))  # would overtake "ahead"
    assert applied == ["first"]
    await store.start()
    stop = asyncio.Event()
    task = asyncio.create_task(reader.run(stop))
    for _ in range(100):
        if len(applied) == 3:
            break
        await asyncio.sleep(0.02)
    stop.set()
    await task
    await store.stop()
    assert applied == ["first", "ahead", "mine"]  # the read skipped "first", already handed in
    sources = [f[b"src"].decode() for _i, f in await redis.xrange(keys.events) if b"src" in f]
    assert sources == [first.decode(), ahead.decode(), mine.decode()]
    await redis.aclose()


async def test_a_busy_store_checkpoints_at_most_once_per_span(redis_server: RedisServer, redis_prefix: str) -> None:
    catalogue, matrix = town(3, processes=2)
    keys = Keys(redis_prefix)
    redis = connect(redis_server.url)
    dispatcher = Dispatcher(Router(catalogue, matrix))
    taken: list[int] = []

    def checkpoint() -> bytes:
        taken.append(len(dispatcher.router.contacts))
        return snapshot.take(dispatcher.router)

    store = RedisStore(redis, keys, checkpoint=checkpoint, snapshot_every=10, checkpoint_min_s=3600.0)
    dispatcher.add_sink(store.sink)
    await store.start()
    for i in range(100):
        dispatcher.submit(ev.ContactArrived(at=float(i), contact_id=f"c{i}", channel=ev.Channel.EMAIL, process="p00"))
    await store.stop()
    assert taken == [10]  # after the tenth input, then none for an hour whatever the count
    assert int((await redis.hget(keys.meta, "snapshot_upto")) or 0) > 0
    await redis.aclose()
