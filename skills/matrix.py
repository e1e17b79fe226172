"""The skill matrix files (CSV and YAML): loaders, validation and writers.

CSV, as planners keep it in a spreadsheet (one row per agent)::

    agent_id,name,channels,endpoint,desk,triage,passport,id_card,...
    a101,Nathalie Lefèvre,phone|counter,PJSIP/agent101,guichet 1,3,3,3,...
    a114,Hugo Lambert,counter,,guichet 9,1,,1,...

- ``agent_id``, ``name`` and ``channels`` are required columns; ``endpoint``
  and ``desk`` are optional; every other column is a process code of the
  catalogue, its cells a level (1 trainee, 2 competent, 3 expert) or empty.
- ``channels`` are separated by ``|`` (never ``,`` or ``;``, which a
  spreadsheet may use as the field delimiter); an empty cell means the agent
  serves no channel now.
- The delimiter is sniffed from the header: ``,`` (the default), ``;`` (French
  Excel) or a tab. A UTF-8 BOM is accepted; a Windows-1252 file is refused.

YAML::

    agents:
      - agent_id: a101
        name: "Nathalie Lefèvre"
        channels: [phone, counter]
        endpoint: "PJSIP/agent101"
        desk: "guichet 1"
        skills:
          triage: 3
          passport: 3
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

from yaml.nodes import Node

from dispatcher.i18n import M_, msg
from skills._files import (
    CHANNEL_NAMES,
    Doc,
    channel_hint,
    compose,
    decode,
    line_of,
    load_text,
    parse_channel,
    parse_level,
)
from skills.errors import UNKNOWN_PROCESS, Problems, SkillFileError, did_you_mean
from skills.model import ALL_CHANNELS, AgentProfile, Catalogue, Channel, SkillMatrix

FIXED_COLUMNS = ("agent_id", "name", "channels", "endpoint", "desk")
REQUIRED_COLUMNS = ("agent_id", "name", "channels")
AGENT_KEYS = ("agent_id", "name", "channels", "endpoint", "desk", "skills")
CHANNEL_SEPARATOR = "|"
DELIMITERS = (",", ";", "\t")

AGENT_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
ENDPOINT_RE = re.compile(r"^[A-Za-z][A-Za-z0-9]*/\S+$")

Format = Literal["csv", "yaml"]

LEVEL_HINT = M_("expected 1, 2 or 3")


def format_of(path: str | Path) -> Format | None:
    """``csv`` or ``yaml`` from a file name's extension, else None."""
    suffix = Path(path).suffix.lower()
    if suffix in (".csv", ".tsv"):
        return "csv"
    if suffix in (".yaml", ".yml"):
        return "yaml"
    return None


def looks_like_csv(text: str) -> bool:
    """A matrix CSV starts with its ``agent_id`` header (the YAML form with a mapping)."""
    for line in text.splitlines():
        stripped = line.strip().lstrip("\ufeff")
        if stripped and not stripped.startswith("#"):
            return stripped.lower().startswith(("agent_id", '"agent_id"'))
    return False


# ------------------------------------------------------------------ shared checks


@dataclass
class _AgentDraft:
    agent_id: str
    name: str
    channels: frozenset[Channel]
    endpoint: str | None
    desk: str | None
    skills: dict[str, int]
    line: int


class _Registry:
    """Checks across agents: duplicate ids and endpoints."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.endpoints: dict[str, tuple[str, int]] = {}
        self.agents: dict[str, AgentProfile] = {}

    def duplicate_id(self, agent_id: str, line: int) -> str | None:
        if agent_id in self.ids:
            return msg("duplicate agent '{agent_id}' (first at line {first})").format(agent_id=agent_id,
                                                                             first=self.ids[agent_id])
        self.ids[agent_id] = line
        return None

    def duplicate_endpoint(self, agent_id: str, endpoint: str, line: int) -> str | None:
        key = endpoint.lower()
        if key in self.endpoints:
            other, first = self.endpoints[key]
            return msg("endpoint '{endpoint}' is already used by agent '{other}' (line {first})").format(endpoint=endpoint, other=other, first=first)
        self.endpoints[key] = (agent_id, line)
        return None


def _agent_id_problem(agent_id: str) -> str | None:
    if AGENT_ID_RE.match(agent_id):
        return None
    return msg("bad agent_id '{agent_id}' (letters, digits, '.', '_', '-', '@'; no spaces; at most 64)").format(agent_id=agent_id)


def _endpoint_problem(endpoint: str) -> str | None:
    if ENDPOINT_RE.match(endpoint):
        return None
    return msg("bad endpoint '{endpoint}' (expected TECHNOLOGY/resource, e.g. PJSIP/agent101)").format(endpoint=endpoint)


def _unknown_process(code: str, catalogue: Catalogue) -> str:
    hint = did_you_mean(code, catalogue.processes)
    return msg("unknown process '{code}'{hint}").format(code=code, hint=hint or msg(" (not in the catalogue)"))


# ------------------------------------------------------------------ CSV


def sniff_delimiter(text: str) -> str:
    """The field delimiter of a matrix CSV, judged on its header line."""
    header = next((line for line in text.splitlines() if line.strip()), "")
    best, best_cells = ",", 0
    for delimiter in DELIMITERS:
        cells = next(csv.reader([header], delimiter=delimiter), [])
        names = [c.strip().lower() for c in cells]
        if "agent_id" in names and len(cells) > best_cells:
            best, best_cells = delimiter, len(cells)
    if best_cells:
        return best
    # No agent_id column whatever the delimiter: take the one that splits most.
    counts = {d: header.count(d) for d in DELIMITERS}
    return max(DELIMITERS, key=lambda d: counts[d]) if any(counts.values()) else ","


def parse_matrix_csv(text: str, path: str, catalogue: Catalogue) -> SkillMatrix:
    """The matrix in a CSV text; a SkillFileError lists every problem."""
    problems = Problems(path)
    delimiter = sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[tuple[int, list[str]]] = []
    previous_end = 0
    try:
        for row in reader:
            rows.append((previous_end + 1, row))
            previous_end = reader.line_num
    except csv.Error as exc:
        problems.add(msg("unreadable CSV: {reason}").format(reason=exc), line=reader.line_num)
        problems.raise_if_any()

    rows = [(line, row) for line, row in rows if any(cell.strip() for cell in row)]
    if not rows:
        problems.add(msg("empty file"))
        problems.raise_if_any()
    header_line, header = rows[0]
    columns = _csv_header(header, header_line, problems, catalogue, delimiter)
    if columns is None:
        problems.raise_if_any()
        raise AssertionError("unreachable")
    if len(rows) == 1:
        problems.add(msg("no agent rows below the header"), line=header_line)

    registry = _Registry()
    for line, row in rows[1:]:
        _csv_row(row, line, columns, problems, registry)
    problems.raise_if_any()
    return SkillMatrix(agents=registry.agents)


def _csv_header(
    header: list[str],
    line: int,
    problems: Problems,
    catalogue: Catalogue,
    delimiter: str,
) -> list[str | None] | None:
    """Column names (None for an ignorable empty column), or None if unusable."""
    names = [cell.strip().lstrip("\ufeff") for cell in header]
    lowered = [n.lower() for n in names]
    columns: list[str | None] = []
    usable = True
    missing = [c for c in REQUIRED_COLUMNS if c not in lowered]
    if missing:
        shown = delimiter.join(names[:4]) + (delimiter + "..." if len(names) > 4 else "")
        problems.add(
            (msg("missing columns {missing}: the header must start with {fixed} then one column per process "
                 "code (found '{shown}')") if len(missing) > 1 else
             msg("missing column {missing}: the header must start with {fixed} then one column per process "
                 "code (found '{shown}')")).format(missing=", ".join(missing), fixed=",".join(FIXED_COLUMNS),
                                                   shown=shown),
            line=line,
        )
        usable = False
    seen: dict[str, int] = {}
    for index, (name, low) in enumerate(zip(names, lowered, strict=True), start=1):
        if not name:
            columns.append(None)
            continue
        key = low if low in FIXED_COLUMNS else name
        if key in seen:
            problems.add(
                msg("duplicate column '{name}' (columns {seen} and {index})").format(name=name, seen=seen[key], index=index),
                line=line,
                column=name,
            )
            usable = False
            columns.append(None)
            continue
        seen[key] = index
        if low in FIXED_COLUMNS:
            columns.append(low)
        elif name in catalogue.processes:
            columns.append(name)
        else:
            problems.add(_unknown_process(name, catalogue), line=line, column=name, kind=UNKNOWN_PROCESS)
            columns.append(None)
    return columns if usable else None


def _csv_row(
    row: list[str],
    line: int,
    columns: list[str | None],
    problems: Problems,
    registry: _Registry,
) -> None:
    cells: dict[str, str] = {}
    for index, raw in enumerate(row):
        value = raw.strip()
        if index >= len(columns):
            if value:
                problems.add(
                    msg("{cells} cells but the header has {columns} columns (value '{value}' in column {column})").format(
                        cells=len(row), columns=len(columns), value=value, column=index + 1),
                    line=line,
                )
                return
            continue
        name = columns[index]
        if name is None:
            continue
        cells[name] = value

    ok = True
    agent_id = cells.get("agent_id", "")
    name = cells.get("name", "")
    if not agent_id:
        problems.add(msg("missing agent_id"), line=line, column="agent_id")
        ok = False
    elif (reason := _agent_id_problem(agent_id)) is not None or (
        reason := registry.duplicate_id(agent_id, line)
    ) is not None:
        problems.add(reason, line=line, column="agent_id")
        ok = False
    if not name:
        problems.add(msg("missing name"), line=line, column="name")
        ok = False

    channels: set[Channel] = set()
    for part in _split_channels(cells.get("channels", "")):
        channel = parse_channel(part)
        if channel is None:
            hint = channel_hint(part)
            if "," in part or ";" in part:
                hint = msg(" (separate channels with '{separator}', e.g. phone|counter)").format(
                    separator=CHANNEL_SEPARATOR)
            problems.add(msg("unknown channel '{part}'{hint}").format(part=part, hint=hint), line=line, column="channels")
            ok = False
        elif channel in channels:
            problems.add(msg("channel '{part}' listed twice").format(part=part), line=line, column="channels")
            ok = False
        else:
            channels.add(channel)

    endpoint = cells.get("endpoint") or None
    if endpoint is not None:
        reason = _endpoint_problem(endpoint)
        if reason is None and agent_id:
            reason = registry.duplicate_endpoint(agent_id, endpoint, line)
        if reason is not None:
            problems.add(reason, line=line, column="endpoint")
            ok = False

    skills: dict[str, int] = {}
    for column, value in cells.items():
        if column in FIXED_COLUMNS or not value:
            continue
        level = parse_level(value)
        if level is None:
            problems.add(msg("bad level '{value}' ({level_hint})").format(value=value, level_hint=msg(LEVEL_HINT)), line=line, column=column)
            ok = False
        else:
            skills[column] = level

    if ok:
        registry.agents[agent_id] = AgentProfile(
            agent_id=agent_id,
            name=name,
            skills=skills,
            channels=frozenset(channels),
            endpoint=endpoint,
            desk=cells.get("desk") or None,
        )


def _split_channels(cell: str) -> list[str]:
    return [part.strip() for part in cell.split(CHANNEL_SEPARATOR) if part.strip()]


# ------------------------------------------------------------------ YAML


def parse_matrix_yaml(text: str, path: str, catalogue: Catalogue) -> SkillMatrix:
    """The matrix in a YAML text; a SkillFileError lists every problem."""
    problems = Problems(path)
    doc = Doc(problems)
    registry = _Registry()
    root = compose(text, problems)
    if root is not None:
        top = doc.mapping(root, msg("skill matrix"))
        if top is not None:
            doc.check_keys(top, ("version", "agents"), msg("skill matrix"))
            if "version" in top and doc.text(top["version"].node, "version") != "1":
                doc.error(top["version"].node, msg("unsupported skill matrix version (expected 1)"))
            if "agents" not in top:
                doc.error(root, msg("skill matrix: missing required field 'agents'"))
            else:
                items = doc.sequence(top["agents"].node, "agents")
                if items is not None and not items:
                    doc.error(top["agents"].node, msg("agents: the list is empty"))
                for index, item in enumerate(items or [], start=1):
                    _yaml_agent(item, index, doc, registry, catalogue)
    problems.raise_if_any()
    return SkillMatrix(agents=registry.agents)


def _yaml_agent(
    node: Node, index: int, doc: Doc, registry: _Registry, catalogue: Catalogue
) -> None:
    entries = doc.mapping(node, f"agent #{index}")
    if entries is None:
        return
    before = len(doc.problems)
    agent_id = doc.required_text(entries, "agent_id", f"agent #{index}", node)
    what = msg("agent '{agent}'").format(agent=agent_id) if agent_id else msg("agent #{index}").format(index=index)
    doc.check_keys(entries, AGENT_KEYS, what)
    if agent_id is not None:
        id_node = entries["agent_id"].node
        reason = _agent_id_problem(agent_id) or registry.duplicate_id(agent_id, line_of(id_node))
        if reason is not None:
            doc.error(id_node, reason)
    name = doc.required_text(entries, "name", what, node)

    channels: list[Channel] = []
    if "channels" not in entries:
        doc.error(node, msg("{what}: missing required field 'channels' (may be [] for none)").format(what=what))
    else:
        found = doc.channels(entries["channels"].node, f"{what}, channels")
        channels = [channel for channel, _ in found or []]

    endpoint = desk = None
    if "endpoint" in entries:
        endpoint_node = entries["endpoint"].node
        endpoint = doc.text(endpoint_node, f"{what}, endpoint")
        endpoint = endpoint.strip() if endpoint and endpoint.strip() else None
        if endpoint is not None:
            reason = _endpoint_problem(endpoint)
            if reason is None and agent_id:
                reason = registry.duplicate_endpoint(agent_id, endpoint, line_of(endpoint_node))
            if reason is not None:
                doc.error(endpoint_node, f"{what}: {reason}")
    if "desk" in entries:
        desk = doc.text(entries["desk"].node, f"{what}, desk")
        desk = desk.strip() if desk and desk.strip() else None

    skills: dict[str, int] = {}
    if "skills" in entries:
        skill_entries = doc.mapping(entries["skills"].node, f"{what}, skills")
        for code, entry in (skill_entries or {}).items():
            if code not in catalogue.processes:
                doc.error(entry.key_node, f"{what}: {_unknown_process(code, catalogue)}", kind=UNKNOWN_PROCESS)
                continue
            raw = doc.text(entry.node, f"{what}, {code}")
            level = parse_level(raw) if raw is not None else None
            if level is None:
                doc.error(
                    entry.node, msg("{what}: bad level '{value}' for '{code}' ({level_hint})").format(what=what, value=raw or '', code=code, level_hint=msg(LEVEL_HINT))
                )
                continue
            skills[code] = level

    if len(doc.problems) == before and agent_id is not None and name is not None:
        registry.agents[agent_id] = AgentProfile(
            agent_id=agent_id,
            name=name,
            skills=skills,
            channels=frozenset(channels),
            endpoint=endpoint,
            desk=desk,
        )


# ------------------------------------------------------------------ loading


def parse_matrix(
    text: str, path: str, catalogue: Catalogue, fmt: Format | None = None
) -> SkillMatrix:
    """A matrix text in ``fmt`` (default: from the file name, else from the content)."""
    fmt = fmt or format_of(path) or ("csv" if looks_like_csv(text) else "yaml")
    if fmt == "csv":
        return parse_matrix_csv(text, path, catalogue)
    return parse_matrix_yaml(text, path, catalogue)


def load_matrix(path: str | Path, catalogue: Catalogue) -> SkillMatrix:
    """Read and validate a skill matrix file (CSV or YAML) against ``catalogue``."""
    return parse_matrix(load_text(path), str(path), catalogue)


def default_matrix(catalogue: Catalogue | None = None) -> SkillMatrix:
    """The bundled sample matrix (``skills/data/agents.csv``) of the sample catalogue."""
    if catalogue is None:
        from skills.catalogue import default_catalogue

        catalogue = default_catalogue()
    resource = resources.files("skills.data").joinpath("agents.csv")
    return parse_matrix_csv(decode(resource.read_bytes(), "agents.csv"), "agents.csv", catalogue)


def default_matrix_path() -> str:
    """Where the bundled sample matrix is (for messages)."""
    return str(resources.files("skills.data").joinpath("agents.csv"))


# ------------------------------------------------------------------ writing


def process_columns(matrix: SkillMatrix, catalogue: Catalogue | None = None) -> list[str]:
    """Process codes in column order: the catalogue's order, else first use in the matrix."""
    if catalogue is not None:
        held = {code for agent in matrix.agents.values() for code in agent.skills}
        extra = [code for code in held if code not in catalogue.processes]
        return list(catalogue.processes) + sorted(extra)
    order: dict[str, None] = {}
    for agent in matrix.agents.values():
        for code in agent.skills:
            order.setdefault(code, None)
    return list(order)


def _channel_list(channels: Iterable[Channel]) -> list[str]:
    served = set(channels)
    return [c.value for c in ALL_CHANNELS if c in served]


def matrix_to_csv(
    matrix: SkillMatrix, catalogue: Catalogue | None = None, delimiter: str = ","
) -> str:
    """The CSV text of a matrix (one row per agent, one column per process)."""
    codes = process_columns(matrix, catalogue)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    writer.writerow([*FIXED_COLUMNS, *codes])
    for agent in matrix.agents.values():
        levels = [str(agent.skills[c]) if c in agent.skills else "" for c in codes]
        writer.writerow(
            [
                agent.agent_id,
                agent.name,
                CHANNEL_SEPARATOR.join(_channel_list(agent.channels)),
                agent.endpoint or "",
                agent.desk or "",
                *levels,
            ]
        )
    return out.getvalue()


_YAML_PLAIN_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")
_YAML_RESERVED = frozenset(["y", "n", "yes", "no", "on", "off", "true", "false", "null"])


def _yaml_key(text: str) -> str:
    """A plain YAML word when safe, else a double-quoted string."""
    if _YAML_PLAIN_RE.match(text) and text.lower() not in _YAML_RESERVED:
        return text
    return _yaml_string(text)


def _yaml_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def matrix_to_yaml(matrix: SkillMatrix, catalogue: Catalogue | None = None) -> str:
    """The YAML text of a matrix (skills in the catalogue's order)."""
    codes = process_columns(matrix, catalogue)
    lines = [
        "# Skill matrix of Guichet (see docs/skills.md).",
        "# skills: process code -> level (1 trainee, 2 competent, 3 expert);",
        "# channels: what the agent serves now (" + CHANNEL_NAMES + ").",
        "agents:",
    ]
    for agent in matrix.agents.values():
        lines.append(f"  - agent_id: {_yaml_key(agent.agent_id)}")
        lines.append(f"    name: {_yaml_string(agent.name)}")
        lines.append(f"    channels: [{', '.join(_channel_list(agent.channels))}]")
        if agent.endpoint:
            lines.append(f"    endpoint: {_yaml_string(agent.endpoint)}")
        if agent.desk:
            lines.append(f"    desk: {_yaml_string(agent.desk)}")
        held = [c for c in codes if c in agent.skills]
        if not held:
            lines.append("    skills: {}")
            continue
        lines.append("    skills:")
        lines.extend(f"      {_yaml_key(code)}: {agent.skills[code]}" for code in held)
    return "\n".join(lines) + "\n"


def write_matrix(
    matrix: SkillMatrix,
    path: str | Path,
    catalogue: Catalogue | None = None,
    fmt: Format | None = None,
    excel: bool = False,
) -> None:
    """Write a matrix file (format from ``fmt`` or the extension), atomically.

    ``excel`` writes a CSV for French Excel: ``;``-separated with a UTF-8 BOM,
    so that a double click opens it with the right columns and accents.
    """
    fmt = fmt or format_of(path)
    if fmt is None:
        raise SkillFileError.single(
            str(path), msg("unknown output format: name the file .csv, .yaml or .yml")
        )
    if fmt == "csv":
        text = matrix_to_csv(matrix, catalogue, delimiter=";" if excel else ",")
        data = (("\ufeff" if excel else "") + text).encode("utf-8")
    else:
        data = matrix_to_yaml(matrix, catalogue).encode("utf-8")
    target = Path(path)
    tmp: str | None = None
    try:
        mode = target.stat().st_mode & 0o777 if target.exists() else 0o644
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, target)
        tmp = None
    except OSError as exc:
        raise SkillFileError.single(str(path), msg("cannot write: {reason}").format(reason=exc.strerror or exc)) from None
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
