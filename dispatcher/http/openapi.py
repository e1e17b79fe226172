"""The OpenAPI 3.1 document of the API, generated from the route table.

Bodies and answers are the pydantic models the routes declare (their JSON
Schemas under ``components/schemas``); each operation lists its roles
(``x-roles``), its security scheme and its refusals as problem+json.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from dispatcher.http.problems import PROBLEM_TYPE, TITLES
from dispatcher.http.roles import Role
from dispatcher.http.route import Answer, Route

SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "deviceToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "Jeton d'un appareil (borne, écran) ou d'un agent de guichet, donné par "
        "l'environnement ou le fichier de secrets. WebSocket et SSE : aussi `?token=`.",
    },
    "session": {
        "type": "apiKey",
        "in": "cookie",
        "name": "guichet_session",
        "description": "Session d'une personne ouverte par /login ; requêtes modifiantes : en-tête X-CSRF-Token.",
    },
}
"""Security schemes by name; the pages add people's sessions."""

ROLE_SCHEMES: dict[Role, str] = {
    Role.KIOSK: "deviceToken",
    Role.DISPLAY: "deviceToken",
    Role.COUNTER_AGENT: "deviceToken",
    Role.AGENT: "session",
    Role.SUPERVISOR: "session",
    Role.PLANNER: "session",
    Role.ADMIN: "session",
}
"""Which scheme authenticates each role."""

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "error_id": {"type": "string", "description": "for a 500: the id of the logged error"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "reason"],
                "properties": {"field": {"type": "string"}, "reason": {"type": "string"}},
            },
        },
    },
}

_PARAM = re.compile(r"\{(\w+)(?::[^}]*)?\}")


def _models(routes: Iterable[Route]) -> list[type[BaseModel]]:
    seen: dict[str, type[BaseModel]] = {}
    for route in routes:
        for model in (route.body, route.answer):
            if model is not None:
                seen.setdefault(model.__name__, model)
    return list(seen.values())


def _schemas(models: list[type[BaseModel]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Each model's reference, and the components' schemas."""
    if not models:
        return {}, {}
    refs, top = models_json_schema(
        [(m, "validation") for m in models], ref_template="#/components/schemas/{model}"
    )
    by_name = {m.__name__: refs[(m, "validation")] for m in models}
    return by_name, dict(top.get("$defs", {}))


def _problem(status: int) -> dict[str, Any]:
    return {
        "description": TITLES.get(status, "Erreur"),
        "content": {PROBLEM_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def _operation(route: Route, refs: dict[str, Any]) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": route.name,
        "summary": route.summary,
        "tags": [route.tag],
        "x-roles": sorted(r.value for r in route.roles),
    }
    if route.description:
        op["description"] = route.description
    params = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PARAM.findall(route.path)
    ]
    params += [
        {"name": name, "in": "query", "required": False, "description": text, "schema": {"type": "string"}}
        for name, text in route.query.items()
    ]
    if params:
        op["parameters"] = params
    if route.public:
        op["security"] = []
    else:
        schemes = sorted({ROLE_SCHEMES[r] for r in route.roles if r in ROLE_SCHEMES})
        op["security"] = [{name: []} for name in schemes]
    if route.body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": refs[route.body.__name__]}}}
    responses: dict[str, Any] = {}
    if route.answer_kind is Answer.WEBSOCKET:
        responses["101"] = {"description": "WebSocket ouvert (messages JSON, voir la description)"}
    elif route.answer_kind is Answer.SSE:
        responses["200"] = {"description": "flux d'événements", "content": {Answer.SSE.value: {"schema": {"type": "string"}}}}
    elif route.answer is not None:
        responses["200"] = {"description": "réponse", "content": {"application/json": {"schema": refs[route.answer.__name__]}}}
    else:
        responses["200"] = {"description": "réponse", "content": {route.answer_kind.value: {"schema": {"type": "string"}}}}
    statuses = set(route.refusals)
    if not route.public:
        statuses |= {401, 403}
    if route.body is not None:
        statuses |= {400, 413, 415, 422}
    statuses.add(500)
    for status in sorted(statuses):
        responses[str(status)] = _problem(status)
    op["responses"] = responses
    return op


def document(routes: Iterable[Route], title: str = "Guichet", version: str = "1") -> dict[str, Any]:
    """The OpenAPI 3.1 document of these routes."""
    table = list(routes)
    refs, schemas = _schemas(_models(table))
    schemas["Problem"] = PROBLEM_SCHEMA
    paths: dict[str, dict[str, Any]] = {}
    for route in table:
        path = _PARAM.sub(r"{\1}", route.path)
        paths.setdefault(path, {})[route.method.lower()] = _operation(route, refs)
    used = {ROLE_SCHEMES[r] for route in table for r in route.roles if r in ROLE_SCHEMES}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": "API du guichet unique : bornes, écrans d'appel, guichets, pages.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {name: SECURITY_SCHEMES[name] for name in sorted(used)},
        },
    }
