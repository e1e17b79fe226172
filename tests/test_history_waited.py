"""``contacts.waited`` in the SQL history is the wait until answered (until the hang-up for an
abandoned caller), whether the writer sees the whole call in one page or spread over several."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from dispatcher import events as ev
from dispatcher.events import AgentState
from dispatcher.history.migrate import upgrade
from dispatcher.history.models import ContactRow
from dispatcher.history.writer import HistoryWriter, engine_for, sync_reference
from dispatcher.policy import RoutingPolicy
from dispatcher.router import Router
from dispatcher.service import Dispatcher
from dispatcher.store.keys import Keys, connect
from dispatcher.store.live import RedisStore
from dispatcher.store.loadgen import town
from dispatcher.store.redis_server import RedisServer
from skills.model import Channel

T0 = 1_700_000_000.0


@pytest.mark.parametrize("page", [10_000, 2])
async def test_waited_is_the_wait_until_answered(
    database_url: str, redis_server: RedisServer, redis_prefix: str, page: int
) -> None:
    catalogue, matrix = town(2, processes=3)
    keys = Keys(redis_prefix)
    redis = connect(redis_server.url)
    dispatcher = Dispatcher(Router(catalogue, matrix, RoutingPolicy(wrap_up_s=0)))
    store = RedisStore(redis, keys)
    dispatcher.add_sink(store.sink)
    await store.start()
    agent = "a0000"
    process = next(p for p, level in matrix.agents[agent].skills.items() if p != "triage" and level >= 2)
    steps: list[ev.Event] = [
        ev.ContactArrived(at=T0, contact_id="answered", channel=Channel.PHONE, process=process),
        ev.ContactArrived(at=T0 + 0.1, contact_id="gave-up", channel=Channel.PHONE, process=process),
        ev.AgentStatusSet(at=T0 + 0.2, agent_id=agent, state=AgentState.AVAILABLE),
        ev.OfferAnswered(at=T0 + 0.31, contact_id="answered", agent_id=agent),
        ev.ContactAbandoned(at=T0 + 4.0, contact_id="gave-up"),
        ev.ContactCompleted(at=T0 + 8.3, contact_id="answered"),
    ]
    for step in steps:
        dispatcher.submit(step)
    await store.stop()
    await asyncio.to_thread(upgrade, database_url)
    engine = engine_for(database_url)
    await sync_reference(engine, catalogue, matrix)
    await HistoryWriter(redis, keys, engine, page=page).catch_up()
    async with engine.connect() as conn:
        rows = {r.contact_id: r for r in await conn.execute(select(ContactRow))}
    await engine.dispose()
    await redis.aclose()
    assert rows["answered"].waited == pytest.approx(0.31)
    assert rows["answered"].ended_at - rows["answered"].arrived_at == pytest.approx(8.3)
    assert rows["gave-up"].waited == pytest.approx(3.9)
