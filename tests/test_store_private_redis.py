"""One private Redis per data directory, whatever the crashes: reused after kill -9, stopped with the server."""

from __future__ import annotations

import asyncio
import signal
import stat
from pathlib import Path

import psutil

from dispatcher import events as ev
from dispatcher.store.crashtest import Child
from dispatcher.store.intake import publish
from dispatcher.store.keys import Keys, connect
from dispatcher.store.redis_server import RedisServer
from skills.model import Channel


def _servers(directory: Path) -> list[int]:
    """The redis-server processes working in ``directory``."""
    found = []
    for proc in psutil.process_iter(["name"]):
        try:
            if "redis" in (proc.info["name"] or "") and Path(proc.cwd()) == directory.resolve():
                if proc.status() != psutil.STATUS_ZOMBIE:
                    found.append(proc.pid)
        except psutil.Error:
            continue
    return found


async def test_ten_kill9_leave_exactly_one_redis_and_keep_the_queue(tmp_path: Path) -> None:
    data = tmp_path / "var"
    child = Child("dispatcher.store.runtime", ["--data-dir", str(data), "--agents", "2", "--snapshot-every", "3"])
    keys = Keys()
    pids: set[int] = set()
    try:
        for i in range(10):
            await child.start()
            ready = child.ready[-1]
            assert ready["waiting"] == i
            redis = connect(ready["redis_url"])
            (last,) = await publish(redis, keys.intake, ev.ContactArrived(
                at=float(i), contact_id=f"c{i}", channel=Channel.EMAIL, process="p00"))
            for _ in range(500):
                if await redis.hget(keys.meta, "intake_applied") == last.encode():
                    break
                await asyncio.sleep(0.01)
            await redis.aclose()
            child.kill()
            running = _servers(data / "redis")
            assert len(running) == 1, f"after kill -9 number {i + 1}: {running}"
            pids.update(running)
        assert len(pids) == 1, "the server was reused, not replaced"
        await child.start()
        assert child.ready[-1]["waiting"] == 10
        assert child.process is not None
        child.process.send_signal(signal.SIGTERM)
        assert child.process.wait(20) == 0
        assert _servers(data / "redis") == []
    finally:
        child.stop()
        for pid in _servers(data / "redis"):
            psutil.Process(pid).kill()


def test_a_server_that_does_not_answer_is_replaced(tmp_path: Path) -> None:
    """A stale pid file (a recycled pid, or a hung server) does not stop a new start."""
    server = RedisServer(tmp_path / "redis")
    server.data_dir.mkdir(parents=True)
    sleeper = psutil.Popen(["sleep", "30"])
    try:
        server.pid_path.write_text(f"{sleeper.pid}\n")
        server.start()
        try:
            assert server.process is not None and server.adopted is None
            assert int(server.pid_path.read_text()) == server.process.pid
            assert sleeper.is_running(), "a process that is not our Redis is never signalled"
        finally:
            server.stop()
    finally:
        sleeper.kill()


def test_the_data_directory_and_redis_files_are_the_owners_only(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "var" / "redis")
    server.start()
    try:
        redis = connect(server.url)

        async def write() -> None:
            await redis.set("k", "0600000000")
            await redis.execute_command("BGREWRITEAOF")
            await asyncio.sleep(0.3)
            await redis.aclose()

        asyncio.run(write())
    finally:
        server.stop()
    assert stat.S_IMODE(server.data_dir.stat().st_mode) == 0o700
    files = [p for p in server.data_dir.rglob("*") if p.is_file()]
    assert files
    assert {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in files} == {p.name: "0o600" for p in files}
