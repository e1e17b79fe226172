"""The crash test: a dispatcher process under load, SIGKILLed at random 10 times, restarted.

At the end every contact has exactly one outcome, none was offered to two
agents (nor an agent two contacts), every intake input was applied exactly
once, every recovery replayed to the very decisions logged, and the SQL
history (its writer killed too) has every event and contact row exactly once.
"""

from __future__ import annotations

import asyncio

from dispatcher.history.migrate import upgrade
from dispatcher.history.writer import HistoryWriter, engine_for
from dispatcher.store import crashtest
from dispatcher.store.audit import compare_history
from dispatcher.store.keys import Keys, connect
from dispatcher.store.redis_server import RedisServer


async def test_sigkill_loses_and_duplicates_nothing(
    redis_server: RedisServer, redis_prefix: str, database_url: str
) -> None:
    await asyncio.to_thread(upgrade, database_url)
    keys = Keys(redis_prefix)
    redis = connect(redis_server.url)
    audit, dispatcher, writer, published = await crashtest.run(
        redis, redis_server.url, keys, database_url, seconds=5.0, kills=10, rate=30.0
    )
    try:
        assert dispatcher.kills >= 10
        assert len(audit.queued) > 100
        assert audit.violations() == dict.fromkeys(audit.violations(), 0)
        assert not audit.open_contacts
        assert set(audit.outcomes) == audit.queued
        assert audit.sources == set(published)
        assert [r["diverged"] for r in dispatcher.ready] == [0] * len(dispatcher.ready)
        assert sum(r["replayed"] for r in dispatcher.ready) > 0
    finally:
        dispatcher.stop()
        writer.stop()
    while await audit.read(redis, keys):  # the timers' last events before the stop
        pass
    assert audit.violations() == dict.fromkeys(audit.violations(), 0)
    engine = engine_for(database_url)
    await HistoryWriter(redis, keys, engine).catch_up()
    assert await compare_history(engine, audit) == {
        "events_missing": 0, "events_extra": 0, "contacts_missing": 0, "contacts_extra": 0, "outcomes_differ": 0,
    }
    await engine.dispose()
    await redis.aclose()
