"""Kiosks over real sockets: menu, tickets by HTTP and WebSocket, bad input, 20 kiosks at once."""

from __future__ import annotations

import asyncio
import base64
import json

import aiohttp
import pytest

from dispatcher.store.redis_server import RedisServer
from tests.counter_helpers import bearer, counter_stack, token

KIOSK, ANNEXE_KIOSK, DISPLAY = "hdv-borne-1", "annexe-borne-1", "hdv-ecran-1"


async def test_the_menu_lists_counter_processes_by_domain_in_french_and_english(redis_server: RedisServer, redis_prefix: str) -> None:
    async with counter_stack(redis_server.url, redis_prefix) as s:
        status, menu = await s.get("/api/v1/kiosk/menu", KIOSK)
        assert status == 200 and menu["site"] == "hdv" and menu["site_label"] == "Hôtel de ville"
        civil = next(d for d in menu["domains"] if d["code"] == "etat_civil")
        assert civil["letter"] == "A" and any(p["code"] == "passport" and p["label"].startswith("Passeport") for p in civil["processes"])
        assert {c["code"] for c in menu["priority_classes"]} == {"disability", "pregnancy", "elderly", "small_child"}
        assert "handicap" in next(c["label"] for c in menu["priority_classes"] if c["code"] == "disability")
        status, english = await s.get("/api/v1/kiosk/menu?lang=en", KIOSK)
        assert next(c["label"] for c in english["priority_classes"] if c["code"] == "disability") == "Person with a disability"
        status, problem = await s.get("/api/v1/kiosk/menu?lang=de", KIOSK)
        assert status == 422 and problem["errors"][0]["field"] == "query.lang"


async def test_a_ticket_has_letter_number_position_wait_and_printouts(redis_server: RedisServer, redis_prefix: str) -> None:
    async with counter_stack(redis_server.url, redis_prefix) as s:
        status, first = await s.post("/api/v1/kiosk/tickets", KIOSK, {"process": "passport"})
        assert status == 201, first
        status, second = await s.post("/api/v1/kiosk/tickets", KIOSK, {"process": "id_card", "paper": 58})
        assert (first["ticket"], second["ticket"]) == ("A001", "A002")
        assert second["position"] >= 1 and second["estimated_wait_s"] == -1.0  # nobody at a counter yet
        assert second["contact_id"] in s.router.contacts
        assert s.router.contacts[second["contact_id"]].ticket == "A002"
        lines = second["print_text"].splitlines()
        assert max(len(line) for line in lines) <= 32 and "A 0 0 2" in second["print_text"]
        assert "Carte nationale" in second["print_text"] or "identité" in second["print_text"]
        escpos = base64.b64decode(second["print_escpos_base64"])
        assert escpos.startswith(b"\x1b@") and escpos.endswith(b"\x1dVB\x00") and b"A002" in escpos
        assert "Hôtel de ville".encode("cp1252") in escpos
        status, annexe = await s.post("/api/v1/kiosk/tickets", ANNEXE_KIOSK, {"process": "passport"})
        assert annexe["ticket"] == "A001" and annexe["site"] == "annexe"  # each site has its own series


@pytest.mark.parametrize(
    "body, status, field",
    [
        ({"process": "no_such_process"}, 422, "body.process"),
        ({"process": "passport", "priority_class": "vip"}, 422, "body.priority_class"),
        ({"process": "passport", "paper": 57}, 422, "body.paper"),
        ({"process": "passport", "extra": 1}, 422, "body.extra"),
        ({}, 422, "body.process"),
    ],
)
async def test_bad_ticket_requests_are_refused_and_take_no_number(
    redis_server: RedisServer, redis_prefix: str, body: dict[str, object], status: int, field: str
) -> None:
    async with counter_stack(redis_server.url, redis_prefix) as s:
        code, problem = await s.post("/api/v1/kiosk/tickets", KIOSK, body)
        assert code == status and field in [e["field"] for e in problem["errors"]]
        code, ticket = await s.post("/api/v1/kiosk/tickets", KIOSK, {"process": "passport"})
        assert code == 201 and ticket["ticket"] == "A001"


async def test_kiosk_endpoints_refuse_missing_wrong_and_foreign_tokens(redis_server: RedisServer, redis_prefix: str) -> None:
    async with counter_stack(redis_server.url, redis_prefix) as s:
        for headers, status in (({}, 401), ({"Authorization": "Bearer nope-nope-nope-nope"}, 401), (bearer(DISPLAY), 403), (bearer("a01"), 403)):
            async with s.http.post(f"{s.url}/api/v1/kiosk/tickets", json={"process": "passport"}, headers=headers) as r:
                assert r.status == status and r.content_type == "application/problem+json"
            async with s.http.get(f"{s.url}/api/v1/kiosk/menu", headers=headers) as r:
                assert r.status == status
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await s.http.ws_connect(f"{s.url}/api/v1/kiosk/ws", headers=headers)
            assert refused.value.status == status
        assert not s.router.contacts


async def test_a_websocket_kiosk_issues_tickets_and_gets_problems_as_frames(redis_server: RedisServer, redis_prefix: str) -> None:
    async with counter_stack(redis_server.url, redis_prefix) as s:
        async with s.http.ws_connect(f"{s.url}/api/v1/kiosk/ws?token={token(KIOSK)}") as ws:
            await ws.send_json({"type": "menu", "lang": "en"})
            menu = await ws.receive_json(timeout=5)
            assert menu["type"] == "menu" and menu["lang"] == "en"
            await ws.send_json({"type": "issue", "process": "passport", "id": 7})
            ticket = await ws.receive_json(timeout=5)
            assert ticket["type"] == "ticket" and ticket["ticket"] == "A001" and ticket["id"] == 7
            await ws.send_json({"type": "issue", "process": "nothing", "id": 8})
            problem = await ws.receive_json(timeout=5)
            assert problem["type"] == "problem" and problem["id"] == 8
            assert problem["problem"]["status"] == 422 and problem["problem"]["errors"][0]["field"] == "body.process"
            await ws.send_json({"type": "issue", "process": "passport"})
            assert (await ws.receive_json(timeout=5))["ticket"] == "A002"


@pytest.mark.parametrize(
    "garbage, code",
    [("{not json", 1007), (b"\x00\x01binary", 1003), (json.dumps({"type": "launch"}), 1008), (json.dumps([1]), 1008)],
)
async def test_a_websocket_kiosk_sending_garbage_is_closed_with_a_reason_and_others_go_on(
    redis_server: RedisServer, redis_prefix: str, garbage: str | bytes, code: int
) -> None:
    async with counter_stack(redis_server.url, redis_prefix) as s:
        async with s.http.ws_connect(f"{s.url}/api/v1/kiosk/ws?token={token(KIOSK)}") as good:
            async with s.http.ws_connect(f"{s.url}/api/v1/kiosk/ws?token={token(KIOSK)}") as bad:
                if isinstance(garbage, bytes):
                    await bad.send_bytes(garbage)
                else:
                    await bad.send_str(garbage)
                msg = await bad.receive(timeout=5)
                assert msg.type is aiohttp.WSMsgType.CLOSE and msg.data == code and msg.extra
            await good.send_json({"type": "issue", "process": "passport"})
            assert (await good.receive_json(timeout=5))["ticket"] == "A001"


async def test_twenty_kiosks_at_once_never_share_a_number(redis_server: RedisServer, redis_prefix: str) -> None:
    async with counter_stack(redis_server.url, redis_prefix) as s:

        async def http_kiosk(n: int) -> list[str]:
            got = []
            for _ in range(10):
                status, body = await s.post("/api/v1/kiosk/tickets", "hdv-borne-1" if n % 2 else "hdv-borne-2", {"process": "passport"})
                assert status == 201, body
                got.append(body["ticket"])
            return got

        async def ws_kiosk(n: int) -> list[str]:
            got = []
            async with s.http.ws_connect(f"{s.url}/api/v1/kiosk/ws?token={token('hdv-borne-1')}") as ws:
                for i in range(10):
                    await ws.send_json({"type": "issue", "process": "birth_certificate", "id": i})
                    got.append((await ws.receive_json(timeout=10))["ticket"])
            return got

        results = await asyncio.gather(*(http_kiosk(n) for n in range(10)), *(ws_kiosk(n) for n in range(10)))
        tickets = [t for batch in results for t in batch]
        assert len(tickets) == 200 and len(set(tickets)) == 200
        assert sorted(tickets) == sorted(f"A{n:03d}" for n in range(1, 201))
        await asyncio.sleep(0.05)
        counter_contacts = [c for c in s.router.contacts.values() if c.ticket]
        assert sorted(c.ticket for c in counter_contacts) == sorted(tickets)
