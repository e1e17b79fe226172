"""``guichet bench wallboard``: 200 live wallboards while 100 calls/s go through the fake Asterisk.

Three processes, as in production: the server (``guichet.townhall``: private
Redis, SQLite history, dispatcher, FastAGI IVR, AMI adapter, HTTP side with
the pages), the fake Asterisk whose callers press their IVR keys, wait, talk
with the agents whose softphones answer or hang up, and this one, where the
supervisors' ``clients`` screens follow ``/wallboard/events`` (SSE). Two
phases of the same load: the baseline with no wallboard, then with the
screens. Figures:

- ``event_to_screen_p99_ms``: from a routing event to the moment a screen has
  read the snapshot that shows it (the snapshot's ``first_event_at``), over
  every snapshot of every screen;
- ``routing_p99_us``: the core's decision, timed inside the server exactly as
  ``guichet bench routing`` times it (the contact chosen for an agent who
  frees up); ``event_p99_us``: the whole ``Router.handle`` per input (its
  bookkeeping, timers and emitted events; not the sinks: Redis, SQL, the
  pushes run after it); ``event_p99_us_outside_gc``: the same, leaving out
  the inputs a garbage collection pass interrupted (``gc_in_handle``);
- ``replay_*``: the phase's inputs replayed in the server process from the
  phase's first state, back to back (the core warm, as ``guichet bench
  routing`` runs it) and ``idle_replay_*`` idling between inputs; both must
  take the live decisions (``replay_same_decisions``);
- ``dropped``: screens that lost their stream or never received the last
  snapshot published before the end;
- the CPU each process used (percent of one core) and the load average.
"""

from __future__ import annotations

import asyncio
import gc
import json
import multiprocessing
import os
import random
import re
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from rich.console import Console
from rich.table import Table

from dispatcher.bench import TimedRouter

PASSWORD = "bench-wallboard-password"
SETTLE_S = 1.5
"""After the last call of a phase: time for the last snapshot to reach every screen."""
IDLE_S, IDLE_INPUTS = 0.005, 300
"""The idle replay: this pause before each of the phase's first inputs."""


def _p(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# ------------------------------------------------------------------ the server's timing


class LiveTimedRouter(TimedRouter):
    """The routing core with its decisions timed (as ``guichet bench routing``) and each ``handle`` too.

    Garbage-collection passes are recorded with their times, so that an input
    they interrupted can be told from the core's own time.
    """

    def start_timing(self) -> None:
        self.decision_ns = []
        self.spans: list[tuple[int, int]] = []
        self.inputs: list[tuple[object, list[Any]]] = []
        self.recording = True
        self.gc_spans: list[tuple[int, int, int]] = []
        self._gc_started = 0
        if self._on_gc not in gc.callbacks:
            gc.callbacks.append(self._on_gc)

    def stop_timing(self) -> None:
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter_ns()
        else:
            self.gc_spans.append((self._gc_started, time.perf_counter_ns(), info["generation"]))

    def handle(self, event: object) -> list[Any]:
        started = time.perf_counter_ns()
        decisions = super().handle(event)
        self.spans.append((started, time.perf_counter_ns()))
        if self.recording:
            self.inputs.append((event, decisions))
        return decisions

    def figures(self) -> dict[str, Any]:
        """The phase's routing figures (µs), with the GC passes that fell inside an input."""
        events = [(end - start) / 1000.0 for start, end in self.spans]
        gcs = sorted(self.gc_spans)
        hit: list[bool] = []
        i = 0
        for start, end in self.spans:  # both in time order
            while i < len(gcs) and gcs[i][1] < start:
                i += 1
            hit.append(i < len(gcs) and gcs[i][0] <= end)
        clean = [us for us, h in zip(events, hit) if not h]
        return {
            "inputs": len(events),
            "decisions": len(self.decision_ns),
            "routing_p50_us": _p([ns / 1000.0 for ns in self.decision_ns], 0.5),
            "routing_p99_us": _p([ns / 1000.0 for ns in self.decision_ns], 0.99),
            "event_p50_us": _p(events, 0.5),
            "event_p99_us": _p(events, 0.99),
            "event_p99_us_outside_gc": _p(clean, 0.99),
            "gc_passes": len(gcs),
            "gc_full_passes": sum(1 for g in gcs if g[2] == 2),
            "gc_max_ms": max(((e - s) / 1e6 for s, e, _ in gcs), default=0.0),
            "gc_in_handle": sum(hit),
        }


def _server_process(conn: Any, data_dir: str, ami_port: int, secret: str) -> None:
    from guichet.townhall import run

    run(_server_main(conn, data_dir, ami_port, secret))


def _ivr_paths(menu: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    from ivr.menu import GENERALIST, Menu

    found: list[tuple[str, ...]] = []
    for key, choice in menu.choices.items():
        if isinstance(choice, Menu):
            found += _ivr_paths(choice, (*prefix, key))
        elif choice != GENERALIST:
            found.append((*prefix, key))
    return found


def timed_copy(router: Any, matrix: Any, taken: bytes | None = None) -> LiveTimedRouter:
    """A timed router holding the state of ``router`` (or of its checkpoint ``taken``: the replay checks
    its decisions instead), checked identical."""
    from dispatcher.store import snapshot

    check = taken is None
    taken = snapshot.take(router) if taken is None else taken
    timed = snapshot._Rebuild(json.loads(taken), LiveTimedRouter(router.catalogue, matrix, router.policy)).router
    assert isinstance(timed, LiveTimedRouter)
    if check and snapshot.take(timed) != taken:
        raise RuntimeError("the timed router does not hold the running router's state")
    timed.start_timing()
    return timed


def _replay(start: bytes, live: LiveTimedRouter, matrix: Any, pause_s: float = 0.0,
            limit: int | None = None) -> dict[str, Any]:
    """The phase's inputs again from the phase's first state, in this process with nothing else running:
    back to back (the core warm), or idling ``pause_s`` between inputs (the caches cool down as in a
    server waiting for its next input). The decisions must be the live ones."""
    inputs = live.inputs[:limit]
    router = timed_copy(live, matrix, start)
    router.recording = False
    same = True
    for event, decisions in inputs:
        if pause_s:
            time.sleep(pause_s)
        same = router.handle(event) == decisions and same
    router.stop_timing()
    return router.figures() | {"same_decisions": same}


def _replays(start: bytes, live: LiveTimedRouter, matrix: Any) -> dict[str, Any]:
    warm = _replay(start, live, matrix)
    idle = _replay(start, live, matrix, pause_s=IDLE_S, limit=IDLE_INPUTS)
    return {"replay_routing_p99_us": warm["routing_p99_us"], "replay_event_p50_us": warm["event_p50_us"],
            "replay_event_p99_us": warm["event_p99_us"], "idle_replay_event_p50_us": idle["event_p50_us"],
            "idle_replay_event_p99_us": idle["event_p99_us"],
            "replay_same_decisions": warm["same_decisions"] and idle["same_decisions"]}


async def _server_main(conn: Any, data_dir: str, ami_port: int, secret: str) -> None:
    from pydantic import SecretStr

    from dispatcher.events import AgentState, AgentStatusSet
    from dispatcher.pages.keys import WALLBOARD
    from dispatcher.people.roles import Role
    from dispatcher.policy import RoutingPolicy
    from dispatcher.store import snapshot
    from guichet.config import Settings
    from guichet.townhall import run_town_hall
    from skills.catalogue import default_catalogue
    from skills.matrix import default_matrix

    catalogue = default_catalogue()
    matrix = default_matrix(catalogue)
    settings = Settings(data_dir=Path(data_dir), ami_port=ami_port, ami_secret=SecretStr(secret), agi_port=0,
                        http_port=0)
    loop = asyncio.get_running_loop()
    async with run_town_hall(settings, catalogue, matrix, RoutingPolicy(wrap_up_s=0.5)) as hall:
        dispatcher = hall.dispatcher
        for agent_id in matrix.agents:
            dispatcher.submit(AgentStatusSet(at=dispatcher.clock(), agent_id=agent_id, state=AgentState.AVAILABLE))
        await hall.pages.accounts.add("bench", PASSWORD, Role.SUPERVISOR)
        timed = timed_copy(dispatcher.router, hall.matrix)
        dispatcher.router = timed
        conn.send((hall.http.url, hall.ivr.port, _ivr_paths(hall.ivr.config.menu)))
        board = hall.http.app[WALLBOARD]
        while (command := await loop.run_in_executor(None, conn.recv)) != "stop":
            if command == "begin":
                start = snapshot.take(timed)
                timed.start_timing()
                cpu = time.process_time()
                wall = time.monotonic()
                conn.send("ok")
            elif command == "end":
                timed.recording = False
                figures = timed.figures()
                figures["server_cpu_percent"] = 100.0 * (time.process_time() - cpu) / (time.monotonic() - wall)
                board.poke()
                await asyncio.sleep(SETTLE_S)
                figures["final_seq"] = board.seq - 1
                figures |= _replays(start, timed, hall.matrix)
                conn.send(figures)
        timed.stop_timing()


# ------------------------------------------------------------------ the fake Asterisk


def _fake_process(conn: Any, endpoints: list[str], secret: str) -> None:
    asyncio.run(_fake_main(conn, endpoints, secret))


async def _fake_main(conn: Any, endpoints: list[str], secret: str) -> None:
    from guichet.bench_pbx import start_fake_asterisk

    fake, paths = await start_fake_asterisk(conn, endpoints, secret)
    loop = asyncio.get_running_loop()
    while (command := await loop.run_in_executor(None, conn.recv)) != "stop":
        rate, seconds, seed = command
        rng = random.Random(seed)
        cpu = time.process_time()
        placed = 0
        start = time.monotonic()
        while (elapsed := time.monotonic() - start) < seconds:
            due = int(elapsed * rate) + 1
            while placed < due:
                fake.place_call(f"06{rng.randrange(10**8):08d}", "", dtmf=[*rng.choice(paths), "2"],
                                patience=rng.uniform(2.0, 6.0), talk_time=rng.uniform(0.5, 2.0))
                placed += 1
            await asyncio.sleep(0.005)
        conn.send((placed, 100.0 * (time.process_time() - cpu) / (time.monotonic() - start)))
    await fake.stop()


# ------------------------------------------------------------------ the screens (this process)


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
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.lost = True
            self.status = repr(exc)
        finally:
            ready.set()


async def _login(url: str) -> str:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(f"{url}/login") as r:
            found = re.search(r'name="csrf_token" value="([^"]+)"', await r.text())
        if not found:
            raise RuntimeError("the login form has no CSRF token")
        async with http.post(f"{url}/login", data={"username": "bench", "password": PASSWORD,
                                                   "csrf_token": found.group(1)}, allow_redirects=False) as r:
            if r.status != 303:
                raise RuntimeError(f"the bench supervisor cannot log in: HTTP {r.status}")
        return "; ".join(f"{c.key}={c.value}" for c in http.cookie_jar)


async def _ask(conn: Any, message: object) -> Any:
    conn.send(message)
    return await asyncio.get_running_loop().run_in_executor(None, conn.recv)


async def _phase(server: Any, fake: Any, url: str, cookie: str, clients: int, rate: float, seconds: float,
                 seed: int) -> dict[str, Any]:
    screens = [Screen() for _ in range(clients)]
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), headers={"Cookie": cookie}) as http:
        ready = [asyncio.Event() for _ in screens]
        tasks = [asyncio.create_task(s.follow(http, url, r)) for s, r in zip(screens, ready)]
        if screens:
            await asyncio.wait_for(asyncio.gather(*(r.wait() for r in ready)), 60)
            refused = [s.status for s in screens if s.lost]
            if refused:
                raise RuntimeError(f"{len(refused)} wallboards could not connect: {refused[:3]}")
        await _ask(server, "begin")
        cpu, wall = time.process_time(), time.monotonic()
        placed, fake_cpu = await _ask(fake, (rate, seconds, seed))
        figures = await _ask(server, "end")  # the server waits SETTLE_S: the screens read on meanwhile
        clients_cpu = 100.0 * (time.process_time() - cpu) / (time.monotonic() - wall)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    latencies = [ms for s in screens for ms in s.latencies_ms]
    return {
        **figures, "calls": placed, "snapshots": len(latencies),
        "event_to_screen_p50_ms": _p(latencies, 0.5), "event_to_screen_p99_ms": _p(latencies, 0.99),
        "event_to_screen_max_ms": max(latencies, default=float("nan")),
        "dropped": sum(1 for s in screens if s.lost or s.last_seq < figures["final_seq"]),
        "clients_cpu_percent": clients_cpu, "fake_asterisk_cpu_percent": fake_cpu,
    }


async def _bench(clients: int, rate: float, seconds: float) -> tuple[dict[str, Any], dict[str, Any]]:
    from skills.catalogue import default_catalogue
    from skills.matrix import default_matrix

    matrix = default_matrix(default_catalogue())
    endpoints = [p.endpoint for p in matrix.agents.values() if p.endpoint]
    secret = "bench"
    ctx = multiprocessing.get_context("spawn")
    loop = asyncio.get_running_loop()
    fake_conn, fake_child = ctx.Pipe()
    fake = ctx.Process(target=_fake_process, args=(fake_child, endpoints, secret), daemon=True)
    fake.start()
    ami_port = await loop.run_in_executor(None, fake_conn.recv)
    server_conn, server_child = ctx.Pipe()
    with tempfile.TemporaryDirectory(prefix="guichet-bench-wallboard-") as data_dir:
        server = ctx.Process(target=_server_process, args=(server_child, data_dir, ami_port, secret), daemon=True)
        server.start()
        try:
            url, agi_port, paths = await loop.run_in_executor(None, server_conn.recv)
            fake_conn.send((agi_port, paths))
            cookie = await _login(url)
            await _ask(fake_conn, (rate, 1.0, 0))  # warm-up, not measured
            baseline = await _phase(server_conn, fake_conn, url, cookie, 0, rate, seconds, seed=1)
            loaded = await _phase(server_conn, fake_conn, url, cookie, clients, rate, seconds, seed=1)
        finally:
            server_conn.send("stop")
            await loop.run_in_executor(None, server.join, 30)
            fake_conn.send("stop")
            await loop.run_in_executor(None, fake.join, 30)
    return baseline, loaded


def run(console: Console, quick: bool) -> dict[str, Any]:
    """The table, then the figures (the caller prints them as the last JSON line)."""
    clients, rate, seconds = (50, 50.0, 3.0) if quick else (200, 100.0, 10.0)
    load_before = os.getloadavg()[0]
    baseline, loaded = asyncio.run(_bench(clients, rate, seconds))
    load_after = os.getloadavg()[0]
    table = Table(title=f"wallboard: {clients} SSE clients, {rate:.0f} calls/s for {seconds:.0f} s (fake Asterisk)")
    table.add_column("figure")
    table.add_column("baseline, no wallboard", justify="right")
    table.add_column(f"{clients} wallboards", justify="right")
    rows = (("calls placed", "calls", "{:.0f}"), ("inputs routed", "inputs", "{:.0f}"),
            ("decisions", "decisions", "{:.0f}"),
            ("decision p50 µs (live)", "routing_p50_us", "{:.1f}"), ("decision p99 µs (live)", "routing_p99_us", "{:.1f}"),
            ("handle p50 µs (live)", "event_p50_us", "{:.1f}"), ("handle p99 µs (live)", "event_p99_us", "{:.1f}"),
            ("handle p99 µs, inputs no GC pass hit", "event_p99_us_outside_gc", "{:.1f}"),
            ("decision p99 µs, replayed warm", "replay_routing_p99_us", "{:.1f}"),
            ("handle p50 µs, replayed warm", "replay_event_p50_us", "{:.1f}"),
            ("handle p99 µs, replayed warm", "replay_event_p99_us", "{:.1f}"),
            (f"handle p50 / p99 µs, replayed idling {IDLE_S * 1000:.0f} ms between inputs",
             ("idle_replay_event_p50_us", "idle_replay_event_p99_us"), "{:.1f}"),
            ("GC passes / full / inside a handle", ("gc_passes", "gc_full_passes", "gc_in_handle"), "{:.0f}"),
            ("longest GC pass ms", "gc_max_ms", "{:.1f}"),
            ("snapshots read", "snapshots", "{:.0f}"),
            ("event→screen p50 ms", "event_to_screen_p50_ms", "{:.0f}"),
            ("event→screen p99 ms", "event_to_screen_p99_ms", "{:.0f}"),
            ("dropped", "dropped", "{:.0f}"),
            ("CPU % server / fake Asterisk / clients",
             ("server_cpu_percent", "fake_asterisk_cpu_percent", "clients_cpu_percent"), "{:.0f}"))
    for title, names, fmt in rows:
        keys = (names,) if isinstance(names, str) else names
        table.add_row(title, *(" / ".join("–" if f[k] != f[k] else fmt.format(f[k]) for k in keys)
                               for f in (baseline, loaded)))
    console.print(table)
    return {
        "clients": clients, "calls_per_s": rate, "seconds": seconds, "calls": loaded["calls"],
        "event_to_screen_p99_ms": round(loaded["event_to_screen_p99_ms"], 1),
        "event_to_screen_p50_ms": round(loaded["event_to_screen_p50_ms"], 1),
        "routing_p99_us": round(loaded["routing_p99_us"], 2),
        "baseline_routing_p99_us": round(baseline["routing_p99_us"], 2),
        "event_p99_us": round(loaded["event_p99_us"], 2),
        "baseline_event_p99_us": round(baseline["event_p99_us"], 2),
        "event_p99_us_outside_gc": round(loaded["event_p99_us_outside_gc"], 2),
        "replay_routing_p99_us": round(loaded["replay_routing_p99_us"], 2),
        "replay_event_p50_us": round(loaded["replay_event_p50_us"], 2),
        "replay_event_p99_us": round(loaded["replay_event_p99_us"], 2),
        "idle_replay_event_p50_us": round(loaded["idle_replay_event_p50_us"], 2),
        "idle_replay_event_p99_us": round(loaded["idle_replay_event_p99_us"], 2),
        "replay_same_decisions": loaded["replay_same_decisions"] and baseline["replay_same_decisions"],
        "decisions": loaded["decisions"], "inputs": loaded["inputs"],
        "gc_passes": loaded["gc_passes"], "gc_full_passes": loaded["gc_full_passes"],
        "gc_in_handle": loaded["gc_in_handle"], "gc_max_ms": round(loaded["gc_max_ms"], 2),
        "snapshots": loaded["snapshots"], "dropped": loaded["dropped"],
        "server_cpu_percent": round(loaded["server_cpu_percent"]),
        "fake_asterisk_cpu_percent": round(loaded["fake_asterisk_cpu_percent"]),
        "clients_cpu_percent": round(loaded["clients_cpu_percent"]),
        "load_1min_before": round(load_before, 2), "load_1min_after": round(load_after, 2),
    }
