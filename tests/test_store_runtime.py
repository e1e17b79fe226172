"""A site's first run: the private Redis under the data directory, and a restart that keeps the queue."""

from __future__ import annotations

import asyncio
from pathlib import Path

from dispatcher import events as ev
from dispatcher.events import AgentState
from dispatcher.store.intake import publish
from dispatcher.store.loadgen import town
from dispatcher.store.runtime import open_live, private_redis
from skills.model import Channel


async def test_private_redis_keeps_the_queue_across_restarts(tmp_path: Path) -> None:
    catalogue, matrix = town(2, processes=2)
    async with private_redis(None, tmp_path) as url:
        assert url.startswith("unix://") and (tmp_path / "redis" / "redis.sock").exists()
        async with open_live(url, catalogue, matrix) as live:
            assert live.recovered.next_seq == 1
            live.dispatcher.submit(ev.AgentStatusSet(at=10.0, agent_id="a0000", state=AgentState.AVAILABLE))
            await publish(
                live.redis, live.store.keys.intake,
                *(ev.ContactArrived(at=20.0 + i, contact_id=f"c{i}", channel=Channel.EMAIL, process="p00")
                  for i in range(5)),
            )
            for _ in range(200):
                if live.intake.applied == 5:
                    break
                await asyncio.sleep(0.01)
            await live.store.drained()
            assert live.health().status == "ok"
            queue = list(live.dispatcher.router.queue.contacts)
            offered = {c.contact_id: c.agent_id for c in live.dispatcher.router.contacts.values() if c.agent_id}
            assert offered and queue
            agents = {a: r.state for a, r in live.dispatcher.router.agents.items()}
    assert (tmp_path / "redis" / "appendonly.aof").exists() or (tmp_path / "redis" / "appendonlydir").exists()
    async with private_redis(None, tmp_path) as url:
        async with open_live(url, catalogue, matrix) as live:
            router = live.recovered.router
            assert live.recovered.diverged == 0
            assert list(router.queue.contacts) == queue
            assert {c.contact_id: c.agent_id for c in router.contacts.values() if c.agent_id} == offered
            assert {a: r.state for a, r in router.agents.items()} == agents
            assert live.intake.last == live.recovered.intake_applied != "0-0"


async def test_open_site_runs_the_history_writer_alongside(tmp_path: Path) -> None:
    from sqlalchemy import func, select

    from dispatcher.history.models import ContactEventRow, ProcessRow
    from dispatcher.history.writer import engine_for
    from dispatcher.store.runtime import open_site
    from guichet.config import Settings

    catalogue, matrix = town(2, processes=2)
    settings = Settings(data_dir=tmp_path / "var")
    async with open_site(catalogue, matrix, data_dir=settings.data_dir) as live:
        await live.start()
        for i in range(3):
            live.dispatcher.submit(ev.ContactArrived(at=float(i), contact_id=f"c{i}", channel=Channel.EMAIL))
        await live.store.drained()
        engine = engine_for(settings.sqlite_url)
        for _ in range(100):
            async with engine.connect() as conn:
                written = await conn.scalar(select(func.count()).select_from(ContactEventRow))
            if written == live.store.written_seq:
                break
            await asyncio.sleep(0.02)
        async with engine.connect() as conn:
            processes = await conn.scalar(select(func.count()).select_from(ProcessRow))
        await engine.dispose()
    assert written == live.store.written_seq > 3
    assert processes == len(catalogue.processes)
