"""The whole server, assembled: every part started in order and stopped in reverse.

``run_town_hall`` is what ``guichet serve`` (a real Asterisk) and ``guichet
demo`` (the simulated town hall) both run: the durable site of
``dispatcher.store.runtime.open_site`` (live state in Redis, the private
server when no ``REDIS_URL``; the dispatcher recovered from it; the SQL
history kept up to date from the event stream), then the live statistics,
the FastAGI IVR, the AMI adapter and the HTTP side.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import logging
import time
from collections.abc import AsyncIterator, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from dispatcher.ami.adapter import AmiAdapter
from dispatcher.counter.service import CounterService
from dispatcher.counter.sites import Sites, counter_policy, default_sites, seated
from dispatcher.counter.tickets import TicketSeries
from dispatcher.history.live_stats import LiveStats
from dispatcher.http.app import HttpServer, make_app
from dispatcher.http.tokens import device_subjects, load_tokens
from dispatcher.pages.setup import PagesParts
from dispatcher.pages.site import open_pages
from dispatcher.policy import RoutingPolicy
from dispatcher.service import Dispatcher, Sink
from dispatcher.store.runtime import Live, open_site
from guichet.config import Settings
from guichet.logs import log_decisions
from guichet.phone_watch import AmiWatch, ReadyOnRegister
from guichet.startup import StartupError
from ivr.agent_session import agent_endpoints
from ivr.citizens import StaticDirectory
from ivr.menu import IvrConfig
from ivr.server import IvrServer
from skills.model import Catalogue, Channel, SkillMatrix

log = logging.getLogger(__name__)

LATE_TIMER_S = 1.0
"""A timer learnt due later than this (the server was down) fires at the time it is learnt."""
SYNC_TIMEOUT_S = 10.0
"""How long the start waits for the AMI link's first resynchronisation before deciding anyway."""


async def _synchronised(ami: AmiAdapter, timeout: float) -> None:
    """Wait until the AMI adapter knows Asterisk's calls (logged in, resynchronised), at most ``timeout``.

    The recovered timers fire as soon as the dispatcher starts: the offers they
    make can only be carried out for callers the adapter has found again.
    """
    deadline = time.monotonic() + timeout
    while not (ami.link_up and not ami.resyncing):
        if time.monotonic() > deadline:
            log.warning("AMI not synchronised after %.0f s: routing starts, offers wait for the link", timeout)
            return
        await asyncio.sleep(0.01)


def citizens_of(settings: Settings) -> StaticDirectory | None:
    """The citizens directory of ``GUICHET_CITIZENS`` (StartupError naming the file and the reason)."""
    if settings.citizens is None:
        return None
    try:
        return StaticDirectory.from_csv(settings.citizens)
    except OSError as exc:
        raise StartupError("GUICHET_CITIZENS", f"{settings.citizens}: {exc.strerror or exc}") from None
    except (KeyError, ValueError) as exc:
        raise StartupError("GUICHET_CITIZENS", f"{settings.citizens}: not a number,citizen_id,name,language CSV "
                                               f"({type(exc).__name__}: {exc})") from None


@dataclass
class TownHall:
    """The running parts of one site."""

    settings: Settings
    catalogue: Catalogue
    matrix: SkillMatrix
    live: Live
    stats: LiveStats
    ivr: IvrServer
    ami: AmiAdapter
    http: HttpServer
    counter: CounterService
    pages: PagesParts

    @property
    def database_url(self) -> str:
        """The history database."""
        return self.settings.database_url or self.settings.sqlite_url

    @property
    def dispatcher(self) -> Dispatcher:
        """The dispatcher (the routing core behind its clock and sinks)."""
        return self.live.dispatcher


T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run the server's coroutine on uvloop (libuv's event loop: about half the CPU per ticket of
    asyncio's own in a saturated ``guichet bench kiosk --quick``), or on asyncio's where uvloop is
    not installed (it is not built for Windows)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


GC_THRESHOLDS = (20_000, 50, 100)
"""The collector's thresholds while serving: a young collection every 20,000 allocations (not 700),
a full one rarely; each event allocates a few short-lived objects, and the stalls of frequent
collections over a long queue were the HTTP side's worst latencies (``guichet bench kiosk``)."""


@contextlib.asynccontextmanager
async def run_town_hall(
    settings: Settings,
    catalogue: Catalogue,
    matrix: SkillMatrix,
    policy: RoutingPolicy | None = None,
    *,
    ivr_config: IvrConfig | None = None,
    sites: Sites | None = None,
    sinks: Sequence[Sink] = (),
) -> AsyncIterator[TownHall]:
    """Start every part of the server; stop them all, in reverse order, on exit."""
    sites = sites or default_sites(catalogue)
    matrix = seated(matrix, sites)
    tokens = load_tokens(
        device_subjects(sites, matrix),
        settings.device_tokens.get_secret_value() if settings.device_tokens else None,
        settings.device_tokens_file,
    )
    policy = counter_policy(policy or RoutingPolicy(), sites)
    if policy.late_timer_s is None:  # a restart's overdue timers fire at the restart: what they start counts from then
        policy = dataclasses.replace(policy, late_timer_s=LATE_TIMER_S)
    async with open_site(
        catalogue, matrix, policy,
        data_dir=settings.data_dir, redis_url=settings.redis_url, database_url=settings.database_url,
    ) as live:
        stats = LiveStats(
            since=time.time(),
            sla_seconds=lambda process, channel: catalogue.target(
                process if process in catalogue.processes else catalogue.triage, Channel(channel)
            ).sla_seconds,
        )
        live.dispatcher.add_sink(stats.sink)
        live.dispatcher.add_sink(log_decisions)
        for sink in sinks:  # the caller's own, attached before anything is decided
            live.dispatcher.add_sink(sink)
        if settings.ready_on_register:
            live.dispatcher.add_sink(ReadyOnRegister(live.dispatcher).sink)
        ivr = IvrServer(
            live.dispatcher, ivr_config, endpoints=agent_endpoints(matrix), host=settings.agi_host,
            port=settings.agi_port, directory=citizens_of(settings),
        )
        ami = AmiAdapter.from_settings(settings, live.dispatcher, matrix)
        ivr.phone = ami
        keys = live.store.keys
        series = TicketSeries(live.redis, keys.intake, keys.prefix, sites.timezone)
        counter = CounterService(live.dispatcher, catalogue, matrix, sites, series, intake=live.intake)  # a sink
        ivr.estimate = counter.estimate  # the per-contact estimate, not the router's rough one
        app = make_app(live.dispatcher, catalogue, [tokens], counter=counter)
        database_url = settings.database_url or settings.sqlite_url
        phones = ami.calls.phones
        softphone = lambda endpoint: phone.reachable if (phone := phones.get(endpoint)) else None  # noqa: E731
        async with open_pages(app, live, stats, matrix, database_url, lambda: ami.link_up, softphone) as pages:
            http = HttpServer(app, settings.http_host, settings.http_port)
            await ami.start()
            await _synchronised(ami, SYNC_TIMEOUT_S)
            await live.start()  # every sink attached (the pages' too), the PBX's calls known: now the core may decide
            await ivr.start()
            watch = AmiWatch(ami, f"{settings.ami_host}:{settings.ami_port}")
            watch.start()
            thresholds = gc.get_threshold()
            try:
                await http.start()
                gc.collect()
                gc.freeze()  # what the start built stays: a full collection no longer walks it (an 80 ms stall)
                gc.set_threshold(*GC_THRESHOLDS)
                yield TownHall(settings, catalogue, matrix, live, stats, ivr, ami, http, counter, pages)
            finally:
                gc.unfreeze()
                gc.set_threshold(*thresholds)
                await http.stop()
                await watch.stop()
                await ami.stop()
                await ivr.stop()
