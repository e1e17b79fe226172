"""``guichet purge`` on a site: personal data past the retention leaves the SQL history, the Redis streams
and the Redis files, and the command says what it removed from each store."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dispatcher import events as ev
from dispatcher.events import AgentState
from dispatcher.history.migrate import upgrade
from dispatcher.history.writer import HistoryWriter, engine_for, sqlite_url
from dispatcher.router import Router
from dispatcher.service import Dispatcher
from dispatcher.store import snapshot
from dispatcher.store.keys import Keys, connect, read_range
from dispatcher.store.live import RedisStore
from dispatcher.store.loadgen import town
from dispatcher.store.redis_server import RedisServer
from guichet.cli import app
from skills.model import Channel


@pytest.fixture(autouse=True)
def _english(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests read the English wording (French is the default): GUICHET_LANG=en, inherited by the commands."""
    monkeypatch.setenv("GUICHET_LANG", "en")

DAY = 86_400.0
OLD_NUMBER, NEW_NUMBER = "0611111111", "0622222222"


async def _fill(url: str, database_url: str) -> None:
    catalogue, matrix = town(2, processes=2)
    redis = connect(url)
    await redis.config_set("rdbcompression", "no")  # the test reads the rewritten file for the numbers
    dispatcher = Dispatcher(Router(catalogue, matrix))
    store = RedisStore(redis, Keys(), checkpoint=lambda: snapshot.take(dispatcher.router), snapshot_every=1)
    dispatcher.add_sink(store.sink)
    await store.start()
    old, now = time.time() - 400 * DAY, time.time()
    for at, cid, number in ((old, "old", OLD_NUMBER), (now, "new", NEW_NUMBER)):
        dispatcher.submit(ev.ContactArrived(at=at, contact_id=cid, channel=Channel.PHONE, process="p00",
                                            caller=number, citizen_id=f"citizen-{cid}"))
        dispatcher.submit(ev.AgentStatusSet(at=at + 1, agent_id="a0000", state=AgentState.AVAILABLE))
        dispatcher.submit(ev.ContactAbandoned(at=at + 2, contact_id=cid))
        dispatcher.submit(ev.AgentStatusSet(at=at + 3, agent_id="a0000", state=AgentState.OFFLINE))
    await store.stop()
    engine = engine_for(database_url)
    await HistoryWriter(redis, Keys(), engine).catch_up()
    await engine.dispose()
    await redis.aclose()


def test_purge_says_what_it_removed_from_sql_and_redis(tmp_path: Path) -> None:
    data = tmp_path / "var"
    server = RedisServer(data / "redis")
    url = server.start()
    try:
        database_url = sqlite_url(data / "guichet.sqlite")
        upgrade(database_url)
        asyncio.run(_fill(url, database_url))
        env = {"GUICHET_DATA_DIR": str(data), "REDIS_URL": None, "DATABASE_URL": None}
        runner = CliRunner()
        dry = runner.invoke(app, ["purge", "--dry-run"], env=env)
        assert dry.exit_code == 0, dry.output
        assert "would be removed" in dry.output

        done = runner.invoke(app, ["purge"], env=env)
        assert done.exit_code == 0, done.output
        sql_line, redis_line = done.output.strip().splitlines()
        assert re.search(r"SQL history, before \S+: 1 citizens, 1 contacts and 0 callbacks lost", sql_line)
        found = re.search(r"Redis, before \S+: (\d+) events removed from the event stream \((\d+) with", redis_line)
        assert found is not None, redis_line
        assert int(found[1]) >= 6 and int(found[2]) == 1

        async def left() -> list[bytes]:
            redis = connect(url)
            entries = await read_range(redis, Keys().events)
            await redis.aclose()
            return [f[b"ev"] for _i, f in entries]

        lines = asyncio.run(left())
        assert lines and not any(OLD_NUMBER.encode() in line for line in lines)
        assert any(NEW_NUMBER.encode() in line for line in lines), "recent data stays"
        for _ in range(100):  # the append-only file is rewritten in the background
            on_disk = b"".join(p.read_bytes() for p in (data / "redis").rglob("*.aof*") if p.is_file())
            if OLD_NUMBER.encode() not in on_disk:
                break
            time.sleep(0.05)
        assert OLD_NUMBER.encode() not in on_disk and NEW_NUMBER.encode() in on_disk
        assert server.process is not None and server.process.poll() is None, "the site's Redis still runs"

        again = runner.invoke(app, ["purge"], env=env)
        assert "0 events removed" in again.output and "0 citizens" in again.output
    finally:
        server.stop()


def test_purge_without_live_state_says_so(tmp_path: Path) -> None:
    data = tmp_path / "var"
    upgrade(sqlite_url(data / "guichet.sqlite"))
    result = CliRunner().invoke(app, ["purge"], env={"GUICHET_DATA_DIR": str(data), "REDIS_URL": None, "DATABASE_URL": None})
    assert result.exit_code == 0, result.output
    assert "Redis: no live state found" in result.output
