"""``guichet bench kiosk``: kiosks and displays against the running server, with calls flowing.

Four processes, as in production: the server (``guichet.townhall``: private
Redis, SQLite history and its writer's process, dispatcher, FastAGI IVR, AMI
adapter, HTTP side), the fake Asterisk placing 50 calls per second through the
IVR to the agents' softphones, the 10 displays (5 WebSocket, 5 SSE), and this
one: 20 kiosks (10 over HTTP, 10 over WebSocket). Robot desk agents in the
server take each visitor offered and finish in 20 ms, so every ticket is
called on the displays.

Two phases. Paced (60 s; ``--quick``: 5 s): the 20 kiosks together issue 100
tickets per second on Poisson schedules (each kiosk 5 a second, more than its
printer can print), each wait counted from when the request was due. Saturated (10 s; ``--quick``: 3 s): each kiosk sends its next
request as soon as it has its ticket, the most the server takes. A closed loop
cannot be the bar's measure for a whole minute: its mean wait is 20 /
throughput, so p99 <= 20 ms needs over 1,000 tickets/s, 60,000 tickets a
minute, and a day holds 25,974 numbers here (999 per letter and site).

Figures: tickets per second; issuance p50/p99 (due to the ticket received,
position and estimated wait included); ``display_p99_ms`` from the call
decision (the desk's acknowledgement in the core) to the frame received, over
every (call, display) pair; the routing core's p99 per input
(``Router.handle``); ``duplicates`` (a site, day and number answered twice)
and ``lost`` (a ticket answered but unknown to the dispatcher, a call missing
from a display, a phone call with no outcome). Baseline in the same run: the
``/api/v1/health`` round trip under the same load (the HTTP floor).
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import random
import secrets
import tempfile
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import aiohttp
from rich.console import Console
from rich.table import Table

from guichet.bench_kiosk_clients import (
    DISPLAYS,
    KIOSKS,
    Kiosks,
    call_key,
    displays_process,
    numbers_per_day,
)

CALLS_PER_S = 50.0
DESK_S = 0.02
PACED_PER_S = 100.0
"""The paced phase's tickets per second, the 20 kiosks together: 5 per kiosk and second, while a
kiosk's thermal printer prints and cuts at most about 2 (an 8-10 cm ticket at 250 mm/s, then the
cut), and a visitor needs seconds to choose; 60 s of it use 23 % of the day's numbers (25,974 for
the bench's 13 letters at 2 sites), which leaves room for the saturated phase."""
DRAIN_S = 15.0
"""After the run, the calls placed have this long to end (a caller waits 3 s at most)."""


def _rounded(ms: float | None) -> float | None:
    return None if ms is None else round(ms, 1)


def _pct(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# ------------------------------------------------------------------ the fake Asterisk


def _fake_process(conn: Any, endpoints: list[str], secret: str) -> None:
    asyncio.run(_fake_main(conn, endpoints, secret))


async def _fake_main(conn: Any, endpoints: list[str], secret: str) -> None:
    from guichet.bench_pbx import start_fake_asterisk

    fake, seconds = await start_fake_asterisk(conn, endpoints, secret)
    loop = asyncio.get_running_loop()
    rng = random.Random(7)
    placed = 0
    start = time.monotonic()
    while (now := time.monotonic()) < start + seconds:
        due = int((now - start) * CALLS_PER_S)
        while placed < due:
            fake.place_call(f"06{rng.randrange(10**8):08d}", dtmf=["1", "1", "2"], patience=3.0, talk_time=0.3)
            placed += 1
        await asyncio.sleep(0.005)
    drain = time.monotonic() + DRAIN_S
    while any(chan.alive for chan in fake.calls) and time.monotonic() < drain:
        await asyncio.sleep(0.05)
    conn.send({"uniqueids": [chan.uniqueid for chan in fake.calls], "alive": sum(1 for chan in fake.calls if chan.alive)})
    await loop.run_in_executor(None, conn.recv)
    await fake.stop()


# ------------------------------------------------------------------ the server


def _server_process(conn: Any, data_dir: str, ami_port: int, secret: str, tokens: str) -> None:
    from guichet.townhall import run

    run(_server_main(conn, data_dir, ami_port, secret, tokens))


class _Desks:
    """The robot desk agents (each visitor offered taken, done in 20 ms) and the server's own tally:
    the contacts that arrived and ended, and the calls the displays were sent."""

    def __init__(self) -> None:
        self.dispatcher: Any = None
        self.arrived: set[str] = set()
        self.ended: set[str] = set()
        self.calls: dict[str, set[str]] = {}
        self.counting = False

    def sink(self, batch: Sequence[Any]) -> None:
        from dispatcher import events as ev
        from skills.model import Channel

        for e in batch:
            if isinstance(e, ev.ContactArrived):
                self.arrived.add(e.contact_id)
            elif isinstance(e, ev.ContactEnded):
                self.ended.add(e.contact_id)
            elif isinstance(e, ev.ContactOffered) and e.channel is Channel.COUNTER and self.dispatcher is not None:
                d = self.dispatcher
                loop = asyncio.get_running_loop()
                loop.call_soon(d.submit, ev.OfferAnswered(at=d.clock(), contact_id=e.contact_id, agent_id=e.agent_id))
                loop.call_later(DESK_S, self._done, e.contact_id)

    def _done(self, contact_id: str) -> None:
        from dispatcher import events as ev

        if self.dispatcher is not None:  # not once the server stops
            self.dispatcher.submit(ev.ContactCompleted(at=self.dispatcher.clock(), contact_id=contact_id))

    def announced(self, call: Any) -> None:
        if self.counting:
            self.calls.setdefault(call.site, set()).add(call_key(call.ticket, call.counter, call.at))


class _GcPauses:
    """How long each of the server's garbage collections (full or not) held the process."""

    def __init__(self) -> None:
        self.seconds: list[float] = []
        self._started = 0.0

    def callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds.append(time.perf_counter() - self._started)


async def _server_main(conn: Any, data_dir: str, ami_port: int, secret: str, tokens: str) -> None:
    from pydantic import SecretStr

    from dispatcher import events as ev
    from dispatcher.events import AgentState
    from dispatcher.policy import RoutingPolicy
    from guichet.bench_wallboard import timed_copy
    from guichet.config import Settings
    from guichet.townhall import run_town_hall
    from skills.catalogue import default_catalogue
    from skills.matrix import default_matrix

    catalogue = default_catalogue()
    matrix = default_matrix(catalogue)
    settings = Settings(
        data_dir=Path(data_dir), ami_port=ami_port, ami_secret=SecretStr(secret), agi_port=0, http_port=0,
        device_tokens=SecretStr(tokens),
    )
    desks = _Desks()
    loop = asyncio.get_running_loop()
    async with run_town_hall(settings, catalogue, matrix, RoutingPolicy(wrap_up_s=0.0), sinks=[desks.sink]) as hall:
        dispatcher = hall.dispatcher
        desks.dispatcher = dispatcher
        announce = hall.counter.announce

        def counted(call: Any) -> None:
            announce(call)
            desks.announced(call)

        hall.counter.announce = counted  # type: ignore[method-assign]
        for agent in matrix.agents:
            dispatcher.submit(ev.AgentStatusSet(at=dispatcher.clock(), agent_id=agent, state=AgentState.AVAILABLE))
        timed = timed_copy(dispatcher.router, hall.matrix)  # a Router subclass: the estimate takes it
        timed.recording = False
        dispatcher.router = timed
        conn.send((hall.http.url, hall.ivr.port))
        await loop.run_in_executor(None, conn.recv)  # the displays are connected: count the calls from now
        desks.counting = True
        pauses = _GcPauses()
        gc.callbacks.append(pauses.callback)
        marks = [(time.process_time(), 0)]
        while (await loop.run_in_executor(None, conn.recv)) != "stopped":  # "phase": the paced kiosks stopped
            marks.append((time.process_time(), len(timed.spans)))
        marks.append((time.process_time(), len(timed.spans)))
        gc.callbacks.remove(pauses.callback)
        desks.counting = False
        timed.stop_timing()
        await loop.run_in_executor(None, conn.recv)  # the calls are drained
        conn.send({
            "arrived": sorted(desks.arrived), "ended": sorted(desks.ended),
            "waiting": sorted(timed.contacts), "calls": {k: sorted(v) for k, v in desks.calls.items()},
            "samples": [(end - start) / 1e9 for start, end in timed.spans], "marks": marks, "gc_pauses_s": pauses.seconds,
            "checkpoints_forked": hall.live.store.forked_checkpoints, "checkpoint_hold_ms": hall.live.store.checkpoint_ms,
            "checkpoint_encode_ms": hall.live.store.checkpoint_encode_ms,
        })
        await loop.run_in_executor(None, conn.recv)
        desks.dispatcher = None
async def _run(console: Console, paced_s: float, saturated_s: float) -> dict[str, Any]:
    from dispatcher.counter.sites import default_sites
    from dispatcher.counter.tickets import contact_id
    from skills.catalogue import default_catalogue
    from skills.matrix import default_matrix

    catalogue = default_catalogue()
    matrix = default_matrix(catalogue)
    sites = default_sites(catalogue)
    devices = [d for s in sites.sites.values() for d in (*s.kiosks, *s.displays)]
    tokens = {d: secrets.token_urlsafe(24) for d in devices}
    secret = secrets.token_urlsafe(12)
    endpoints = [p.endpoint for p in matrix.agents.values() if p.endpoint]
    ctx = multiprocessing.get_context("spawn")
    loop = asyncio.get_running_loop()
    calls_s = paced_s + saturated_s + 3.0

    async def ask(conn: Any, message: Any = None) -> Any:
        if message is not None:
            conn.send(message)
        return await loop.run_in_executor(None, conn.recv)

    fake_conn, fake_child = ctx.Pipe()
    fake = ctx.Process(target=_fake_process, args=(fake_child, endpoints, secret), daemon=True)
    fake.start()
    ami_port = await ask(fake_conn)
    server_conn, server_child = ctx.Pipe()
    all_displays = [d for s in sites.sites.values() for d in s.displays]
    shown = [all_displays[k % len(all_displays)] for k in range(DISPLAYS)]
    by_site = {d: s.code for s in sites.sites.values() for d in s.displays}
    with tempfile.TemporaryDirectory(prefix="guichet-bench-kiosk-") as data_dir:
        server = ctx.Process(
            target=_server_process,
            args=(server_child, data_dir, ami_port, secret, ",".join(f"{k}={v}" for k, v in tokens.items())),
            daemon=True,
        )
        server.start()
        url, agi_port = await ask(server_conn)
        screens_conn, screens_child = ctx.Pipe()
        screens = ctx.Process(target=displays_process, args=(screens_child, url, tokens, shown), daemon=True)
        screens.start()
        await ask(screens_conn)  # every display connected
        server_conn.send("count")
        kiosks = Kiosks(url, tokens)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
            fake_conn.send((agi_port, calls_s))
            await asyncio.sleep(1.0)  # the calls are flowing
            cpu = time.process_time()
            paced = await kiosks.run(http, paced_s, PACED_PER_S)
            server_conn.send("phase")
            saturated = await kiosks.run(http, saturated_s, None)
            cpu = time.process_time() - cpu
        server_conn.send("stopped")
        placed = await ask(fake_conn)  # the fake stopped placing calls and every call placed has ended
        await asyncio.sleep(0.5)  # the last calls reach the displays
        shown_calls = await ask(screens_conn, "stop")
        report = await ask(server_conn, "drained")
        server_conn.send("stop")
        await loop.run_in_executor(None, server.join, 30)  # the server first: its AMI link is not cut under it
        fake_conn.send("stop")
        for process in (fake, screens):
            await loop.run_in_executor(None, process.join, 30)
    answered = paced.answered + saturated.answered
    duplicates = len(answered) - len(set(answered))
    arrived, ended = set(report["arrived"]), set(report["ended"])
    lost_tickets = sum(1 for site, day, ticket in set(answered) if contact_id(site, date.fromisoformat(day), ticket) not in arrived)
    calls = {site: set(keys) for site, keys in report["calls"].items()}
    lost_display_calls = sum(len(calls.get(by_site[shown[k]], set()) - set(got)) for k, got in enumerate(shown_calls["calls"]))
    phone = set(placed["uniqueids"])
    lost_phone_calls = len(phone - ended)
    (cpu0, _), (cpu1, cut), (cpu2, end) = report["marks"]
    samples = report["samples"]
    numbers = numbers_per_day(sites, catalogue)
    figures = {
        "offered_tickets_per_s": PACED_PER_S,
        "tickets": len(paced.answered),
        "tickets_per_s": round(len(paced.answered) / paced.seconds, 1),
        "issue_p50_ms": round(1000 * _pct(paced.issue_s, 0.5), 2),
        "issue_p99_ms": round(1000 * _pct(paced.issue_s, 0.99), 2),
        "issue_max_ms": round(1000 * max(paced.issue_s, default=0.0), 2),
        "health_p99_ms": round(1000 * _pct(paced.health_s, 0.99), 2),
        "server_cpu_ms_per_ticket": round(1000 * (cpu1 - cpu0) / max(1, len(paced.answered)), 3),
        "server_cpu_share": round((cpu1 - cpu0) / paced.seconds, 2),
        "routing_p99_us": round(1e6 * _pct(samples[:cut], 0.99), 1),
        "saturated_tickets": len(saturated.answered),
        "saturated_tickets_per_s": round(len(saturated.answered) / saturated.seconds, 1),
        "saturated_issue_p50_ms": round(1000 * _pct(saturated.issue_s, 0.5), 2),
        "saturated_issue_p99_ms": round(1000 * _pct(saturated.issue_s, 0.99), 2),
        "saturated_health_p99_ms": round(1000 * _pct(saturated.health_s, 0.99), 2),
        "saturated_server_cpu_ms_per_ticket": round(1000 * (cpu2 - cpu1) / max(1, len(saturated.answered)), 3),
        "saturated_routing_p99_us": round(1e6 * _pct(samples[cut:end], 0.99), 1),
        "closed_loop_needs_tickets_per_s": round(KIOSKS / 0.020),
        "numbers_per_day": numbers,
        "duplicates": duplicates,
        "lost": lost_tickets + lost_display_calls + lost_phone_calls,
        "lost_tickets": lost_tickets,
        "lost_display_calls": lost_display_calls,
        "lost_phone_calls": lost_phone_calls,
        "refused": {str(k): v for k, v in sorted({**paced.refused, **saturated.refused}.items())},
        "display_calls": sum(len(v) for v in calls.values()),
        "display_frames": len(shown_calls["latency_s"]),
        "display_p50_ms": round(1000 * _pct(shown_calls["latency_s"], 0.5), 2),
        "display_p99_ms": round(1000 * _pct(shown_calls["latency_s"], 0.99), 2),
        "displays_closed": len(shown_calls["closed"]),
        "calls_placed": len(phone),
        "calls_per_s": round(len(phone) / calls_s, 1),
        "checkpoints_forked": report["checkpoints_forked"],
        "checkpoint_hold_ms": _rounded(report["checkpoint_hold_ms"]),
        "checkpoint_encode_ms": _rounded(report["checkpoint_encode_ms"]),
        "server_gc_max_ms": round(1000 * max(report["gc_pauses_s"], default=0.0), 1),
        "server_gc_total_ms": round(1000 * sum(report["gc_pauses_s"]), 1),
        "kiosks_cpu_share": round(cpu / (paced.seconds + saturated.seconds), 2),
        "displays_cpu_share": round(shown_calls["cpu_s"] / (paced.seconds + saturated.seconds), 2),
        "waiting_at_end": len(report["waiting"]),
        "seconds": round(paced.seconds, 1),
        "saturated_seconds": round(saturated.seconds, 1),
    }
    title = (
        f"Kiosks and displays: {KIOSKS} kiosks at {PACED_PER_S:.0f} tickets/s for {paced_s:.0f} s, "
        f"then as fast as they can for {saturated_s:.0f} s; {DISPLAYS} displays, {CALLS_PER_S:.0f} calls/s"
    )
    table = Table(title=title)
    table.add_column("figure")
    table.add_column("value", justify="right")
    for name, value in figures.items():
        table.add_row(name, str(value))
    console.print(table)
    console.print(
        f"A closed loop of {KIOSKS} kiosks waits {KIOSKS} / throughput on average (Little's law): a p99 of 20 ms "
        f"needs well over {KIOSKS / 0.020:.0f} tickets/s, and 60 s of it {60 * KIOSKS / 0.020:.0f} tickets, more "
        f"than the {numbers} numbers (999 per letter and site) a day holds here. The bar is read on the paced "
        f"phase ({PACED_PER_S:.0f}/s for 60 s: {60 * PACED_PER_S / numbers:.0%} of the day's numbers); the "
        "saturated phase gives the most the server takes."
    )
    return figures


def run(console: Console, quick: bool) -> dict[str, Any]:
    """The benchmark: 60 s paced, then 10 s saturated (``--quick``: 5 s and 3 s)."""
    return asyncio.run(_run(console, *((5.0, 3.0) if quick else (60.0, 10.0))))
