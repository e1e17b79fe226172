"""Redis stopped and restarted under load: routing goes on, health says degraded, nothing is lost."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from dispatcher import events as ev
from dispatcher.history.migrate import upgrade
from dispatcher.history.writer import HistoryWriter, engine_for
from dispatcher.router import Router
from dispatcher.service import Dispatcher
from dispatcher.store.audit import Audit, compare_history
from dispatcher.store.keys import Keys, connect
from dispatcher.store.live import RedisStore
from dispatcher.store.loadgen import Load, town
from dispatcher.store.recovery import recover
from dispatcher.store.redis_server import RedisServer, free_port


async def _load_for(dispatcher: Dispatcher, load: Load, seconds: float) -> int:
    end = time.monotonic() + seconds
    decisions = 0
    while time.monotonic() < end:
        now = time.time()
        for event in [*load.due(now), ev.TimePassed(at=now)]:
            out = dispatcher.submit(event)
            load.observe(out, now)
            decisions += len(out)
        await asyncio.sleep(0.005)
    return decisions


async def test_outage_keeps_routing_and_loses_nothing(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis", port=free_port())
    server.start()
    keys = Keys("outage")
    catalogue, matrix = town(40)
    redis = connect(server.url)
    dispatcher = Dispatcher(Router(catalogue, matrix))
    store = RedisStore(redis, keys, max_flush=500)
    seen: list[str] = []
    dispatcher.add_sink(lambda batch: seen.extend(ev.dumps(e) for e in batch))
    dispatcher.add_sink(store.sink)
    await store.start()
    url = f"sqlite+aiosqlite:///{tmp_path / 'history.sqlite'}"
    await asyncio.to_thread(upgrade, url)
    engine = engine_for(url)
    writer_redis = connect(server.url)
    writer = asyncio.create_task(HistoryWriter(writer_redis, keys, engine).run(poll=0.02))
    load = Load(list(matrix.agents), [p for p in catalogue.processes if p != "triage"], rate=100, handle_s=2)
    for event in load.login(time.time()):
        load.observe(dispatcher.submit(event), event.at)
    try:
        await _load_for(dispatcher, load, 1.0)
        assert store.health().status == "ok"
        await asyncio.to_thread(server.stop)
        during = await _load_for(dispatcher, load, 1.5)
        health = store.health()
        assert health.status == "degraded" and health.last_error
        assert during > 100, "the router kept deciding while Redis was down"
        assert store.backlog > 300
        server.start()
        await asyncio.wait_for(store.drained(), 10)
        await _load_for(dispatcher, load, 0.5)
        await store.stop()
        assert store.health().status == "ok" and store.backlog == 0

        entries = await redis.xrange(keys.events)
        assert [f[b"ev"].decode() for _i, f in entries] == seen
        audit = Audit()
        while await audit.read(redis, keys):
            pass
        assert audit.violations() == dict.fromkeys(audit.violations(), 0)
        waiting = await redis.hgetall(keys.waiting)
        assert {k.decode() for k in waiting} == set(dispatcher.router.queue.contacts)
        agents = {k.decode(): json.loads(v)["state"] for k, v in (await redis.hgetall(keys.agents)).items()}
        assert agents == {a: r.state.value for a, r in dispatcher.router.agents.items()}
        rec = await recover(redis, keys, catalogue, matrix)
        assert rec.diverged == 0 and rec.next_seq == len(seen) + 1
        assert list(rec.router.queue.contacts) == list(dispatcher.router.queue.contacts)

        for _ in range(200):
            if await HistoryWriter(writer_redis, keys, engine).progress() == len(seen):
                break
            await asyncio.sleep(0.05)
        assert await compare_history(engine, audit) == dict.fromkeys(
            ("events_missing", "events_extra", "contacts_missing", "contacts_extra", "outcomes_differ"), 0
        )
    finally:
        writer.cancel()
        await asyncio.gather(writer, return_exceptions=True)
        await store.stop(drain=False)
        await engine.dispose()
        await redis.aclose()
        await writer_redis.aclose()
        server.stop()
