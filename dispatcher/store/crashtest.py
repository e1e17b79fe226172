"""The crash harness: a dispatcher and a history writer in their own processes, killed at random.

The test process plays the outside world (``loadgen.Load``): it publishes
input events to the intake stream, which survives the dispatcher, and
reacts to the decisions it reads back from the event stream. Meanwhile it
kills the dispatcher (and the writer) with SIGKILL at random moments and
starts them again. At the end it stops arrivals, hangs up every contact
still open, and audits the stream and the SQL history.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis

from dispatcher import events as ev
from dispatcher.store.audit import Audit
from dispatcher.store.intake import publish
from dispatcher.store.keys import Keys, last_id
from dispatcher.store.loadgen import Load, town


@dataclass
class Child:
    """One child process started with ``python -m module args``; ``ready`` is its first stdout line.

    ``standby``: the module takes ``--standby`` (import everything, then wait for a
    line on stdin before starting): the next process is kept imported and waiting
    while the current one runs, so a restart after a kill costs the start itself,
    not the imports. Each start is still a new process that knows nothing.
    """

    module: str
    args: list[str]
    process: subprocess.Popen[str] | None = None
    ready: list[dict[str, Any]] = field(default_factory=list)
    kills: int = 0
    standby: bool = False
    _next: subprocess.Popen[str] | None = None

    def _spawn(self, hold: bool) -> subprocess.Popen[str]:
        env = dict(os.environ, PYTHONPATH=os.getcwd() + os.pathsep + os.environ.get("PYTHONPATH", ""))
        return subprocess.Popen(
            [sys.executable, "-m", self.module, *self.args, *(["--standby"] if hold else [])],
            stdout=subprocess.PIPE, stdin=subprocess.PIPE if hold else subprocess.DEVNULL, text=True, env=env,
        )

    async def start(self, timeout: float = 20.0) -> float:
        """Start and wait for its ready line; returns seconds taken."""
        started = time.perf_counter()
        if self.standby:
            process, self._next = self._next or self._spawn(True), None
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        else:
            process = self._spawn(False)
        self.process = process
        assert process.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), timeout)
        if not line.startswith("ready"):
            raise RuntimeError(f"{self.module} did not start: {line!r} (exit {process.poll()})")
        payload = line[len("ready"):].strip()
        self.ready.append(json.loads(payload) if payload else {})
        if self.standby:
            self._next = self._spawn(True)
        return time.perf_counter() - started

    def kill(self) -> None:
        """SIGKILL, as a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
            self.kills += 1

    def stop(self) -> None:
        """Stop for good (and the process on standby)."""
        for process in (self.process, self._next):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
        self._next = None


async def feed(redis: Redis, keys: Keys, load: Load, audit: Audit) -> list[str]:
    """Publish the inputs due now and show the load the decisions persisted since last time.

    Returns the intake ids published.
    """
    now = time.time()
    due = load.due(now)
    ids = await publish(redis, keys.intake, *due) if due else []
    decisions = [e for e in await audit.read(redis, keys) if not e.is_input]
    load.observe(decisions, now)
    return ids


async def run(
    redis: Redis,
    redis_url: str,
    keys: Keys,
    database_url: str,
    *,
    seconds: float = 12.0,
    kills: int = 12,
    rate: float = 12.0,
    agents: int = 60,
    seed: int = 11,
) -> tuple[Audit, Child, Child, list[str]]:
    """Run the load for ``seconds`` and at least ``kills`` SIGKILLs of the dispatcher, then drain.

    Returns the audit, the two children and the intake ids of every input published.
    """
    rng = random.Random(seed)
    catalogue, matrix = town(agents)
    load = Load(list(matrix.agents), [p for p in catalogue.processes if p != "triage"],
                rate=rate, seed=seed, handle_s=3.0)
    base = ["--redis-url", redis_url, "--prefix", keys.prefix]
    dispatcher = Child("dispatcher.store.runtime", [*base, "--agents", str(agents), "--snapshot-every", "300", "--wrap-up", "1"])
    writer = Child("dispatcher.history.writer", [*base, "--database-url", database_url])
    await asyncio.gather(dispatcher.start(), writer.start())
    published = await publish(redis, keys.intake, *load.login(time.time()))
    audit = Audit()
    end = time.monotonic() + seconds
    next_kill: float | None = time.monotonic() + rng.uniform(0.2, 0.6)
    restarts: list[asyncio.Task[Any]] = []
    while time.monotonic() < end or dispatcher.kills < kills or not all(t.done() for t in restarts):
        published += await feed(redis, keys, load, audit)
        if next_kill is None and all(t.done() for t in restarts):
            for task in restarts:
                task.result()
            restarts.clear()
            next_kill = time.monotonic() + rng.uniform(0.1, 0.6)
        if next_kill is not None and time.monotonic() >= next_kill and dispatcher.kills < kills:
            dispatcher.kill()
            restarts.append(asyncio.create_task(dispatcher.start()))
            if rng.random() < 0.4:
                writer.kill()
                restarts.append(asyncio.create_task(writer.start()))
            next_kill = None
        await asyncio.sleep(0.01)
    load.arriving = False
    published += await drain(redis, keys, load, audit)
    return audit, dispatcher, writer, published


async def drain(redis: Redis, keys: Keys, load: Load, audit: Audit, timeout: float = 30.0) -> list[str]:
    """Stop arrivals, hang up every open contact (again each second) until all have ended."""
    published: list[str] = []
    hung_up: set[str] = set()
    deadline = time.monotonic() + timeout
    next_round = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        published += await feed(redis, keys, load, audit)
        applied = await redis.hget(keys.meta, "intake_applied")
        top = await last_id(redis, keys.intake)
        caught_up = top is not None and applied == top
        if caught_up and not audit.open_contacts:
            break
        if time.monotonic() >= next_round:
            todo = sorted(audit.open_contacts - hung_up)
            if todo:
                hangups = [ev.ContactAbandoned(at=time.time(), contact_id=c) for c in todo]
                published += await publish(redis, keys.intake, *hangups)
                hung_up.update(todo)
            next_round = time.monotonic() + 1.0
        await asyncio.sleep(0.02)
    while await audit.read(redis, keys):
        pass
    return published
