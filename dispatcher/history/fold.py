"""Events to history rows: one pass over a run of numbered events.

Used by the SQL writer (rows to upsert) and by the live statistics (the same
contact records, kept in memory). Columns of a contact are either *first
wins* (arrived, offered, answered, ended: the first time it happened) or
*last wins* (process, channel, priority: the latest queueing, guarded by the
event number), so applying a run twice, as after a writer crash, changes
nothing. ``waited`` is the wait until answered for an answered contact
(``answered_at - arrived_at``), the whole time in the queue otherwise (an
abandoned caller's wait, ``wait_approximate`` when it is an estimate); the SQL writer settles it again from the stored
times when the answer and the arrival fall in different runs. ``ended_at`` is when the contact really ended (a
caller gone during an outage: the PBX's record of it, else the best estimate, ``end_approximate``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from dispatcher import events as ev
from dispatcher.events import AgentState, Event

PERSONAL_FIELDS = ("caller", "number", "citizen_id")
"""Left out of the event trace: kept only in the citizens and callbacks tables (purged)."""

FIRST_WINS = (
    "ticket", "citizen_id", "agent_id", "arrived_at", "queued_at", "qualified_at",
    "offered_at", "answered_at", "ended_at", "deadline", "outcome", "waited", "wait_approximate",
    "end_approximate",
)
LAST_WINS = ("channel", "process", "priority")
CONTACT_COLUMNS = ("contact_id", *FIRST_WINS, *LAST_WINS, "updated_seq")


def trace_payload(event: Event) -> str:
    """The event as JSON without personal data."""
    record = ev.to_record(event)
    for name in PERSONAL_FIELDS:
        record.pop(name, None)
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


@dataclass
class Fold:
    """Rows for one run of events (``add`` them in stream order)."""

    callback_deadline_s: float = 48 * 3600.0
    triage: str = "triage"
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    agent_states: list[dict[str, Any]] = field(default_factory=list)
    callbacks: list[dict[str, Any]] = field(default_factory=list)
    citizens: dict[str, dict[str, Any]] = field(default_factory=dict)
    last_seq: int = 0
    _callback: dict[str, Any] | None = None

    def _contact(self, contact_id: str) -> dict[str, Any]:
        row = self.contacts.get(contact_id)
        if row is None:
            row = self.contacts[contact_id] = dict.fromkeys(CONTACT_COLUMNS)
            row["contact_id"] = contact_id
            row["updated_seq"] = 0
        return row

    def _first(self, contact_id: str, **values: Any) -> None:
        row = self._contact(contact_id)
        for name, value in values.items():
            if row[name] is None:
                row[name] = value

    def add(self, seq: int, event: Event) -> None:
        """Fold one event with its number in the stream.

        An input the core rejected has its ``Rejected`` decision in its batch (the
        decisions up to the next input): a rejected callback request makes no row.
        """
        self.last_seq = seq
        if event.is_input:
            self.finish()
        elif isinstance(event, ev.Rejected) and event.input_kind == ev.KIND_OF[ev.CallbackRequested]:
            self._callback = None
        contact_id = getattr(event, "contact_id", None)
        self.events.append(
            {
                "seq": seq,
                "at": event.at,
                "kind": event.kind,
                "contact_id": contact_id,
                "agent_id": getattr(event, "agent_id", None),
                "payload": trace_payload(event),
            }
        )
        if isinstance(event, ev.ContactQueued):
            row = self._contact(event.contact_id)
            self._first(event.contact_id, arrived_at=event.arrived_at, queued_at=event.at)
            if event.channel.value == "callback":
                self._first(event.contact_id, deadline=event.at + self.callback_deadline_s)
            if event.process != self.triage:
                self._first(event.contact_id, qualified_at=event.at)
            if seq > row["updated_seq"]:
                row.update(channel=event.channel.value, process=event.process, priority=event.priority)
                row["updated_seq"] = seq
        elif isinstance(event, ev.ContactRequalified):
            row = self._contact(event.contact_id)
            self._first(event.contact_id, qualified_at=event.at)
            if seq > row["updated_seq"]:
                row.update(process=event.process)
                row["updated_seq"] = seq
        elif isinstance(event, ev.ContactArrived):
            self._first(
                event.contact_id, ticket=event.ticket, citizen_id=event.citizen_id, deadline=event.deadline
            )
            if event.citizen_id is not None:
                self._citizen(event.citizen_id, event.caller, event.at)
        elif isinstance(event, ev.ContactOffered):
            self._first(event.contact_id, offered_at=event.at)
        elif isinstance(event, ev.ContactEnded):
            row = self._contact(event.contact_id)
            self._first(
                event.contact_id, ended_at=event.at if event.ended_at is None else event.ended_at,
                outcome=event.outcome.value, agent_id=event.agent_id,
                wait_approximate=event.approximate and row["answered_at"] is None,
                end_approximate=event.approximate,
            )
            if row["answered_at"] is None and event.outcome is not ev.Outcome.SERVED:
                self._first(event.contact_id, waited=event.waited)
        elif isinstance(event, ev.AgentStateChanged):
            self.agent_states.append(
                {
                    "seq": seq, "agent_id": event.agent_id, "state": event.state.value,
                    "reason": event.reason, "contact_id": event.contact_id, "at": event.at,
                }
            )
            if event.state is AgentState.BUSY and event.contact_id is not None:
                self._first(event.contact_id, answered_at=event.at, agent_id=event.agent_id)
                row = self._contact(event.contact_id)
                if row["arrived_at"] is not None and row["answered_at"] is not None:
                    row["waited"] = row["answered_at"] - row["arrived_at"]
        elif isinstance(event, ev.CallbackRequested):
            self._callback = {
                "callback_id": event.callback_id, "contact_id": event.contact_id, "number": event.number,
                "requested_at": event.at, "deadline": event.at + self.callback_deadline_s,
            }

    def finish(self) -> None:
        """End of a run of whole batches: keep the pending callback request."""
        if self._callback is not None:
            self.callbacks.append(self._callback)
        self._callback = None

    def _citizen(self, citizen_id: str, phone: str | None, at: float) -> None:
        row = self.citizens.get(citizen_id)
        if row is None:
            self.citizens[citizen_id] = {
                "citizen_id": citizen_id, "phone": phone, "consent": False, "first_seen": at, "last_seen": at,
            }
        else:
            row["last_seen"] = max(row["last_seen"], at)
            row["phone"] = phone or row["phone"]
