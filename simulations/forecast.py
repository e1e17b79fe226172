"""A day of staffing: a forecast file in, required agents per interval out.

Forecast file (CSV, UTF-8, comma- or semicolon-separated; the format is
described in docs/staffing.md)::

    interval,process,channel,arrivals,aht_s
    08:30,triage,phone,3.2,180
    08:30,passport,counter,0.6,1200

* ``interval``: start of the interval, ``HH:MM`` (local time), on the grid of
  the interval length (15 minutes unless told otherwise);
* ``process``: process code (as in the catalogue, e.g. ``passport``);
* ``channel``: ``phone`` or ``counter`` (the live channels staffed per interval);
* ``arrivals``: expected contacts in the interval (a mean: decimals welcome);
* ``aht_s``: average handling time in seconds (talk + wrap-up);
* optional ``domain``: the skill group's domain when the catalogue does not
  know the process.

Blank lines and lines starting with ``#`` are skipped.  Every problem is
reported as ``file:line: reason``, all of them at once.

Staffing is computed per process (each process served by its own team, the
upper bound) and per skill group (channel x domain: the processes of one
domain pooled on one channel, what a planner schedules).  The service target
of a process comes from the options if given, else from the process
catalogue (``skills.catalogue.default_catalogue``), else from built-in
defaults: 80 % within 20 s on the phone, 80 % within 10 min at the counter.
"""

from __future__ import annotations

import csv
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from simulations import erlang, staffing
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

LIVE_CHANNELS = ("phone", "counter")
REQUIRED_COLUMNS = ("interval", "process", "channel", "arrivals", "aht_s")
OPTIONAL_COLUMNS = ("domain",)
NO_DOMAIN = "general"
ALL_DOMAINS = "*"  # the domain of a channel's one queue (every process pooled)
# (service level, within seconds) per channel when neither options nor catalogue say.
DEFAULT_TARGETS: dict[str, tuple[float, float]] = {"phone": (0.8, 20.0), "counter": (0.8, 600.0)}
_MAX_PROBLEMS = 50
_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")


class ForecastError(ValueError):
    """A forecast that cannot be used; ``problems`` holds ``file:line: reason`` lines."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        more = ""
        if len(problems) > _MAX_PROBLEMS:
            more = f"\n... and {len(problems) - _MAX_PROBLEMS} more"
        super().__init__("\n".join(problems[:_MAX_PROBLEMS]) + more)


@dataclass(frozen=True, slots=True)
class ForecastRow:
    """Expected traffic of one process on one channel in one interval."""

    minute: int  # start, minutes after midnight
    process: str
    channel: str
    arrivals: float
    aht_s: float
    domain: str | None = None
    line: int = 0

    @property
    def start(self) -> str:
        """Start of the interval as ``HH:MM``."""
        return f"{self.minute // 60:02d}:{self.minute % 60:02d}"


@dataclass(frozen=True)
class Forecast:
    """A day's forecast: rows on a grid of ``interval_min`` minutes."""

    rows: tuple[ForecastRow, ...]
    interval_min: int = 15
    source: str = "<forecast>"

    @property
    def minutes(self) -> list[int]:
        """Every interval start from the first to the last row, gaps included."""
        if not self.rows:
            return []
        first = min(r.minute for r in self.rows)
        last = max(r.minute for r in self.rows)
        return list(range(first, last + 1, self.interval_min))


def sample_forecast_path() -> Path:
    """The bundled sample: a town hall's day, 8:30-17:30, a dozen processes."""
    return Path(__file__).resolve().parent / "data" / "forecast.csv"


def _number(raw: str, decimal_comma: bool) -> float:
    text = raw.strip().replace("\u00a0", "").replace(" ", "")
    if decimal_comma:
        text = text.replace(",", ".")
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(raw)
    return value


def parse_forecast(text: str, source: str = "<forecast>", interval_min: int = 15) -> Forecast:
    """The forecast in ``text``; a :class:`ForecastError` lists every problem."""
    if not 1 <= interval_min <= 1440 or 1440 % interval_min:
        raise ForecastError([f"{source}: the interval length must divide a day, got {interval_min}"])
    lines = text.splitlines()
    content = [(i + 1, ln) for i, ln in enumerate(lines)
               if ln.strip() and not ln.lstrip().startswith("#")]
    if not content:
        raise ForecastError([
            f"{source}:1: empty forecast: expected a header line {','.join(REQUIRED_COLUMNS)}"])
    header_no, header_line = content[0]
    delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
    decimal_comma = delimiter == ";"
    header = [h.strip().lower() for h in next(csv.reader([header_line], delimiter=delimiter))]
    problems: list[str] = []
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    unknown = [c for c in header if c not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    if missing:
        problems.append(f"{source}:{header_no}: missing column(s) {', '.join(missing)}; "
                        f"expected {','.join(REQUIRED_COLUMNS)}[,domain]")
    if unknown:
        problems.append(f"{source}:{header_no}: unknown column(s) {', '.join(unknown)}")
    if len(set(header)) != len(header):
        problems.append(f"{source}:{header_no}: a column appears twice")
    if problems:
        raise ForecastError(problems)
    col = {name: header.index(name) for name in header}

    rows: list[ForecastRow] = []
    seen: dict[tuple[int, str, str], int] = {}
    for line_no, raw in content[1:]:
        where = f"{source}:{line_no}"
        fields = next(csv.reader([raw], delimiter=delimiter))
        if len(fields) != len(header):
            problems.append(f"{where}: {len(fields)} fields, expected {len(header)} ({','.join(header)})")
            continue
        get = {name: fields[i].strip() for name, i in col.items()}
        bad = len(problems)
        match = _TIME.match(get["interval"])
        minute = 0
        if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
            problems.append(f"{where}: interval {get['interval']!r} is not a time HH:MM (00:00-23:59)")
        else:
            minute = int(match.group(1)) * 60 + int(match.group(2))
            if minute % interval_min:
                problems.append(f"{where}: interval {get['interval']} is not on the "
                                f"{interval_min}-minute grid")
        process = get["process"]
        if not process:
            problems.append(f"{where}: empty process code")
        channel = get["channel"].lower()
        if channel not in LIVE_CHANNELS:
            kind = ("a deferrable channel, not staffed per interval"
                    if channel in ("callback", "email", "webform", "mail") else "unknown")
            problems.append(f"{where}: channel {get['channel']!r} is {kind}; "
                            f"expected one of {', '.join(LIVE_CHANNELS)}")
        values: dict[str, float] = {}
        for name, what in (("arrivals", "arrivals"), ("aht_s", "average handling time (s)")):
            try:
                values[name] = _number(get[name], decimal_comma)
            except ValueError:
                problems.append(f"{where}: {what} {get[name]!r} is not a number")
        if "arrivals" in values and values["arrivals"] < 0:
            problems.append(f"{where}: arrivals {get['arrivals']} is negative")
        if "aht_s" in values and not values["aht_s"] > 0:
            if values.get("arrivals", 1.0) > 0:
                problems.append(f"{where}: average handling time {get['aht_s']} must be > 0 seconds")
            else:
                values["aht_s"] = 1.0  # no arrivals: the handling time does not matter
        if len(problems) > bad:
            continue
        key = (minute, process, channel)
        if key in seen:
            problems.append(f"{where}: {get['interval']} {process} {channel} already given "
                            f"on line {seen[key]}")
            continue
        seen[key] = line_no
        rows.append(ForecastRow(minute, process, channel, values["arrivals"], values["aht_s"],
                                get.get("domain") or None, line_no))
    if problems:
        raise ForecastError(problems)
    if not rows:
        raise ForecastError([f"{source}:{header_no}: the forecast has a header but no rows"])
    return Forecast(tuple(rows), interval_min, source)


def load_forecast(path: str | Path, interval_min: int = 15) -> Forecast:
    """Read and validate a forecast file."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ForecastError([f"{p}: cannot read: {exc.strerror or exc}"]) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ForecastError([f"{p}:{line}: not UTF-8 text (save the file as UTF-8 CSV)"]) from None
    return parse_forecast(text, str(p), interval_min)


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
    patience_s: float | None = None,
    catalogue: Any | None | str = "default",
) -> DayStaffing:
    """Required agents per interval for every process and skill group of ``forecast``.

    ``service_level`` / ``within_s`` override the targets for every cell;
    otherwise each process takes its catalogue target for its channel (when
    ``catalogue`` is a Catalogue, or "default" for the bundled one and it
    exists), else :data:`DEFAULT_TARGETS`.  A skill group takes the strictest
    target of its processes.  ``patience_s`` switches to Erlang A.
    """
    if not forecast.rows:
        raise ForecastError([f"{forecast.source}: the forecast has no rows"])
    cat: Any = _catalogue() if catalogue == "default" else catalogue
    used_catalogue = False
    domain_labels: dict[str, str] = {}
    if cat is not None:
        domain_labels = {code: getattr(d, "label", code) for code, d in
                         getattr(cat, "domains", {}).items()}

    def target_of(row: ForecastRow) -> tuple[float, float, str]:
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
    by_process = _solve(
        [(r.minute, r.process, r.channel, t[2]) for r, t in zip(rows, targets)],
        arrivals, aht, load, sl_t, within_t, asa_s, max_occupancy, shrinkage, patience_s,
    )

    # Skill groups (one domain on one channel) and the one queue of each channel, pooled.
    by_group = _pooled(rows, targets, arrivals, aht, sl_t, within_t, length_s, lambda d: d,
                       asa_s, max_occupancy, shrinkage, patience_s)
    by_channel = _pooled(rows, targets, arrivals, aht, sl_t, within_t, length_s,
                         lambda d: ALL_DOMAINS, asa_s, max_occupancy, shrinkage, patience_s)
    if service_level is not None or within_s is not None:
        source = "options"
    elif used_catalogue:
        source = "catalogue"
    else:
        source = "defaults"
    options = {
        "service_level": service_level, "within_s": within_s, "asa_s": asa_s,
        "max_occupancy": max_occupancy, "shrinkage": shrinkage, "patience_s": patience_s,
        "interval_min": forecast.interval_min,
    }
    return DayStaffing(forecast, by_process, by_group, by_channel, options, source, domain_labels)


def _pooled(
    rows: list[ForecastRow], targets: list[tuple[float, float, str]], arrivals: np.ndarray,
    aht: np.ndarray, sl_t: np.ndarray, within_t: np.ndarray, length_s: float,
    domain_of: Any, asa_s: float | None, max_occupancy: float | None, shrinkage: float,
    patience_s: float | None,
) -> list[StaffRow]:
    """Rows pooled per (interval, channel, domain_of(domain)): the strictest target wins."""
    pools: dict[tuple[int, str, str], list[int]] = defaultdict(list)
    for i, (r, t) in enumerate(zip(rows, targets)):
        pools[(r.minute, r.channel, domain_of(t[2]))].append(i)
    keys = sorted(pools)
    g_arr = np.array([arrivals[pools[k]].sum() for k in keys])
    g_work = np.array([(arrivals[pools[k]] * aht[pools[k]]).sum() for k in keys])
    g_aht = np.array([g_work[i] / g_arr[i] if g_arr[i] > 0 else aht[pools[k]].mean()
                      for i, k in enumerate(keys)])
    g_sl = np.array([sl_t[pools[k]].max() for k in keys])
    g_within = np.array([within_t[pools[k]].min() for k in keys])
    g_load = np.asarray(erlang.offered_load(g_arr, g_aht, length_s), dtype=float)
    return _solve(
        [(m, "", c, d) for m, c, d in keys],
        g_arr, g_aht, g_load, g_sl, g_within, asa_s, max_occupancy, shrinkage, patience_s,
    )


def _solve(
    keys: list[tuple[int, str, str, str]],
    arrivals: np.ndarray, aht: np.ndarray, load: np.ndarray, sl: np.ndarray,
    within: np.ndarray, asa_s: float | None, max_occupancy: float | None,
    shrinkage: float, patience_s: float | None,
) -> list[StaffRow]:
    res = staffing.required_agents(
        load, aht, service_level=sl, within_s=within, asa_s=asa_s,
        max_occupancy=max_occupancy, shrinkage=shrinkage, patience_s=patience_s,
    )
    cols = [np.atleast_1d(np.asarray(c)) for c in res]
    out = []
    for i, (minute, process, channel, domain) in enumerate(keys):
        out.append(StaffRow(
            minute, process, channel, domain, float(arrivals[i]), float(aht[i]),
            float(load[i]), float(sl[i]), float(within[i]),
            int(cols[0][i]), int(cols[1][i]), float(cols[2][i]), float(cols[3][i]),
            float(cols[4][i]), float(cols[5][i]), float(cols[6][i]),
        ))
    return out
