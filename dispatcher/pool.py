"""The agent pool of the routing core: agents, their states, and who is free for what.

A free agent is listed under each process it holds (``available``) and, when
the strategy's preference does not change while the agent waits (rule 3's
most suitable or fewest skills), in a heap per bucket it serves with the best
agent on top: a contact arriving reads one or two heap tops instead of
scanning the free agents. Heap entries are dropped lazily: each listing
carries a token that a later listing or the agent leaving makes stale.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from typing import Final

from mypy_extensions import mypyc_attr

from dispatcher import events as ev
from dispatcher.events import AgentState, Event
from dispatcher.policy import Strategy
from dispatcher.state import ENDPOINT_CHANNELS, AgentRecord, Bucket, ContactRecord, same_site
from dispatcher.strategies import AGENT_KEYS, STATIC_STRATEGIES
from dispatcher.waiting import WaitingQueue
from skills.model import Catalogue, Channel

AVAILABLE: Final = AgentState.AVAILABLE
WORKING: Final = frozenset({AgentState.RESERVED, AgentState.BUSY, AgentState.WRAP_UP})


@mypyc_attr(serializable=True)
class AgentPool:
    """Every agent of the core, and the index of the free ones."""

    def __init__(self, catalogue: Catalogue, queue: WaitingQueue, strategy: Strategy) -> None:
        self.catalogue = catalogue
        self.queue = queue
        self.agents: dict[str, AgentRecord] = {}
        self.available: dict[str, dict[str, AgentRecord]] = {}
        self.agent_key = AGENT_KEYS[strategy]
        self.use_heaps = strategy in STATIC_STRATEGIES

    def add(self, agent_id: str, skills: dict[str, int], channels: frozenset[Channel]) -> AgentRecord:
        """A new agent, offline."""
        agent = AgentRecord(agent_id=agent_id, seq=len(self.agents), skills=dict(skills), channels=channels)
        self.build_targets(agent)
        self.agents[agent_id] = agent
        return agent

    def build_targets(self, agent: AgentRecord) -> None:
        """The buckets the agent looks at when it frees up, live ones first."""
        main: list[Bucket] = []
        relaxed: list[Bucket] = []
        for process, level in agent.skills.items():
            if process not in self.catalogue.processes:
                continue
            for channel in sorted(agent.channels, key=lambda c: c.value):
                bucket = self.queue.bucket(process, channel)
                if level >= bucket.base_level:
                    main.append(bucket)
                elif level >= bucket.relaxed_level:
                    relaxed.append(bucket)
        agent.main_targets = sorted(main, key=lambda b: not b.live)
        agent.relaxed_targets = sorted(relaxed, key=lambda b: not b.live)

    def set_state(
        self,
        agent: AgentRecord,
        state: AgentState,
        reason: str | None,
        now: float,
        out: list[Event],
        contact_id: str | None = None,
    ) -> None:
        """Change the agent's state, keep its occupancy clock, and say so in ``out``."""
        if agent.indexed and state is not AVAILABLE:
            self.unindex(agent)
        if state in WORKING:
            if agent.busy_since is None:
                agent.busy_since = now
        elif agent.busy_since is not None:
            agent.busy_s += now - agent.busy_since
            agent.busy_since = None
        agent.state, agent.reason, agent.since = state, reason, now
        if contact_id is not None:
            agent.contact_id = contact_id
        out.append(
            ev.AgentStateChanged(
                at=now, agent_id=agent.agent_id, state=state, reason=reason, contact_id=agent.contact_id
            )
        )

    def index(self, agent: AgentRecord, now: float) -> None:
        """List a free agent that found nothing to take."""
        agent.indexed = True
        agent.index_token += 1
        for process in agent.skills:
            free = self.available.get(process)
            if free is None:
                free = self.available[process] = {}
            free[agent.agent_id] = agent
        if not self.use_heaps:
            return
        token = agent.index_token
        skills = agent.skills
        for targets, heap_name in ((agent.main_targets, "free_main"), (agent.relaxed_targets, "free_relaxed")):
            for bucket in targets:
                if bucket.needs_endpoint and not agent.reachable:
                    continue
                heap: list[tuple[object, ...]] = getattr(bucket, heap_name)
                if len(heap) > 64 and len(heap) > 4 * len(self.available[bucket.process]):
                    heap[:] = [e for e in heap if _is_live(e)]
                    heapq.heapify(heap)
                heapq.heappush(heap, (*self.agent_key(agent, skills[bucket.process], now), token, agent))

    def unindex(self, agent: AgentRecord) -> None:
        """The agent is no longer free (its heap entries go stale)."""
        if not agent.indexed:
            return
        agent.indexed = False
        for process in agent.skills:
            self.available.get(process, {}).pop(agent.agent_id, None)

    def best_free_for(self, contact: ContactRecord, now: float) -> tuple[AgentRecord, int] | None:
        """The free agent rule 3 prefers for the contact, with its level, or None."""
        if not self.use_heaps or contact.site is not None:
            candidates = self.available.get(contact.process)
            return self.pick(contact, candidates.values(), now) if candidates else None
        bucket = contact.bucket
        best = _top(bucket.free_main)
        if contact.required_level < bucket.base_level:
            relaxed = _top(bucket.free_relaxed)
            if relaxed is not None and (best is None or relaxed < best):
                best = relaxed
        if best is None:
            return None
        agent: AgentRecord = best[-1]  # type: ignore[assignment]
        return agent, agent.skills[contact.process]

    def pick(
        self, contact: ContactRecord, agents: Iterable[AgentRecord], now: float
    ) -> tuple[AgentRecord, int] | None:
        """The agent rule 3 prefers among ``agents`` (scanning them), with its level."""
        best: tuple[AgentRecord, int] | None = None
        best_key: tuple[float, ...] | None = None
        for agent in agents:
            level = self.level_for(agent, contact)
            if level is None:
                continue
            key = self.agent_key(agent, level, now)
            if best_key is None or key < best_key:
                best, best_key = (agent, level), key
        return best

    @staticmethod
    def level_for(agent: AgentRecord, contact: ContactRecord) -> int | None:
        """The agent's level if it may take the contact now (rule 1), else None."""
        if agent.state is not AVAILABLE or contact.channel not in agent.channels:
            return None
        if contact.channel in ENDPOINT_CHANNELS and not agent.reachable:
            return None
        if not same_site(agent, contact):
            return None
        level = agent.skills.get(contact.process, 0)
        return level if level >= contact.required_level else None

    def staffed(self, process: str, channel: Channel) -> tuple[int, int]:
        """(logged-in agents able to take ``process`` on ``channel``, how many are free)."""
        min_level = self.catalogue.processes[process].min_level
        logged_in = sum(
            1
            for a in self.agents.values()
            if a.state not in (AgentState.OFFLINE, AgentState.PAUSED)
            and channel in a.channels
            and a.skills.get(process, 0) >= min_level
        )
        free = sum(1 for a in self.available.get(process, {}).values() if channel in a.channels)
        return logged_in, free


def _is_live(entry: tuple[object, ...]) -> bool:
    agent: AgentRecord = entry[-1]  # type: ignore[assignment]
    return agent.indexed and entry[-2] == agent.index_token


def _top(heap: list[tuple[object, ...]]) -> tuple[object, ...] | None:
    """The best free agent's entry, stale entries dropped."""
    while heap:
        top = heap[0]
        if _is_live(top):
            return top
        heapq.heappop(heap)
    return None
