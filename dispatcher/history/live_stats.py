"""The same statistics, live, for the wallboard: a dispatcher sink folding today's events.

It keeps in memory the contacts and agent state changes since ``since``
(the wallboard shows the day) and computes the very records ``guichet
stats`` prints from SQL, with the same functions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from dispatcher.events import Event
from dispatcher.history.fold import Fold
from dispatcher.history.stats import ContactFacts, StatRow, compute, spans_from_states


class LiveStats:
    """Folds every event it is given; ``rows(now)`` gives the statistics so far."""

    def __init__(
        self,
        since: float,
        sla_seconds: Callable[[str, str], float] = lambda _p, _c: 20.0,
        callback_deadline_s: float = 48 * 3600.0,
        tz: str = "Europe/Paris",
    ) -> None:
        self.since = since
        self.sla_seconds = sla_seconds
        self.tz = tz
        self._fold = Fold(callback_deadline_s)
        self._seq = 0

    def sink(self, batch: Sequence[Event]) -> None:
        """Dispatcher sink."""
        for event in batch:
            self._seq += 1
            if event.at >= self.since:
                self._fold.add(self._seq, event)
        self._fold.finish()
        self._fold.events.clear()
        self._fold.callbacks.clear()

    def facts(self) -> list[ContactFacts]:
        """The contacts seen so far, as statistics records."""
        return [
            ContactFacts(
                r["contact_id"], r["channel"], r["process"], r["agent_id"], r["arrived_at"],
                r["answered_at"], r["ended_at"], r["outcome"], r["deadline"],
            )
            for r in self._fold.contacts.values()
        ]

    def rows(self, now: float, by: Sequence[str] = ("interval", "process", "channel")) -> list[StatRow]:
        """The statistics from ``since`` to ``now``."""
        states = [(s["agent_id"], s["state"], s["at"]) for s in self._fold.agent_states]
        return compute(
            self.facts(), spans_from_states(states, until=now), by=by,
            sla_seconds=self.sla_seconds, now=now, tz=self.tz,
        )
