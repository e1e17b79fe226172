"""The counter channel at run time: kiosks issue tickets, displays follow calls, desks act.

``CounterService`` is the adapter between the HTTP handlers and the
dispatcher: it issues tickets through the Redis series (``tickets.py``),
waits until the dispatcher applied the ticket's contact to answer with its
position and estimated wait, turns desk actions into input events
(``desks.py``), and fans every call of a site out to its displays' queues,
whatever made the call (a desk, the API, the demo).
"""

from __future__ import annotations

import asyncio
import heapq
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from dispatcher import events as ev
from dispatcher.counter import ewt
from dispatcher.counter.board import Board, Call
from dispatcher.counter.desks import DeskError, Desks
from dispatcher.counter.sites import Sites
from dispatcher.counter.tickets import Issued, TicketSeries, local_day
from dispatcher.events import Event
from dispatcher.service import Dispatcher
from dispatcher.store.intake import IntakeReader
from skills.model import Catalogue, Channel, SkillMatrix

log = logging.getLogger(__name__)

APPLY_TIMEOUT_S = 5.0
SHOWN_WAITS = 20
"""Waiting tickets whose estimated wait a display's state gives."""
DISPLAY_QUEUE = 256
"""Frames a display may lag behind before it is dropped as too slow."""


class IssueRefused(Exception):
    """A ticket cannot be issued: ``field`` and ``reason`` say why."""

    def __init__(self, status: int, field: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.field = field
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Ticket:
    """An issued ticket, as the kiosk shows and prints it."""

    ticket: str
    contact_id: str
    site: str
    day: date
    process: str
    process_label: str
    priority_class: str | None
    position: int
    estimated_wait_s: float
    issued_at: float


class DisplayFeed:
    """One connected display: a bounded queue of frames; ``dropped`` when it lagged too far.

    A frame is ``(type, JSON text)``: a call is encoded once for all the
    displays of its site, not once per display.
    """

    def __init__(self, site: str) -> None:
        self.site = site
        self.queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue(DISPLAY_QUEUE)
        self.dropped = False

    def push(self, kind: str, text: str) -> bool:
        """Queue a frame; False once the display lagged too far (it is dropped)."""
        if self.dropped:
            return False
        try:
            self.queue.put_nowait((kind, text))
        except asyncio.QueueFull:
            self.dropped = True
        return not self.dropped


class CounterService:
    """Tickets, desks and display calls of every site, over one dispatcher."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        catalogue: Catalogue,
        matrix: SkillMatrix,
        sites: Sites,
        series: TicketSeries,
        clock: Callable[[], float] = time.time,
        intake: IntakeReader | None = None,
    ) -> None:
        self.dispatcher = dispatcher
        self.catalogue = catalogue
        self.sites = sites
        self.series = series
        self.clock = clock
        self.intake = intake
        """The dispatcher's intake reader: a ticket with nothing ahead of it is applied at once."""
        self.desks = Desks(sites, matrix)
        self.recent = ewt.Recent()
        """Recent handling times and arrival rates: the estimated wait's inputs (the IVR may use it too)."""
        self.boards: dict[str, Board] = {code: Board() for code in sites.sites}
        self.feeds: dict[str, set[DisplayFeed]] = {code: set() for code in sites.sites}
        self._applied: dict[str, asyncio.Future[None]] = {}
        self.issued = 0
        self.announced = 0
        """Calls shown on the displays since the start (whatever made them)."""
        dispatcher.add_sink(self.sink)

    # ------------------------------------------------------------ sink

    def sink(self, batch: Sequence[Event]) -> None:
        """Follow every input and decision: applied tickets, desk states, calls, handling times."""
        self.recent.sink(batch)
        first = batch[0]
        if isinstance(first, ev.ContactArrived):
            waiter = self._applied.pop(first.contact_id, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
        for call in self.desks.observe(batch, self._ticket_of):
            self.announce(call)

    def _ticket_of(self, contact_id: str) -> str | None:
        contact = self.dispatcher.router.contacts.get(contact_id)
        return contact.ticket if contact is not None else None

    def announce(self, call: Call) -> None:
        """Show a call on every display of its site."""
        board = self.boards.get(call.site)
        if board is None:
            return
        board.add(call)
        text = json.dumps({"type": "call", "call": call.as_dict(), "calls": board.state()}, ensure_ascii=False)
        feeds = self.feeds[call.site]
        for feed in list(feeds):
            if not feed.push("call", text):
                feeds.discard(feed)  # too slow: no more frames; its stream closes with the reason
        self.announced += 1

    # ---------------------------------------------------------- kiosks

    def menu(self, site: str, lang: str = "fr") -> dict[str, Any]:
        """The domains and processes offered at the counter, and the priority classes."""
        domains: dict[str, dict[str, Any]] = {}
        for process in self.catalogue.processes.values():
            if Channel.COUNTER not in process.targets or process.code == self.catalogue.triage:
                continue
            domain = self.catalogue.domains.get(process.domain)
            entry = domains.setdefault(
                process.domain,
                {
                    "code": process.domain,
                    "label": domain.label if domain else process.domain,
                    "letter": self.sites.letters.get(process.domain),
                    "processes": [],
                },
            )
            entry["processes"].append({"code": process.code, "label": process.label})
        classes = [
            {"code": c.code, "label": c.label_en if lang == "en" else c.label, "advance_s": c.advance_s}
            for c in self.sites.priority_classes.values()
        ]
        return {
            "site": site,
            "site_label": self.sites.sites[site].label,
            "lang": lang,
            "domains": list(domains.values()),
            "priority_classes": classes,
        }

    async def issue(self, site: str, process: str, priority_class: str | None = None) -> Ticket:
        """Take a ticket: the series and the intake in one Redis step, then the core's answer."""
        found = self.catalogue.processes.get(process)
        if found is None or Channel.COUNTER not in found.targets:
            raise IssueRefused(422, "body.process", f"démarche inconnue au guichet : {process!r}")
        letter = self.sites.letters.get(found.domain)
        if letter is None:
            raise IssueRefused(422, "body.process", f"le domaine {found.domain} n'a pas de lettre de ticket")
        now = self.clock()
        arrival: float | None = None
        if priority_class is not None:
            klass = self.sites.priority_classes.get(priority_class)
            if klass is None:
                raise IssueRefused(422, "body.priority_class", f"classe de priorité inconnue : {priority_class!r}")
            arrival = klass.arrival(now)
        issued = await self.series.issue(site, letter, process, now, arrival)
        await self._decided(issued)
        self.issued += 1
        router = self.dispatcher.router
        position = router.position(issued.contact_id) or 0
        wait = ewt.contact_wait(router, issued.contact_id, self.clock(), self.recent) or 0.0
        return Ticket(
            ticket=issued.ticket,
            contact_id=issued.contact_id,
            site=site,
            day=issued.day,
            process=process,
            process_label=found.label,
            priority_class=priority_class,
            position=position,
            estimated_wait_s=wait,
            issued_at=now,
        )

    async def _decided(self, issued: Issued) -> None:
        """Until the dispatcher applied the ticket's contact: at once when nothing is ahead of it in
        the intake, else when the intake's reader gets to it."""
        router = self.dispatcher.router
        if issued.contact_id in router.contacts or issued.contact_id in router.ended:
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._applied[issued.contact_id] = waiter
        if self.intake is not None and self.intake.take(issued.intake_id, issued.previous_id, issued.line):
            self._applied.pop(issued.contact_id, None)
            return
        try:
            async with asyncio.timeout(APPLY_TIMEOUT_S):
                await waiter
        except TimeoutError:
            self._applied.pop(issued.contact_id, None)
            log.warning("ticket %s issued but not applied within %.0f s", issued.ticket, APPLY_TIMEOUT_S)

    def estimate(self, contact_id: str) -> float | None:
        """The estimated wait of a contact of any channel (the IVR announces it to a caller):
        0 once offered, None if the core does not know it."""
        router = self.dispatcher.router
        if contact_id not in router.contacts:
            return None
        return ewt.arrival_wait(router, contact_id, self.clock(), self.recent)

    def today(self, site: str) -> date:
        return local_day(self.clock(), self.sites.timezone)

    # ---------------------------------------------------------- displays

    def subscribe(self, site: str) -> DisplayFeed:
        """A display of ``site`` connects: its feed starts with the current state."""
        feed = DisplayFeed(site)
        feed.push("state", json.dumps(self.state_frame(site), ensure_ascii=False))
        self.feeds[site].add(feed)
        return feed

    @property
    def connected(self) -> int:
        """Displays connected now."""
        return sum(len(feeds) for feeds in self.feeds.values())

    def unsubscribe(self, feed: DisplayFeed) -> None:
        self.feeds[feed.site].discard(feed)

    def state_frame(self, site: str) -> dict[str, Any]:
        """The site's last calls, and its waiting tickets with their estimated waits (first 20)."""
        router = self.dispatcher.router
        now = self.clock()
        mine = [c for c in router.queue.contacts.values() if c.channel is Channel.COUNTER and c.site == site]
        waits = []
        for contact in heapq.nsmallest(SHOWN_WAITS, mine, key=lambda c: (-c.rank, c.arrived_at, c.seq)):
            wait = ewt.contact_wait(router, contact.contact_id, now, self.recent)
            shown = -1.0 if wait is None or wait == ewt.UNSTAFFED else round(wait, 1)
            waits.append({"ticket": contact.ticket, "estimated_wait_s": shown})
        return {"type": "state", "site": site, "calls": self.boards[site].state(), "waiting": len(mine), "waits": waits}

    def close_feeds(self) -> None:
        """Server stopping: every display's stream ends."""
        for feeds in self.feeds.values():
            for feed in feeds:
                feed.dropped = True
                try:
                    feed.queue.put_nowait(("bye", ""))
                except asyncio.QueueFull:
                    pass
            feeds.clear()

    # ------------------------------------------------------------- desks

    def act(self, events: list[Event]) -> list[Event]:
        """Submit a desk's input events; a rejection by the core is a DeskError."""
        decisions: list[Event] = []
        for event in events:
            answer = self.dispatcher.submit(event)
            for decision in answer:
                if isinstance(decision, ev.Rejected):
                    raise DeskError(decision.reason)
            decisions.extend(answer)
        return decisions

    @property
    def no_shows_key(self) -> str:
        """Redis set of the visitors already sent back once after a no-show (so a restart keeps the rule)."""
        return f"{self.series.prefix}:counter:no_shows"

    async def restore(self) -> None:
        """At start: the visitors already sent back once."""
        found = await self.series.redis.smembers(self.no_shows_key)  # type: ignore[misc]
        self.desks.no_shows |= {m.decode() if isinstance(m, bytes) else str(m) for m in found}

    async def no_show(self, agent_id: str) -> None:
        """The called visitor did not come: back once (remembered in Redis first), then a no-show."""
        called = self.desks.called.get(agent_id)
        events = self.desks.no_show(agent_id, self.clock())
        if called is not None and isinstance(events[0], ev.ContactQualified):
            await self.series.redis.sadd(self.no_shows_key, called.contact_id)  # type: ignore[misc]
            await self.series.redis.expire(self.no_shows_key, 2 * 86400)
        self.act(events)

    def desk_state(self, agent_id: str) -> dict[str, Any]:
        """What the agent's desk shows: state, counter, offered and called visitor."""
        router = self.dispatcher.router
        agent = router.agents.get(agent_id)
        seat = self.desks.seat(agent_id)
        offered = self.desks.offered.get(agent_id)
        called = self.desks.called.get(agent_id)
        return {
            "agent_id": agent_id,
            "state": agent.state.value if agent else "offline",
            "reason": agent.reason if agent else None,
            "site": seat.site if seat else None,
            "counter": seat.counter if seat else None,
            "offered": None if offered is None else {"contact_id": offered[0], "ticket": self._ticket_of(offered[0]), "process": offered[1]},
            "called": None
            if called is None
            else {"contact_id": called.contact_id, "ticket": called.ticket, "process": called.process, "recalls": called.recalls, "called_at": called.first_at},
        }
