"""The whole server, assembled: every part started in order and stopped in reverse.

``run_town_hall`` is what ``guichet serve`` (a real Asterisk) and ``guichet
demo`` (the simulated town hall) both run: the live state in Redis (the
private server when no ``REDIS_URL``), the dispatcher recovered from it, the
SQL history kept up to date from the event stream, the live statistics, the
FastAGI IVR and the AMI adapter.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from dispatcher.ami.adapter import AmiAdapter
from dispatcher.history.live_stats import LiveStats
from dispatcher.history.migrate import upgrade
from dispatcher.history.writer import HistoryWriter, engine_for, sync_reference
from dispatcher.policy import RoutingPolicy
from dispatcher.service import Dispatcher
from dispatcher.store.keys import Keys
from dispatcher.store.runtime import Live, open_live, private_redis
from guichet.config import Settings
from ivr.server import IvrServer
from skills.model import Catalogue, Channel, SkillMatrix

log = logging.getLogger(__name__)


@dataclass
class TownHall:
    """The running parts of one site."""

    settings: Settings
    catalogue: Catalogue
    matrix: SkillMatrix
    live: Live
    stats: LiveStats
    history: HistoryWriter
    ivr: IvrServer
    ami: AmiAdapter
    database_url: str
    redis_url: str

    @property
    def dispatcher(self) -> Dispatcher:
        """The dispatcher (the routing core behind its clock and sinks)."""
        return self.live.dispatcher


@contextlib.asynccontextmanager
async def run_town_hall(
    settings: Settings,
    catalogue: Catalogue,
    matrix: SkillMatrix,
    policy: RoutingPolicy | None = None,
) -> AsyncIterator[TownHall]:
    """Start every part of the server; stop them all, in reverse order, on exit."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database_url = settings.database_url or settings.sqlite_url
    await asyncio.to_thread(upgrade, database_url)
    engine = engine_for(database_url)
    await sync_reference(engine, catalogue, matrix)
    try:
        async with private_redis(settings.redis_url, settings.data_dir) as redis_url:
            async with open_live(redis_url, catalogue, matrix, policy) as live:
                stats = LiveStats(
                    since=time.time(),
                    sla_seconds=lambda process, channel: catalogue.target(
                        process if process in catalogue.processes else catalogue.triage, Channel(channel)
                    ).sla_seconds,
                )
                live.dispatcher.add_sink(stats.sink)
                history = HistoryWriter(live.redis, Keys(), engine)
                history_task = asyncio.create_task(history.run(), name="guichet-history")
                ivr = IvrServer(live.dispatcher, host=settings.agi_host, port=settings.agi_port)
                await ivr.start()
                ami = AmiAdapter.from_settings(settings, live.dispatcher, matrix)
                ivr.phone = ami
                await ami.start()
                try:
                    yield TownHall(
                        settings, catalogue, matrix, live, stats, history, ivr, ami, database_url, redis_url
                    )
                finally:
                    await ami.stop()
                    await ivr.stop()
                    await live.store.drained()
                    history_task.cancel()
                    await asyncio.gather(history_task, return_exceptions=True)
                    await history.catch_up()
    finally:
        await engine.dispose()
