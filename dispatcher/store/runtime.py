"""Wiring: a dispatcher recovered from Redis, its store and its intake, ready to route.

``open_live(...)`` is what a Guichet server uses at start: it connects to
``REDIS_URL`` (or starts the private Redis under the data directory),
recovers the router, attaches the store sink and starts the flush, intake and
timer tasks. ``python -m dispatcher.store.runtime`` runs one such dispatcher
on a synthetic town: the process the crash test and the benchmark kill.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from redis.asyncio import Redis

from dispatcher.policy import RoutingPolicy
from dispatcher.service import Dispatcher
from dispatcher.store import snapshot
from dispatcher.store.intake import IntakeReader
from dispatcher.store.keys import Keys, connect
from dispatcher.store.live import RedisStore, StoreHealth
from dispatcher.store.recovery import Recovered, recover
from dispatcher.store.redis_server import RedisServer
from skills.model import Catalogue, SkillMatrix

if TYPE_CHECKING:
    from dispatcher.history.process import HistoryProcess


@dataclass
class Live:
    """A running dispatcher with its durable live state."""

    dispatcher: Dispatcher
    store: RedisStore
    intake: IntakeReader
    recovered: Recovered
    redis: Redis
    history: HistoryProcess | None = None
    """The SQL history writer's process when the site runs one (``open_site``)."""
    _intake_stop: asyncio.Event = field(default_factory=asyncio.Event)
    _intake_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start deciding: the timers (recovered ones already due fire first) and the intake.

        Call it once every sink is attached: a decision made before a sink is
        attached is never carried out by it (an offer never rung, then its
        agent paused ``no_answer``).
        """
        if self._intake_task is None:
            await self.dispatcher.start()
            self._intake_task = asyncio.create_task(self.intake.run(self._intake_stop), name="guichet-intake")

    async def _stop(self) -> None:
        self._intake_stop.set()
        if self._intake_task is not None:
            await asyncio.gather(self._intake_task, return_exceptions=True)
        await self.dispatcher.stop()

    def health(self) -> StoreHealth:
        """``ok`` or ``degraded`` (Redis unreachable: routing from memory, backlog growing)."""
        return self.store.health()


@asynccontextmanager
async def private_redis(redis_url: str | None, data_dir: Path) -> AsyncIterator[str]:
    """``redis_url`` if given, else a private redis-server under ``data_dir/redis`` for the block."""
    if redis_url:
        yield redis_url
        return
    Path(data_dir).mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(data_dir, 0o700)
    server = RedisServer(Path(data_dir) / "redis")
    url = await asyncio.to_thread(server.start)
    try:
        yield url
    finally:
        await asyncio.to_thread(server.stop)


@asynccontextmanager
async def open_live(
    redis_url: str,
    catalogue: Catalogue,
    matrix: SkillMatrix,
    policy: RoutingPolicy | None = None,
    *,
    keys: Keys | None = None,
    clock: Callable[[], float] = time.time,
    snapshot_every: int = 5_000,
    checkpoint_min_s: float = 0.0,
    start: bool = True,
) -> AsyncIterator[Live]:
    """Recover the dispatcher from Redis and run it with its store, intake and timers.

    ``start=False``: recovered and its store running, but deciding only from
    ``Live.start`` (the caller attaches its sinks first).
    """
    keys = keys or Keys()
    redis = connect(redis_url)
    recovered = await recover(redis, keys, catalogue, matrix, policy)
    dispatcher = Dispatcher(recovered.router, clock)
    store = RedisStore(
        redis,
        keys,
        recovered.next_seq,
        waiting=recovered.waiting_views(),
        checkpoint=lambda: snapshot.take(dispatcher.router),
        snapshot_every=snapshot_every,
        checkpoint_min_s=checkpoint_min_s,
    )
    dispatcher.add_sink(store.sink)
    intake = IntakeReader(dispatcher, store, recovered.intake_applied)
    await store.start()
    live = Live(dispatcher, store, intake, recovered, redis)
    try:
        if start:
            await live.start()
        yield live
    finally:
        await live._stop()
        await store.stop()
        await redis.aclose()


CHECKPOINT_MIN_S = 30.0
"""A server checkpoints every 5,000 inputs but not twice within 30 s: at a town hall's pace (a
few inputs a second) every 5,000 inputs; on a very busy one (hundreds a second) each checkpoint's
hold of routing stays rare, and a restart replays at most 30 s of inputs (well under a second)."""


@asynccontextmanager
async def open_site(
    catalogue: Catalogue,
    matrix: SkillMatrix,
    policy: RoutingPolicy | None = None,
    *,
    data_dir: Path,
    redis_url: str | None = None,
    database_url: str | None = None,
) -> AsyncIterator[Live]:
    """Everything durable a Guichet server needs, from the site's settings.

    Redis from ``redis_url`` or the private server under ``data_dir``; the
    history database from ``database_url`` or the SQLite file under
    ``data_dir`` (owner-only), migrated to the latest revision, its reference
    tables synced, and the history writer running in a process of its own
    (``dispatcher.history.process``).
    The dispatcher is recovered but not started: the caller attaches its
    sinks, then calls ``Live.start`` (nothing decides before every sink is
    attached).
    """
    from dispatcher.history.migrate import upgrade
    from dispatcher.history.process import HistoryProcess
    from dispatcher.history.writer import engine_for, sqlite_url, sync_reference

    database_url = database_url or sqlite_url(Path(data_dir) / "guichet.sqlite")
    await asyncio.to_thread(upgrade, database_url)
    engine = engine_for(database_url)
    try:
        await sync_reference(engine, catalogue, matrix)
    finally:
        await engine.dispose()
    deadline_s = (policy or RoutingPolicy()).callback_deadline_s
    async with (
        private_redis(redis_url, data_dir) as url,
        open_live(url, catalogue, matrix, policy, checkpoint_min_s=CHECKPOINT_MIN_S, start=False) as live,
    ):
        writer = HistoryProcess(
            url, live.store.keys.prefix, database_url, callback_deadline_s=deadline_s, triage=catalogue.triage
        )
        await writer.start()
        live.history = writer
        try:
            yield live
        finally:
            await live.store.drained()
            await writer.stop()


async def _serve(args: argparse.Namespace) -> None:
    from dispatcher.store.loadgen import town

    catalogue, matrix = town(args.agents, args.processes)
    policy = RoutingPolicy(wrap_up_s=args.wrap_up)
    started = time.time()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with private_redis(args.redis_url, args.data_dir) as url, open_live(
        url, catalogue, matrix, policy, keys=Keys(args.prefix), snapshot_every=args.snapshot_every
    ) as live:
        rec = live.recovered
        report = {
            "ready_at": time.time(),
            "started_at": started,
            "recovery_s": rec.seconds,
            "replayed": rec.replayed,
            "diverged": rec.diverged,
            "checkpoint": rec.checkpoint,
            "waiting": len(rec.router.queue),
            "next_seq": rec.next_seq,
            "redis_url": url,
        }
        print("ready " + json.dumps(report), flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    """Run a dispatcher on a synthetic town, fed by the intake stream, until killed (SIGTERM: cleanly)."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--redis-url")
    where.add_argument("--data-dir", type=Path, help="Run the private Redis server under this directory.")
    parser.add_argument("--prefix", default="guichet")
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--processes", type=int, default=8)
    parser.add_argument("--snapshot-every", type=int, default=5_000)
    parser.add_argument("--wrap-up", type=float, default=10.0, help="Wrap-up seconds after a contact.")
    args = parser.parse_args(argv)
    try:
        asyncio.run(_serve(args))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
