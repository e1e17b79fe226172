"""Reading the history back: contacts and agent states of a period, as statistics records."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from dispatcher.history.models import AgentStateRow, ContactRow
from dispatcher.history.stats import ContactFacts, StateSpan, spans_from_states

_DAY = 86_400.0


async def load_period(
    engine: AsyncEngine, start: float, end: float, now: float | None = None
) -> tuple[list[ContactFacts], list[StateSpan]]:
    """Contacts arrived in [start, end) and the agents' state spans clipped to it and to ``now``.

    An agent's last recorded state lasts until ``now`` (default: ``end``), never beyond:
    statistics of the day under way do not run the states on to midnight.
    """
    until = end if now is None else max(start, min(end, now))
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(
                ContactRow.contact_id, ContactRow.channel, ContactRow.process, ContactRow.agent_id,
                ContactRow.arrived_at, ContactRow.answered_at, ContactRow.ended_at, ContactRow.outcome,
                ContactRow.deadline,
            )
            .where(ContactRow.arrived_at >= start, ContactRow.arrived_at < end)
            .order_by(ContactRow.arrived_at)
        )
        facts = [ContactFacts(*row) for row in rows]
        states = await conn.execute(
            select(AgentStateRow.agent_id, AgentStateRow.state, AgentStateRow.at)
            .where(AgentStateRow.at >= start - _DAY, AgentStateRow.at < end)
            .order_by(AgentStateRow.seq)
        )
        changes = [(a, s, at) for a, s, at in states]
    spans = []
    for span in spans_from_states(changes, until=until):
        if span.end > start:
            spans.append(StateSpan(span.agent_id, span.state, max(span.start, start), span.end))
    return facts, spans
