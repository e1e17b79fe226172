"""How well a skill matrix covers a catalogue: numbers for planners.

An agent *counts* for a process on a channel when they hold the process at a
level of at least ``max(process.min_level, level)`` (``level`` defaults to 2,
competent) and serve that channel now. Only the channels the process serves
are considered. The results are plain records; ``guichet skills coverage``
prints them as tables.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from skills.model import ALL_CHANNELS, COMPETENT, EXPERT, Catalogue, Channel, Process, SkillMatrix


@dataclass(frozen=True, slots=True)
class ProcessCoverage:
    """The agents able to take one process on one channel now."""

    process: str
    label: str
    domain: str
    channel: Channel
    required_level: int
    competent: int  # agents at or above required_level serving the channel
    experts: int  # of which at level 3
    learning: int  # agents below required_level serving the channel (trainees, overflow only)
    agents: tuple[str, ...]  # ids of the competent agents, in matrix order
    min_agents: int

    @property
    def short(self) -> bool:
        """Fewer competent agents than the planner asked for."""
        return self.competent < self.min_agents


@dataclass(frozen=True, slots=True)
class DomainCoverage:
    """One domain on one channel: how many of its processes are short."""

    domain: str
    label: str
    channel: Channel
    processes: int  # processes of the domain served on the channel
    short: int  # of which with fewer than min_agents competent agents
    fewest: int  # the smallest number of competent agents among them
    short_processes: tuple[str, ...]
    min_agents: int


def required_level(process: Process, level: int = COMPETENT) -> int:
    """The level an agent needs to count for ``process``."""
    return max(process.min_level, level)


def process_coverage(
    matrix: SkillMatrix,
    catalogue: Catalogue,
    *,
    min_agents: int = 2,
    channels: Iterable[Channel] | None = None,
    level: int = COMPETENT,
) -> list[ProcessCoverage]:
    """One row per (process, channel served by the process), in catalogue order."""
    wanted = tuple(channels) if channels is not None else ALL_CHANNELS
    rows: list[ProcessCoverage] = []
    for process in catalogue.processes.values():
        need = required_level(process, level)
        for channel in ALL_CHANNELS:
            if channel not in wanted or channel not in process.targets:
                continue
            competent: list[str] = []
            experts = learning = 0
            for agent in matrix.agents.values():
                if channel not in agent.channels:
                    continue
                held = agent.skills.get(process.code)
                if held is None:
                    continue
                if held >= need:
                    competent.append(agent.agent_id)
                    experts += held >= EXPERT
                else:
                    learning += 1
            rows.append(
                ProcessCoverage(
                    process=process.code,
                    label=process.label,
                    domain=process.domain,
                    channel=channel,
                    required_level=need,
                    competent=len(competent),
                    experts=experts,
                    learning=learning,
                    agents=tuple(competent),
                    min_agents=min_agents,
                )
            )
    return rows


def shortages(
    matrix: SkillMatrix,
    catalogue: Catalogue,
    *,
    min_agents: int = 2,
    channels: Iterable[Channel] | None = None,
    level: int = COMPETENT,
) -> list[ProcessCoverage]:
    """The (process, channel) rows with fewer than ``min_agents`` competent agents."""
    rows = process_coverage(
        matrix, catalogue, min_agents=min_agents, channels=channels, level=level
    )
    return [row for row in rows if row.short]


def domain_coverage(
    matrix: SkillMatrix,
    catalogue: Catalogue,
    *,
    min_agents: int = 2,
    channels: Iterable[Channel] | None = None,
    level: int = COMPETENT,
) -> list[DomainCoverage]:
    """One row per (domain, channel) with at least one process served on it."""
    rows = process_coverage(
        matrix, catalogue, min_agents=min_agents, channels=channels, level=level
    )
    grouped: dict[tuple[str, Channel], list[ProcessCoverage]] = {}
    for row in rows:
        grouped.setdefault((row.domain, row.channel), []).append(row)
    domain_order = list(catalogue.domains)
    for process in catalogue.processes.values():  # domains only named by processes
        if process.domain not in domain_order:
            domain_order.append(process.domain)
    result: list[DomainCoverage] = []
    for domain in domain_order:
        for channel in ALL_CHANNELS:
            group = grouped.get((domain, channel))
            if not group:
                continue
            short = tuple(r.process for r in group if r.short)
            known = catalogue.domains.get(domain)
            result.append(
                DomainCoverage(
                    domain=domain,
                    label=known.label if known else domain,
                    channel=channel,
                    processes=len(group),
                    short=len(short),
                    fewest=min(r.competent for r in group),
                    short_processes=short,
                    min_agents=min_agents,
                )
            )
    return result


def uncovered(matrix: SkillMatrix, catalogue: Catalogue, level: int = COMPETENT) -> list[str]:
    """Processes that no agent can take now, on any of their channels."""
    covered = {
        row.process
        for row in process_coverage(matrix, catalogue, min_agents=1, level=level)
        if row.competent
    }
    return [code for code in catalogue.processes if code not in covered]
