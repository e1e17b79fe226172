"""The agent's page: state and timer, softphone, the contact offered with its record, actions, tray.

Every action acts on the session's own agent (never an id from the request):
an agent can act only on themselves. Actions become input events; the core
decides; a rejection is a 409 problem saying why.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy import desc, select

from dispatcher import events as ev
from dispatcher.counter.desks import DeskError
from dispatcher.events import AgentState, Event, Outcome
from dispatcher.history.models import ContactRow
from dispatcher.http import keys as http_keys
from dispatcher.http.problems import FieldError, Problem
from dispatcher.http.route import body_of
from dispatcher.pages.i18n import _, language_of
from dispatcher.pages.keys import ACCOUNTS, DESKS, MATRIX, SESSIONS, SOFTPHONE
from dispatcher.pages.render import page
from dispatcher.people.accounts import Person
from skills.model import Catalogue

PAUSE_REASONS = {"break": _("Break"), "lunch": _("Lunch"), "back_office": _("Back office"),
                 "training": _("Training"), "meeting": _("Meeting")}
TRAY_SIZE = 20
WEEK_S = 7 * 24 * 3600.0


class AgentAction(BaseModel):
    """What the agent clicked."""

    model_config = {"extra": "forbid"}

    action: str = Field(description="ready, pause, offline, accept, done, transfer, requalify, "
                                    "counter_open, counter_answer, counter_recall, counter_no_show, counter_done")
    reason: str | None = Field(default=None, max_length=32, description="pause reason")
    process: str | None = Field(default=None, max_length=64, description="requalify: the right process")
    counter: str | None = Field(default=None, max_length=64, description="counter_open: the counter")


async def _agent(request: web.Request) -> Person:
    person = await request.app[SESSIONS].person(request)
    if person is None or person.agent_id is None:
        raise Problem(403, "no-agent", "ce compte n'est lié à aucun agent de la matrice")
    if person.agent_id not in request.app[MATRIX].agents:
        raise Problem(409, "unknown-agent", f"agent {person.agent_id} absent de la matrice")
    return person


def sheet_view(catalogue: Catalogue, ref: str | None, lang: str) -> dict[str, Any] | None:
    """The knowledge sheet ``ref`` of the catalogue in ``lang`` (else French); a bare reference if it has no text."""
    if ref is None:
        return None
    sheet = catalogue.sheets.get(ref)
    if sheet is None:
        return {"ref": ref, "title": None, "pieces": [], "steps": [], "delay": None, "link": None}
    text = sheet.text(lang)
    return {"ref": ref, "title": text.title, "pieces": list(text.pieces), "steps": list(text.steps),
            "delay": text.delay, "link": sheet.link}


def agent_view(app: web.Application, agent_id: str, now: float | None = None, lang: str = "fr") -> dict[str, Any]:
    """The agent's own state, held contact (with its process's knowledge sheet in ``lang``) and tray (JSON-ready)."""
    now = time.time() if now is None else now
    router = app[http_keys.DISPATCHER].router
    catalogue = app[http_keys.CATALOGUE]
    profile = app[MATRIX].agents[agent_id]
    record = router.agents.get(agent_id)
    state = record.state.value if record else AgentState.OFFLINE.value
    held = router.contacts.get(record.contact_id) if record and record.contact_id else None
    contact = None
    if held is not None:
        process = catalogue.processes.get(held.process)
        target = process.targets.get(held.channel) if process else None
        contact = {
            "contact_id": held.contact_id, "process": held.process, "label": process.label if process else held.process,
            "domain": process.domain if process else None, "channel": held.channel.value, "state": held.state.value,
            "waited_s": round(now - held.arrived_at, 1), "ticket": held.ticket, "caller": held.caller,
            "citizen_id": held.citizen_id, "sheet": sheet_view(catalogue, process.sheet if process else None, lang),
            "handling_time_s": target.handling_time_s if target else None,
        }
    tray = []
    for waiting in router.queue.contacts.values():
        if waiting.channel.is_live or profile.skills.get(waiting.process, 0) < 1:
            continue
        found = catalogue.processes.get(waiting.process)
        tray.append({"contact_id": waiting.contact_id, "process": waiting.process, "channel": waiting.channel.value,
                     "label": found.label if found else waiting.process,
                     "deadline_in_s": None if waiting.deadline is None else round(waiting.deadline - now),
                     "waited_s": round(now - waiting.arrived_at)})
    tray.sort(key=lambda t: (t["deadline_in_s"] is None, t["deadline_in_s"] or 0.0))
    counter = app.get(http_keys.COUNTER)
    desk = counter.desk_state(agent_id) if counter is not None else None
    return {
        "agent": {"agent_id": agent_id, "name": profile.name, "state": state, "reason": record.reason if record else None,
                  "since_s": round(now - record.since, 1) if record and state != "offline" else None,
                  "desk": profile.desk, "endpoint": profile.endpoint,
                  "softphone": app[SOFTPHONE](agent_id)},
        "contact": contact,
        "desk": desk,
        "tray": tray[:TRAY_SIZE],
        "tray_total": len(tray),
    }


async def with_history(app: web.Application, view: dict[str, Any], now: float | None = None) -> dict[str, Any]:
    """``view`` with the held contact's citizen history and how many of those contacts were this week."""
    contact = view["contact"]
    if contact is not None:
        now = time.time() if now is None else now
        history = await citizen_history(app, contact["citizen_id"], contact["contact_id"])
        contact["history"] = history
        contact["week"] = sum(1 for h in history if h["arrived_at"] and h["arrived_at"] > now - WEEK_S)
    return view


async def citizen_history(app: web.Application, citizen_id: str | None, exclude: str | None) -> list[dict[str, Any]]:
    """The citizen's previous contacts (newest first), for the agent holding one of theirs."""
    if not citizen_id:
        return []
    engine = app[ACCOUNTS].engine
    async with engine.connect() as conn:
        rows = (await conn.execute(
            select(ContactRow.contact_id, ContactRow.channel, ContactRow.process, ContactRow.arrived_at,
                   ContactRow.outcome)
            .where(ContactRow.citizen_id == citizen_id).order_by(desc(ContactRow.arrived_at)).limit(10)
        )).all()
    catalogue = app[http_keys.CATALOGUE]
    return [{"contact_id": r.contact_id, "channel": r.channel, "process": r.process, "arrived_at": r.arrived_at,
             "label": found.label if (found := catalogue.processes.get(r.process or "")) else r.process,
             "when": datetime.fromtimestamp(r.arrived_at).strftime("%d/%m/%Y %H:%M") if r.arrived_at else "–",
             "outcome": r.outcome} for r in rows if r.contact_id != exclude]


async def agent_page(request: web.Request) -> web.Response:
    """The agent's screen."""
    person = await _agent(request)
    view = await with_history(request.app, agent_view(request.app, person.agent_id or "", lang=language_of(request)))
    counter = request.app.get(http_keys.COUNTER)
    counters = sorted(name for site in counter.sites.sites.values() for name in site.counters) if counter else []
    return await page(request, "agent.html", {
        "view": view, "reasons": PAUSE_REASONS,
        "processes": sorted(request.app[http_keys.CATALOGUE].processes.values(), key=lambda p: p.label),
        "counters": counters,
    })


def _events_for(request: web.Request, agent_id: str, body: AgentAction, now: float) -> list[Event]:
    app = request.app
    router = app[http_keys.DISPATCHER].router
    record = router.agents.get(agent_id)
    held = record.contact_id if record else None
    if body.action == "ready":
        return [ev.AgentStatusSet(at=now, agent_id=agent_id, state=AgentState.AVAILABLE)]
    if body.action == "pause":
        if body.reason not in PAUSE_REASONS:
            raise Problem(422, "invalid-field", f"motif de pause inconnu : {body.reason}",
                          [FieldError("body.reason", "motif inconnu")])
        return [ev.AgentStatusSet(at=now, agent_id=agent_id, state=AgentState.PAUSED, reason=body.reason)]
    if body.action == "offline":
        return [ev.AgentStatusSet(at=now, agent_id=agent_id, state=AgentState.OFFLINE)]
    if body.action in ("accept", "done", "transfer", "requalify"):
        if held is None:
            raise Problem(409, "no-contact", "aucun contact en cours")
        if body.action == "accept":
            return [ev.OfferAnswered(at=now, contact_id=held, agent_id=agent_id)]
        if body.action == "done":
            return [ev.ContactCompleted(at=now, contact_id=held)]
        if body.action == "transfer":
            return [ev.ContactCompleted(at=now, contact_id=held, outcome=Outcome.TRANSFERRED)]
        if body.process not in app[http_keys.CATALOGUE].processes:
            raise Problem(422, "invalid-field", f"démarche inconnue : {body.process}",
                          [FieldError("body.process", "démarche inconnue")])
        return [ev.ContactQualified(at=now, contact_id=held, process=body.process or "")]
    raise Problem(422, "invalid-field", f"action inconnue : {body.action}", [FieldError("body.action", "action inconnue")])


def _counter_action(request: web.Request, agent_id: str, body: AgentAction, now: float) -> None:
    counter = http_keys.counter_of(request)
    desks = counter.desks
    try:
        if body.action == "counter_open":
            counter.act(desks.open(agent_id, body.counter or "", now))
        elif body.action == "counter_answer":
            counter.act(desks.answer(agent_id, now))
        elif body.action == "counter_recall":
            counter.announce(desks.recall(agent_id, now))
        elif body.action == "counter_no_show":
            counter.act(desks.no_show(agent_id, now))
        elif body.action == "counter_done":
            counter.act(desks.done(agent_id, now))
        else:
            raise Problem(422, "invalid-field", f"action inconnue : {body.action}",
                          [FieldError("body.action", "action inconnue")])
    except DeskError as exc:
        raise Problem(409, "desk-refused", str(exc)) from None


async def agent_action(request: web.Request) -> web.Response:
    """One click of the agent, on themselves; the new view, or a 409 saying why the core refused."""
    person = await _agent(request)
    agent_id = person.agent_id or ""
    body = body_of(request, AgentAction)
    dispatcher = request.app[http_keys.DISPATCHER]
    now = dispatcher.clock()
    if body.action.startswith("counter_"):
        _counter_action(request, agent_id, body, now)
    else:
        for event in _events_for(request, agent_id, body, now):
            for decision in dispatcher.submit(event):
                if isinstance(decision, ev.Rejected):
                    raise Problem(409, "refused", f"refusé : {decision.reason}")
    return web.json_response(await with_history(request.app, agent_view(request.app, agent_id, lang=language_of(request))))


async def agent_events(request: web.Request) -> web.StreamResponse:
    """SSE: the agent's view each time it changes."""
    person = await _agent(request)
    agent_id = person.agent_id or ""
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"})
    await response.prepare(request)
    ticks = request.app[DESKS].subscribe()
    lang = language_of(request)
    last = None
    history: tuple[str | None, list[dict[str, Any]], int] = (None, [], 0)
    try:
        while not ticks.closed:
            tick = await ticks.next(15.0)
            view = agent_view(request.app, agent_id, lang=lang)
            contact = view["contact"]
            if contact is not None:
                if history[0] != contact["contact_id"]:  # the history is read once per contact, not per tick
                    await with_history(request.app, view)
                    history = (contact["contact_id"], contact["history"], contact["week"])
                contact["history"], contact["week"] = history[1], history[2]
            changed = {k: v for k, v in view.items() if k != "agent"} | {"agent": {**view["agent"], "since_s": None}}
            if changed == last and tick is None:
                await response.write(b": heartbeat\n\n")
                continue
            if changed != last:
                last = changed
                data = json.dumps(view, ensure_ascii=False, separators=(",", ":"))
                await response.write(f"event: snapshot\ndata: {data}\n\n".encode())
    except ConnectionResetError:
        pass
    finally:
        request.app[DESKS].unsubscribe(ticks)
    return response
