"""Reading catalogue and matrix files: bytes to text, YAML to located nodes.

Internal helpers shared by ``skills.catalogue`` and ``skills.matrix``. YAML is
only *composed* (never constructed): every value keeps its node, hence its
line, and nothing in a file can build a Python object.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from dispatcher.i18n import msg
from skills.errors import Problems, SkillFileError, did_you_mean
from skills.model import Channel

_YamlLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

MERGE_TAG = "tag:yaml.org,2002:merge"
NULL_WORDS = frozenset({"", "~", "null", "Null", "NULL"})
CHANNEL_NAMES = ", ".join(c.value for c in Channel)


# ------------------------------------------------------------------ bytes -> text


def read_bytes(path: str | Path) -> bytes:
    """The file's bytes, or a SkillFileError saying why it cannot be read."""
    name = str(path)
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise SkillFileError.single(name, msg("file not found")) from None
    except IsADirectoryError:
        raise SkillFileError.single(name, msg("is a directory, not a file")) from None
    except OSError as exc:
        raise SkillFileError.single(name, msg("cannot read: {reason}").format(reason=exc.strerror or exc)) from None


def decode(data: bytes, path: str) -> str:
    """UTF-8 text of a file (a UTF-8 BOM is dropped), or a clear refusal.

    A file saved by Excel in its "CSV (séparateur : point-virgule)" format is
    Windows-1252, not UTF-8: it is refused with the first offending line and
    how to save it right, rather than read with wrong accents.
    """
    if data.startswith(b"PK\x03\x04"):
        raise SkillFileError.single(
            path,
            msg("this is a spreadsheet workbook (.xlsx/.ods), not a text file: save it as 'CSV UTF-8 (délimité par des virgules)'"),
        )
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise SkillFileError.single(
            path,
            msg("file is UTF-16 (Excel 'Texte Unicode'), not UTF-8: save it as 'CSV UTF-8 (délimité par des virgules)'"),
        )
    data = data.removeprefix(codecs.BOM_UTF8)
    if b"\x00" in data[:4096]:
        raise SkillFileError.single(path, msg("binary file (NUL bytes), not UTF-8 text"))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _encoding_error(data, exc, path) from None
    if not text.strip():
        raise SkillFileError.single(path, msg("empty file"))
    return text


def _encoding_error(data: bytes, exc: UnicodeDecodeError, path: str) -> SkillFileError:
    start = data.rfind(b"\n", 0, exc.start) + 1
    end = data.find(b"\n", exc.start)
    end = len(data) if end < 0 else end
    line = data.count(b"\n", 0, exc.start) + 1
    column = exc.start - start + 1
    byte = data[exc.start]
    try:
        data.decode("cp1252")
    except UnicodeDecodeError:
        return SkillFileError.single(
            path,
            msg("not UTF-8: invalid byte 0x{byte:02X} at column {column}; save the file as UTF-8").format(byte=byte, column=column),
            line=line,
        )
    shown = data[start:end].decode("cp1252").strip()
    if len(shown) > 60:
        shown = shown[:57] + "..."
    char = bytes([byte]).decode("cp1252")
    return SkillFileError.single(
        path,
        msg("not UTF-8: byte 0x{byte:02X} ('{char}' in {shown!r}) is Windows-1252/Latin-1, as saved by Excel's 'CSV (séparateur : point-virgule)'; save the file again as 'CSV UTF-8 (délimité par des virgules)' or re-encode it in UTF-8").format(byte=byte, char=char, shown=shown),
        line=line,
    )


def load_text(path: str | Path) -> str:
    """Read and decode a file (see ``decode``)."""
    return decode(read_bytes(path), str(path))


# ------------------------------------------------------------------ YAML nodes


def compose(text: str, problems: Problems) -> Node | None:
    """The root node of a one-document YAML text; syntax errors go to ``problems``."""
    loader = _YamlLoader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        reason = msg("YAML syntax error: {problem}").format(problem=exc.problem or msg("invalid YAML"))
        if exc.context and exc.context_mark is not None and exc.problem_mark is not None:
            reason += msg(" ({context} at line {line})").format(context=exc.context, line=exc.context_mark.line + 1)
        problems.add(reason, line=mark.line + 1 if mark else None, column=_col(mark))
        return None
    except yaml.YAMLError as exc:
        problems.add(msg("YAML error: {reason}").format(reason=exc))
        return None
    finally:
        loader.dispose()
    if root is None:
        problems.add(msg("empty file (no YAML content, only comments)"))
    return root


def _col(mark: yaml.Mark | None) -> int | None:
    return None if mark is None else mark.column + 1


def line_of(node: Node) -> int:
    return int(node.start_mark.line) + 1


def col_of(node: Node) -> int:
    return int(node.start_mark.column) + 1


def describe(node: Node) -> str:
    """How a node reads in an error message."""
    if isinstance(node, MappingNode):
        return msg("a mapping")
    if isinstance(node, SequenceNode):
        return msg("a list")
    value = str(node.value)
    if len(value) > 40:
        value = value[:37] + "..."
    return f"'{value}'"


@dataclass(frozen=True, slots=True)
class Entry:
    """One key of a YAML mapping with its nodes."""

    key: str
    key_node: Node
    node: Node


class Doc:
    """Typed, located access to composed YAML nodes; problems go to ``problems``."""

    def __init__(self, problems: Problems) -> None:
        self.problems = problems

    def error(self, node: Node | None, reason: str, kind: str = "") -> None:
        if node is None:
            self.problems.add(reason, kind=kind)
        else:
            self.problems.add(reason, line=line_of(node), column=col_of(node), kind=kind)

    # --- containers

    def mapping(self, node: Node, what: str) -> dict[str, Entry] | None:
        """The entries of a mapping node (merge keys ``<<`` applied)."""
        if not isinstance(node, MappingNode):
            self.error(node, msg("{what}: expected a mapping (key: value), got {got}").format(what=what, got=describe(node)))
            return None
        return self._entries(node, what, set())

    def _entries(self, node: MappingNode, what: str, seen: set[int]) -> dict[str, Entry]:
        if id(node) in seen:  # a recursive alias
            return {}
        seen = seen | {id(node)}
        merged: dict[str, Entry] = {}
        own: dict[str, Entry] = {}
        for key_node, value_node in node.value:
            if key_node.tag == MERGE_TAG:
                sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
                for source in sources:
                    if not isinstance(source, MappingNode):
                        self.error(source, msg("{what}: '<<' merges mappings, not {got}").format(what=what, got=describe(source)))
                        continue
                    for key, entry in self._entries(source, what, seen).items():
                        merged.setdefault(key, entry)  # the first source wins, as in YAML
                continue
            if not isinstance(key_node, ScalarNode):
                self.error(
                    key_node, msg("{what}: a key must be a plain word, not {got}").format(what=what, got=describe(key_node))
                )
                continue
            key = str(key_node.value)
            if key in own:
                first = line_of(own[key].key_node)
                self.error(key_node, msg("{what}: duplicate key '{key}' (first at line {first})").format(what=what, key=key, first=first))
                continue
            own[key] = Entry(key, key_node, value_node)
        merged.update(own)
        return merged

    def sequence(self, node: Node, what: str) -> list[Node] | None:
        if not isinstance(node, SequenceNode):
            self.error(node, msg("{what}: expected a list, got {got}").format(what=what, got=describe(node)))
            return None
        return list(node.value)

    def check_keys(self, entries: dict[str, Entry], allowed: Iterable[str], what: str) -> None:
        known = list(allowed)
        for key, entry in entries.items():
            if key not in known:
                hint = did_you_mean(key, known) or msg(" (expected one of: {choices})").format(choices=', '.join(known))
                self.error(entry.key_node, msg("{what}: unknown field '{key}'{hint}").format(what=what, key=key, hint=hint))

    # --- scalars

    def text(self, node: Node, what: str) -> str | None:
        """A scalar's raw text, None for an explicit null; a problem for anything else.

        The raw text is used on purpose: ``0101`` stays ``"0101"``, ``no`` stays
        ``"no"``; YAML 1.1's implicit types do not apply to identifiers.
        """
        if not isinstance(node, ScalarNode):
            self.error(node, msg("{what}: expected a value, got {got}").format(what=what, got=describe(node)))
            return None
        value = str(node.value)
        if not node.style and value in NULL_WORDS:  # plain: None (PyYAML) or "" (libyaml)
            return None
        return value

    def required_text(
        self, entries: dict[str, Entry], key: str, what: str, anchor: Node
    ) -> str | None:
        """A non-empty text field that must be present."""
        entry = entries.get(key)
        if entry is None:
            self.error(anchor, msg("{what}: missing required field '{key}'").format(what=what, key=key))
            return None
        value = self.text(entry.node, f"{what}, {key}")
        if value is None or not value.strip():
            if isinstance(entry.node, ScalarNode):
                self.error(entry.node, msg("{what}: empty required field '{key}'").format(what=what, key=key))
            return None
        return value.strip()

    def channels(self, node: Node, what: str) -> list[tuple[Channel, Node]] | None:
        """A list of channel names (or one ``|``-separated text)."""
        items: list[tuple[str, Node]]
        if isinstance(node, SequenceNode):
            items = []
            for item in node.value:
                value = self.text(item, what)
                if value is not None:
                    items.append((value.strip(), item))
        elif isinstance(node, ScalarNode):
            value = self.text(node, what) or ""
            items = [(part.strip(), node) for part in value.split("|") if part.strip()]
        else:
            self.error(node, msg("{what}: expected a list of channels, got {got}").format(what=what, got=describe(node)))
            return None
        result: list[tuple[Channel, Node]] = []
        seen: set[Channel] = set()
        ok = True
        for name, item in items:
            channel = parse_channel(name)
            if channel is None:
                self.error(item, msg("{what}: unknown channel '{name}'{channel_hint}").format(what=what, name=name, channel_hint=channel_hint(name)))
                ok = False
            elif channel in seen:
                self.error(item, msg("{what}: channel '{name}' listed twice").format(what=what, name=name))
                ok = False
            else:
                seen.add(channel)
                result.append((channel, item))
        return result if ok else None


# ------------------------------------------------------------------ shared parsing

SLUG_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def parse_channel(name: str) -> Channel | None:
    try:
        return Channel(name.strip().lower())
    except ValueError:
        return None


def channel_hint(name: str) -> str:
    hint = did_you_mean(name, [c.value for c in Channel])
    return hint or msg(" (expected one of: {choices})").format(choices=CHANNEL_NAMES)


def parse_level(raw: str) -> int | None:
    """1, 2 or 3 from a cell or scalar text (``2.0`` from a spreadsheet is accepted)."""
    value = raw.strip()
    value = value.removesuffix(".0")
    if value in ("1", "2", "3"):
        return int(value)
    return None
