"""``guichet bench wallboard``: 200 live wallboards while 100 calls/s go through the fake Asterisk.

The whole town hall runs (fake Asterisk over TCP, IVR, dispatcher, Redis,
SQL history, HTTP side with the pages); callers press their IVR keys, wait,
talk with the agents whose softphones answer, or hang up. Two phases of the
same load, in the same process: the baseline with no wallboard, then with
``clients`` supervisors following ``/wallboard/events`` (SSE). Figures:

- ``event_to_screen_p99_ms``: from a routing event to the moment a wallboard
  has read the snapshot that shows it (the snapshot's ``first_event_at``),
  over every snapshot of every client;
- ``routing_p99_us``: the core's ``Router.handle`` per input, with the
  wallboards connected; ``baseline_routing_p99_us`` without; their ratio;
- ``dropped``: wallboards that lost their stream or never received the last
  snapshot published before the end.
"""

from __future__ import annotations

import asyncio
import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from pydantic import SecretStr
from rich.console import Console
from rich.table import Table

from dispatcher.events import AgentState, Event
from dispatcher.fake_asterisk import FakeAsterisk, wait_until
from dispatcher.fake_asterisk.pbx import AgentPhone
from dispatcher.pages.keys import WALLBOARD
from dispatcher.people.roles import Role
from dispatcher.policy import RoutingPolicy
from dispatcher.router import Router
from guichet.config import Settings
from guichet.townhall import TownHall, run_town_hall
from ivr.menu import GENERALIST, Menu
from skills.catalogue import default_catalogue
from skills.matrix import default_matrix

PASSWORD = "bench-wallboard-password"


class TimedRouter:
    """The router, with the time of each ``handle`` recorded (works compiled or not)."""

    def __init__(self, router: Router) -> None:
        self._router = router
        self.samples_ns: list[int] = []

    def handle(self, event: Event) -> list[Event]:
        started = time.perf_counter_ns()
        decisions = self._router.handle(event)
        self.samples_ns.append(time.perf_counter_ns() - started)
        return decisions

    def __getattr__(self, name: str) -> Any:
        return getattr(self._router, name)


def _p(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _paths(menu: Menu, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    for key, choice in menu.choices.items():
        if isinstance(choice, Menu):
            found += _paths(choice, (*prefix, key))
        elif choice != GENERALIST:
            found.append((*prefix, key))
    return found


class Screen:
    """One wallboard following the SSE stream."""

    def __init__(self) -> None:
        self.latencies_ms: list[float] = []
        self.last_seq = 0
        self.lost = False
        self.status: object = None

    async def follow(self, http: aiohttp.ClientSession, url: str, ready: asyncio.Event) -> None:
        try:
            async with http.get(f"{url}/wallboard/events", timeout=aiohttp.ClientTimeout(total=None)) as r:
                if r.status != 200:
                    self.lost = True
                    self.status = r.status
                    return
                ready.set()
                async for line in r.content:
                    if line.startswith(b"data: "):
                        received = time.time()
                        snapshot = json.loads(line[6:])
                        self.last_seq = snapshot["seq"]
                        if snapshot["first_event_at"] is not None:
                            self.latencies_ms.append(1000.0 * (received - snapshot["first_event_at"]))
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            self.lost = True
            self.status = repr(exc)
        finally:
            ready.set()


async def _calls(hall: TownHall, fake: FakeAsterisk, rate: float, seconds: float, seed: int) -> int:
    rng = random.Random(seed)
    paths = _paths(hall.ivr.config.menu)
    placed = 0
    start = time.monotonic()
    while (elapsed := time.monotonic() - start) < seconds:
        due = int(elapsed * rate) + 1
        while placed < due:
            fake.place_call(f"06{rng.randrange(10**8):08d}", "", dtmf=[*rng.choice(paths), "2"],
                            patience=rng.uniform(2.0, 6.0), talk_time=rng.uniform(0.5, 2.0))
            placed += 1
        await asyncio.sleep(0.005)
    return placed


async def _phase(hall: TownHall, fake: FakeAsterisk, clients: int, rate: float, seconds: float,
                 cookie: str, seed: int) -> dict[str, Any]:
    timed = hall.dispatcher.router
    assert isinstance(timed, TimedRouter)
    screens = [Screen() for _ in range(clients)]
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, headers={"Cookie": cookie}) as http:
        ready = [asyncio.Event() for _ in screens]
        tasks = [asyncio.create_task(s.follow(http, hall.http.url, r)) for s, r in zip(screens, ready)]
        if screens:
            await asyncio.wait_for(asyncio.gather(*(r.wait() for r in ready)), 60)
            refused = [s.status for s in screens if s.lost]
            if refused:
                raise RuntimeError(f"{len(refused)} wallboards could not connect: {refused[:3]}")
        timed.samples_ns.clear()
        placed = await _calls(hall, fake, rate, seconds, seed)
        routing = [ns / 1000.0 for ns in timed.samples_ns]
        board = hall.http.app[WALLBOARD]
        board.poke()
        await asyncio.sleep(1.5)
        final_seq = board.seq - 1
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    latencies = [ms for s in screens for ms in s.latencies_ms]
    dropped = sum(1 for s in screens if s.lost or s.last_seq < final_seq)
    return {
        "calls": placed, "inputs": len(routing), "routing_p50_us": _p(routing, 0.5), "routing_p99_us": _p(routing, 0.99),
        "snapshots": len(latencies), "event_to_screen_p50_ms": _p(latencies, 0.5),
        "event_to_screen_p99_ms": _p(latencies, 0.99), "event_to_screen_max_ms": max(latencies, default=float("nan")),
        "dropped": dropped,
    }


async def _bench(clients: int, rate: float, seconds: float) -> tuple[dict[str, Any], dict[str, Any]]:
    catalogue = default_catalogue()
    matrix = default_matrix(catalogue)
    phones = [AgentPhone(p.endpoint, p.endpoint.rpartition("agent")[2]) for p in matrix.agents.values() if p.endpoint]
    fake = FakeAsterisk(agents=phones, secrets={"guichet": "bench"}, agi_address=("127.0.0.1", 9))
    await fake.start()
    data_dir = Path(tempfile.mkdtemp(prefix="guichet-bench-wallboard-"))
    settings = Settings(data_dir=data_dir, ami_port=fake.ami_port, ami_secret=SecretStr("bench"), agi_port=0, http_port=0)
    try:
        async with run_town_hall(settings, catalogue, matrix, RoutingPolicy(wrap_up_s=0.5)) as hall:
            fake.agi_address = ("127.0.0.1", hall.ivr.port)
            await wait_until(lambda: hall.ami.link_up and not hall.ami.resyncing, timeout=10.0)
            hall.live.dispatcher.router = TimedRouter(hall.dispatcher.router)  # type: ignore[assignment]
            for agent_id in matrix.agents:
                hall.dispatcher.submit(_ready(hall, agent_id))
            await hall.pages.accounts.add("bench", PASSWORD, Role.SUPERVISOR)
            cookie = await _login(hall.http.url)
            await _calls(hall, fake, rate, 1.0, seed=0)  # warm-up, not measured
            baseline = await _phase(hall, fake, 0, rate, seconds, cookie, seed=1)
            loaded = await _phase(hall, fake, clients, rate, seconds, cookie, seed=1)
            return baseline, loaded
    finally:
        await fake.stop()


def _ready(hall: TownHall, agent_id: str) -> Event:
    from dispatcher.events import AgentStatusSet

    return AgentStatusSet(at=hall.dispatcher.clock(), agent_id=agent_id, state=AgentState.AVAILABLE)


async def _login(url: str) -> str:
    import re

    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(f"{url}/login") as r:
            found = re.search(r'name="csrf_token" value="([^"]+)"', await r.text())
        assert found
        async with http.post(f"{url}/login", data={"username": "bench", "password": PASSWORD,
                                                   "csrf_token": found.group(1)}, allow_redirects=False) as r:
            assert r.status == 303, r.status
        return "; ".join(f"{c.key}={c.value}" for c in http.cookie_jar)


def run(console: Console, quick: bool) -> dict[str, Any]:
    """The table, then the figures (the caller prints them as the last JSON line)."""
    clients, rate, seconds = (50, 50.0, 3.0) if quick else (200, 100.0, 10.0)
    baseline, loaded = asyncio.run(_bench(clients, rate, seconds))
    table = Table(title=f"wallboard: {clients} SSE clients, {rate:.0f} calls/s for {seconds:.0f} s (fake Asterisk)")
    for column in ("phase", "calls", "inputs", "routing p50 µs", "routing p99 µs", "snapshots read",
                   "event→screen p50 ms", "event→screen p99 ms", "dropped"):
        table.add_column(column, justify="right")
    for name, f in (("baseline, no wallboard", baseline), (f"{clients} wallboards", loaded)):
        table.add_row(name, str(f["calls"]), str(f["inputs"]), f"{f['routing_p50_us']:.1f}", f"{f['routing_p99_us']:.1f}",
                      str(f["snapshots"]), f"{f['event_to_screen_p50_ms']:.0f}", f"{f['event_to_screen_p99_ms']:.0f}",
                      str(f["dropped"]))
    console.print(table)
    return {
        "clients": clients, "calls_per_s": rate, "seconds": seconds, "calls": loaded["calls"],
        "event_to_screen_p99_ms": round(loaded["event_to_screen_p99_ms"], 1),
        "event_to_screen_p50_ms": round(loaded["event_to_screen_p50_ms"], 1),
        "routing_p99_us": round(loaded["routing_p99_us"], 2),
        "baseline_routing_p99_us": round(baseline["routing_p99_us"], 2),
        "routing_p99_ratio": round(loaded["routing_p99_us"] / baseline["routing_p99_us"], 3),
        "snapshots": loaded["snapshots"], "dropped": loaded["dropped"],
    }
