"""Counter desks as a pure state machine: who sits at which counter, whom they called, recalls.

Actions of counter agents become core input events (the core decides whom
they serve: push, not pull); the events the core answers with are observed to
know each desk's offered and called visitor and to make the waiting room's
calls. No clock, no I/O: times are passed in.

- open a counter: the agent serves the counter's channels (counter, and phone
  at a mixed desk) with their skills, and is ready;
- answer: the agent acknowledges the offered visitor, who is called on the
  displays (an offer not acknowledged within the rules' delay pauses the agent
  ``no_answer``: the core's offer timer, as a phone ring-no-answer);
- recall; absent after K recalls over T seconds: the visitor goes back to the
  queue once with the arrival kept, the next time ends as a recorded no-show;
- re-qualify (waited time kept), done (then wrap-up), close.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from dispatcher import events as ev
from dispatcher.counter.board import Call
from dispatcher.counter.sites import Sites
from dispatcher.events import AgentState, Event, Outcome
from skills.model import Channel, SkillMatrix


class DeskError(Exception):
    """The action does not apply now; the message says why (in French, for the agent)."""


@dataclass
class Called:
    """The visitor a desk called, and how often."""

    contact_id: str
    process: str
    ticket: str
    first_at: float
    recalls: int = 0


@dataclass(frozen=True, slots=True)
class Seat:
    site: str
    counter: str


class Desks:
    """Every counter desk of the town."""

    def __init__(self, sites: Sites, matrix: SkillMatrix) -> None:
        self.sites = sites
        self.matrix = matrix
        self.seats: dict[str, Seat] = {}
        self.offered: dict[str, tuple[str, str]] = {}
        """agent -> (contact, process) offered and not yet acknowledged."""
        self.called: dict[str, Called] = {}
        self.no_shows: set[str] = set()

    # ----------------------------------------------------------- actions

    def seat(self, agent_id: str) -> Seat | None:
        """Where the agent sits: the counter opened, else the matrix's desk if it is a counter."""
        found = self.seats.get(agent_id)
        if found is not None:
            return found
        profile = self.matrix.agents.get(agent_id)
        if profile is not None and profile.desk:
            site = self.sites.counter_site(profile.desk)
            if site is not None:
                return Seat(site.code, profile.desk)
        return None

    def open(self, agent_id: str, counter: str, at: float) -> list[Event]:
        profile = self.matrix.agents.get(agent_id)
        if profile is None:
            raise DeskError(f"agent inconnu : {agent_id}")
        site = self.sites.counter_site(counter)
        if site is None:
            raise DeskError(f"guichet inconnu : {counter}")
        for other, seat in self.seats.items():
            if seat.counter == counter and other != agent_id:
                raise DeskError(f"{counter} est déjà ouvert par {other}")
        self.seats[agent_id] = Seat(site.code, counter)
        channels = tuple(sorted(site.counters[counter], key=lambda c: c.value))
        return [
            ev.AgentProfileChanged(
                at=at, agent_id=agent_id, skills=dict(profile.skills), channels=channels, site=site.code
            ),
            ev.AgentStatusSet(at=at, agent_id=agent_id, state=AgentState.AVAILABLE),
        ]

    def close(self, agent_id: str, at: float) -> list[Event]:
        if self.seats.pop(agent_id, None) is None:
            raise DeskError("aucun guichet ouvert")
        return [ev.AgentStatusSet(at=at, agent_id=agent_id, state=AgentState.OFFLINE, reason="counter_closed")]

    def ready(self, agent_id: str, at: float) -> list[Event]:
        """"Call next": only says the agent is ready; the core pushes its choice."""
        return [ev.AgentStatusSet(at=at, agent_id=agent_id, state=AgentState.AVAILABLE)]

    def answer(self, agent_id: str, at: float) -> list[Event]:
        offered = self.offered.get(agent_id)
        if offered is None:
            raise DeskError("aucun visiteur proposé")
        return [ev.OfferAnswered(at=at, contact_id=offered[0], agent_id=agent_id)]

    def _called(self, agent_id: str) -> Called:
        called = self.called.get(agent_id)
        if called is None:
            raise DeskError("aucun visiteur appelé")
        return called

    def recall(self, agent_id: str, at: float) -> Call:
        called = self._called(agent_id)
        seat = self.seat(agent_id)
        called.recalls += 1
        return Call(seat.site if seat else "", called.ticket, seat.counter if seat else "", at, called.recalls)

    def no_show(self, agent_id: str, at: float) -> list[Event]:
        """The called visitor did not come: back once with the arrival kept, then a no-show."""
        called = self._called(agent_id)
        rules = self.sites.rules
        if called.recalls < rules.recalls:
            raise DeskError(f"rappeler d'abord le visiteur ({called.recalls}/{rules.recalls} rappels)")
        if at - called.first_at < rules.no_show_after_s:
            left = rules.no_show_after_s - (at - called.first_at)
            raise DeskError(f"attendre encore {left:.0f} s avant de déclarer le visiteur absent")
        if called.contact_id in self.no_shows:
            return [ev.ContactCompleted(at=at, contact_id=called.contact_id, outcome=Outcome.ABANDONED)]
        self.no_shows.add(called.contact_id)
        return [ev.ContactQualified(at=at, contact_id=called.contact_id, process=called.process)]

    def done(self, agent_id: str, at: float) -> list[Event]:
        called = self._called(agent_id)
        return [ev.ContactCompleted(at=at, contact_id=called.contact_id, outcome=Outcome.SERVED)]

    def requalify(self, agent_id: str, process: str, at: float) -> list[Event]:
        called = self._called(agent_id)
        return [ev.ContactQualified(at=at, contact_id=called.contact_id, process=process)]

    def transfer(self, agent_id: str, to_agent_id: str, at: float) -> list[Event]:
        """Hand the called (else the offered) visitor to a named agent: offered to them first."""
        called = self.called.get(agent_id)
        offered = self.offered.get(agent_id)
        contact = called.contact_id if called is not None else offered[0] if offered is not None else None
        if contact is None:
            raise DeskError("aucun visiteur à transférer")
        return [ev.ContactTransferred(at=at, contact_id=contact, agent_id=agent_id, to_agent_id=to_agent_id)]

    # --------------------------------------------------------- the core's answers

    def observe(self, batch: Sequence[Event], ticket_of: Callable[[str], str | None]) -> list[Call]:
        """Follow the core's decisions; returns the calls to show (an acknowledged counter offer)."""
        calls: list[Call] = []
        for e in batch:
            if isinstance(e, ev.ContactOffered):
                self._forget(e.contact_id)  # a transfer: the previous agent no longer holds it
                if e.channel is Channel.COUNTER:
                    self.offered[e.agent_id] = (e.contact_id, e.process)
            elif isinstance(e, ev.OfferAnswered):
                offered = self.offered.get(e.agent_id)
                if offered is not None and offered[0] == e.contact_id:
                    del self.offered[e.agent_id]
                    ticket = ticket_of(e.contact_id) or e.contact_id
                    self.called[e.agent_id] = Called(e.contact_id, offered[1], ticket, e.at)
                    seat = self.seat(e.agent_id)
                    if seat is not None:
                        calls.append(Call(seat.site, ticket, seat.counter, e.at))
            elif isinstance(e, ev.ContactRequeued | ev.ContactEnded):
                self._forget(e.contact_id)
        return calls

    def _forget(self, contact_id: str) -> None:
        for agent, offered in list(self.offered.items()):
            if offered[0] == contact_id:
                del self.offered[agent]
        for agent, called in list(self.called.items()):
            if called.contact_id == contact_id:
                del self.called[agent]
