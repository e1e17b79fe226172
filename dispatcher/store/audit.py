"""Checks of the durable record: the invariants a crash or an outage must not break.

``Audit`` reads the event stream in order (all of it, as it grows) and
counts the violations: a missing or repeated event number, an intake entry
applied twice, a contact offered while already with an agent, an agent
offered a second contact, a contact ended twice. ``compare_history`` then
checks the SQL history row for row against what the stream held.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from dispatcher import events as ev
from dispatcher.history.models import ContactEventRow, ContactRow
from dispatcher.store.keys import Keys, read_new, seq_of


@dataclass
class Audit:
    """Running invariants over the event stream, read in order."""

    last_seq: int = 0
    gaps: int = 0
    repeats: int = 0
    sources: set[str] = field(default_factory=set)
    double_applied: int = 0
    double_offers: int = 0
    busy_agent_offers: int = 0
    double_ends: int = 0
    queued: set[str] = field(default_factory=set)
    outcomes: dict[str, str] = field(default_factory=dict)
    with_agent: dict[str, str] = field(default_factory=dict)
    holding: dict[str, str] = field(default_factory=dict)
    rejected_arrivals: int = 0

    def add(self, seq: int, event: ev.Event, source: str | None) -> None:
        """Check one event (its number in the stream, its intake id if it is an input from intake)."""
        if seq <= self.last_seq:
            self.repeats += 1
            return
        self.gaps += seq - self.last_seq - 1
        self.last_seq = seq
        if source is not None:
            if source in self.sources:
                self.double_applied += 1
            self.sources.add(source)
        if isinstance(event, ev.ContactQueued):
            self.queued.add(event.contact_id)
        elif isinstance(event, ev.ContactOffered):
            if event.contact_id in self.with_agent:
                self.double_offers += 1
            if event.agent_id in self.holding:
                self.busy_agent_offers += 1
            self.with_agent[event.contact_id] = event.agent_id
            self.holding[event.agent_id] = event.contact_id
        elif isinstance(event, (ev.ContactRequeued, ev.ContactEnded)):
            agent = self.with_agent.pop(event.contact_id, None)
            if agent is not None and self.holding.get(agent) == event.contact_id:
                del self.holding[agent]
            if isinstance(event, ev.ContactEnded):
                if event.contact_id in self.outcomes:
                    self.double_ends += 1
                self.outcomes[event.contact_id] = event.outcome.value
        elif isinstance(event, ev.Rejected) and event.input_kind == ev.KIND_OF[ev.ContactArrived]:
            self.rejected_arrivals += 1

    async def read(self, redis: Redis, keys: Keys, count: int = 5_000) -> list[ev.Event]:
        """Check the entries added since the last read; returns their events."""
        out = []
        for entry_id, fields in await read_new(redis, keys.events, f"{self.last_seq}-0", count):
            event = ev.loads(fields[b"ev"])
            source = fields.get(b"src")
            self.add(seq_of(entry_id), event, source.decode() if source else None)
            out.append(event)
        return out

    @property
    def open_contacts(self) -> set[str]:
        """Contacts queued that have no outcome yet."""
        return self.queued - set(self.outcomes)

    def violations(self) -> dict[str, int]:
        """Every counter that must stay 0."""
        return {
            "gaps": self.gaps,
            "repeats": self.repeats,
            "double_applied": self.double_applied,
            "double_offers": self.double_offers,
            "busy_agent_offers": self.busy_agent_offers,
            "double_ends": self.double_ends,
            "rejected_arrivals": self.rejected_arrivals,
        }


async def compare_history(engine: AsyncEngine, audit: Audit) -> dict[str, int]:
    """Rows missing from or extra in SQL compared with the stream the audit read."""
    async with engine.connect() as conn:
        seqs = list(await conn.scalars(select(ContactEventRow.seq)))
        contacts = {cid: outcome for cid, outcome in await conn.execute(select(ContactRow.contact_id, ContactRow.outcome))}
    expected = set(range(1, audit.last_seq + 1))
    have = set(seqs)
    return {
        "events_missing": len(expected - have),
        "events_extra": len(have - expected) + (len(seqs) - len(have)),
        "contacts_missing": len(audit.queued - set(contacts)),
        "contacts_extra": len(set(contacts) - audit.queued),
        "outcomes_differ": sum(1 for c, o in audit.outcomes.items() if contacts.get(c) != o),
    }
