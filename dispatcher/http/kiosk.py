"""Kiosks: the menu of processes and priority classes, and tickets (HTTP, and WebSocket)."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from aiohttp import WSCloseCode, WSMsgType, web
from pydantic import BaseModel, Field, ValidationError

from dispatcher.counter import printout
from dispatcher.counter.service import CounterService, IssueRefused, Ticket
from dispatcher.counter.tickets import SeriesFull
from dispatcher.http.keys import counter_of
from dispatcher.http.problems import FieldError, Problem, from_validation, log_error
from dispatcher.http.route import body_of, principal_of
from dispatcher.store.live import OUTAGE_ERRORS


class TicketRequest(BaseModel):
    """A visitor's choice at the kiosk."""

    model_config = {"extra": "forbid"}

    process: str = Field(min_length=1, max_length=64, description="Code of the process (démarche)")
    priority_class: str | None = Field(default=None, max_length=64, description="disability, pregnancy...")
    paper: Literal[58, 80] = Field(default=80, description="Printer paper width (mm)")
    lang: Literal["fr", "en"] = "fr"


class TicketAnswer(BaseModel):
    """The ticket: its number, process, position and estimated wait, ready to print."""

    ticket: str
    contact_id: str
    site: str
    day: str
    process: str
    process_label: str
    priority_class: str | None
    position: int
    estimated_wait_s: float
    estimated_wait_text: str
    issued_at: float
    print_text: str
    print_escpos_base64: str


class Menu(BaseModel):
    """The kiosk's menu: domains with their processes, and priority classes."""

    site: str
    site_label: str
    lang: str
    domains: list[dict[str, Any]]
    priority_classes: list[dict[str, Any]]


def wait_text(seconds: float, lang: str = "fr") -> str:
    if seconds == float("inf"):
        return "aucun agent disponible pour le moment" if lang == "fr" else "no agent available now"
    minutes = round(seconds / 60)
    if minutes < 1:
        return "moins d'une minute" if lang == "fr" else "under a minute"
    return f"environ {minutes} min" if lang == "fr" else f"about {minutes} min"


def _answer(counter: CounterService, ticket: Ticket, paper: Literal[58, 80], lang: str) -> TicketAnswer:
    site = counter.sites.sites[ticket.site]
    issued = datetime.fromtimestamp(ticket.issued_at, ZoneInfo(counter.sites.timezone))
    text = wait_text(ticket.estimated_wait_s, lang)
    printed = printout.TicketPrint(
        ticket.ticket, site.label, ticket.process_label, ticket.position, text, f"{issued:%d/%m/%Y %H:%M}"
    )
    wait = ticket.estimated_wait_s
    return TicketAnswer(
        ticket=ticket.ticket,
        contact_id=ticket.contact_id,
        site=ticket.site,
        day=ticket.day.isoformat(),
        process=ticket.process,
        process_label=ticket.process_label,
        priority_class=ticket.priority_class,
        position=ticket.position,
        estimated_wait_s=-1.0 if wait == float("inf") else round(wait, 1),
        estimated_wait_text=text,
        issued_at=ticket.issued_at,
        print_text=printout.text(printed, paper),
        print_escpos_base64=base64.b64encode(printout.escpos(printed, paper)).decode("ascii"),
    )


async def _issue(counter: CounterService, site: str, body: TicketRequest) -> TicketAnswer:
    try:
        ticket = await counter.issue(site, body.process, body.priority_class)
    except IssueRefused as exc:
        raise Problem(exc.status, "refused-ticket", exc.reason, [FieldError(exc.field, exc.reason)]) from None
    except SeriesFull as exc:
        raise Problem(409, "series-full", str(exc)) from None
    except OUTAGE_ERRORS:
        raise Problem(503, "store-unavailable", "les tickets sont indisponibles un instant, réessayer") from None
    return _answer(counter, ticket, body.paper, body.lang)


def _site(request: web.Request) -> str:
    site = principal_of(request).site
    if site is None:
        raise Problem(403, "no-site", "cet appareil n'a pas de site")
    return site


async def kiosk_menu(request: web.Request) -> web.Response:
    """The menu of the kiosk's site, in French (``?lang=en`` for English)."""
    lang = request.query.get("lang", "fr")
    if lang not in ("fr", "en"):
        raise Problem(422, "invalid-field", "langue : fr ou en", [FieldError("query.lang", "fr ou en")])
    return web.json_response(counter_of(request).menu(_site(request), lang))


async def issue_ticket(request: web.Request) -> web.Response:
    """Issue a ticket at the kiosk's site."""
    answer = await _issue(counter_of(request), _site(request), body_of(request, TicketRequest))
    return web.json_response(answer.model_dump(), status=201)


async def kiosk_socket(request: web.Request) -> web.WebSocketResponse:
    """A kiosk that keeps a connection: ``{"type": "menu"}`` and ``{"type": "issue", ...}`` frames."""
    counter = counter_of(request)
    site = _site(request)
    ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=16 * 1024)
    await ws.prepare(request)
    async for msg in ws:
        if msg.type is not WSMsgType.TEXT:
            await ws.close(code=WSCloseCode.UNSUPPORTED_DATA, message=b"text JSON frames only")
            break
        try:
            frame = json.loads(msg.data)
        except json.JSONDecodeError as exc:
            await ws.close(code=WSCloseCode.INVALID_TEXT, message=f"malformed JSON: {exc.msg}".encode()[:120])
            break
        if not isinstance(frame, dict) or frame.get("type") not in ("menu", "issue"):
            await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b'expected {"type": "menu" | "issue"}')
            break
        ref = frame.pop("id", None)
        kind = frame.pop("type")
        try:
            if kind == "menu":
                lang = frame.get("lang", "fr")
                reply: dict[str, Any] = {"type": "menu", **counter.menu(site, lang if lang in ("fr", "en") else "fr")}
            else:
                answer = await _issue(counter, site, TicketRequest.model_validate(frame))
                reply = {"type": "ticket", **answer.model_dump()}
        except ValidationError as exc:
            reply = {"type": "problem", "problem": from_validation(exc).document()}
        except Problem as problem:
            reply = {"type": "problem", "problem": problem.document()}
        except Exception as exc:  # noqa: BLE001 - logged with an id; the kiosk gets the id, never a traceback
            error_id = log_error(request, exc)
            reply = {"type": "problem", "problem": Problem(500, "internal-error", f"erreur interne, identifiant {error_id}").document()}
        if ref is not None:
            reply["id"] = ref
        await ws.send_json(reply)
    return ws
