"""Wallboard payloads hold no citizen's data; /metrics and /health over HTTP on the live state."""

from __future__ import annotations

import asyncio
import json

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from dispatcher import events as ev
from dispatcher.events import AgentState
from dispatcher.store.keys import connect
from dispatcher.store.redis_server import RedisServer, free_port
from skills.model import Channel
from tests.pages_helpers import PagesSite, browser_like, log_in, pages_site

CALLERS = ["0611223344", "0698765432", "+33144556677"]
CITIZENS = ["cit-dupont-jeanne", "cit-martin-paul"]
TICKETS = ["A042", "C017"]
NUMBERS = ["0755667788"]


def _town_day(site: PagesSite) -> None:
    """Callers with numbers and citizen ids, visitors with tickets, a callback, agents working."""
    dispatcher = site.dispatcher
    now = dispatcher.clock()
    agents = sorted(site.matrix.agents)[:3]
    for agent_id in agents[:2]:
        dispatcher.submit(ev.AgentStatusSet(at=now, agent_id=agent_id, state=AgentState.AVAILABLE))
    for i, caller in enumerate(CALLERS):
        dispatcher.submit(ev.ContactArrived(at=now, contact_id=f"call-{i}", channel=Channel.PHONE, process="passport",
                                            caller=caller, citizen_id=CITIZENS[i % len(CITIZENS)]))
    for i, ticket in enumerate(TICKETS):
        dispatcher.submit(ev.ContactArrived(at=now, contact_id=f"visit-{i}", channel=Channel.COUNTER,
                                            process="id_card", ticket=ticket))
    dispatcher.submit(ev.CallbackRequested(at=now, contact_id="call-2", callback_id="cb-1", number=NUMBERS[0]))


async def _sse_snapshots(http: aiohttp.ClientSession, url: str, count: int) -> list[str]:
    found: list[str] = []
    async with http.get(f"{url}/wallboard/events", timeout=aiohttp.ClientTimeout(total=20)) as r:
        assert r.status == 200 and r.content_type == "text/event-stream"
        async for line in r.content:
            if line.startswith(b"data: "):
                found.append(line[6:].decode())
                if len(found) >= count:
                    break
    return found


async def test_no_citizen_data_in_any_wallboard_payload(redis_server: RedisServer, redis_prefix: str,
                                                       sqlite_url: str) -> None:
    async with pages_site(redis_server.url, redis_prefix, sqlite_url) as site, browser_like() as http:
        await log_in(http, site.url, "superviseur")
        reader = asyncio.create_task(_sse_snapshots(http, site.url, 3))
        await asyncio.sleep(0.3)
        _town_day(site)
        payloads = await reader
        async with http.get(f"{site.url}/wallboard") as r:
            payloads.append(await r.text())
        last = json.loads(payloads[-2])
        assert last["figures"]["waiting"] >= 3, "the snapshot saw the contacts"
        assert any(a["state"] == "reserved" for a in last["agents"])
        assert "passport" in payloads[-1], "the page shows the groups"
        for payload in payloads:
            for secret in [*CALLERS, *CITIZENS, *TICKETS, *NUMBERS, "call-0", "visit-0", "cb-1"]:
                assert secret not in payload, f"{secret!r} on the wallboard"


async def test_metrics_follow_the_live_state(redis_server: RedisServer, redis_prefix: str, sqlite_url: str) -> None:
    async with pages_site(redis_server.url, redis_prefix, sqlite_url) as site, aiohttp.ClientSession() as http:
        _town_day(site)
        for _ in range(3):
            async with http.get(f"{site.url}/health/live") as r:
                assert r.status == 200
        async with http.get(f"{site.url}/metrics") as r:
            assert r.status == 200 and r.content_type == "text/plain"
            text = await r.text()
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(text) for s in family.samples}
    router = site.dispatcher.router
    waiting = {labels: v for (name, labels), v in samples.items() if name == "guichet_waiting_contacts"}
    expected: dict[tuple[tuple[str, str], ...], float] = {}
    for contact in router.queue.contacts.values():
        key = (("channel", contact.channel.value), ("process", contact.process))
        expected[key] = expected.get(key, 0) + 1
    assert waiting == expected and sum(waiting.values()) == len(router.queue) >= 3
    assert samples[("guichet_agents", (("state", "reserved"),))] == 2
    assert samples[("guichet_ami_link_up", ())] == 1.0
    assert samples[("guichet_part_up", (("part", "redis"),))] == 1.0
    assert samples[("guichet_history_lag_events", ())] == 0
    assert samples[("guichet_inputs_total", ())] == 2 + len(CALLERS) + len(TICKETS) + 1
    assert samples[("guichet_decisions_total", ())] > 0
    assert ("guichet_longest_wait_seconds", (("channel", "counter"),)) in samples
    count = [v for (name, labels), v in samples.items() if name == "guichet_http_request_duration_seconds_count"
             and ("route", "health_live") in labels]
    assert count == [3.0]
    assert "0611223344" not in text


async def test_ready_names_what_is_down(redis_server: RedisServer, redis_prefix: str, sqlite_url: str) -> None:
    async with pages_site(redis_server.url, redis_prefix, sqlite_url) as site, aiohttp.ClientSession() as http:
        async with http.get(f"{site.url}/health/ready") as r:
            assert r.status == 200
            assert await r.json() == {"status": "ready", "down": [], "parts": {"ami": "up", "redis": "up", "sql": "up"}}
        site.parts.probes.ami_up = lambda: False
        dead = connect(f"redis://127.0.0.1:{free_port()}/0")
        live_redis, site.parts.probes.redis = site.parts.probes.redis, dead
        try:
            async with http.get(f"{site.url}/health/ready") as r:
                assert r.status == 503
                body = await r.json()
            assert body["down"] == ["ami", "redis"] and body["parts"]["sql"] == "up"
            async with http.get(f"{site.url}/health/live") as r:
                assert r.status == 200, "alive even when the outside is down"
        finally:
            site.parts.probes.redis = live_redis
            await dead.aclose()
        await site.engine.dispose()
        site.parts.probes.engine = _broken_engine()
        async with http.get(f"{site.url}/health/ready") as r:
            assert r.status == 503 and (await r.json())["down"] == ["ami", "sql"]


def _broken_engine():  # type: ignore[no-untyped-def]
    from dispatcher.history.writer import engine_for

    return engine_for(f"postgresql+asyncpg://nobody@127.0.0.1:{free_port()}/none")
