"""The load of ``guichet bench kiosk``: the 20 kiosks and the 10 displays, as devices use the HTTP side.

``Kiosks`` issue tickets over HTTP and WebSocket, paced (Poisson schedules, each
wait counted from when the request was due) or in a closed loop; ``Displays``
follow a site's calls over WebSocket and SSE in a process of their own and
record when each call's frame arrived.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

KIOSKS = 20
DISPLAYS = 10
PROCESSES = ("passport", "electoral_roll", "creche_enrolment", "school_enrolment", "building_permit", "social_aid",
             "housing_application", "bulky_waste", "resident_parking", "room_booking", "cemetery_plot",
             "terrace_permit", "lost_property")
"""One process of each domain: every letter's series is used."""


def call_key(ticket: str, counter: str, at: float) -> str:
    return f"{ticket} {counter} {at:.6f}"


# ------------------------------------------------------------------ the displays


def displays_process(conn: Any, url: str, tokens: dict[str, str], devices: list[str]) -> None:
    asyncio.run(_displays_main(conn, url, tokens, devices))


class Displays:
    """The 10 displays (half WebSocket, half SSE), in their own process: the calls each one got."""

    def __init__(self, url: str, tokens: dict[str, str]) -> None:
        self.url = url
        self.tokens = tokens
        self.latency_s: list[float] = []
        self.calls: list[set[str]] = [set() for _ in range(DISPLAYS)]
        self.closed: list[str] = []

    def _frame(self, k: int, frame: dict[str, Any]) -> None:
        if frame.get("type") == "call":
            call = frame["call"]
            self.calls[k].add(call_key(call["ticket"], call["counter"], call["at"]))
            self.latency_s.append(time.time() - call["at"])

    async def ws_display(self, http: aiohttp.ClientSession, k: int, device: str, ready: asyncio.Event) -> None:
        async with http.ws_connect(f"{self.url}/api/v1/display/ws?token={self.tokens[device]}", max_msg_size=0) as ws:
            ready.set()
            async for msg in ws:
                if msg.type is aiohttp.WSMsgType.TEXT:
                    self._frame(k, json.loads(msg.data))
            self.closed.append(f"display {k}: closed {ws.close_code}")

    async def sse_display(self, http: aiohttp.ClientSession, k: int, device: str, ready: asyncio.Event) -> None:
        url = f"{self.url}/api/v1/display/events?token={self.tokens[device]}"
        async with http.get(url, headers={"Accept": "text/event-stream"}) as r:
            ready.set()
            async for line in r.content:
                if line.startswith(b"data: "):
                    self._frame(k, json.loads(line[6:]))
            self.closed.append(f"display {k}: stream ended")


async def _displays_main(conn: Any, url: str, tokens: dict[str, str], devices: list[str]) -> None:
    loop = asyncio.get_running_loop()
    displays = Displays(url, tokens)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        readies = [asyncio.Event() for _ in range(DISPLAYS)]
        watchers = [
            asyncio.create_task((displays.ws_display if k % 2 == 0 else displays.sse_display)(http, k, devices[k], readies[k]))
            for k in range(DISPLAYS)
        ]
        await asyncio.gather(*(r.wait() for r in readies))
        conn.send("ready")
        cpu = time.process_time()
        await loop.run_in_executor(None, conn.recv)
        cpu = time.process_time() - cpu
        for task in watchers:
            task.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)
    conn.send({"latency_s": displays.latency_s, "calls": [sorted(c) for c in displays.calls], "closed": displays.closed, "cpu_s": cpu})


# ------------------------------------------------------------------ the kiosks


@dataclass
class Phase:
    """What the kiosks and the health probe got during one phase of the run."""

    issue_s: list[float] = field(default_factory=list)
    health_s: list[float] = field(default_factory=list)
    answered: list[tuple[str, str, str]] = field(default_factory=list)
    refused: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0

    def got(self, body: dict[str, Any], started: float) -> None:
        self.issue_s.append(time.perf_counter() - started)
        self.answered.append((body["site"], body["day"], body["ticket"]))

    def refuse(self, status: int) -> None:
        self.refused[status] = self.refused.get(status, 0) + 1


class Kiosks:
    """The 20 kiosks (10 HTTP, 10 WebSocket) and the health probe.

    ``rate`` (tickets per second for the 20 together): each kiosk sends on a
    Poisson schedule of its own and each wait is counted from the time the
    request was due, not sent, so a slow answer delays and counts against the
    requests after it (no coordinated omission). ``rate=None``: closed loop,
    each kiosk sends its next request when it has its ticket.
    """

    def __init__(self, url: str, tokens: dict[str, str]) -> None:
        self.url = url
        self.tokens = tokens

    def _auth(self, device: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[device]}"}

    @staticmethod
    async def _due(rng: random.Random, rate: float | None, due: float) -> float:
        """When the next request is due (now in a closed loop), after waiting for it."""
        if rate is None:
            return time.perf_counter()
        due += rng.expovariate(rate / KIOSKS)
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        return due

    async def http_kiosk(self, http: aiohttp.ClientSession, n: int, phase: Phase, stop: asyncio.Event, rate: float | None) -> None:
        device = "hdv-borne-1" if n % 2 else "annexe-borne-1"
        rng = random.Random(n)
        due = time.perf_counter()
        while not stop.is_set():
            due = await self._due(rng, rate, due)
            if stop.is_set():
                break
            body_in = {"process": rng.choice(PROCESSES)}
            async with http.post(f"{self.url}/api/v1/kiosk/tickets", json=body_in, headers=self._auth(device)) as r:
                body = await r.json()
                if r.status == 201:
                    phase.got(body, due)
                else:
                    phase.refuse(r.status)

    async def ws_kiosk(self, http: aiohttp.ClientSession, n: int, phase: Phase, stop: asyncio.Event, rate: float | None) -> None:
        device = "hdv-borne-2" if n % 2 else "annexe-borne-1"
        rng = random.Random(100 + n)
        due = time.perf_counter()
        async with http.ws_connect(f"{self.url}/api/v1/kiosk/ws?token={self.tokens[device]}") as ws:
            while not stop.is_set():
                due = await self._due(rng, rate, due)
                if stop.is_set():
                    break
                await ws.send_json({"type": "issue", "process": rng.choice(PROCESSES)})
                body = await ws.receive_json()
                if body["type"] == "ticket":
                    phase.got(body, due)
                else:
                    phase.refuse(body["problem"]["status"])

    async def health(self, http: aiohttp.ClientSession, phase: Phase, stop: asyncio.Event) -> None:
        while not stop.is_set():
            started = time.perf_counter()
            async with http.get(f"{self.url}/api/v1/health") as r:
                await r.read()
            phase.health_s.append(time.perf_counter() - started)
            await asyncio.sleep(0.01)

    async def run(self, http: aiohttp.ClientSession, seconds: float, rate: float | None) -> Phase:
        """One phase: the 20 kiosks and the probe for ``seconds``."""
        phase, stop = Phase(), asyncio.Event()
        tasks = [asyncio.create_task(self.http_kiosk(http, n, phase, stop, rate)) for n in range(KIOSKS // 2)]
        tasks += [asyncio.create_task(self.ws_kiosk(http, n, phase, stop, rate)) for n in range(KIOSKS // 2)]
        tasks.append(asyncio.create_task(self.health(http, phase, stop)))
        started = time.perf_counter()
        await asyncio.sleep(seconds)
        stop.set()
        await asyncio.gather(*tasks)
        phase.seconds = time.perf_counter() - started
        return phase


def numbers_per_day(sites: Any, catalogue: Any) -> int:
    """Ticket numbers the bench's processes have in a day: 999 per letter and site."""
    from dispatcher.counter.tickets import MAX_NUMBER

    letters = {sites.letters[catalogue.processes[p].domain] for p in PROCESSES}
    return MAX_NUMBER * len(letters) * len(sites.sites)
