"""A small reader of Asterisk's extensions.conf: contexts, extensions, priorities.

Enough of the syntax for ``asterisk-config/extensions.conf``: ``[context]``,
``exten => pattern,priority,App(args)``, ``same => n,App(args)``, ``n(label)``
priorities, ``_`` patterns (X Z N [..] . !), ``[globals]`` and ``${VAR}``
substitution. The fake Asterisk runs the project's real dialplan with it, so
the tests exercise the configuration an administrator installs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dispatcher.fake_asterisk.config_files import asterisk_config_dir

DEFAULT_PATH = asterisk_config_dir() / "extensions.conf"


class DialplanError(ValueError):
    """The dialplan file cannot be read; the message names the line."""


@dataclass(frozen=True, slots=True)
class Step:
    """One priority: the application and its raw (unsubstituted) argument string."""

    priority: int
    app: str
    args: str
    label: str | None = None


@dataclass(slots=True)
class Extension:
    pattern: str
    steps: dict[int, Step] = field(default_factory=dict)
    labels: dict[str, int] = field(default_factory=dict)
    regex: re.Pattern[str] | None = None

    def matches(self, exten: str) -> bool:
        if self.regex is None:
            return exten == self.pattern
        return self.regex.fullmatch(exten) is not None


@dataclass(slots=True)
class Dialplan:
    contexts: dict[str, list[Extension]]
    globals: dict[str, str]

    def find(self, context: str, exten: str) -> Extension | None:
        """The extension of ``context`` that ``exten`` dials (exact names before patterns)."""
        extens = self.contexts.get(context)
        if not extens:
            return None
        for e in extens:
            if e.regex is None and e.pattern == exten:
                return e
        for e in extens:
            if e.regex is not None and e.matches(exten):
                return e
        return None

    def step(self, context: str, exten: str, priority: int) -> Step | None:
        e = self.find(context, exten)
        return None if e is None else e.steps.get(priority)


_PATTERN_CHARS = {"X": "[0-9]", "Z": "[1-9]", "N": "[2-9]", ".": ".+", "!": ".*"}


def pattern_regex(pattern: str) -> re.Pattern[str]:
    out = []
    i = 0
    body = pattern[1:]
    while i < len(body):
        ch = body[i]
        if ch == "[":
            j = body.index("]", i)
            out.append("[" + body[i + 1 : j].replace("\\", "\\\\") + "]")
            i = j + 1
            continue
        out.append(_PATTERN_CHARS.get(ch.upper(), re.escape(ch)))
        i += 1
    return re.compile("".join(out))


_APP = re.compile(r"^\s*([A-Za-z_][\w]*)\s*(?:\((.*)\))?\s*$")


def parse(text: str, source: str = "extensions.conf") -> Dialplan:
    contexts: dict[str, list[Extension]] = {}
    globals_: dict[str, str] = {}
    context: str | None = None
    last: Extension | None = None
    last_prio = 0
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = _strip_comment(raw).strip()
        if not line:
            continue
        if line.startswith("["):
            end = line.find("]")
            if end < 0:
                raise DialplanError(f"{source}:{lineno}: unclosed context name")
            context = line[1:end].strip()
            contexts.setdefault(context, [])
            last = None
            continue
        if context is None:
            raise DialplanError(f"{source}:{lineno}: line outside any context")
        if context == "general":
            continue
        if context == "globals":
            key, sep, value = line.partition("=")
            if sep:
                globals_[key.strip()] = value.strip()
            continue
        key, sep, value = line.partition("=>")
        if not sep:
            raise DialplanError(f"{source}:{lineno}: expected 'exten =>' or 'same =>'")
        key = key.strip().lower()
        value = value.strip()
        if key == "exten":
            pattern, _, rest = value.partition(",")
            pattern = pattern.strip()
            found = next((e for e in contexts[context] if e.pattern == pattern), None)
            if found is None:
                found = Extension(
                    pattern, regex=pattern_regex(pattern) if pattern.startswith("_") else None
                )
                contexts[context].append(found)
            last = found
        elif key == "same":
            if last is None:
                raise DialplanError(f"{source}:{lineno}: 'same =>' without an 'exten =>' before it")
            rest = value
        else:
            raise DialplanError(f"{source}:{lineno}: unknown keyword {key!r}")
        prio_text, _, app_text = rest.partition(",")
        prio_text = prio_text.strip()
        label = None
        m = re.fullmatch(r"(\w+)\((\w+)\)", prio_text)
        if m:
            prio_text, label = m.group(1), m.group(2)
        if prio_text == "n":
            prio = last_prio + 1
        elif prio_text.isdigit():
            prio = int(prio_text)
        else:
            raise DialplanError(f"{source}:{lineno}: bad priority {prio_text!r}")
        am = _APP.match(app_text)
        if am is None:
            raise DialplanError(f"{source}:{lineno}: bad application {app_text.strip()!r}")
        step = Step(prio, am.group(1), am.group(2) or "", label)
        last.steps[prio] = step
        if label:
            last.labels[label] = prio
        last_prio = prio
    return Dialplan(contexts, globals_)


def _strip_comment(line: str) -> str:
    out = []
    escaped = False
    for ch in line:
        if ch == ";" and not escaped:
            break
        escaped = ch == "\\" and not escaped
        out.append(ch)
    return "".join(out)


def load(path: str | Path | None = None) -> Dialplan:
    p = Path(path) if path is not None else DEFAULT_PATH
    return parse(p.read_text(encoding="utf-8"), str(p))


_VAR = re.compile(r"\$\{([^{}]+)\}")


def substitute(text: str, lookup: Callable[[str], str | None] | Mapping[str, str]) -> str:
    """Replace ``${NAME}`` (innermost first); an unknown name becomes empty, as in Asterisk."""
    get = lookup.get if isinstance(lookup, Mapping) else lookup
    for _ in range(10):
        new = _VAR.sub(lambda m: get(m.group(1)) or "", text)
        if new == text:
            break
        text = new
    return text


def split_args(args: str) -> list[str]:
    """Application arguments split on commas outside parentheses."""
    out: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in args:
        if ch == "," and depth == 0:
            out.append("".join(cur))
            cur = []
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        cur.append(ch)
    out.append("".join(cur))
    return out
