"""Two sites over one dispatcher, through the real HTTP API: a visitor waits for a counter of
their own site, a caller for any agent (issue 10 item 2)."""

from __future__ import annotations

from typing import Any

from dispatcher import events as ev
from dispatcher.events import AgentState, Outcome
from dispatcher.fake_asterisk import wait_until
from dispatcher.store.redis_server import RedisServer
from skills.model import Channel
from tests.counter_helpers import Stack, counter_stack


async def _ticket(s: Stack, kiosk: str) -> dict[str, Any]:
    status, ticket = await s.post("/api/v1/kiosk/tickets", kiosk, {"process": "passport"})
    assert status == 201, ticket
    return ticket


async def test_an_annexe_visitor_is_never_pushed_to_a_free_town_hall_agent(redis_server: RedisServer, redis_prefix: str) -> None:
    async with counter_stack(redis_server.url, redis_prefix) as s:
        status, desk = await s.post("/api/v1/desk/open", "a01", {"counter": "guichet 3"})
        assert status == 200 and desk["site"] == "hdv" and desk["state"] == "available"
        annexe = await _ticket(s, "annexe-borne-1")
        # a01 is free, competent and at a counter: still nothing for them
        status, desk = await s.get("/api/v1/desk", "a01")
        assert desk["state"] == "available" and desk["offered"] is None
        status, ready = await s.post("/api/v1/desk/ready", "a01")
        assert ready["offered"] is None
        assert s.router.contacts[annexe["contact_id"]].agent_id is None
        # a town-hall visitor arriving later goes to a01 at once, ahead of the annexe's
        town = await _ticket(s, "hdv-borne-1")
        status, desk = await s.get("/api/v1/desk", "a01")
        assert desk["offered"]["ticket"] == town["ticket"]
        # the annexe's agent opens a counter there: the annexe visitor is pushed to them
        status, desk = await s.post("/api/v1/desk/open", "a03", {"counter": "annexe 2"})
        assert status == 200 and desk["site"] == "annexe"
        assert desk["offered"]["ticket"] == annexe["ticket"]
        await s.post("/api/v1/desk/answer", "a03")
        status, desk = await s.post("/api/v1/desk/done", "a03")
        assert status == 200 and s.router.ended[annexe["contact_id"]] is Outcome.SERVED


async def test_a_caller_goes_to_a_free_agent_of_either_site(redis_server: RedisServer, redis_prefix: str) -> None:
    async with counter_stack(redis_server.url, redis_prefix) as s:
        await s.post("/api/v1/desk/open", "a01", {"counter": "guichet 1"})  # counter and phone
        await s.post("/api/v1/desk/open", "a03", {"counter": "annexe 1"})  # counter and phone
        dispatcher = s.live.dispatcher
        for i in (1, 2):
            dispatcher.submit(
                ev.ContactArrived(at=dispatcher.clock(), contact_id=f"call-{i}", channel=Channel.PHONE, process="passport")
            )
        await wait_until(lambda: all(s.router.agents[a].state is AgentState.RESERVED for a in ("a01", "a03")), timeout=5)
        holders = {s.router.agents[a].contact_id for a in ("a01", "a03")}
        assert holders == {"call-1", "call-2"}  # one caller at the town hall, one at the annexe


async def test_an_annexe_visitors_estimate_waits_for_the_annexe_not_for_a_free_town_hall_agent(
    redis_server: RedisServer, redis_prefix: str
) -> None:
    async with counter_stack(redis_server.url, redis_prefix) as s:
        await s.post("/api/v1/desk/open", "a01", {"counter": "guichet 3"})  # free, at the town hall
        ticket = await _ticket(s, "annexe-borne-1")
        assert s.router.contacts[ticket["contact_id"]].agent_id is None
        # nobody at the annexe: no estimate (-1), not the 0 s that the free a01 would suggest
        assert ticket["estimated_wait_s"] == -1.0


async def test_a_tickets_position_counts_only_the_visitors_of_its_own_site(redis_server: RedisServer, redis_prefix: str) -> None:
    async with counter_stack(redis_server.url, redis_prefix) as s:  # no counter open: everyone waits
        first = [await _ticket(s, "hdv-borne-1") for _ in range(3)]
        annexe = await _ticket(s, "annexe-borne-1")
        town = await _ticket(s, "hdv-borne-1")
        assert [t["position"] for t in first] == [1, 2, 3]
        assert annexe["position"] == 1  # the town hall's three are not ahead of them
        assert town["position"] == 4
