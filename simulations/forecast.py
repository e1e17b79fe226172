"""A day of staffing: a forecast in, required agents per interval out.

The forecast comes from a file (``simulations.forecast_file``: the
project's CSV or a French spreadsheet export, format in docs/staffing.md)
or from the recorded history (:func:`forecast_from_history`).

Staffing is computed per process (each process served by its own team, the
upper bound) and per skill group (channel x domain: the processes of one
domain pooled on one channel, what a planner schedules).  The service target
of a process comes from the options if given, else from the process
catalogue (``skills.catalogue.default_catalogue``), else from built-in
defaults: 80 % within 20 s on the phone, 80 % within 10 min at the counter.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from simulations import erlang, staffing
from simulations.forecast_file import (
    LIVE_CHANNELS,
    Forecast,
    ForecastError,
    ForecastRow,
    load_forecast,
    parse_forecast,
)
from simulations.i18n import tr
from skills.model import Channel

__all__ = [
    "DEFAULT_TARGETS",
    "DayStaffing",
    "Forecast",
    "ForecastError",
    "ForecastRow",
    "StaffRow",
    "forecast_from_history",
    "load_forecast",
    "parse_forecast",
    "sample_forecast_path",
    "staff_day",
]

NO_DOMAIN = "general"
ALL_DOMAINS = "*"  # the domain of a channel's one queue (every process pooled)
# (service level, within seconds) per channel when neither options nor catalogue say.
DEFAULT_TARGETS: dict[str, tuple[float, float]] = {"phone": (0.8, 20.0), "counter": (0.8, 600.0)}


def sample_forecast_path() -> Path:
    """The bundled sample: a town hall's day, 8:30-17:30, a dozen processes."""
    return Path(__file__).resolve().parent / "data" / "forecast.csv"


# ------------------------------------------------------------------ history


def _field(record: Any, name: str) -> Any:
    if isinstance(record, Mapping):
        return record.get(name)
    return getattr(record, name, None)


def forecast_from_history(
    records: Iterable[Any],
    *,
    interval_min: int = 15,
    tz: str = "Europe/Paris",
    triage: str = "triage",
    default_aht_s: float | None = None,
) -> Forecast:
    """A forecast averaged over the days present in the recorded history.

    ``records``: dicts or objects with ``arrived_at`` (epoch seconds),
    ``process`` (None for a contact never qualified: counted as ``triage``),
    ``channel`` and ``handle_s`` (None when not handled).  Arrivals per
    interval of day are averaged over every day present in the records (a day
    with no contact of a process counts as 0); the AHT is the mean handling
    time of the handled contacts of that interval, else of that process and
    channel over the day, else ``default_aht_s``; a cell with no AHT at all
    is left out.  Deferrable channels are left out (not staffed per interval).
    """
    zone = ZoneInfo(tz)
    counts: dict[tuple[int, str, str], int] = defaultdict(int)
    handle: dict[tuple[int, str, str], list[float]] = defaultdict(list)
    day_handle: dict[tuple[str, str], list[float]] = defaultdict(list)
    days: set[Any] = set()
    for rec in records:
        at = _field(rec, "arrived_at")
        if at is None:
            continue
        local = datetime.fromtimestamp(float(at), zone)
        days.add(local.date())
        channel = _field(rec, "channel")
        channel = str(getattr(channel, "value", channel) or "").lower()
        if channel not in LIVE_CHANNELS:
            continue
        process = _field(rec, "process") or triage
        minute = (local.hour * 60 + local.minute) // interval_min * interval_min
        key = (minute, str(process), channel)
        counts[key] += 1
        h = _field(rec, "handle_s")
        if h is not None and float(h) > 0:
            handle[key].append(float(h))
            day_handle[(str(process), channel)].append(float(h))
    rows: list[ForecastRow] = []
    n_days = max(len(days), 1)
    for key in sorted(counts):
        minute, process, channel = key
        if handle[key]:
            aht = float(np.mean(handle[key]))
        elif day_handle[(process, channel)]:
            aht = float(np.mean(day_handle[(process, channel)]))
        elif default_aht_s is not None:
            aht = float(default_aht_s)
        else:
            continue
        rows.append(ForecastRow(minute, process, channel, counts[key] / n_days, aht))
    return Forecast(tuple(rows), interval_min, f"history ({len(days)} day(s))")


# ------------------------------------------------------------------ staffing


@dataclass(frozen=True, slots=True)
class StaffRow:
    """Required agents of one cell: a process, or a pooled group when ``process`` is ''."""

    minute: int
    process: str
    channel: str
    domain: str
    arrivals: float
    aht_s: float
    load_erl: float
    sl_target: float
    within_s: float
    agents: int
    scheduled: int
    service_level: float
    asa_s: float
    occupancy: float
    p_wait: float
    p_abandon: float

    @property
    def start(self) -> str:
        """Start of the interval as ``HH:MM``."""
        return f"{self.minute // 60:02d}:{self.minute % 60:02d}"

    @property
    def group(self) -> str:
        """The skill group: ``channel/domain``."""
        return f"{self.channel}/{self.domain}"


@dataclass
class DayStaffing:
    """Required agents per interval: per process, per skill group (channel, domain) and
    per channel with every process pooled in one queue (``by_channel``, domain ``*``)."""

    forecast: Forecast
    by_process: list[StaffRow]
    by_group: list[StaffRow]
    by_channel: list[StaffRow]
    options: dict[str, Any] = field(default_factory=dict)
    target_source: str = ""
    domain_labels: dict[str, str] = field(default_factory=dict)

    @property
    def minutes(self) -> list[int]:
        return self.forecast.minutes

    @property
    def groups(self) -> list[str]:
        """Skill groups in a stable order: phone first, then by domain."""
        order = {c: i for i, c in enumerate(LIVE_CHANNELS)}
        keys = {(r.channel, r.domain) for r in self.by_group}
        return [f"{c}/{d}" for c, d in sorted(keys, key=lambda k: (order.get(k[0], 9), k[1]))]

    def group_agents(self, scheduled: bool = False) -> dict[str, dict[int, int]]:
        """group -> interval start -> agents (0 where the group has no row)."""
        out: dict[str, dict[int, int]] = {g: {} for g in self.groups}
        for r in self.by_group:
            out[r.group][r.minute] = r.scheduled if scheduled else r.agents
        return out

    def totals(self) -> dict[int, dict[str, float]]:
        """Per interval start and channel: arrivals, load, and agents at each pooling level.

        Keys ``{channel}_arrivals``, ``{channel}_load``, ``{channel}_queue`` (one queue),
        ``{channel}_scheduled`` (one queue, with shrinkage), ``{channel}_groups`` (sum over
        skill groups), ``{channel}_processes`` (sum over processes), and ``agents`` /
        ``scheduled`` over both channels (one queue each).
        """
        keys = ["agents", "scheduled"] + [f"{c}_{k}" for c in LIVE_CHANNELS for k in (
            "arrivals", "load", "queue", "scheduled", "groups", "processes")]
        tot: dict[int, dict[str, float]] = {m: dict.fromkeys(keys, 0.0) for m in self.minutes}
        for r in self.by_channel:
            t = tot[r.minute]
            t[f"{r.channel}_arrivals"] += r.arrivals
            t[f"{r.channel}_load"] += r.load_erl
            t[f"{r.channel}_queue"] += r.agents
            t[f"{r.channel}_scheduled"] += r.scheduled
            t["agents"] += r.agents
            t["scheduled"] += r.scheduled
        for r in self.by_group:
            tot[r.minute][f"{r.channel}_groups"] += r.agents
        for r in self.by_process:
            tot[r.minute][f"{r.channel}_processes"] += r.agents
        return tot


def _catalogue() -> Any | None:
    """The process catalogue if the skills package provides one, else None."""
    try:
        from skills.catalogue import default_catalogue
        from skills.errors import SkillFileError
    except ImportError:
        return None
    try:
        return default_catalogue()
    except (OSError, ValueError, SkillFileError):  # a broken catalogue must not stop a report
        return None


def staff_day(
    forecast: Forecast,
    *,
    service_level: float | None = None,
    within_s: float | None = None,
    asa_s: float | None = None,
    max_occupancy: float | None = None,
    shrinkage: float = 0.0,
    patience_s: float | Mapping[str, float] | None = None,
    max_abandon: float | None = None,
    catalogue: Any | None | str = "default",
) -> DayStaffing:
    """Required agents per interval for every process and skill group of ``forecast``.

    ``service_level`` / ``within_s`` override the targets for every cell;
    otherwise each process takes its catalogue target for its channel (when
    ``catalogue`` is a Catalogue, or "default" for the bundled one and it
    exists), else :data:`DEFAULT_TARGETS`.  A skill group takes the strictest
    target of its processes.  ``patience_s`` (one mean patience for every
    channel, or per channel: ``{"phone": 180, "counter": 2400}``) switches
    those channels to Erlang A, where ``max_abandon`` caps the abandon rate.
    """
    patience = _per_channel(patience_s)
    if max_abandon is not None and not patience:
        raise ValueError(tr("a maximum abandon rate needs a patience (Erlang A)"))
    if not forecast.rows:
        raise ForecastError([f"{forecast.source}: " + tr("the forecast has no rows")])
    cat: Any = _catalogue() if catalogue == "default" else catalogue
    used_catalogue = False
    domain_labels: dict[str, str] = {}
    if cat is not None:
        domain_labels = {code: getattr(d, "label", code) for code, d in
                         getattr(cat, "domains", {}).items()}

    known: dict[tuple[str, str, str | None], tuple[float, float, str]] = {}

    def target_of(row: ForecastRow) -> tuple[float, float, str]:
        key = (row.process, row.channel, row.domain)
        found = known.get(key)
        if found is None:
            found = known[key] = look_up(row)
        return found

    def look_up(row: ForecastRow) -> tuple[float, float, str]:
        nonlocal used_catalogue
        sl, within = DEFAULT_TARGETS[row.channel]
        domain = row.domain or NO_DOMAIN
        if cat is not None:
            proc = cat.processes.get(row.process)
            if proc is not None:
                domain = row.domain or proc.domain
                try:
                    tgt = cat.target(row.process, Channel(row.channel))
                    sl, within = float(tgt.sla_percent), float(tgt.sla_seconds)
                    used_catalogue = True
                except (KeyError, ValueError, AttributeError):
                    pass
        if service_level is not None:
            sl = service_level
        if within_s is not None:
            within = within_s
        return sl, within, domain

    length_s = forecast.interval_min * 60.0
    rows = list(forecast.rows)
    targets = [target_of(r) for r in rows]
    arrivals = np.array([r.arrivals for r in rows])
    aht = np.array([r.aht_s for r in rows])
    sl_t = np.array([t[0] for t in targets])
    within_t = np.array([t[1] for t in targets])
    load = np.asarray(erlang.offered_load(arrivals, aht, length_s), dtype=float)
    limits = _Limits(asa_s, max_occupancy, shrinkage, patience, max_abandon)
    by_process = _solve(
        [(r.minute, r.process, r.channel, t[2]) for r, t in zip(rows, targets)],
        arrivals, aht, load, sl_t, within_t, limits,
    )

    # Skill groups (one domain on one channel) and the one queue of each channel, pooled.
    by_group = _pooled(rows, targets, arrivals, aht, sl_t, within_t, length_s, lambda d: d,
                       limits)
    by_channel = _pooled(rows, targets, arrivals, aht, sl_t, within_t, length_s,
                         lambda d: ALL_DOMAINS, limits)
    if service_level is not None or within_s is not None:
        source = "options"
    elif used_catalogue:
        source = "catalogue"
    else:
        source = "defaults"
    options = {
        "service_level": service_level, "within_s": within_s, "asa_s": asa_s,
        "max_occupancy": max_occupancy, "shrinkage": shrinkage, "patience_s": patience,
        "max_abandon": max_abandon, "interval_min": forecast.interval_min,
    }
    return DayStaffing(forecast, by_process, by_group, by_channel, options, source, domain_labels)


@dataclass(frozen=True)
class _Limits:
    """The targets and models every cell shares (patience per channel: Erlang A there)."""

    asa_s: float | None
    max_occupancy: float | None
    shrinkage: float
    patience: dict[str, float]
    max_abandon: float | None


def _per_channel(patience_s: float | Mapping[str, float] | None) -> dict[str, float]:
    if patience_s is None:
        return {}
    if isinstance(patience_s, Mapping):
        return {str(c): float(v) for c, v in patience_s.items()}
    return dict.fromkeys(LIVE_CHANNELS, float(patience_s))


def _pooled(
    rows: list[ForecastRow], targets: list[tuple[float, float, str]], arrivals: np.ndarray,
    aht: np.ndarray, sl_t: np.ndarray, within_t: np.ndarray, length_s: float,
    domain_of: Any, limits: _Limits,
) -> list[StaffRow]:
    """Rows pooled per (interval, channel, domain_of(domain)): the strictest target wins."""
    pools: dict[tuple[int, str, str], list[int]] = defaultdict(list)
    for i, (r, t) in enumerate(zip(rows, targets)):
        pools[(r.minute, r.channel, domain_of(t[2]))].append(i)
    keys = sorted(pools)
    members = [np.asarray(pools[k]) for k in keys]
    g_arr = np.array([arrivals[m].sum() for m in members])
    g_work = np.array([(arrivals[m] * aht[m]).sum() for m in members])
    mean_aht = np.array([aht[m].mean() for m in members])
    with np.errstate(divide="ignore", invalid="ignore"):
        g_aht = np.where(g_arr > 0, g_work / g_arr, mean_aht)
    g_sl = np.array([sl_t[m].max() for m in members])
    g_within = np.array([within_t[m].min() for m in members])
    g_load = np.asarray(erlang.offered_load(g_arr, g_aht, length_s), dtype=float)
    return _solve([(m, "", c, d) for m, c, d in keys], g_arr, g_aht, g_load, g_sl, g_within,
                  limits)


def _solve(
    keys: list[tuple[int, str, str, str]],
    arrivals: np.ndarray, aht: np.ndarray, load: np.ndarray, sl: np.ndarray,
    within: np.ndarray, limits: _Limits,
) -> list[StaffRow]:
    channels = [k[2] for k in keys]
    patience = np.array([limits.patience.get(c, np.inf) for c in channels])
    res = staffing.required_agents(
        load, aht, service_level=sl, within_s=within, asa_s=limits.asa_s,
        max_occupancy=limits.max_occupancy, shrinkage=limits.shrinkage,
        patience_s=patience if limits.patience else None, max_abandon=limits.max_abandon,
    )
    cols = [np.atleast_1d(np.asarray(c)).tolist() for c in res]
    arr, ah, ld, s_t, w_t = (x.tolist() for x in (arrivals, aht, load, sl, within))
    return [
        StaffRow(minute, process, channel, domain, arr[i], ah[i], ld[i], s_t[i], w_t[i],
                 int(cols[0][i]), int(cols[1][i]), cols[2][i], cols[3][i], cols[4][i],
                 cols[5][i], cols[6][i])
        for i, (minute, process, channel, domain) in enumerate(keys)
    ]
