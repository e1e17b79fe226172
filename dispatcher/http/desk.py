"""Counter agents' desk: open, ready ("call next"), answer, recall, absent, done, re-qualify, close.

Each action acts on the caller itself (the token's agent): an agent can act
only on its own desk. Actions become input events; the core decides whom the
agent serves. A refused action is a 409 problem saying why.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from pydantic import BaseModel, Field

from dispatcher.counter.desks import DeskError
from dispatcher.counter.service import CounterService
from dispatcher.events import Event
from dispatcher.http.keys import counter_of
from dispatcher.http.problems import FieldError, Problem
from dispatcher.http.route import body_of, principal_of


class OpenCounter(BaseModel):
    model_config = {"extra": "forbid"}

    counter: str = Field(min_length=1, max_length=64, description='The counter, e.g. "guichet 3"')


class Requalify(BaseModel):
    model_config = {"extra": "forbid"}

    process: str = Field(min_length=1, max_length=64, description="The visitor's actual process")


class Transfer(BaseModel):
    model_config = {"extra": "forbid"}

    agent: str = Field(min_length=1, max_length=64, description="The agent who takes the visitor over")


class DeskState(BaseModel):
    """The desk: agent state, counter, the offered and the called visitor."""

    agent_id: str
    state: str
    reason: str | None
    site: str | None
    counter: str | None
    offered: dict[str, object] | None
    called: dict[str, object] | None


def _act(request: web.Request, action: Callable[[CounterService, str, float], list[Event]]) -> web.Response:
    counter = counter_of(request)
    agent = principal_of(request).subject
    try:
        counter.act(action(counter, agent, counter.clock()))
    except DeskError as exc:
        raise Problem(409, "desk-refused", str(exc)) from None
    return web.json_response(counter.desk_state(agent))


async def desk_state(request: web.Request) -> web.Response:
    """The caller's desk."""
    return web.json_response(counter_of(request).desk_state(principal_of(request).subject))


async def desk_open(request: web.Request) -> web.Response:
    """Open a counter: serve its channels (counter, and phone at a mixed desk), ready."""
    name = body_of(request, OpenCounter).counter
    if counter_of(request).sites.counter_site(name) is None:
        raise Problem(422, "invalid-field", f"guichet inconnu : {name}", [FieldError("body.counter", "guichet inconnu")])
    return _act(request, lambda c, agent, at: c.desks.open(agent, name, at))


async def desk_close(request: web.Request) -> web.Response:
    """Close the counter: the agent goes offline."""
    return _act(request, lambda c, agent, at: c.desks.close(agent, at))


async def desk_ready(request: web.Request) -> web.Response:
    """"Call next": the agent is ready; the dispatcher pushes its choice."""
    return _act(request, lambda c, agent, at: c.desks.ready(agent, at))


async def desk_answer(request: web.Request) -> web.Response:
    """Acknowledge the offered visitor: the ticket is called on the site's displays."""
    return _act(request, lambda c, agent, at: c.desks.answer(agent, at))


async def desk_recall(request: web.Request) -> web.Response:
    """Call the visitor again on the displays."""
    counter = counter_of(request)
    agent = principal_of(request).subject
    try:
        call = counter.desks.recall(agent, counter.clock())
    except DeskError as exc:
        raise Problem(409, "desk-refused", str(exc)) from None
    counter.announce(call)
    return web.json_response(counter.desk_state(agent))


async def desk_no_show(request: web.Request) -> web.Response:
    """The visitor did not come: back in line once (arrival kept), then a recorded no-show."""
    counter = counter_of(request)
    agent = principal_of(request).subject
    try:
        await counter.no_show(agent)
    except DeskError as exc:
        raise Problem(409, "desk-refused", str(exc)) from None
    return web.json_response(counter.desk_state(agent))


async def desk_done(request: web.Request) -> web.Response:
    """The visitor was served: wrap-up, then the next push."""
    return _act(request, lambda c, agent, at: c.desks.done(agent, at))


async def desk_requalify(request: web.Request) -> web.Response:
    """The visitor came for another process: back in that process's line, waited time kept."""
    process = body_of(request, Requalify).process
    if process not in counter_of(request).catalogue.processes:
        raise Problem(422, "invalid-field", f"démarche inconnue : {process}", [FieldError("body.process", "démarche inconnue")])
    return _act(request, lambda c, agent, at: c.desks.requalify(agent, process, at))


async def desk_transfer(request: web.Request) -> web.Response:
    """Hand the visitor to a named agent: offered to them at once, arrival kept."""
    to_agent = body_of(request, Transfer).agent
    return _act(request, lambda c, agent, at: c.desks.transfer(agent, to_agent, at))
