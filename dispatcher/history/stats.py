"""Front-desk statistics per 15-minute interval, process, channel and agent.

Definitions (the usual contact-centre ones, as the field reports use them):

- **offered**: contacts that arrived in the interval (whatever happened next);
- **answered**: of those, the ones an agent picked up; **abandoned**: the ones
  that ended ``abandoned`` before being answered;
- **service level**: answered within the channel's SLA seconds / (offered -
  short abandons): a citizen who hangs up within ``short_abandon_s`` (5 s)
  counts neither for nor against it;
- **pick-up rate** (taux de décroché): answered / offered, all abandons
  included; for calls it is the figure Issy (91 %) and the Hauts-de-Seine
  (95 %) publish;
- **ASA**: mean wait of the answered; **AHT**: mean answered -> ended
  (wrap-up not included);
- **occupancy**: time busy or in wrap-up / time logged in (any state but
  offline: available, ringing, busy, wrap-up, paused), each agent's states
  clipped to the period and to the present (the last state runs to *now*,
  never to the end of a day still under way). It is a figure of agents: per
  agent, per interval over all agents, or overall; a contact's process or
  channel does not own an agent's idle time, so it is not defined per process
  or channel (None, printed ``n/a``);
- **callbacks honoured**: callback contacts answered by their deadline /
  callbacks answered or past their deadline;
- **equal treatment** (SITIV: the same request gets the same service
  whatever the door): per process and channel, the ASA over the channel's
  target for that process (``wait_vs_target``: 0.5 = half the target), and
  per process the gap between its best- and worst-served channels
  (``channel_gap``, in the same unit; 0 = the same treatment everywhere).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from simulations.i18n import N_

INTERVAL_S = 900.0
SHORT_ABANDON_S = 5.0
WORKING = frozenset({"busy", "wrap_up"})
OCCUPANCY_DIMENSIONS = frozenset({"interval", "agent"})
DIMENSIONS = ("interval", "process", "channel", "agent")

FIELD_REFERENCES = {
    "pickup_rate": N_("91 % Issy, 95 % Hauts-de-Seine"),
    "callbacks_honoured": N_("callbacks within 24-48 h"),
    "contacts_per_agent_day": N_("60-100 calls per agent per day"),
}


@dataclass(frozen=True, slots=True)
class ContactFacts:
    """What the statistics need of one contact."""

    contact_id: str
    channel: str | None
    process: str | None
    agent_id: str | None
    arrived_at: float | None
    answered_at: float | None
    ended_at: float | None
    outcome: str | None
    deadline: float | None = None

    @property
    def handle_s(self) -> float | None:
        """Answered -> ended, or None when not handled."""
        if self.answered_at is None or self.ended_at is None:
            return None
        return self.ended_at - self.answered_at


@dataclass(frozen=True, slots=True)
class StateSpan:
    """An agent in one state from ``start`` to ``end``."""

    agent_id: str
    state: str
    start: float
    end: float


@dataclass(frozen=True, slots=True)
class StatRow:
    """The figures of one group (a dimension not grouped on is ``*``)."""

    interval: str
    process: str
    channel: str
    agent: str
    offered: int
    answered: int
    abandoned: int
    service_level: float | None
    pickup_rate: float | None
    asa_s: float | None
    aht_s: float | None
    occupancy: float | None
    callbacks_due: int
    callbacks_honoured: int
    wait_vs_target: float | None = None
    channel_gap: float | None = None


@dataclass(frozen=True, slots=True)
class AgentDay:
    """One agent's day: contacts handled, AHT, occupancy."""

    day: str
    agent: str
    handled: int
    aht_s: float | None
    occupancy: float | None


def spans_from_states(states: Iterable[tuple[str, str, float]], until: float) -> list[StateSpan]:
    """Spans from ``(agent_id, state, at)`` changes in time order; the last one runs to ``until``."""
    spans: list[StateSpan] = []
    current: dict[str, tuple[str, float]] = {}
    for agent_id, state, at in states:
        previous = current.get(agent_id)
        if previous is not None and at > previous[1]:
            spans.append(StateSpan(agent_id, previous[0], previous[1], at))
        current[agent_id] = (state, at)
    for agent_id, (state, at) in current.items():
        if until > at:
            spans.append(StateSpan(agent_id, state, at, until))
    return spans


def _interval_label(start: float, zone: ZoneInfo) -> str:
    return datetime.fromtimestamp(start, zone).strftime("%Y-%m-%d %H:%M")


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _occupancy(spans: Iterable[StateSpan], key: Callable[[float], Any], agent: bool) -> dict[Any, float]:
    """Occupancy per (interval key, agent) clipped to the intervals."""
    worked: dict[Any, float] = defaultdict(float)
    logged: dict[Any, float] = defaultdict(float)
    for span in spans:
        if span.state == "offline":
            continue
        t = span.start
        while t < span.end:
            bound = (t // INTERVAL_S + 1) * INTERVAL_S
            piece = min(bound, span.end) - t
            k = (key(t), span.agent_id if agent else "*")
            logged[k] += piece
            if span.state in WORKING:
                worked[k] += piece
            t += piece
    return {k: worked[k] / v for k, v in logged.items() if v > 0}


def compute(
    contacts: Iterable[ContactFacts],
    spans: Iterable[StateSpan] = (),
    *,
    by: Sequence[str] = ("interval", "process", "channel"),
    sla_seconds: Callable[[str, str], float] = lambda _p, _c: 20.0,
    now: float | None = None,
    tz: str = "Europe/Paris",
    short_abandon_s: float = SHORT_ABANDON_S,
) -> list[StatRow]:
    """The figures per group of ``by`` (any of interval, process, channel, agent)."""
    unknown = [d for d in by if d not in DIMENSIONS]
    if unknown:
        raise ValueError(f"unknown dimension {unknown[0]!r}; use {', '.join(DIMENSIONS)}")
    zone = ZoneInfo(tz)

    def interval_of(at: float) -> str:
        return _interval_label(at // INTERVAL_S * INTERVAL_S, zone) if "interval" in by else "*"

    groups: dict[tuple[str, str, str, str], list[ContactFacts]] = defaultdict(list)
    for c in contacts:
        if c.arrived_at is None:
            continue
        key = (
            interval_of(c.arrived_at),
            (c.process or "?") if "process" in by else "*",
            (c.channel or "?") if "channel" in by else "*",
            (c.agent_id or "-") if "agent" in by else "*",
        )
        groups[key].append(c)
    occupancy = _occupancy(spans, interval_of, "agent" in by)
    per_agent_figure = set(by) <= OCCUPANCY_DIMENSIONS
    rows = []
    for key in sorted(groups):
        members = groups[key]
        answered = [c for c in members if c.answered_at is not None]
        abandoned = [c for c in members if c.answered_at is None and c.outcome == "abandoned"]
        short = [c for c in abandoned if c.ended_at is not None and c.ended_at - c.arrived_at < short_abandon_s]  # type: ignore[operator]
        in_sl = [
            c for c in answered
            if c.answered_at - c.arrived_at <= sla_seconds(c.process or "", c.channel or "")  # type: ignore[operator]
        ]
        base = len(members) - len(short)
        handled = [h for c in answered if (h := c.handle_s) is not None]
        asa = _mean([c.answered_at - c.arrived_at for c in answered])  # type: ignore[operator]
        target = sla_seconds(key[1], key[2]) if "channel" in by and "process" in by else None
        callbacks = [c for c in members if c.channel == "callback" and c.deadline is not None]
        due = [c for c in callbacks if c.answered_at is not None or (now is not None and now > c.deadline)]  # type: ignore[operator]
        honoured = [c for c in callbacks if c.answered_at is not None and c.answered_at <= c.deadline]  # type: ignore[operator]
        rows.append(
            StatRow(
                *key,
                offered=len(members),
                answered=len(answered),
                abandoned=len(abandoned),
                service_level=len(in_sl) / base if base else None,
                pickup_rate=len(answered) / len(members),
                asa_s=asa,
                aht_s=_mean(handled),
                occupancy=occupancy.get((key[0], key[3])) if per_agent_figure else None,
                callbacks_due=len(due),
                callbacks_honoured=len(honoured),
                wait_vs_target=asa / target if asa is not None and target else None,
            )
        )
    return _with_channel_gaps(rows)


def _with_channel_gaps(rows: list[StatRow]) -> list[StatRow]:
    """Each row with its process's gap between channels (same interval and agent group)."""
    spread: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for r in rows:
        if r.wait_vs_target is not None:
            spread[(r.interval, r.process, r.agent)].append(r.wait_vs_target)
    out = []
    for r in rows:
        found = spread.get((r.interval, r.process, r.agent), [])
        gap = max(found) - min(found) if len(found) > 1 else None
        out.append(replace(r, channel_gap=gap) if gap is not None else r)
    return out


@dataclass(frozen=True, slots=True)
class EqualTreatment:
    """One process: ASA over target per channel, side by side, and the gap between them."""

    process: str
    by_channel: dict[str, float]
    gap: float | None


def equal_treatment(rows: Iterable[StatRow]) -> list[EqualTreatment]:
    """The SITIV indicator per process, from rows grouped by process and channel."""
    per: dict[str, dict[str, float]] = defaultdict(dict)
    for r in rows:
        if r.wait_vs_target is not None and r.interval == "*" and r.agent == "*":
            per[r.process][r.channel] = r.wait_vs_target
    return [
        EqualTreatment(p, dict(sorted(ch.items())),
                       max(ch.values()) - min(ch.values()) if len(ch) > 1 else None)
        for p, ch in sorted(per.items())
    ]


def agent_days(
    contacts: Iterable[ContactFacts], spans: Iterable[StateSpan] = (), *, tz: str = "Europe/Paris"
) -> list[AgentDay]:
    """Contacts handled per agent per day (the field: 60-100 calls), with AHT and occupancy."""
    zone = ZoneInfo(tz)

    def day_of(at: float) -> str:
        return datetime.fromtimestamp(at, zone).strftime("%Y-%m-%d")

    handled: dict[tuple[str, str], list[ContactFacts]] = defaultdict(list)
    for c in contacts:
        if c.answered_at is not None and c.agent_id is not None:
            handled[(day_of(c.answered_at), c.agent_id)].append(c)
    occupancy = _occupancy(spans, day_of, agent=True)
    keys = sorted(set(handled) | set(occupancy))
    return [
        AgentDay(
            day, agent, len(handled.get((day, agent), [])),
            _mean([h for c in handled.get((day, agent), []) if (h := c.handle_s) is not None]),
            occupancy.get((day, agent)),
        )
        for day, agent in keys
    ]


def forecast_records(contacts: Iterable[ContactFacts]) -> list[dict[str, Any]]:
    """Records for ``simulations.forecast.forecast_from_history``: arrived_at, process, channel, handle_s."""
    return [
        {"arrived_at": c.arrived_at, "process": c.process, "channel": c.channel, "handle_s": c.handle_s}
        for c in contacts
        if c.arrived_at is not None
    ]
