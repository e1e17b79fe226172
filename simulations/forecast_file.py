"""Forecast files as planners make them: the project's CSV or a French spreadsheet export.

A forecast is one row per interval, process and channel::

    interval,process,channel,arrivals,aht_s          (the project's own format)
    créneau;démarche;canal;arrivées;DMT              (French Excel: ``;``, ``3,5``)

Accepted as a French spreadsheet writes it: ``;`` or ``,`` or tab separators,
a byte-order mark, CRLF line ends, UTF-8 or Windows-1252 (cp1252) text,
French column and channel names (:data:`COLUMN_NAMES`, :data:`CHANNEL_NAMES`),
times as ``08:30``, ``08:30:00``, ``8h30`` or a range ``08:30-09:00``,
decimal commas and thousands separators (space, no-break space, narrow
no-break space), handling times in seconds or as ``0:04:30``, and trailing
empty columns (``;;``).

The interval length is never assumed: given (``interval_min``), it is
checked against the times; otherwise it is read from the ranges or from the
spacing of the times, and a file whose times are spaced unevenly is refused.
Every kind of mistake is reported once, on its first line, with how many
lines share it and which (:class:`ForecastError`).
"""

from __future__ import annotations

import csv
import itertools
import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from simulations.i18n import tr

__all__ = [
    "CHANNEL_NAMES",
    "COLUMN_NAMES",
    "LIVE_CHANNELS",
    "Forecast",
    "ForecastError",
    "ForecastRow",
    "load_forecast",
    "parse_forecast",
]

LIVE_CHANNELS = ("phone", "counter")
DEFERRABLE_CHANNELS = ("callback", "email", "webform", "mail")
REQUIRED_COLUMNS = ("interval", "process", "channel", "arrivals", "aht_s")
OPTIONAL_COLUMNS = ("domain",)

COLUMN_NAMES: dict[str, tuple[str, ...]] = {
    "interval": ("interval", "intervalle", "créneau", "heure", "début", "tranche horaire"),
    "process": ("process", "démarche", "processus", "motif"),
    "channel": ("channel", "canal"),
    "arrivals": ("arrivals", "arrivées", "arrivées prévues", "volume", "contacts"),
    "aht_s": ("aht_s", "aht", "DMT", "DMT (s)", "DMT_s", "durée moyenne de traitement"),
    "domain": ("domain", "domaine"),
}
"""Accepted column names (case, accents, spaces and ``_`` do not matter)."""

CHANNEL_NAMES: dict[str, str] = {
    "phone": "phone", "téléphone": "phone", "tél": "phone", "appel": "phone",
    "counter": "counter", "accueil": "counter", "guichet": "counter", "physique": "counter",
    "callback": "callback", "rappel": "callback",
    "email": "email", "e-mail": "email", "courriel": "email",
    "mail": "mail", "courrier": "mail",
    "webform": "webform", "formulaire": "webform",
}
"""Channel names, French or English, to the project's codes."""

_SHOWN_LINES = 5
_MAX_GAPS = 3  # a lunch break or two; more gaps than this and the steps disagree
_TIME = re.compile(r"^(\d{1,2})\s*[:hH]\s*(\d{2})?(?::(\d{2}))?$")
_RANGE = re.compile(r"\s*(?:-|–|—|à)\s*")
_DURATION = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{2})$")
_SPACES = str.maketrans("", "", " \u00a0\u202f\u2009")


@lru_cache(maxsize=1024)
def _key(name: str) -> str:
    """A name without case, accents, punctuation or extra spaces: ``DMT (s)`` -> ``dmt s``."""
    plain = unicodedata.normalize("NFKD", name.strip().lstrip("\ufeff").lower())
    plain = "".join(ch for ch in plain if not unicodedata.combining(ch))
    return " ".join(re.sub(r"[^a-z0-9]+", " ", plain).split())


_COLUMN_OF = {_key(alias): col for col, aliases in COLUMN_NAMES.items() for alias in aliases}
_CHANNEL_OF = {_key(alias): code for alias, code in CHANNEL_NAMES.items()}
_FRENCH_WORDS = ({_key(a) for aliases in COLUMN_NAMES.values() for a in aliases[1:]}
                 | {_key(a) for a, code in CHANNEL_NAMES.items() if _key(a) != code})


class ForecastError(ValueError):
    """A forecast that cannot be used; ``problems`` holds one ``file:line: reason`` per kind."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


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
    """A day's forecast: rows on a grid of ``interval_min`` minutes.

    ``step_source`` says where the interval length came from (``file``: the
    file's times; ``option``: given); ``locale`` is ``fr`` for a French
    spreadsheet export (``;``, decimal commas, French names), else ``en``.
    """

    rows: tuple[ForecastRow, ...]
    interval_min: int = 15
    source: str = "<forecast>"
    step_source: str = "option"
    locale: str = "en"
    encoding: str = "utf-8"

    @property
    def minutes(self) -> list[int]:
        """Every interval start from the first to the last row, gaps included."""
        if not self.rows:
            return []
        first = min(r.minute for r in self.rows)
        last = max(r.minute for r in self.rows)
        return list(range(first, last + 1, self.interval_min))


@dataclass
class _Problems:
    """Problems grouped by kind: the first line's message, then the count and first lines."""

    source: str
    kinds: dict[str, list[tuple[int, str]]] = field(default_factory=dict)

    def add(self, kind: str, line: int, message: str) -> None:
        self.kinds.setdefault(kind, []).append((line, message))

    def __len__(self) -> int:
        return sum(len(v) for v in self.kinds.values())

    def lines(self) -> list[str]:
        out = []
        for found in self.kinds.values():
            line, message = found[0]
            text = f"{self.source}:{line}: {message}" if line else f"{self.source}: {message}"
            if len(found) > 1:
                shown = ", ".join(str(n) for n, _ in found[:_SHOWN_LINES])
                more = ", ..." if len(found) > _SHOWN_LINES else ""
                text += " [" + tr("{count} lines like this: {lines}").format(
                    count=len(found), lines=shown + more) + "]"
            out.append(text)
        return out

    def raise_if_any(self) -> None:
        if self.kinds:
            raise ForecastError(self.lines())


def _number(raw: str, decimal_comma: bool) -> float:
    """``3,5`` / ``1 234,5`` / ``1.234,5`` (French) or ``3.5`` / ``1,234.5`` as a float."""
    text = raw.strip().translate(_SPACES)
    if "," not in text and text.isascii():
        value = float(text)  # the common case: plain digits
        if not math.isfinite(value):
            raise ValueError(raw)
        return value
    if decimal_comma or re.fullmatch(r"[-+]?\d+,\d+", text):
        if "," in text:
            text = text.replace(".", "").replace(",", ".")
    elif re.fullmatch(r"[-+]?\d{1,3}(,\d{3})+(\.\d*)?", text):
        text = text.replace(",", "")
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(raw)
    return value


def _seconds(raw: str, decimal_comma: bool) -> float:
    """A handling time: seconds (``270``, ``270,5``) or ``H:MM:SS`` / ``M:SS``."""
    match = _DURATION.match(raw.strip())
    if match:
        hours, minutes, secs = (int(g) if g else 0 for g in match.groups())
        return hours * 3600.0 + minutes * 60.0 + secs
    return _number(raw, decimal_comma)


def _clock(text: str) -> int | None:
    """Minutes after midnight of ``08:30``, ``08:30:00``, ``8h30``, ``8h``; None if not a time."""
    match = _TIME.match(text.strip())
    if not match:
        return None
    hours, minutes, secs = int(match.group(1)), int(match.group(2) or 0), int(match.group(3) or 0)
    if hours > 23 or minutes > 59 or secs:
        return None
    return hours * 60 + minutes


def _interval(text: str) -> tuple[int | None, int | None]:
    """Start (minutes) and, for a range ``08:30-09:00``, its length."""
    parts = _RANGE.split(text.strip(), maxsplit=1)
    start = _clock(parts[0])
    if len(parts) == 1 or start is None:
        return start, None
    end = _clock(parts[1])
    if end is None:
        return None, None
    return start, (end - start) % 1440 or 1440


def _decode(data: bytes, source: str) -> tuple[str, str]:
    """The text and its encoding: UTF-8 (with or without BOM), else Windows-1252."""
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError as exc:
        utf8_error = exc
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        line = data[: utf8_error.start].count(b"\n") + 1
        raise ForecastError([
            f"{source}:{line}: " + tr("neither UTF-8 nor Windows-1252 text: in Excel, save it "
                                      "as 'CSV UTF-8 (délimité par des virgules)'")]) from None


def _expected_columns() -> str:
    return "; ".join(f"{col}: {' / '.join(names)}" for col, names in COLUMN_NAMES.items())


def _header(fields: list[str], line: int, problems: _Problems) -> list[str]:
    """Column codes of the header (trailing empty columns dropped)."""
    while fields and not fields[-1].strip():
        fields.pop()
    names = [_COLUMN_OF.get(_key(f), "") for f in fields]
    unknown = [f.strip() for f, n in zip(fields, names) if not n]
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        problems.add("header", line, tr(
            "missing column(s) {missing}; expected {columns}[,domain] or their French names "
            "({names})").format(missing=", ".join(missing), columns=",".join(REQUIRED_COLUMNS),
                                names=_expected_columns()))
    if unknown:
        problems.add("header-unknown", line, tr("unknown column(s) {unknown}; accepted: "
                                                "{names}").format(unknown=", ".join(unknown),
                                                                  names=_expected_columns()))
    if len(set(names)) != len(names) and not unknown:
        problems.add("header-twice", line, tr("a column appears twice"))
    return names


def _step(starts: list[int], ranges: Counter[int], given: int | None,
          problems: _Problems) -> tuple[int, str]:
    """The interval length and where it came from; unevenly spaced times are a problem."""
    if given is not None:
        return given, "option"
    if ranges:
        if len(ranges) > 1:
            lengths = ", ".join(tr("{minutes} min: {rows} rows").format(minutes=m, rows=n)
                                for m, n in sorted(ranges.items()))
            problems.add("step", 0, tr("the intervals have different lengths ({lengths}): one "
                                       "interval length per file").format(lengths=lengths))
        return max(ranges, key=lambda m: (ranges[m], m)), "file"
    distinct = sorted(set(starts))
    if len(distinct) < 2:
        problems.add("step", 0, tr("one interval only: its length cannot be read from the "
                                   "times; give it (--interval-minutes 15, 30 or 60)"))
        return 15, "file"
    gaps = [(b - a, a, b) for a, b in itertools.pairwise(distinct)]
    counts = Counter(d for d, _, _ in gaps)
    step = max(counts, key=lambda d: (counts[d], d))
    odd = [(d, a, b) for d, a, b in gaps if d != step]
    if any(d % step for d, _, _ in odd) or len(odd) > _MAX_GAPS:
        shown = ", ".join(f"{_hm(a)}->{_hm(b)}" for _, a, b in odd[:3])
        problems.add("step", 0, tr(
            "the times are not evenly spaced: mostly {step} min apart, but {count} other "
            "spacing(s) ({shown}): one interval length per file; if the missing intervals are "
            "closed, give --interval-minutes").format(
                step=step, count=len(odd), shown=shown + (", ..." if len(odd) > 3 else "")))
    return step, "file"


def _hm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def parse_forecast(text: str, source: str = "<forecast>", interval_min: int | None = None,
                   encoding: str = "utf-8") -> Forecast:
    """The forecast in ``text``; a :class:`ForecastError` gives every kind of problem."""
    if interval_min is not None and (not 1 <= interval_min <= 1440 or 1440 % interval_min):
        raise ForecastError([f"{source}: " + tr("the interval length must divide a day, got "
                                                "{minutes}").format(minutes=interval_min)])
    problems = _Problems(source)
    content = [(i + 1, ln) for i, ln in enumerate(text.lstrip("\ufeff").splitlines())
               if ln.strip(" \t;,") and not ln.lstrip().startswith("#")]
    if not content:
        raise ForecastError([f"{source}:1: " + tr("empty forecast: expected a header line "
                                                  "{columns}").format(
                                                      columns=",".join(REQUIRED_COLUMNS))])
    header_no, header_line = content[0]
    delimiter = max((";", ",", "\t"), key=header_line.count)
    decimal_comma = delimiter != ","
    fields = next(csv.reader([header_line], delimiter=delimiter))
    header = _header(fields, header_no, problems)
    problems.raise_if_any()
    french = decimal_comma or any(_key(f) in _FRENCH_WORDS for f in fields)
    col = {name: i for i, name in enumerate(header)}

    parsed: list[tuple[int, int, int | None, str, str, float, float, str | None]] = []
    seen: dict[tuple[int, str, str], int] = {}
    reader = csv.reader([raw for _, raw in content[1:]], delimiter=delimiter)
    for (line_no, _), values in zip(content[1:], reader):
        while len(values) > len(header) and not values[-1].strip():
            values.pop()
        if len(values) != len(header):
            problems.add("fields", line_no, tr("{count} fields, expected {expected} "
                                               "({columns})").format(
                count=len(values), expected=len(header), columns=delimiter.join(header)))
            continue
        get = {name: values[i].strip() for name, i in col.items()}
        before = len(problems)
        start, length = _interval(get["interval"])
        if start is None:
            problems.add("time", line_no, tr("interval {value!r} is not a time (08:30, "
                                             "08:30:00, 8h30 or 08:30-09:00)").format(
                                                 value=get["interval"]))
        process = get["process"]
        if not process:
            problems.add("process", line_no, tr("empty process code"))
        name = get["channel"]
        channel = _CHANNEL_OF.get(_key(name), "")
        french = french or (_key(name) in _FRENCH_WORDS)
        if channel in DEFERRABLE_CHANNELS:
            problems.add(f"channel-{channel}", line_no, tr(
                "channel {name!r} is a deferrable channel, not staffed per interval; expected "
                "phone (téléphone) or counter (accueil)").format(name=name))
        elif channel not in LIVE_CHANNELS:
            problems.add("channel", line_no, tr("channel {name!r} is unknown; expected one of "
                                                "phone (téléphone), counter (accueil)").format(
                                                    name=name))
        numbers: dict[str, float] = {}
        for key, what, read in (("arrivals", tr("arrivals {value!r} is not a number"), _number),
                                ("aht_s", tr("average handling time (s) {value!r} is not a "
                                             "number"), _seconds)):
            try:
                numbers[key] = read(get[key], decimal_comma)
            except ValueError:
                problems.add(f"number-{key}", line_no, what.format(value=get[key]))
        if numbers.get("arrivals", 0.0) < 0:
            problems.add("negative", line_no, tr("arrivals {value} is negative").format(
                value=get["arrivals"]))
        if "aht_s" in numbers and not numbers["aht_s"] > 0:
            if numbers.get("arrivals", 1.0) > 0:
                problems.add("aht", line_no, tr("average handling time {value} must be > 0 "
                                                "seconds").format(value=get["aht_s"]))
            else:
                numbers["aht_s"] = 1.0  # no arrivals: the handling time does not matter
        if len(problems) > before or start is None:
            continue
        key3 = (start, process, channel)
        if key3 in seen:
            problems.add("twice", line_no, tr("{time} {process} {channel} already given on "
                                              "line {line}").format(
                time=_hm(start), process=process, channel=channel, line=seen[key3]))
            continue
        seen[key3] = line_no
        parsed.append((line_no, start, length, process, channel, numbers["arrivals"],
                       numbers["aht_s"], get.get("domain") or None))
    problems.raise_if_any()
    if not parsed:
        raise ForecastError([f"{source}:{header_no}: " + tr("the forecast has a header but "
                                                            "no rows")])

    ranges = Counter(p[2] for p in parsed if p[2] is not None)
    step, step_source = _step([p[1] for p in parsed], ranges, interval_min, problems)
    problems.raise_if_any()
    first = min(p[1] for p in parsed)
    for p in parsed:
        if (p[1] - first) % step:
            problems.add("grid", p[0], tr("interval {time} is not on the {step}-minute grid "
                                          "(starting {first})").format(
                time=_hm(p[1]), step=step, first=_hm(first)))
        elif p[2] is not None and p[2] != step:
            problems.add("range", p[0], tr("interval {time} lasts {minutes} min, not "
                                           "{step}").format(time=_hm(p[1]), minutes=p[2],
                                                            step=step))
    problems.raise_if_any()
    rows = tuple(ForecastRow(p[1], p[3], p[4], p[5], p[6], p[7], p[0]) for p in parsed)
    return Forecast(rows, step, source, step_source, "fr" if french else "en", encoding)


def load_forecast(path: str | Path, interval_min: int | None = None) -> Forecast:
    """Read and validate a forecast file (see the module's docstring for what it accepts)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ForecastError([f"{p}: " + tr("cannot read: {reason}").format(
            reason=exc.strerror or exc)]) from None
    text, encoding = _decode(data, str(p))
    return parse_forecast(text, str(p), interval_min, encoding)
