"""Displays and counter desks over real sockets: push, calls on every display, recalls, no-show, agent away."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import socket
from typing import Any

import aiohttp
import pytest

from dispatcher import events as ev
from dispatcher.counter.board import Call
from dispatcher.counter.sites import CounterRules, default_sites
from dispatcher.events import AgentState, Outcome
from dispatcher.fake_asterisk import wait_until
from dispatcher.store.redis_server import RedisServer
from skills.catalogue import default_catalogue
from tests.counter_helpers import Stack, counter_stack, token

KIOSK, DISPLAY, DISPLAY_2, ANNEXE_DISPLAY = "hdv-borne-1", "hdv-ecran-1", "hdv-ecran-2", "annexe-ecran-1"


def quick_sites() -> Any:
    rules = CounterRules(recalls=2, no_show_after_s=0.3, agent_away_after_s=0.6)
    return dataclasses.replace(default_sites(default_catalogue()), rules=rules)


async def _ticket(s: Stack, process: str = "passport", priority: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"process": process}
    if priority:
        body["priority_class"] = priority
    status, ticket = await s.post("/api/v1/kiosk/tickets", KIOSK, body)
    assert status == 201, ticket
    return ticket


async def _frame(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    frame: dict[str, Any] = await ws.receive_json(timeout=5)
    return frame


async def test_push_the_agent_gets_the_cores_choice_and_every_display_of_the_site_shows_the_call(
    redis_server: RedisServer, redis_prefix: str
) -> None:
    async with counter_stack(redis_server.url, redis_prefix) as s:
        regular = await _ticket(s)
        priority = await _ticket(s, "id_card", "disability")
        async with s.http.ws_connect(f"{s.url}/api/v1/display/ws?token={token(DISPLAY)}") as d1, \
                s.http.ws_connect(f"{s.url}/api/v1/display/ws?token={token(DISPLAY_2)}") as d2, \
                s.http.ws_connect(f"{s.url}/api/v1/display/ws?token={token(ANNEXE_DISPLAY)}") as annexe:
            for ws in (d1, d2, annexe):
                state = await _frame(ws)
                assert state["type"] == "state" and state["calls"] == []
            status, desk = await s.post("/api/v1/desk/open", "a01", {"counter": "guichet 1"})
            assert status == 200 and desk["counter"] == "guichet 1" and desk["site"] == "hdv"
            # pushed at once: the disability ticket, 10 minutes of advance, before the earlier regular one
            assert desk["state"] == "reserved" and desk["offered"]["ticket"] == priority["ticket"]
            status, ready = await s.post("/api/v1/desk/ready", "a01")
            assert ready["offered"]["ticket"] == priority["ticket"]  # "call next" chooses nothing
            status, desk = await s.post("/api/v1/desk/answer", "a01")
            assert desk["state"] == "busy" and desk["called"]["ticket"] == priority["ticket"]
            for ws in (d1, d2):
                frame = await _frame(ws)
                assert frame["type"] == "call"
                assert frame["call"]["text"] == f"{priority['ticket']} → guichet 1"
                assert frame["call"]["speech"] == f"Ticket {' '.join(priority['ticket'])}, guichet 1"
            status, desk = await s.post("/api/v1/desk/done", "a01")
            assert status == 200 and s.router.ended[priority["contact_id"]] is Outcome.SERVED
            assert desk["offered"]["ticket"] == regular["ticket"]
            # nothing reached the annexe's display
            with pytest.raises(asyncio.TimeoutError):
                await annexe.receive_json(timeout=0.3)


async def test_a_call_made_outside_the_desk_api_reaches_the_displays_too(redis_server: RedisServer, redis_prefix: str) -> None:
    async with counter_stack(redis_server.url, redis_prefix) as s:
        ticket = await _ticket(s)
        await s.post("/api/v1/desk/open", "a02", {"counter": "guichet 3"})
        async with s.http.get(
            f"{s.url}/api/v1/display/events?token={token(DISPLAY)}", headers={"Accept": "text/event-stream"}
        ) as sse:
            assert sse.headers["Content-Type"].startswith("text/event-stream")
            first = await _sse_event(sse)
            assert first[0] == "state"
            s.live.dispatcher.submit(ev.OfferAnswered(at=s.live.dispatcher.clock(), contact_id=ticket["contact_id"], agent_id="a02"))
            kind, data = await _sse_event(sse)
            assert kind == "call" and data["call"]["ticket"] == ticket["ticket"] and data["call"]["counter"] == "guichet 3"


async def _sse_event(response: aiohttp.ClientResponse) -> tuple[str, dict[str, Any]]:
    kind, data = "", ""
    while True:
        line = (await asyncio.wait_for(response.content.readline(), 5)).decode().rstrip("\n")
        if line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: "):
            data = line[6:]
        elif not line and kind:
            return kind, json.loads(data)


async def test_a_display_that_reconnects_gets_the_last_calls_at_once(redis_server: RedisServer, redis_prefix: str) -> None:
    async with counter_stack(redis_server.url, redis_prefix) as s:
        for n in range(8):
            s.counter.announce(Call("hdv", f"A{n:03d}", "guichet 2", float(n)))
        async with s.http.ws_connect(f"{s.url}/api/v1/display/ws?token={token(DISPLAY)}") as ws:
            state = await _frame(ws)
        assert [c["ticket"] for c in state["calls"]] == [f"A{n:03d}" for n in range(7, 1, -1)]
        s.counter.announce(Call("hdv", "B001", "guichet 4", 9.0))
        async with s.http.ws_connect(f"{s.url}/api/v1/display/ws?token={token(DISPLAY)}") as ws:
            again = await _frame(ws)
        assert again["calls"][0]["ticket"] == "B001" and len(again["calls"]) == 6
        status, polled = await s.get("/api/v1/display/state", DISPLAY)
        assert status == 200 and polled["calls"] == again["calls"]
        await s.post("/api/v1/desk/open", "a01", {"counter": "guichet 1"})  # busy with the first ticket
        tickets = [await _ticket(s) for _ in range(3)]
        status, polled = await s.get("/api/v1/display/state", DISPLAY)
        assert polled["waiting"] == 2 and [w["ticket"] for w in polled["waits"]] == [t["ticket"] for t in tickets[1:]]
        first, second = (w["estimated_wait_s"] for w in polled["waits"])
        assert 0 < first < second  # the later ticket waits longer


async def test_displays_refuse_missing_or_wrong_tokens(redis_server: RedisServer, redis_prefix: str) -> None:
    async with counter_stack(redis_server.url, redis_prefix) as s:
        for query, status in (("", 401), ("?token=wrong-wrong-wrong-wrong", 401), (f"?token={token(KIOSK)}", 403)):
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await s.http.ws_connect(f"{s.url}/api/v1/display/ws{query}")
            assert refused.value.status == status
            async with s.http.get(f"{s.url}/api/v1/display/events{query}", headers={"Accept": "text/event-stream"}) as r:
                assert r.status == status and r.content_type == "application/problem+json"


async def test_a_display_that_talks_is_closed_with_a_reason(redis_server: RedisServer, redis_prefix: str) -> None:
    async with counter_stack(redis_server.url, redis_prefix) as s:
        async with s.http.ws_connect(f"{s.url}/api/v1/display/ws?token={token(DISPLAY)}") as ws:
            await _frame(ws)
            await ws.send_str("hello")
            msg = await ws.receive(timeout=5)
            assert msg.type is aiohttp.WSMsgType.CLOSE and msg.data == 1003 and msg.extra == "a display sends nothing"


async def test_a_display_that_never_reads_is_dropped_and_the_others_get_every_call(
    redis_server: RedisServer, redis_prefix: str
) -> None:
    async with counter_stack(redis_server.url, redis_prefix) as s:
        host, port = s.url.removeprefix("http://").split(":")
        sleeper = socket.socket()
        sleeper.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sleeper.connect((host, int(port)))
        sleeper.sendall(
            f"GET /api/v1/display/ws?token={token(DISPLAY_2)} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        await wait_until(lambda: s.counter.connected == 1, timeout=5)
        async with s.http.ws_connect(f"{s.url}/api/v1/display/ws?token={token(DISPLAY)}", max_msg_size=0) as reader:
            await _frame(reader)
            sent = seen = 0  # 8 KB calls: loopback buffers (4 MB at most here) fill long before 5,000
            while s.counter.connected == 2:
                assert sent < 5000, "the display that never reads was never dropped"
                s.counter.announce(Call("hdv", f"A{sent % 1000:03d}", "guichet 1 " + "x" * 8000, float(sent)))
                sent += 1
                frame = await reader.receive_json(timeout=5)
                assert frame["call"]["at"] == float(seen)
                seen += 1
            assert seen == sent  # the reading display got every call, in order, while the other lagged
        sleeper.close()
        sleeper.close()


async def test_visitor_no_show_after_k_recalls_over_t_back_once_then_recorded(redis_server: RedisServer, redis_prefix: str) -> None:
    async with counter_stack(redis_server.url, redis_prefix, sites=quick_sites()) as s:
        ticket = await _ticket(s)
        arrived = s.router.contacts[ticket["contact_id"]].arrived_at
        await s.post("/api/v1/desk/open", "a01", {"counter": "guichet 1"})
        await s.post("/api/v1/desk/answer", "a01")
        status, problem = await s.post("/api/v1/desk/no-show", "a01")
        assert status == 409 and "rappeler" in problem["detail"]
        async with s.http.ws_connect(f"{s.url}/api/v1/display/ws?token={token(DISPLAY)}") as ws:
            await _frame(ws)
            for n in (1, 2):
                status, desk = await s.post("/api/v1/desk/recall", "a01")
                assert desk["called"]["recalls"] == n
                frame = await _frame(ws)
                assert frame["call"]["recall"] == n and frame["call"]["speech"].startswith("Rappel. Ticket")
        await asyncio.sleep(0.35)
        status, desk = await s.post("/api/v1/desk/no-show", "a01")
        assert status == 200
        remembered = await s.live.redis.smembers(s.counter.no_shows_key)
        assert {m.decode() if isinstance(m, bytes) else m for m in remembered} == {ticket["contact_id"]}  # a restart keeps the rule
        contact = s.router.contacts[ticket["contact_id"]]
        assert contact.arrived_at == arrived  # back in line, arrival kept
        assert desk["offered"]["ticket"] == ticket["ticket"]  # first in line again: offered again
        await s.post("/api/v1/desk/answer", "a01")
        for _ in range(2):
            await s.post("/api/v1/desk/recall", "a01")
        await asyncio.sleep(0.35)
        status, desk = await s.post("/api/v1/desk/no-show", "a01")
        assert status == 200 and s.router.ended[ticket["contact_id"]] is Outcome.ABANDONED
        assert desk["called"] is None


async def test_agent_away_is_paused_no_answer_and_the_visitor_goes_first_to_the_next_agent(
    redis_server: RedisServer, redis_prefix: str
) -> None:
    async with counter_stack(redis_server.url, redis_prefix, sites=quick_sites()) as s:
        first = await _ticket(s)
        await s.post("/api/v1/desk/open", "a01", {"counter": "guichet 1"})
        assert s.router.contacts[first["contact_id"]].agent_id == "a01"
        second = await _ticket(s)
        await s.post("/api/v1/desk/open", "a02", {"counter": "guichet 3"})
        assert s.router.contacts[second["contact_id"]].agent_id == "a02"
        await s.post("/api/v1/desk/done", "a02")  # refused (nothing called) but harmless
        await s.post("/api/v1/desk/answer", "a02")
        await s.post("/api/v1/desk/done", "a02")
        # a02 is free again with nobody waiting; a01 never acknowledges
        await wait_until(lambda: s.router.agents["a01"].state is AgentState.PAUSED, timeout=5)
        assert s.router.agents["a01"].reason == "no_answer"
        assert s.router.contacts[first["contact_id"]].agent_id == "a02"
        status, desk = await s.get("/api/v1/desk", "a02")
        assert desk["offered"]["ticket"] == first["ticket"]


async def test_requalify_keeps_the_wait_and_a_refused_action_says_why(redis_server: RedisServer, redis_prefix: str) -> None:
    async with counter_stack(redis_server.url, redis_prefix) as s:
        status, problem = await s.post("/api/v1/desk/answer", "a01")
        assert status == 409 and problem["detail"] == "aucun visiteur proposé"
        status, problem = await s.post("/api/v1/desk/open", "a01", {"counter": "guichet 99"})
        assert status == 422 and problem["errors"][0]["field"] == "body.counter"
        ticket = await _ticket(s)
        arrived = s.router.contacts[ticket["contact_id"]].arrived_at
        await s.post("/api/v1/desk/open", "a01", {"counter": "guichet 1"})
        status, problem = await s.post("/api/v1/desk/open", "a02", {"counter": "guichet 1"})
        assert status == 409 and "déjà ouvert" in problem["detail"]
        await s.post("/api/v1/desk/answer", "a01")
        status, problem = await s.post("/api/v1/desk/requalify", "a01", {"process": "nope"})
        assert status == 422
        status, desk = await s.post("/api/v1/desk/requalify", "a01", {"process": "birth_certificate"})
        assert status == 200
        contact = s.router.contacts[ticket["contact_id"]]
        assert contact.process == "birth_certificate" and contact.arrived_at == arrived
        status, desk = await s.post("/api/v1/desk/close", "a01")
        assert s.router.agents["a01"].state in (AgentState.OFFLINE, AgentState.RESERVED, AgentState.BUSY)
        status, problem = await s.post("/api/v1/desk/close", "a02")
        assert status == 409


async def test_a_visitor_sent_back_once_before_a_restart_is_recorded_absent_the_next_time(
    redis_server: RedisServer, redis_prefix: str
) -> None:
    async def absent(s: Stack) -> int:
        await s.post("/api/v1/desk/answer", "a01")
        for _ in range(2):
            await s.post("/api/v1/desk/recall", "a01")
        await asyncio.sleep(0.35)
        status, _desk = await s.post("/api/v1/desk/no-show", "a01")
        return status

    async with counter_stack(redis_server.url, redis_prefix, sites=quick_sites()) as s:
        ticket = await _ticket(s)
        await s.post("/api/v1/desk/open", "a01", {"counter": "guichet 1"})
        assert await absent(s) == 200 and ticket["contact_id"] in s.router.contacts  # back in line
        await s.post("/api/v1/desk/close", "a01")
    async with counter_stack(redis_server.url, redis_prefix, sites=quick_sites()) as s:  # the server restarted
        assert ticket["contact_id"] in s.router.contacts
        await s.post("/api/v1/desk/open", "a01", {"counter": "guichet 1"})
        assert await absent(s) == 200
        assert s.router.ended[ticket["contact_id"]] is Outcome.ABANDONED
