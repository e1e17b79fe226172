"""Loading a scenario: skill matrix file + forecast + schedule + routing policy.

The schedule is a CSV file, one shift per row (an agent may have several)::

    agent_id,start,end,channels
    a101,08:30,12:00,phone
    a101,13:00,17:30,counter
    a102,08:30,12:30,

``start`` and ``end`` are clock times of the simulated day (``HH:MM`` or
``HH:MM:SS``); ``channels`` lists the channels served during the shift,
separated by ``|``; empty means the channels of the agent's skill-matrix row.
A bad file is refused with its path, line and reason (``ScenarioError``).

``train`` gives agents a new skill: the planner's "what if three more agents
learn passports?".
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from simulations.i18n import tr
from simulations.model import ArrivalInterval, Shift
from skills.errors import did_you_mean as _close_choice
from skills.matrix import CHANNEL_SEPARATOR
from skills.model import LEVELS, AgentProfile, Catalogue, Channel, SkillMatrix

SCHEDULE_COLUMNS = ("agent_id", "start", "end", "channels")


class ScenarioError(ValueError):
    """A scenario file or option was refused: ``path:line: reason``."""

    def __init__(self, path: str, reason: str, line: int | None = None) -> None:
        self.path, self.reason, self.line = path, reason, line
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {reason}")


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` in the planner's language when a close choice exists, else ``""``."""
    hint = _close_choice(word, choices)
    if not hint:
        return ""
    return " (" + tr("did you mean {name!r}?").format(name=hint.split("'")[1]) + ")"


def parse_clock(raw: str) -> float | None:
    """Seconds since midnight of ``HH:MM`` or ``HH:MM:SS``, None if it is not a clock time."""
    parts = raw.strip().split(":")
    if len(parts) not in (2, 3) or not all(p.isdigit() and len(p) <= 2 for p in parts):
        return None
    hours, minutes = int(parts[0]), int(parts[1])
    seconds = int(parts[2]) if len(parts) == 3 else 0
    if hours > 24 or minutes > 59 or seconds > 59:
        return None
    return hours * 3600.0 + minutes * 60.0 + seconds


def format_clock(seconds: float) -> str:
    """``HH:MM`` of seconds since midnight."""
    minutes = round(seconds / 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _channels(cell: str, path: str, line: int) -> frozenset[Channel] | None:
    names = [c.strip() for c in cell.split(CHANNEL_SEPARATOR) if c.strip()]
    if not names:
        return None
    found = set()
    for name in names:
        try:
            found.add(Channel(name.lower()))
        except ValueError:
            hint = did_you_mean(name, [c.value for c in Channel])
            raise ScenarioError(path, tr("unknown channel {name!r}").format(name=name) + hint, line) from None
    return frozenset(found)


def parse_schedule(text: str, path: str, matrix: SkillMatrix) -> tuple[Shift, ...]:
    """The shifts of a schedule CSV text, checked against the skill matrix."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None:
        raise ScenarioError(
            path, tr("empty file; expected the header {columns}").format(columns=",".join(SCHEDULE_COLUMNS)), 1
        )
    names = [h.strip().lower() for h in header]
    missing = [c for c in SCHEDULE_COLUMNS[:3] if c not in names]
    if missing:
        raise ScenarioError(
            path, tr("missing column {name!r} (columns: {columns})").format(
                name=missing[0], columns=", ".join(SCHEDULE_COLUMNS)), 1
        )
    col = {name: names.index(name) for name in SCHEDULE_COLUMNS if name in names}
    shifts: list[Shift] = []
    for line, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < len(names):
            row = row + [""] * (len(names) - len(row))
        agent_id = row[col["agent_id"]].strip()
        if agent_id not in matrix.agents:
            hint = did_you_mean(agent_id, matrix.agents)
            raise ScenarioError(path, tr("agent {agent!r} is not in the skill matrix").format(agent=agent_id) + hint, line)
        start, end = parse_clock(row[col["start"]]), parse_clock(row[col["end"]])
        if start is None or end is None:
            bad = row[col["start"]] if start is None else row[col["end"]]
            raise ScenarioError(path, tr("bad time {value!r} (expected HH:MM)").format(value=bad.strip()), line)
        if end <= start:
            raise ScenarioError(
                path,
                tr("the shift ends ({end}) before it starts ({start})").format(
                    end=format_clock(end), start=format_clock(start)),
                line,
            )
        channels = _channels(row[col["channels"]], path, line) if "channels" in col else None
        shifts.append(Shift(agent_id, start, end, channels))
    if not shifts:
        raise ScenarioError(path, tr("no shift in the schedule"))
    return tuple(shifts)


def load_schedule(path: str | Path, matrix: SkillMatrix) -> tuple[Shift, ...]:
    """Read and check a schedule CSV file."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(
            str(path), tr("cannot read the file ({reason})").format(reason=f"{exc.__class__.__name__}: {exc}")
        ) from None
    return parse_schedule(text, str(path), matrix)


def default_schedule_path() -> Path:
    """The bundled sample schedule (the bundled skill matrix's agents, one weekday)."""
    return Path(__file__).parent / "data" / "schedule.csv"


def full_day(matrix: SkillMatrix, arrivals: Sequence[ArrivalInterval]) -> tuple[Shift, ...]:
    """Every agent logged in from the first to the last arrival interval."""
    start = min(a.start_s for a in arrivals)
    end = max(a.end_s for a in arrivals)
    return tuple(Shift(agent_id, start, end) for agent_id in matrix.agents)


# ------------------------------------------------------------ training


def parse_training(spec: str) -> tuple[int | list[str], str, int]:
    """``COUNT:process:level`` or ``a101+a102:process:level`` -> (who, process, level)."""
    parts = spec.split(":")
    if len(parts) != 3:
        raise ScenarioError("--train", f"{spec!r}: " + tr("expected COUNT:process:level, e.g. 3:passport:2"))
    who, process, level_text = (p.strip() for p in parts)
    if not level_text.isdigit() or int(level_text) not in LEVELS:
        raise ScenarioError("--train", f"{spec!r}: " + tr("bad level {value!r} (expected 1, 2 or 3)").format(value=level_text))
    chosen: int | list[str] = int(who) if who.isdigit() else [a for a in who.split("+") if a]
    if chosen == 0 or chosen == []:
        raise ScenarioError("--train", f"{spec!r}: " + tr("no agent to train"))
    return chosen, process, int(level_text)


def train(
    matrix: SkillMatrix,
    catalogue: Catalogue,
    who: int | list[str],
    process: str,
    level: int,
    occupancy: Mapping[str, float] | None = None,
) -> tuple[SkillMatrix, list[str]]:
    """A matrix where agents now have ``process`` at ``level``; and who they are.

    ``who`` is a list of agent ids, or a count: then the agents below that level
    who serve a live channel (phone, counter) of the process, least occupied first (``occupancy``, e.g.
    from a baseline run), then with the fewest skills.
    """
    if process not in catalogue.processes:
        hint = did_you_mean(process, catalogue.processes)
        raise ScenarioError("--train", tr("unknown process {process!r}").format(process=process) + hint)
    served = {c for c in catalogue.processes[process].targets if c.is_live}
    if isinstance(who, list):
        unknown = [a for a in who if a not in matrix.agents]
        if unknown:
            hint = did_you_mean(unknown[0], matrix.agents)
            raise ScenarioError("--train", tr("agent {agent!r} is not in the skill matrix").format(agent=unknown[0]) + hint)
        chosen = who
    else:
        pool = [
            a
            for a in matrix.agents.values()
            if a.skills.get(process, 0) < level and a.channels & served
        ]
        if len(pool) < who:
            raise ScenarioError(
                "--train",
                tr("only {count} agents can still be trained on {process!r} at level {level}").format(
                    count=len(pool), process=process, level=level),
            )
        occ = occupancy or {}

        def free_first(a: AgentProfile) -> tuple[float, int, str]:
            busy = occ.get(a.agent_id, 0.0)
            return (busy if math.isfinite(busy) else 1.0, len(a.skills), a.agent_id)

        pool.sort(key=free_first)
        chosen = [a.agent_id for a in pool[:who]]
    agents = dict(matrix.agents)
    for agent_id in chosen:
        profile = agents[agent_id]
        agents[agent_id] = replace(profile, skills={**profile.skills, process: level})
    return SkillMatrix(agents=agents), chosen
