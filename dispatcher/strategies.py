"""Agent-selection strategies (rule 3): which free agent takes an arriving contact."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from dispatcher.policy import Strategy
from dispatcher.state import AgentRecord

AgentKey = Callable[[AgentRecord, int, float], tuple[float, ...]]
"""(agent, its level for the process, now) -> sort key; the smallest key wins."""


def most_suitable(agent: AgentRecord, level: int, now: float) -> tuple[float, ...]:
    """Highest level for the process, then idle longest."""
    return (-level, agent.idle_since, agent.seq)


def fewest_skills(agent: AgentRecord, level: int, now: float) -> tuple[float, ...]:
    """Fewest skills first (keeps scarce experts free), then level, then idle longest."""
    return (len(agent.skills), -level, agent.idle_since, agent.seq)


def least_occupied(agent: AgentRecord, level: int, now: float) -> tuple[float, ...]:
    """Lowest occupancy since login (balances the load), then level, then idle longest."""
    return (agent.occupancy(now), -level, agent.idle_since, agent.seq)


AGENT_KEYS: dict[Strategy, AgentKey] = {
    Strategy.MOST_SUITABLE: most_suitable,
    Strategy.FEWEST_SKILLS: fewest_skills,
    Strategy.LEAST_OCCUPIED: least_occupied,
}

STATIC_STRATEGIES: Final = frozenset({Strategy.MOST_SUITABLE, Strategy.FEWEST_SKILLS})
"""Strategies whose key does not change while the agent waits: free agents can sit in heaps."""
