"""Ticket series: the local-midnight reset (DST nights too), and a kill -9 of the server mid-day."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from sqlalchemy import select

from dispatcher.counter.tickets import local_day, site_of
from dispatcher.fake_asterisk import FakeAsterisk
from dispatcher.history.models import ContactRow
from dispatcher.history.writer import engine_for
from dispatcher.store.redis_server import RedisServer, free_port
from tests.counter_helpers import counter_stack

KIOSK = "hdv-borne-1"


def utc(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_the_local_day_turns_at_paris_midnight_in_winter_summer_and_on_dst_nights() -> None:
    assert str(local_day(utc("2026-01-15T22:59:59"))) == "2026-01-15"
    assert str(local_day(utc("2026-01-15T23:00:00"))) == "2026-01-16"  # CET, UTC+1
    assert str(local_day(utc("2026-07-01T21:59:59"))) == "2026-07-01"
    assert str(local_day(utc("2026-07-01T22:00:00"))) == "2026-07-02"  # CEST, UTC+2
    assert site_of("annexe-20260101-A042") == "annexe" and site_of("no-ticket") is None


async def _issue_at(s: object, clock: list[float], at: float) -> str:
    clock[0] = at
    status, body = await s.post("/api/v1/kiosk/tickets", KIOSK, {"process": "passport"})  # type: ignore[attr-defined]
    assert status == 201, body
    return f"{body['day']} {body['ticket']}"


async def test_the_series_restarts_at_local_midnight_including_both_dst_nights(redis_server: RedisServer, redis_prefix: str) -> None:
    clock = [utc("2026-03-28T22:00:00")]
    async with counter_stack(redis_server.url, redis_prefix, clock=lambda: clock[0]) as s:
        # spring forward: 2026-03-29 02:00 CET -> 03:00 CEST; midnight is 23:00 UTC the day before
        assert await _issue_at(s, clock, utc("2026-03-28T22:59:59")) == "2026-03-28 A001"
        assert await _issue_at(s, clock, utc("2026-03-28T23:00:00")) == "2026-03-29 A001"
        assert await _issue_at(s, clock, utc("2026-03-29T01:30:00")) == "2026-03-29 A002"  # 03:30 CEST
        # fall back: 2026-10-25 03:00 CEST -> 02:00 CET; midnight is 22:00 UTC the day before
        assert await _issue_at(s, clock, utc("2026-10-24T21:59:59")) == "2026-10-24 A001"
        assert await _issue_at(s, clock, utc("2026-10-24T22:00:00")) == "2026-10-25 A001"
        assert await _issue_at(s, clock, utc("2026-10-25T00:30:00")) == "2026-10-25 A002"  # 02:30 CEST
        assert await _issue_at(s, clock, utc("2026-10-25T01:30:00")) == "2026-10-25 A003"  # 02:30 CET, again
        assert await _issue_at(s, clock, utc("2026-10-25T22:59:59")) == "2026-10-25 A004"  # 23:59:59 CET
        assert await _issue_at(s, clock, utc("2026-10-25T23:00:00")) == "2026-10-26 A001"


TOKENS = {f"hdv-borne-{n}": f"kill9-kiosk-token-{n}-0123456789" for n in (1, 2)}


def _env(tmp_path: Path, redis_url: str, ami_port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUICHET_") and k not in ("REDIS_URL", "DATABASE_URL")}
    env.update(
        GUICHET_DATA_DIR=str(tmp_path / "data"),
        GUICHET_AGI_PORT="0",
        GUICHET_HTTP_PORT=str(free_port()),
        GUICHET_AMI_PORT=str(ami_port),
        GUICHET_AMI_SECRET="kill9",
        GUICHET_LANG="en",
        REDIS_URL=redis_url,
        GUICHET_DEVICE_TOKENS=",".join(f"{k}={v}" for k, v in TOKENS.items()),
    )
    return env


async def _start(env: dict[str, str]) -> tuple[asyncio.subprocess.Process, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "guichet.cli", "serve", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    banner = ""
    while "recovered waiting" not in banner:
        line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
        assert line, banner
        banner += line.replace("\n", " ")
    found = re.search(r"HTTP\s+(http://127\.0\.0\.1:\d+)", banner)
    assert found, banner
    return proc, found.group(1)


async def test_kill9_in_the_middle_of_the_day_gives_no_ticket_twice_and_loses_none(tmp_path: Path) -> None:
    redis = RedisServer(tmp_path / "redis", port=free_port())
    redis.start()
    answered: list[str] = []
    try:
        async with FakeAsterisk(agents=["101"], secrets={"guichet": "kill9"}) as fake:
            env = _env(tmp_path, redis.url, fake.ami_port)
            async with aiohttp.ClientSession() as http:

                async def kiosk(url: str, n: int, stop: asyncio.Event) -> None:
                    headers = {"Authorization": f"Bearer {TOKENS[f'hdv-borne-{1 + n % 2}']}"}
                    while not stop.is_set():
                        try:
                            async with http.post(f"{url}/api/v1/kiosk/tickets", json={"process": "passport"}, headers=headers) as r:
                                if r.status == 201:
                                    answered.append((await r.json())["ticket"])
                        except (TimeoutError, aiohttp.ClientError):
                            await asyncio.sleep(0.05)

                for round_ in range(2):
                    proc, url = await _start(env)
                    stop = asyncio.Event()
                    kiosks = [asyncio.create_task(kiosk(url, n, stop)) for n in range(20)]
                    before = len(answered)
                    while len(answered) < before + 60:
                        await asyncio.sleep(0.05)
                    if round_ == 0:
                        proc.send_signal(signal.SIGKILL)
                        await proc.wait()
                        await asyncio.sleep(0.3)
                        stop.set()
                        await asyncio.gather(*kiosks)
                    else:
                        stop.set()
                        await asyncio.gather(*kiosks)
                        proc.send_signal(signal.SIGTERM)
                        await asyncio.wait_for(proc.wait(), 30)
                        assert proc.returncode == 0
        assert len(answered) == len(set(answered)), "a ticket number was given twice"
        engine = engine_for(f"sqlite+aiosqlite:///{tmp_path / 'data' / 'guichet.sqlite'}")
        async with engine.connect() as conn:
            rows = (await conn.execute(select(ContactRow.contact_id, ContactRow.ticket).where(ContactRow.channel == "counter"))).all()
        await engine.dispose()
        in_history = [ticket for _cid, ticket in rows]
        assert len(in_history) == len(set(in_history))
        assert set(answered) <= set(in_history), "an issued ticket is missing from the history"
        assert all(ticket is not None and cid.endswith(ticket) for cid, ticket in rows)
    finally:
        redis.stop()
