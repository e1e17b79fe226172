"""The naive router: the same rules, decided by full scans instead of indexes.

It is the reference the tests replay against (same inputs, same decisions)
and the baseline of ``guichet bench routing``.
"""

from __future__ import annotations

from mypy_extensions import mypyc_attr

from dispatcher.events import AgentState
from dispatcher.router import Router
from dispatcher.state import ENDPOINT_CHANNELS, AgentRecord, ContactRecord, same_site
from dispatcher.waiting import is_more_urgent


def scan_best_contact(router: Router, agent: AgentRecord, now: float) -> ContactRecord | None:
    """The most urgent waiting contact ``agent`` may take, by a scan of the whole queue."""
    best: ContactRecord | None = None
    for contact in router.queue.contacts.values():
        if contact.channel not in agent.channels:
            continue
        if contact.channel in ENDPOINT_CHANNELS and not agent.reachable:
            continue
        if agent.skills.get(contact.process, 0) < contact.required_level:
            continue
        if not same_site(agent, contact):
            continue
        if best is None or is_more_urgent(contact, best, now):
            best = contact
    return best


@mypyc_attr(serializable=True, allow_interpreted_subclasses=True)
class NaiveRouter(Router):
    """Scans every waiting contact (and every agent) for each decision."""

    def _best_contact_for(self, agent: AgentRecord, now: float) -> ContactRecord | None:
        return scan_best_contact(self, agent, now)

    def _best_agent_for(
        self, contact: ContactRecord, now: float
    ) -> tuple[AgentRecord, int] | None:
        free = [a for a in self.agents.values() if a.state is AgentState.AVAILABLE]
        return self.pool.pick(contact, free, now)

    def _batch_candidates(self, agents: list[AgentRecord]) -> list[ContactRecord]:
        return list(self.queue.contacts.values())
