"""Checks of the durable record: the invariants a crash or an outage must not break.

``Audit`` reads the event stream in order (all of it, as it grows) and
counts the violations: a missing or repeated event number, an intake entry
applied twice, a contact offered while already with an agent, an agent
offered a second contact, a contact ended twice. ``compare_history`` then
checks the SQL history row for row against what the stream held, and
``compare_pbx`` checks it against what the PBX really did to every call (the
fake Asterisk's ledger, or any record with the same fields): one outcome per
call, the same outcome, the same agent, the right wait.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

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


class PbxCall(Protocol):
    """What the PBX saw of one caller (``dispatcher.fake_asterisk.ledger.CallFate`` has these)."""

    uniqueid: str
    held_at: float | None
    answered_at: float | None
    agent_device: str | None
    ended_at: float | None

    @property
    def outcome(self) -> str: ...

    @property
    def waited(self) -> float | None: ...


SAME_OUTCOME = {"served": {"served"}, "abandoned": {"abandoned", "callback_scheduled"}}
"""History outcomes that match what the PBX saw (a callback request is a caller hanging up unserved)."""


async def compare_pbx(
    engine: AsyncEngine,
    calls: Iterable[PbxCall],
    agent_of_device: dict[str, str],
    *,
    outages: Sequence[tuple[float, float]] = (),
    tolerance: float = 1.0,
) -> dict[str, object]:
    """Differences between the PBX's account of every call that reached the queue and the SQL history.

    The history's wait is its own timestamps (answered or ended, minus
    arrived); it must match the PBX's (on hold until answered or hung up)
    within ``tolerance`` seconds, plus, when the caller came or went while the
    dispatcher was down (``outages``: (down, back) times), the rest of that
    outage: such a wait can only be known approximately. The history's end
    (so a conversation's length) must match the hang-up the same way
    (``end_off``), within the whole outage it fell in. Every count but
    ``calls`` and ``unseen`` must be 0 (``unseen``: callers who came on hold
    and hung up while the dispatcher was down: once gone, Asterisk keeps no
    trace of them that AMI could show); ``details`` names the first
    differences.
    """
    calls = list(calls)
    async with engine.connect() as conn:
        rows = {r.contact_id: r for r in await conn.execute(
            select(ContactRow.contact_id, ContactRow.channel, ContactRow.outcome, ContactRow.agent_id,
                   ContactRow.arrived_at, ContactRow.answered_at, ContactRow.ended_at)
        )}
    report: dict[str, int] = dict.fromkeys(
        ("calls", "unseen", "not_in_history", "still_open", "outcome_differs", "agent_differs", "wait_off",
         "end_off", "extra_in_history"),
        0,
    )
    details: list[str] = []
    seen: set[str] = set()
    for call in calls:
        if call.held_at is None or call.ended_at is None:
            continue  # hung up in the IVR, before the queue (or still there: the caller's business)
        report["calls"] += 1
        seen.add(call.uniqueid)
        row = rows.get(call.uniqueid)
        problem = None
        if row is None and any(a <= call.held_at and call.ended_at <= b for a, b in outages):
            report["unseen"] += 1  # came to the queue and left while the dispatcher was down: no trace of it
            problem = "came and went during an outage"
        elif row is None:
            report["not_in_history"] += 1
            problem = "not in the history"
        elif row.outcome is None:
            report["still_open"] += 1
            problem = "no outcome in the history"
        elif row.outcome not in SAME_OUTCOME[call.outcome]:
            report["outcome_differs"] += 1
            problem = f"PBX {call.outcome}, history {row.outcome}"
        elif call.outcome == "served" and row.agent_id != agent_of_device.get(call.agent_device or ""):
            report["agent_differs"] += 1
            problem = f"PBX agent {call.agent_device}, history {row.agent_id}"
        else:
            end = row.answered_at if call.outcome == "served" else row.ended_at
            pbx_wait = call.waited
            pbx_end = call.answered_at if call.outcome == "served" else call.ended_at
            if end is not None and row.arrived_at is not None and pbx_wait is not None and pbx_end is not None:
                wait = end - row.arrived_at
                slack = sum(b - max(a, t) for t in (call.held_at, pbx_end) for a, b in outages if a <= t <= b)
                if abs(wait - pbx_wait) > tolerance + slack:
                    report["wait_off"] += 1
                    problem = f"PBX waited {pbx_wait:.2f} s, history {wait:.2f} s"
            if problem is None and row.ended_at is not None:
                slack = sum(b - a for a, b in outages if a <= call.ended_at <= b)
                if abs(row.ended_at - call.ended_at) > tolerance + slack:
                    report["end_off"] += 1
                    problem = f"PBX ended at +{call.ended_at - call.held_at:.2f} s, history +{row.ended_at - call.held_at:.2f} s"
        if problem is not None and len(details) < 10:
            details.append(f"{call.uniqueid}: {problem}")
    report["extra_in_history"] = sum(1 for cid, r in rows.items() if r.channel == "phone" and cid not in seen
                                     and r.outcome is not None and cid not in _in_ivr(calls))
    return {**report, "details": details}


def _in_ivr(calls: Iterable[PbxCall]) -> set[str]:
    return {c.uniqueid for c in calls if c.held_at is None or c.ended_at is None}
