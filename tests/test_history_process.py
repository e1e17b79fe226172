"""The history writer's own process: started again when it dies, gone when the server dies."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from sqlalchemy import func, select

from dispatcher import events as ev
from dispatcher.history.models import ContactRow
from dispatcher.history.writer import engine_for, sqlite_url
from dispatcher.store.loadgen import town
from dispatcher.store.runtime import open_site
from skills.model import Channel


async def _contacts_in_sql(url: str, expected: int, timeout: float = 20.0) -> int:
    engine = engine_for(url)
    try:
        deadline = time.monotonic() + timeout
        while True:
            async with engine.connect() as conn:
                found = int(await conn.scalar(select(func.count()).select_from(ContactRow)) or 0)
            if found >= expected or time.monotonic() > deadline:
                return found
            await asyncio.sleep(0.1)
    finally:
        await engine.dispose()


async def test_a_killed_writer_is_started_again_and_writes_what_came_meanwhile(tmp_path: Path) -> None:
    catalogue, matrix = town(2, processes=2)
    async with open_site(catalogue, matrix, data_dir=tmp_path) as live:
        await live.start()
        writer = live.history
        assert writer is not None and writer.process is not None
        for i in range(3):
            live.dispatcher.submit(ev.ContactArrived(at=float(i), contact_id=f"before{i}", channel=Channel.EMAIL, process="p00"))
        url = sqlite_url(tmp_path / "guichet.sqlite")
        assert await _contacts_in_sql(url, 3) == 3
        first = writer.process.pid
        os.kill(first, signal.SIGKILL)
        for i in range(4):  # while no writer runs: they wait in the stream
            live.dispatcher.submit(ev.ContactArrived(at=10.0 + i, contact_id=f"during{i}", channel=Channel.EMAIL, process="p00"))
        assert await _contacts_in_sql(url, 7) == 7
        assert writer.restarts == 1 and writer.process.pid != first
    assert writer.process.returncode == 0  # stopped cleanly with the site


SERVER = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from dispatcher.store.loadgen import town
    from dispatcher.store.runtime import open_site

    async def main():
        catalogue, matrix = town(2, processes=2)
        async with open_site(catalogue, matrix, data_dir=Path(sys.argv[1])) as live:
            print(live.history.process.pid, flush=True)
            await asyncio.sleep(3600)

    asyncio.run(main())
    """
)


def test_the_writer_stops_when_the_server_is_killed(tmp_path: Path) -> None:
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        child = int(server.stdout.readline())
        os.kill(child, 0)  # the writer runs
        server.kill()
        server.wait(10)
        deadline = time.monotonic() + 15.0
        while time.monotonic() < deadline:
            try:
                os.kill(child, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            os.kill(child, signal.SIGKILL)
            raise AssertionError("the history writer outlived its server")
    finally:
        if server.poll() is None:
            server.kill()
        for leftover in (tmp_path / "redis").glob("*.pid"):
            try:
                os.kill(int(leftover.read_text()), signal.SIGKILL)
            except (ValueError, ProcessLookupError):
                pass
