"""The HTTP side over a real loopback server: the guard, problem+json, 500 with an id, OpenAPI."""

from __future__ import annotations

import logging

import pytest
from aiohttp import web
from openapi_spec_validator import validate
from pydantic import BaseModel, Field

from dispatcher.http.app import make_app
from dispatcher.http.roles import Role
from dispatcher.http.route import Route, body_of, principal_of, roles
from dispatcher.http.routes import ROUTES
from dispatcher.router import Router
from dispatcher.service import Dispatcher
from skills.catalogue import default_catalogue
from skills.matrix import default_matrix
from tests.http_helpers import (
    AGENT_TOKEN,
    DISPLAY_TOKEN,
    KIOSK_TOKEN,
    bearer,
    device_tokens,
    problem_fields,
    serving,
)


class Echo(BaseModel):
    process: str = Field(min_length=1)
    count: int = Field(ge=0, le=10)


async def echo(request: web.Request) -> web.Response:
    body = body_of(request, Echo)
    return web.json_response({"who": principal_of(request).subject, "process": body.process, "count": body.count})


async def explode(request: web.Request) -> web.Response:
    raise RuntimeError("secret internal detail")


EXTRA = [
    Route("POST", "/api/v1/test/echo", echo, roles(Role.KIOSK), "echo", "test", body=Echo),
    Route("GET", "/api/v1/test/explode", explode, roles(Role.DISPLAY), "explode", "test"),
]


def _app(routes: list[Route] | None = None) -> web.Application:
    catalogue = default_catalogue()
    dispatcher = Dispatcher(Router(catalogue, default_matrix(catalogue)))
    return make_app(dispatcher, catalogue, [device_tokens()], routes=routes if routes is not None else ROUTES + EXTRA)


async def test_public_routes_answer_without_credentials() -> None:
    async with serving(_app()) as (url, http), http.get(f"{url}/api/v1/health") as r:
        assert r.status == 200
        assert (await r.json())["status"] == "ok"


@pytest.mark.parametrize(
    "headers, status, kind",
    [
        ({}, 401, "no-credentials"),
        (bearer("wrong-token-0123456789abcdef"), 401, "bad-credentials"),
        ({"Authorization": "Basic a2lvc2s="}, 401, "bad-credentials"),
        (bearer(DISPLAY_TOKEN), 403, "forbidden-role"),
        (bearer(AGENT_TOKEN), 403, "forbidden-role"),
    ],
)
async def test_a_device_route_refuses_missing_wrong_or_foreign_tokens(
    headers: dict[str, str], status: int, kind: str
) -> None:
    async with serving(_app()) as (url, http):
        async with http.post(f"{url}/api/v1/test/echo", json={"process": "passport", "count": 1}, headers=headers) as r:
            assert r.status == status
            assert r.content_type == "application/problem+json"
            body = await r.json()
            assert body["status"] == status and body["type"].endswith(kind)
            if status == 401:
                assert r.headers["WWW-Authenticate"] == "Bearer"


async def test_the_right_token_reaches_the_handler_with_its_principal() -> None:
    async with serving(_app()) as (url, http):
        async with http.post(f"{url}/api/v1/test/echo", json={"process": "passport", "count": 3}, headers=bearer(KIOSK_TOKEN)) as r:
            assert r.status == 200
            assert await r.json() == {"who": "hdv-borne-1", "process": "passport", "count": 3}


@pytest.mark.parametrize(
    "data, content_type, status, field",
    [
        (b'{"process": "passport", "count": ', "application/json", 400, "body"),
        (b'{"process": "", "count": 1}', "application/json", 422, "body.process"),
        (b'{"process": "passport", "count": 99}', "application/json", 422, "body.count"),
        (b'{"process": "passport"}', "application/json", 422, "body.count"),
        (b'[1, 2]', "application/json", 422, "body"),
        (b'\xff\xfe', "application/json", 400, "body"),
        (b"process=passport", "application/x-www-form-urlencoded", 415, "Content-Type"),
    ],
)
async def test_bad_bodies_are_refused_naming_the_field(data: bytes, content_type: str, status: int, field: str) -> None:
    async with serving(_app()) as (url, http):
        headers = {**bearer(KIOSK_TOKEN), "Content-Type": content_type}
        async with http.post(f"{url}/api/v1/test/echo", data=data, headers=headers) as r:
            assert r.status == status
            assert r.content_type == "application/problem+json"
            body = await r.json()
            assert field in problem_fields(body)
            assert body["detail"]


async def test_an_oversized_body_is_a_413_problem_and_the_server_goes_on() -> None:
    async with serving(_app()) as (url, http):
        big = b'{"process": "' + b"x" * 200_000 + b'", "count": 1}'
        headers = {**bearer(KIOSK_TOKEN), "Content-Type": "application/json"}
        async with http.post(f"{url}/api/v1/test/echo", data=big, headers=headers) as r:
            assert r.status == 413
            assert r.content_type == "application/problem+json"
        async with http.post(f"{url}/api/v1/test/echo", json={"process": "p", "count": 1}, headers=bearer(KIOSK_TOKEN)) as r:
            assert r.status == 200


async def test_unknown_path_and_wrong_method_are_problems() -> None:
    async with serving(_app()) as (url, http):
        async with http.get(f"{url}/api/v1/nothing-here") as r:
            assert r.status == 404 and r.content_type == "application/problem+json"
        async with http.delete(f"{url}/api/v1/health") as r:
            assert r.status == 405 and r.content_type == "application/problem+json"
            assert "GET" in r.headers["Allow"]


async def test_an_unexpected_error_is_a_500_with_the_logged_id_and_no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    async with serving(_app()) as (url, http):
        with caplog.at_level(logging.ERROR, logger="dispatcher.http.problems"):
            async with http.get(f"{url}/api/v1/test/explode", headers=bearer(DISPLAY_TOKEN)) as r:
                assert r.status == 500
                assert r.content_type == "application/problem+json"
                text = await r.text()
                body = await r.json()
    assert "secret internal detail" not in text and "Traceback" not in text
    error_id = body["error_id"]
    assert error_id in body["detail"]
    logged = [rec for rec in caplog.records if error_id in rec.getMessage()]
    assert logged and logged[0].exc_info is not None


async def test_a_route_added_outside_the_table_is_refused() -> None:
    app = _app()

    async def sneaky(request: web.Request) -> web.Response:
        return web.Response(text="should never be seen")

    app.router.add_get("/api/v1/sneaky", sneaky, name="sneaky")
    async with serving(app) as (url, http):
        async with http.get(f"{url}/api/v1/sneaky", headers=bearer(KIOSK_TOKEN)) as r:
            assert r.status == 403
            assert "should never" not in await r.text()


def test_a_route_must_name_its_roles() -> None:
    with pytest.raises(ValueError, match="names no role"):
        Route("GET", "/x", explode, frozenset(), "x", "test")
    with pytest.raises(ValueError, match="public with other roles"):
        Route("GET", "/x", explode, roles(Role.PUBLIC, Role.KIOSK), "x", "test")


def test_two_routes_with_one_name_are_refused() -> None:
    with pytest.raises(ValueError, match="two routes named"):
        _app(ROUTES + [Route("GET", "/api/v1/other", EXTRA[1].handler, roles(Role.KIOSK), "x", "t"), EXTRA[1]])


async def test_openapi_describes_every_route_of_the_table_and_validates() -> None:
    async with serving(_app()) as (url, http), http.get(f"{url}/api/v1/openapi.json") as r:
        assert r.status == 200
        doc = await r.json()
    validate(doc)
    assert doc["openapi"].startswith("3.1")
    operations = {op["operationId"]: (path, method, op) for path, item in doc["paths"].items() for method, op in item.items()}
    for route in ROUTES + EXTRA:
        path, method, op = operations[route.name]
        assert method == route.method.lower()
        assert sorted(op["x-roles"]) == sorted(r.value for r in route.roles)
        if not route.public:
            assert op["security"] and {"401", "403"} <= set(op["responses"])
        if route.body is not None:
            assert "requestBody" in op and "422" in op["responses"]
    assert len(operations) == len(ROUTES + EXTRA)
