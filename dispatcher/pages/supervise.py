"""The supervisor forcing an agent's state from the wallboard (ready, pause, log out), audited in SQL.

The supervisor asks; the core decides, as for the agent's own clicks (an agent
holding a contact goes on pause after it). Each applied request is one audit
row: who, when, which agent, the state before and the state asked for.
"""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import BaseModel, Field

from dispatcher import events as ev
from dispatcher.events import AgentState
from dispatcher.http import keys as http_keys
from dispatcher.http.problems import FieldError, Problem
from dispatcher.http.route import body_of
from dispatcher.pages.agent import PAUSE_REASONS
from dispatcher.pages.keys import ACCOUNTS, MATRIX, SESSIONS
from dispatcher.pages.login import source_of
from dispatcher.people.audit import audit

FORCED = {"available": AgentState.AVAILABLE, "paused": AgentState.PAUSED, "offline": AgentState.OFFLINE}


class ForcedState(BaseModel):
    """The state a supervisor puts an agent in."""

    model_config = {"extra": "forbid"}

    state: Literal["available", "paused", "offline"] = Field(description="available (ready), paused, offline")
    reason: str | None = Field(default=None, max_length=32, description="pause reason (default: supervisor)")


class ForcedAnswer(BaseModel):
    """What the core made of it."""

    agent_id: str
    before: str
    asked: str
    now: str


async def force_state(request: web.Request) -> web.Response:
    """Put the agent of the path in the state asked; 409 with the core's reason if it refuses."""
    person = await request.app[SESSIONS].person(request)
    agent_id = request.match_info["agent_id"]
    if agent_id not in request.app[MATRIX].agents:
        raise Problem(404, "unknown-agent", f"agent {agent_id} absent de la matrice")
    body = body_of(request, ForcedState)
    reason = None
    if body.state == "paused":
        reason = body.reason or "supervisor"
        if reason not in PAUSE_REASONS and reason != "supervisor":
            raise Problem(422, "invalid-field", f"motif de pause inconnu : {reason}",
                          [FieldError("body.reason", "motif inconnu")])
    dispatcher = request.app[http_keys.DISPATCHER]
    router = dispatcher.router
    record = router.agents.get(agent_id)
    before = record.state.value if record else AgentState.OFFLINE.value
    event = ev.AgentStatusSet(at=dispatcher.clock(), agent_id=agent_id, state=FORCED[body.state], reason=reason)
    for decision in dispatcher.submit(event):
        if isinstance(decision, ev.Rejected):
            raise Problem(409, "refused", f"refusé : {decision.reason}")
    record = router.agents.get(agent_id)
    now = record.state.value if record else AgentState.OFFLINE.value
    actor = person.username if person else "?"
    await audit(request.app[ACCOUNTS].engine, actor, "force_state", agent_id,
                {"from": before, "to": body.state, "now": now, "reason": reason}, source=source_of(request))
    return web.json_response(ForcedAnswer(agent_id=agent_id, before=before, asked=body.state, now=now).model_dump())
