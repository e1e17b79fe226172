"""Over HTTP on the live state: the wallboard's alerts (service level, longest wait, deadline near) and the
agent's tray of deferrable work with its deadlines."""

from __future__ import annotations

import asyncio
import html
import json
import re
import time
from typing import Any

import aiohttp

from dispatcher import events as ev
from dispatcher.events import AgentState
from dispatcher.store.redis_server import RedisServer
from skills.model import Channel
from tests.pages_helpers import browser_like, log_in, pages_site


async def _snapshots_until(http: aiohttp.ClientSession, url: str, done: Any, within_s: float) -> dict[str, Any]:
    """The first snapshot of ``url`` for which ``done(snapshot)`` holds (fails past ``within_s``)."""
    deadline = time.monotonic() + within_s
    async with http.get(url, timeout=aiohttp.ClientTimeout(total=within_s + 5)) as r:
        async for line in r.content:
            if line.startswith(b"data: "):
                snapshot: dict[str, Any] = json.loads(line[6:])
                if done(snapshot):
                    return snapshot
            if time.monotonic() > deadline:
                break
    raise AssertionError(f"{url}: no snapshot as expected within {within_s} s")


async def test_the_wallboard_raises_each_alert_when_its_threshold_is_crossed(
    redis_server: RedisServer, redis_prefix: str, sqlite_url: str
) -> None:
    async with pages_site(redis_server.url, redis_prefix, sqlite_url) as site, browser_like() as http:
        await log_in(http, site.url, "superviseur")
        quiet = await _snapshots_until(http, f"{site.url}/wallboard/events", lambda s: True, 5)
        assert quiet["alerts"] == []
        await asyncio.sleep(1.1)  # the day's figures are refreshed once a second: the burst below recomputes them
        d, agent = site.dispatcher, min(site.matrix.agents)
        now = d.clock()
        d.submit(ev.ContactArrived(at=now, contact_id="late", channel=Channel.PHONE, process="passport",
                                   arrived_at=now - 120))
        d.submit(ev.AgentStatusSet(at=now, agent_id=agent, state=AgentState.AVAILABLE))
        d.submit(ev.OfferAnswered(at=now, contact_id="late", agent_id=agent))  # answered after 120 s > 60 s
        d.submit(ev.ContactArrived(at=now, contact_id="long", channel=Channel.PHONE, process="id_card",
                                   arrived_at=now - 400))
        d.submit(ev.ContactArrived(at=now, contact_id="mail", channel=Channel.EMAIL, process="passport",
                                   deadline=now + 3600))
        wanted = {"service_level", "longest_wait", "deadline"}
        loud = await _snapshots_until(http, f"{site.url}/wallboard/events",
                                      lambda s: wanted <= {a["kind"] for a in s["alerts"]}, 5)
    alerts = {a["kind"]: a for a in loud["alerts"]}
    assert alerts["service_level"]["value"] == 0.0 and alerts["service_level"]["threshold"] == 0.8
    assert alerts["longest_wait"]["channel"] == "phone" and alerts["longest_wait"]["value"] >= 400
    assert alerts["deadline"]["process"] == "passport" and 3500 <= alerts["deadline"]["value"] <= 3600
    assert alerts["deadline"]["label"] == "Passeport (demande, renouvellement)", "the screen names the process"
    assert loud["figures"]["longest_wait_s"] >= 400


async def test_the_agents_tray_lists_deferrable_work_by_deadline(
    redis_server: RedisServer, redis_prefix: str, sqlite_url: str
) -> None:
    async with pages_site(redis_server.url, redis_prefix, sqlite_url) as site, browser_like() as http:
        d, agent = site.dispatcher, min(site.matrix.agents)
        skills = site.matrix.agents[agent].skills
        assert "building_permit" not in skills
        now = d.clock()
        d.submit(ev.ContactArrived(at=now, contact_id="email-7200", channel=Channel.EMAIL, process="passport",
                                   deadline=now + 7200))
        d.submit(ev.ContactArrived(at=now, contact_id="web-3600", channel=Channel.WEBFORM, process="id_card",
                                   deadline=now + 3600))
        d.submit(ev.ContactArrived(at=now, contact_id="not-mine", channel=Channel.EMAIL, process="building_permit",
                                   deadline=now + 60))
        d.submit(ev.ContactArrived(at=now, contact_id="live", channel=Channel.PHONE, process="passport"))
        d.submit(ev.CallbackRequested(at=now, contact_id="live", callback_id="cb-1", number="0611223344"))
        await log_in(http, site.url, "agent1")
        async with http.get(f"{site.url}/agent") as r:
            assert r.status == 200
            page = await r.text()
        found = re.search(r'<script type="application/json" id="initial">(.*?)</script>', page, re.DOTALL)
        assert found
        view = json.loads(html.unescape(found.group(1)))
        live = await _snapshots_until(http, f"{site.url}/agent/events", lambda s: True, 5)
    for shown in (view, live):
        tray = shown["tray"]
        assert [t["contact_id"] for t in tray][:2] == ["web-3600", "email-7200"], "nearest deadline first"
        assert {t["contact_id"] for t in tray} == {"web-3600", "email-7200", "cb-1"}, "only the agent's processes"
        assert shown["tray_total"] == 3
        assert tray[0]["label"] == "Carte nationale d'identité (demande, renouvellement)"
        assert 3500 <= tray[0]["deadline_in_s"] <= 3600 and 7100 <= tray[1]["deadline_in_s"] <= 7200
        callback = next(t for t in tray if t["contact_id"] == "cb-1")
        assert callback["channel"] == "callback" and callback["deadline_in_s"] is not None
