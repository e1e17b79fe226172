"""A whole counter stack on real sockets: real Redis, the recovered dispatcher, the HTTP side on loopback."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from dispatcher.counter.service import CounterService
from dispatcher.counter.sites import Sites, counter_policy, default_sites, seated
from dispatcher.counter.tickets import TicketSeries
from dispatcher.http.app import HttpServer, make_app
from dispatcher.http.roles import DeviceTokens, Principal, Role
from dispatcher.policy import RoutingPolicy
from dispatcher.store.keys import Keys
from dispatcher.store.runtime import Live, open_live
from skills.catalogue import default_catalogue
from skills.model import AgentProfile, Catalogue, Channel, SkillMatrix


def token(subject: str) -> str:
    return f"token-of-{subject}-0123456789"


def bearer(subject: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(subject)}"}


def small_matrix(catalogue: Catalogue) -> SkillMatrix:
    """Three counter agents: a01 and a02 at the town hall, a03 at the annexe, all competent everywhere."""
    skills = {code: 2 for code in catalogue.processes}
    agents = {
        agent: AgentProfile(agent, agent, dict(skills), frozenset({Channel.COUNTER}), desk=desk)
        for agent, desk in (("a01", "guichet 1"), ("a02", "guichet 3"), ("a03", "annexe 1"))
    }
    return SkillMatrix(agents)


def tokens(sites: Sites, matrix: SkillMatrix) -> DeviceTokens:
    found: dict[str, Principal] = {token(a): Principal(a, frozenset({Role.COUNTER_AGENT})) for a in matrix.agents}
    for site in sites.sites.values():
        for kiosk in site.kiosks:
            found[token(kiosk)] = Principal(kiosk, frozenset({Role.KIOSK}), site.code)
        for display in site.displays:
            found[token(display)] = Principal(display, frozenset({Role.DISPLAY}), site.code)
    return DeviceTokens(found)


@dataclass
class Stack:
    url: str
    http: aiohttp.ClientSession
    live: Live
    counter: CounterService

    @property
    def router(self) -> Any:
        return self.live.dispatcher.router

    async def post(self, path: str, who: str, body: Any = None) -> tuple[int, Any]:
        async with self.http.post(f"{self.url}{path}", json=body, headers=bearer(who)) as r:
            return r.status, await r.json()

    async def get(self, path: str, who: str) -> tuple[int, Any]:
        async with self.http.get(f"{self.url}{path}", headers=bearer(who)) as r:
            return r.status, await r.json()


@contextlib.asynccontextmanager
async def counter_stack(
    redis_url: str,
    prefix: str,
    *,
    policy: RoutingPolicy | None = None,
    sites: Sites | None = None,
    matrix: SkillMatrix | None = None,
    clock: Callable[[], float] | None = None,
) -> AsyncIterator[Stack]:
    catalogue = default_catalogue()
    sites = sites or default_sites(catalogue)
    matrix = seated(matrix or small_matrix(catalogue), sites)
    policy = counter_policy(policy or RoutingPolicy(wrap_up_s=0.0), sites)
    keys = Keys(prefix)
    async with open_live(redis_url, catalogue, matrix, policy, keys=keys, start=False) as live:
        series = TicketSeries(live.redis, keys.intake, keys.prefix, sites.timezone)
        extra = {"clock": clock} if clock else {}
        counter = CounterService(live.dispatcher, catalogue, matrix, sites, series, intake=live.intake, **extra)
        app = make_app(live.dispatcher, catalogue, [tokens(sites, matrix)], counter=counter)
        await live.start()
        server = HttpServer(app, "127.0.0.1", 0)
        await server.start()
        try:
            async with aiohttp.ClientSession() as http:
                yield Stack(server.url, http, live, counter)
        finally:
            await server.stop()
