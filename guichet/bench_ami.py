"""``guichet bench ami``: AMI events through the adapter into the core, from a fake Asterisk.

A simulated town hall (the fake Asterisk on a virtual clock, in a process of
its own) takes 100 new calls per simulated second for 60 simulated seconds
(``--quick``: 10) with 500 agents: each call goes through the IVR (scripted
AGI commands, as Asterisk reports them over AMI), waits with music, is
redirected by the dispatcher to an agent, rings, is answered, talks (RTCP
reports every 5 s) and hangs up; some callers give up first. The AMI stream
is exactly what Asterisk 22 sends (all events, no filter), over a loopback
TCP socket; the simulation goes as fast as the dispatcher reads it.

In the dispatcher's process (one thread, one core): panoramisk's Manager
with ``FrameProtocol``, the ``AmiAdapter`` and the routing core
(``Dispatcher`` with its timer task). Measured in the same run:

1. **adapter**: AMI frames per second read and handled, from the first frame
   to the last call's end; ``assign_to_action_p99_ms``: from the moment the
   dispatcher starts handling the frame that makes "an agent available and a
   caller waiting" true (the caller's handoff, an agent hanging up, a
   softphone coming back) to the Redirect written on the socket;
2. **panoramisk bare**: the bytes the adapter received in (1), replayed to a
   stock panoramisk ``Manager`` (its own ``AMIProtocol``) with one empty
   callback for every event;
3. **disconnects**: a second simulated run at 4x real time during which the
   fake Asterisk drops the AMI connection 20 times; after each reconnection
   the adapter resynchronises.

``lost``: callers the fake Asterisk placed whose contact did not end in the
dispatcher with the outcome the PBX saw (served if they talked to an agent,
abandoned otherwise), or that were never seen; ``duplicated``: contacts that
arrived or ended twice, callers bridged to agents twice. Both runs count.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import multiprocessing
import os
import random
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

from dispatcher import events as ev
from dispatcher.ami.adapter import AmiAdapter
from dispatcher.events import AgentState, Outcome
from dispatcher.policy import RoutingPolicy
from dispatcher.router import Router
from dispatcher.service import Dispatcher
from skills.catalogue import default_catalogue
from skills.model import AgentProfile, Channel, SkillMatrix

PROCESSES = (
    "passport",
    "id_card",
    "birth_certificate",
    "electoral_roll",
    "creche_enrolment",
    "school_enrolment",
    "building_permit",
    "social_aid",
    "bulky_waste",
    "resident_parking",
    "triage",
)
SECRET = "bench-secret"


@dataclass(frozen=True)
class Scale:
    seconds: float = 60.0
    rate: float = 100.0
    agents: int = 500
    disconnects: int = 20
    disconnect_seconds: float = 60.0
    disconnect_speed: float = 4.0


FULL = Scale()
QUICK = Scale(seconds=10.0, disconnect_seconds=10.0, disconnects=20, disconnect_speed=4.0)


def bench_matrix(agents: int, seed: int = 7) -> SkillMatrix:
    """``agents`` phone agents, each knowing most of the bench's processes."""
    rng = random.Random(seed)
    profiles = {}
    for i in range(agents):
        number = 1000 + i
        skills = {p: rng.choice((2, 3)) for p in PROCESSES if p == "triage" or rng.random() < 0.8}
        profiles[f"a{number}"] = AgentProfile(
            agent_id=f"a{number}",
            name=f"Agent {number}",
            skills=skills,
            channels=frozenset({Channel.PHONE}),
            endpoint=f"PJSIP/agent{number}",
        )
    return SkillMatrix(agents=profiles)


# ---------------------------------------------------------------- the fake Asterisk's process


def _fake_process(conn: Any, mode: str, params: dict[str, Any]) -> None:
    logging.basicConfig(handlers=[logging.NullHandler()], force=True)  # the table says it all
    try:
        asyncio.run(_fake_main(conn, mode, params))
    finally:
        conn.close()


async def _fake_main(conn: Any, mode: str, params: dict[str, Any]) -> None:
    if mode == "replay":
        await _replay_server(conn, params["path"])
        return
    from dispatcher.fake_asterisk import FakeAsterisk
    from dispatcher.fake_asterisk.ami import ManagerUser
    from dispatcher.fake_asterisk.sim import CallTraffic, VirtualClock, run_virtual

    clock = VirtualClock()
    record = open(params["record"], "wb") if params.get("record") else None  # noqa: SIM115
    users = {"bench": ManagerUser("bench", SECRET)}
    fake = FakeAsterisk(
        agents=[str(1000 + i) for i in range(params["agents"])],
        users=users,
        scheduler=clock,
        time_scale=1.0,
        rtcp_interval=5.0,
        trunk="trunk",
        record_to=record,
    )
    await fake.start()
    pbx, ami = fake.pbx, fake.ami
    if pbx is None or ami is None:
        raise RuntimeError("the fake Asterisk did not start (no PBX or AMI server)")
    for phone in pbx.phones.values():
        phone.answer_after = 0.3
    conn.send(("port", fake.ami_port))
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, conn.recv)  # "go": logged in, agents ready
    traffic = CallTraffic(pbx, params["rate"], PROCESSES, seed=params.get("seed", 1))
    traffic.start()
    seconds = params["seconds"]
    cuts_done = 0

    def cut() -> None:
        """Drop the AMI link, or try again shortly while the dispatcher is still reconnecting."""
        nonlocal cuts_done
        if fake.ami_clients:
            fake.cut_ami()
            cuts_done += 1
        else:
            clock.call_later(0.05, cut)

    cuts = [(seconds * (k + 1) / (params["cuts"] + 1), cut) for k in range(params["cuts"])]
    wall = time.perf_counter()
    await run_virtual(clock, seconds, speed=params.get("speed"), backpressure=ami.drained, at=cuts)
    traffic.stop()
    placed = len(traffic.fates)
    await run_virtual(
        clock,
        seconds + 600.0,
        speed=params.get("speed"),
        backpressure=ami.drained,
        stop_when=lambda: traffic.active == 0,
    )
    wall = time.perf_counter() - wall
    if record is not None:
        record.close()
    await asyncio.sleep(0.2)
    conn.send(
        (
            "report",
            {
                "placed": placed,
                "fates": {uid: (f.outcome, f.bridged) for uid, f in traffic.fates.items()},
                "wall_s": wall,
                "virtual_s": clock.elapsed,
                "cuts": cuts_done,
            },
        )
    )
    await loop.run_in_executor(None, conn.recv)  # "bye"
    await fake.stop()


async def _replay_server(conn: Any, path: str) -> None:
    """Send the recorded stream to one manager client as fast as it reads."""
    done = asyncio.Event()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        with open(path, "rb") as stream:  # noqa: ASYNC230 (a local file, read in 64 kB steps)
            while (chunk := stream.read(1 << 16)) and not writer.is_closing():
                writer.write(chunk)
                try:
                    await writer.drain()
                except ConnectionError:
                    break
        try:
            await asyncio.wait_for(reader.read(), 30)  # until the client has read it all and closes
        except TimeoutError:
            pass
        writer.close()
        done.set()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    conn.send(("port", server.sockets[0].getsockname()[1]))
    await done.wait()
    server.close()


class _FakeProcess:
    def __init__(self, mode: str, params: dict[str, Any]) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_fake_process, args=(child, mode, params), daemon=True)
        self.process.start()
        child.close()

    async def recv(self, timeout: float = 600.0) -> Any:
        loop = asyncio.get_running_loop()
        ok = await loop.run_in_executor(None, self.conn.poll, timeout)
        if not ok:
            raise TimeoutError("the fake Asterisk process did not answer")
        return self.conn.recv()

    def send(self, message: Any) -> None:
        self.conn.send(message)

    def close(self) -> None:
        self.process.join(timeout=10)
        if self.process.is_alive():
            self.process.terminate()


# ---------------------------------------------------------------- the dispatcher's side


class _Tally:
    """Counts arrivals and endings per contact (a sink of the dispatcher)."""

    def __init__(self) -> None:
        self.max_wait = 0.0
        self.arrived: Counter[str] = Counter()
        self.ended: dict[str, list[Outcome]] = {}
        self.ended_count = 0

    def __call__(self, batch: Sequence[ev.Event]) -> None:
        first = batch[0]
        if type(first) is ev.ContactArrived:
            self.arrived[first.contact_id] += 1  # type: ignore[attr-defined]
        for event in batch:
            if type(event) is ev.ContactOffered and event.waited > self.max_wait:  # type: ignore[attr-defined]
                self.max_wait = event.waited  # type: ignore[attr-defined]
            if type(event) is ev.ContactEnded:
                self.ended.setdefault(event.contact_id, []).append(event.outcome)  # type: ignore[attr-defined]
                self.ended_count += 1


async def _run_sim(
    scale: Scale, seconds: float, cuts: int, speed: float | None, record: str | None
) -> dict[str, Any]:
    matrix = bench_matrix(scale.agents)
    router = Router(default_catalogue(), matrix, RoutingPolicy(wrap_up_s=0))
    dispatcher = Dispatcher(router)
    tally = _Tally()
    dispatcher.add_sink(tally)
    fake = _FakeProcess(
        "sim",
        {
            "agents": scale.agents,
            "rate": scale.rate,
            "seconds": seconds,
            "cuts": cuts,
            "speed": speed,
            "record": record,
        },
    )
    try:
        _, port = await fake.recv(60)
        adapter = AmiAdapter(
            dispatcher,
            matrix,
            port=port,
            username="bench",
            secret=SECRET,
            reconnect_min=0.05,
            reconnect_max=0.5,
            ping_interval=3600,
        )
        adapter.assign_latencies = []
        await adapter.start()
        while not (adapter.link_up and not adapter.resyncing):
            await asyncio.sleep(0.01)
        await dispatcher.start()
        for agent_id in matrix.agents:
            dispatcher.submit(
                ev.AgentStatusSet(
                    at=dispatcher.clock(), agent_id=agent_id, state=AgentState.AVAILABLE
                )
            )
        adapter.assign_latencies.clear()
        adapter.assign_cpu.clear()
        gc.collect()
        frames0 = _frames(adapter)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        fake.send("go")
        _, report = await fake.recv()
        expected_ends = sum(1 for outcome, _ in report["fates"].values() if outcome != "active")
        deadline = time.perf_counter() + 15.0
        while tally.ended_count < expected_ends and time.perf_counter() < deadline:
            await asyncio.sleep(0.005)
        wall = time.perf_counter() - wall0
        cpu = time.process_time() - cpu0
        frames = _frames(adapter) - frames0
        fake.send("bye")
        await adapter.stop()
        await dispatcher.stop()
    finally:
        fake.close()
    lost, duplicated, unseen = _check(report["fates"], tally)
    latencies = sorted(adapter.assign_latencies)
    cpu_latencies = sorted(adapter.assign_cpu)
    return {
        "cpu_p99_ms": _pct(cpu_latencies, 0.99) * 1000,
        "max_offer_wait_s": tally.max_wait,
        "frames": frames,
        "wall_s": wall,
        "cpu_s": cpu,
        "events_per_s": frames / wall if wall else 0.0,
        "events_per_cpu_s": frames / cpu if cpu else 0.0,
        "calls": report["placed"],
        "virtual_s": report["virtual_s"],
        "outcomes": Counter(o for o, _ in report["fates"].values()),
        "assignments": len(latencies),
        "p50_ms": _pct(latencies, 0.50) * 1000,
        "p99_ms": _pct(latencies, 0.99) * 1000,
        "max_ms": (latencies[-1] if latencies else 0.0) * 1000,
        "lost": lost,
        "duplicated": duplicated,
        "unseen": unseen,
        "resyncs": adapter.stats.resyncs,
        "cuts": report["cuts"],
        "connections": adapter.manager.connections,
    }


def _frames(adapter: AmiAdapter) -> int:
    return adapter.manager.frames_in


def _check(fates: dict[str, tuple[str, int]], tally: _Tally) -> tuple[int, int, int]:
    lost = duplicated = unseen = 0
    for uid, (outcome, bridged) in fates.items():
        if bridged > 1:
            duplicated += 1
        ends = tally.ended.get(uid, [])
        if tally.arrived[uid] > 1 or len(ends) > 1:
            duplicated += 1
        if outcome == "active":
            lost += 1  # the simulation always lets every call finish
            continue
        if not ends:
            if tally.arrived[uid] == 0 and outcome == "abandoned":
                unseen += 1  # came and went while the AMI link was down: Asterisk keeps no trace
            else:
                lost += 1
            continue
        want = Outcome.SERVED if outcome == "served" else Outcome.ABANDONED
        if ends[0] is not want:
            lost += 1
    duplicated += sum(1 for uid, n in tally.arrived.items() if n > 1 and uid not in fates)
    return lost, duplicated, unseen


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    return values[min(len(values) - 1, int(q * len(values)))]


async def _panoramisk_bare(path: str) -> dict[str, Any]:
    """Stock panoramisk (its own AMIProtocol) delivering the recorded stream to an empty callback."""
    from panoramisk import Manager

    with open(path, "rb") as stream:
        expected = stream.read().count(b"\r\n\r\nEvent: ") + 1
    fake = _FakeProcess("replay", {"path": path})
    try:
        _, port = await fake.recv(60)
        count = 0
        first = last = 0.0

        def on_event(manager: Any, message: Any) -> None:
            nonlocal count, first, last
            count += 1
            last = time.perf_counter()
            if count == 1:
                first = last

        manager = Manager(
            host="127.0.0.1",
            port=port,
            ping_delay=3600,
            reconnect_timeout=1,
            loop=asyncio.get_running_loop(),
        )
        manager.register_event("*", on_event)
        gc.collect()
        cpu0 = time.process_time()
        manager.connect()
        started = time.perf_counter()
        while count < expected:
            await asyncio.sleep(0.01)
            idle_since = last if count else started
            if time.perf_counter() - idle_since > 10.0:
                break
        cpu = time.process_time() - cpu0
        manager.close()
    finally:
        fake.close()
    wall = last - first
    return {
        "events": count,
        "expected": expected,
        "wall_s": wall,
        "cpu_s": cpu,
        "events_per_s": count / wall if wall > 0 else 0.0,
    }


class _LogTally(logging.Handler):
    """Counts the log lines of the run (reconnections, resyncs) instead of printing them, by kind."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.counts: Counter[str] = Counter()
        self.kinds: Counter[tuple[str, str]] = Counter()
        """(level, message template) -> lines: one line per kind in the summary."""

    def emit(self, record: logging.LogRecord) -> None:
        level = record.levelname.lower()
        self.counts[level] += 1
        self.kinds[level, str(record.msg)] += 1


@contextlib.asynccontextmanager
async def _stage(progress: Console, label: str) -> Any:
    """Say on stderr that a stage still runs, every 10 s (nothing for a shorter one)."""
    started = time.perf_counter()

    async def tell() -> None:
        while True:
            await asyncio.sleep(10.0)
            progress.print(f"  {label}: {time.perf_counter() - started:.0f} s...")

    task = asyncio.create_task(tell())
    try:
        yield
    finally:
        task.cancel()


async def _main(scale: Scale, progress: Console) -> dict[str, Any]:
    fd, record = tempfile.mkstemp(prefix="guichet-ami-bench-", suffix=".ami")
    os.close(fd)
    try:
        async with _stage(progress, "1/3 adapter + core"):
            adapter = await _run_sim(scale, scale.seconds, cuts=0, speed=None, record=record)
        async with _stage(progress, "2/3 panoramisk bare, same bytes"):
            bare = await _panoramisk_bare(record)
        stream_mb = os.path.getsize(record) / 1e6
    finally:
        os.unlink(record)
    async with _stage(progress, f"3/3 {scale.disconnects} AMI disconnects"):
        outage = await _run_sim(
            scale,
            scale.disconnect_seconds,
            cuts=scale.disconnects,
            speed=scale.disconnect_speed,
            record=None,
        )
    return {"adapter": adapter, "bare": bare, "outage": outage, "stream_mb": stream_mb}


def run(console: Console, quick: bool) -> dict[str, Any]:
    scale = QUICK if quick else FULL
    console.print(
        f"[bold]guichet bench ami[/]: {scale.rate:g} calls/s, {scale.agents} agents, "
        f"{scale.seconds:g} simulated s; then {scale.disconnects} AMI disconnects over "
        f"{scale.disconnect_seconds:g} simulated s"
    )
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    tally = _LogTally()
    root = logging.getLogger()
    saved = root.handlers, root.level
    root.handlers, root.level = [tally], logging.INFO
    try:
        result = asyncio.run(_main(scale, Console(stderr=True)))
    finally:
        root.handlers, root.level = saved
    load_after = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    a, b, o = result["adapter"], result["bare"], result["outage"]
    bare_cpu_rate = b["events"] / b["cpu_s"] if b["cpu_s"] else 0.0
    table = Table(
        title="AMI stream -> adapter -> routing core (dispatcher: one process, one thread)"
    )
    table.add_column("run")
    table.add_column("AMI events", justify="right")
    table.add_column("per CPU s", justify="right")
    table.add_column("per wall s", justify="right")
    table.add_column("assign -> Redirect p50 / p99 / max (CPU p99)", justify="right")
    table.add_column("calls", justify="right")
    table.add_column("lost / dup", justify="right")
    table.add_row(
        "adapter + core",
        f"{a['frames']:,}",
        f"{a['events_per_cpu_s']:,.0f}",
        f"{a['events_per_s']:,.0f}",
        f"{a['p50_ms']:.3f} / {a['p99_ms']:.3f} / {a['max_ms']:.3f} ms ({a['cpu_p99_ms']:.3f})",
        f"{a['calls']:,}",
        f"{a['lost']} / {a['duplicated']}",
    )
    table.add_row(
        "panoramisk bare, same bytes",
        f"{b['events']:,}",
        f"{bare_cpu_rate:,.0f}",
        f"{b['events_per_s']:,.0f}",
        "-",
        "-",
        "-",
    )
    table.add_row(
        f"{o['cuts']} AMI disconnects",
        f"{o['frames']:,}",
        f"{o['events_per_cpu_s']:,.0f}",
        f"{o['events_per_s']:,.0f}",
        f"{o['p50_ms']:.3f} / {o['p99_ms']:.3f} / {o['max_ms']:.3f} ms ({o['cpu_p99_ms']:.3f})",
        f"{o['calls']:,}",
        f"{o['lost']} / {o['duplicated']}",
    )
    console.print(table)
    console.print(
        f"PBX outcomes: {dict(a['outcomes'])}; with disconnects: {dict(o['outcomes'])}, "
        f"{o['resyncs'] - 1} resynchronisations after reconnecting, {o['unseen']} callers never seen. "
        f"The wall rate of the first run is bounded by the simulated town hall (Python, on the other core): "
        f"the dispatcher was busy {100 * a['cpu_s'] / a['wall_s']:.0f} % of the time. "
        f"Load average {load_before} -> {load_after} (other processes preempt the dispatcher: wall latency). "
        f"Dispatcher log lines (not shown): {dict(tally.counts) or 'none'}."
    )
    for (level, template), count in sorted(tally.kinds.items()):
        if level != "info":
            console.print(f"  {count} x {level}: {template}", markup=False)
    ratio = a["events_per_cpu_s"] / bare_cpu_rate if bare_cpu_rate else 0.0
    return {
        "events_per_s": round(a["events_per_cpu_s"]),
        "wall_events_per_s": round(a["events_per_s"]),
        "dispatcher_busy": round(a["cpu_s"] / a["wall_s"], 3) if a["wall_s"] else None,
        "assign_to_action_p50_ms": round(a["p50_ms"], 4),
        "assign_to_action_p99_ms": round(a["p99_ms"], 4),
        "assign_to_action_max_ms": round(a["max_ms"], 4),
        "assign_to_action_cpu_p99_ms": round(a["cpu_p99_ms"], 4),
        "assignments": a["assignments"],
        "lost": a["lost"] + o["lost"],
        "duplicated": a["duplicated"] + o["duplicated"],
        "panoramisk_bare_events_per_s": round(bare_cpu_rate),
        "panoramisk_bare_wall_events_per_s": round(b["events_per_s"]),
        "ratio_to_panoramisk_bare": round(ratio, 3),
        "ami_events": a["frames"],
        "calls": a["calls"],
        "calls_per_s": scale.rate,
        "agents": scale.agents,
        "simulated_s": scale.seconds,
        "max_offer_wait_s": round(a["max_offer_wait_s"], 3),
        "stream_mb": round(result["stream_mb"], 1),
        "disconnects": o["cuts"],
        "disconnect_resyncs": o["resyncs"] - 1,
        "disconnect_calls": o["calls"],
        "disconnect_lost": o["lost"],
        "disconnect_duplicated": o["duplicated"],
        "disconnect_unseen": o["unseen"],
        "disconnect_assign_to_action_p99_ms": round(o["p99_ms"], 4),
        "load_average": [load_before, load_after],
    }
