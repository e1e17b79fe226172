"""What one route of the table says: method, path, handler, roles, and its API description.

The guard (``app.py``) checks the roles and validates the declared body before
the handler runs; the OpenAPI document (``openapi.py``) is generated from the
same records, so an endpoint cannot exist without its roles and its description.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from dispatcher.http.problems import FieldError, Problem, from_validation
from dispatcher.http.roles import Principal, Role

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Model = TypeVar("Model", bound=BaseModel)


class Answer(str, Enum):
    """What a route answers with."""

    JSON = "application/json"
    TEXT = "text/plain"
    BYTES = "application/octet-stream"
    SSE = "text/event-stream"
    WEBSOCKET = "websocket"
    HTML = "text/html"
    CSV = "text/csv"


@dataclass(frozen=True)
class Route:
    """One endpoint. ``roles`` must not be empty: ``Role.PUBLIC`` says "no credentials" explicitly."""

    method: str
    path: str
    handler: Handler
    roles: frozenset[Role]
    summary: str
    tag: str
    body: type[BaseModel] | None = None
    answer: type[BaseModel] | None = None
    answer_kind: Answer = Answer.JSON
    refusals: tuple[int, ...] = ()
    description: str = ""
    query: dict[str, str] = field(default_factory=dict)
    """Query parameters: name -> description (all optional strings)."""

    def __post_init__(self) -> None:
        if not self.roles:
            raise ValueError(f"route {self.method} {self.path} names no role")
        if Role.PUBLIC in self.roles and len(self.roles) > 1:
            raise ValueError(f"route {self.method} {self.path}: public with other roles")

    @property
    def name(self) -> str:
        """The aiohttp resource name: the handler's name, unique in the table."""
        return self.handler.__name__

    @property
    def public(self) -> bool:
        return Role.PUBLIC in self.roles


def roles(*names: Role) -> frozenset[Role]:
    """The roles of a route: ``roles(Role.KIOSK, Role.ADMIN)``."""
    return frozenset(names)


BODY_KEY = web.RequestKey("body", BaseModel)
PRINCIPAL_KEY = web.RequestKey("principal", Principal)


async def parse_body(request: web.Request, model: type[BaseModel]) -> BaseModel:
    """The request's JSON body validated by ``model``; a problem naming the field otherwise."""
    if request.content_type != "application/json":
        raise Problem(
            415, "unsupported-media-type", "corps JSON attendu (Content-Type: application/json)",
            [FieldError("Content-Type", f"reçu {request.content_type!r}")],
        )
    raw = await request.read()
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "pas de l'UTF-8"
        raise Problem(400, "malformed-json", f"JSON mal formé : {reason}", [FieldError("body", reason)]) from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise from_validation(exc) from None


def body_of(request: web.Request, model: type[Model]) -> Model:
    """The body the guard validated for this route, typed."""
    body = request[BODY_KEY]
    if not isinstance(body, model):
        raise TypeError(f"the route of {request.path} does not declare a {model.__name__} body")
    return body


def principal_of(request: web.Request) -> Principal:
    """The caller the guard authenticated (a public route has the anonymous principal)."""
    return request[PRINCIPAL_KEY]


ANONYMOUS = Principal("anonymous", frozenset({Role.PUBLIC}))
