"""The supervisor's wallboard: a snapshot of the live state, with no citizen's personal data.

The snapshot is built from the router (waiting contacts, agents) and the live
statistics; it names processes, channels and agents, never a caller's
number, name, citizen id or ticket. ``alerts`` compares the figures with the
thresholds of the field (pick-up rate 91-95 %, the catalogue's SLA).
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from dispatcher.events import AgentState
from dispatcher.router import Router
from dispatcher.history.live_stats import LiveStats
from dispatcher.history.stats import StatRow
from skills.model import Catalogue, SkillMatrix

LIVE_CHANNELS = ("phone", "counter")


@dataclass(frozen=True)
class Thresholds:
    """When the wallboard raises an alert."""

    service_level: float = 0.80
    pickup_rate: float = 0.91
    longest_wait_s: float = 300.0
    deadline_within_s: float = 4 * 3600.0


class TodayFigures:
    """Today's statistics for the wallboard, recomputed at most every ``max_age_s``.

    The waiting contacts and the agents are read fresh for every snapshot; the
    day's service level and pick-up rate fold every contact of the day, so
    they are refreshed once a second, not once per routing event.
    """

    def __init__(self, stats: LiveStats, max_age_s: float = 1.0) -> None:
        self.stats = stats
        self.max_age_s = max_age_s
        self._at = float("-inf")
        self._rows: tuple[list[StatRow], list[StatRow]] = ([], [])

    def rows(self, now: float) -> tuple[list[StatRow], list[StatRow]]:
        """(per process and channel, total)."""
        if now - self._at >= self.max_age_s or now < self._at:
            self._rows = (self.stats.rows(now, by=("process", "channel")), self.stats.rows(now, by=()))
            self._at = now
        return self._rows


def _label(catalogue: Catalogue, process: str) -> str:
    found = catalogue.processes.get(process)
    return found.label if found else process


def _ratio(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def snapshot(
    router: Router,
    stats: LiveStats | TodayFigures,
    catalogue: Catalogue,
    matrix: SkillMatrix,
    now: float | None = None,
    thresholds: Thresholds = Thresholds(),
) -> dict[str, Any]:
    """The wallboard's whole state as JSON-ready data."""
    now = time.time() if now is None else now
    waiting: dict[tuple[str, str], list[float]] = defaultdict(list)
    deadlines: list[tuple[float, str, str]] = []
    for contact in router.queue.contacts.values():
        waiting[(contact.process, contact.channel.value)].append(now - contact.arrived_at)
        if contact.deadline is not None and contact.deadline - now < thresholds.deadline_within_s:
            deadlines.append((contact.deadline, contact.process, contact.channel.value))
    today = stats if isinstance(stats, TodayFigures) else TodayFigures(stats)
    group_rows, total_rows = today.rows(now)
    by_group = {(r.process, r.channel): r for r in group_rows}
    total = total_rows[0] if total_rows else None
    keys = sorted(set(waiting) | set(by_group))
    groups = []
    for process, channel in keys:
        waits = waiting.get((process, channel), [])
        row = by_group.get((process, channel))
        groups.append(
            {
                "process": process,
                "label": _label(catalogue, process),
                "channel": channel,
                "waiting": len(waits),
                "longest_wait_s": round(max(waits), 1) if waits else 0.0,
                "offered": row.offered if row else 0,
                "answered": row.answered if row else 0,
                "abandoned": row.abandoned if row else 0,
                "service_level": _ratio(row.service_level) if row else None,
            }
        )
    agents = []
    for agent_id, record in sorted(router.agents.items()):
        profile = matrix.agents.get(agent_id)
        held = router.contacts.get(record.contact_id) if record.contact_id else None
        agents.append(
            {
                "agent_id": agent_id,
                "name": profile.name if profile else agent_id,
                "state": record.state.value,
                "reason": record.reason,
                "since_s": round(max(0.0, now - record.since), 1) if record.state is not AgentState.OFFLINE else None,
                "process": held.process if held else None,
                "process_label": _label(catalogue, held.process) if held else None,
                "channel": held.channel.value if held else None,
            }
        )
    live_waits = [w for (_, ch), ws in waiting.items() if ch in LIVE_CHANNELS for w in ws]
    figures = {
        "waiting": sum(len(w) for w in waiting.values()),
        "waiting_live": len(live_waits),
        "longest_wait_s": round(max(live_waits), 1) if live_waits else 0.0,
        "offered": total.offered if total else 0,
        "answered": total.answered if total else 0,
        "abandoned": total.abandoned if total else 0,
        "service_level": _ratio(total.service_level) if total else None,
        "pickup_rate": _ratio(total.pickup_rate) if total else None,
        "asa_s": round(total.asa_s, 1) if total and total.asa_s is not None else None,
        "agents_by_state": {s.value: sum(1 for a in agents if a["state"] == s.value) for s in AgentState},
    }
    return {
        "at": now,
        "figures": figures,
        "groups": groups,
        "agents": agents,
        "alerts": [a | {"label": _label(catalogue, a["process"])} if "process" in a else a
                   for a in alerts(figures, groups, sorted(deadlines), now, thresholds)],
        "targets": {"pickup_rate": [0.91, 0.95], "service_level": thresholds.service_level},
    }


def alerts(
    figures: dict[str, Any],
    groups: list[dict[str, Any]],
    deadlines: list[tuple[float, str, str]],
    now: float,
    thresholds: Thresholds,
) -> list[dict[str, Any]]:
    """The thresholds crossed now: service level, pick-up rate, longest wait, deadlines near."""
    found: list[dict[str, Any]] = []
    sl = figures["service_level"]
    if sl is not None and sl < thresholds.service_level:
        found.append({"kind": "service_level", "value": sl, "threshold": thresholds.service_level})
    pickup = figures["pickup_rate"]
    if pickup is not None and pickup < thresholds.pickup_rate:
        found.append({"kind": "pickup_rate", "value": pickup, "threshold": thresholds.pickup_rate})
    for group in groups:
        if group["longest_wait_s"] > thresholds.longest_wait_s:
            found.append(
                {"kind": "longest_wait", "process": group["process"], "channel": group["channel"],
                 "value": group["longest_wait_s"], "threshold": thresholds.longest_wait_s}
            )
    for deadline, process, channel in deadlines[:10]:
        found.append({"kind": "deadline", "process": process, "channel": channel, "value": round(deadline - now)})
    return found
