"""The one error type of the catalogue and skill-matrix files.

A bad file is refused with *every* problem found in it (as far as the file can
be read), each with the file, the line (1-based), the column when it helps and
the reason. ``str(error)`` gives one problem per line::

    agents.csv:12:col passport: bad level '4' (expected 1, 2 or 3)
    catalogue.yaml:40: unknown domain 'etat_cvil' (did you mean 'etat_civil'?)
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from dispatcher.i18n import msg

# Stop collecting after this many problems: past it the file is plainly not the
# expected kind of file, and more lines would only bury the first ones.
MAX_PROBLEMS = 100
UNKNOWN_PROCESS = "unknown_process"
"""The ``kind`` of a problem naming a process the catalogue does not have."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in one file.

    ``column`` is a column *name* for CSV files (``passport``, ``channels``)
    and a 1-based character column for YAML files; ``line`` is None for
    problems of the file as a whole.
    """

    path: str
    line: int | None
    column: int | str | None
    reason: str
    kind: str = ""
    """What sort of problem, for the command to add advice (e.g. UNKNOWN_PROCESS); "" for most."""

    def __str__(self) -> str:
        where = self.path
        if self.line is not None:
            where += f":{self.line}"
            if isinstance(self.column, str):
                where += f":col {self.column}"
        return f"{where}: {self.reason}"


class SkillFileError(Exception):
    """A catalogue or skill-matrix file was refused.

    ``path``, ``line``, ``column`` and ``reason`` are those of the first
    problem; ``problems`` holds all of them, in file order.
    """

    def __init__(self, problems: Problem | Sequence[Problem]) -> None:
        items = (problems,) if isinstance(problems, Problem) else tuple(problems)
        if not items:
            raise ValueError("SkillFileError needs at least one problem")
        self.problems: tuple[Problem, ...] = items
        first = items[0]
        self.path = first.path
        self.line = first.line
        self.column = first.column
        self.reason = first.reason
        super().__init__(str(self))

    @classmethod
    def single(
        cls, path: str, reason: str, line: int | None = None, column: int | str | None = None
    ) -> SkillFileError:
        """An error with one problem."""
        return cls(Problem(path, line, column, reason))

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)


class Problems:
    """Collects the problems of one file; ``raise_if_any`` refuses the file."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.items: list[Problem] = []
        self.truncated = False

    def add(self, reason: str, line: int | None = None, column: int | str | None = None,
            kind: str = "") -> None:
        if len(self.items) >= MAX_PROBLEMS:
            self.truncated = True
            return
        self.items.append(Problem(self.path, line, column, reason, kind))

    def __bool__(self) -> bool:
        return bool(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def raise_if_any(self) -> None:
        if not self.items:
            return
        items = sorted(self.items, key=lambda p: (p.line is not None, p.line or 0))
        if self.truncated:
            items.append(
                Problem(self.path, None, None, msg("too many problems: stopped after {max_problems}").format(max_problems=MAX_PROBLEMS))
            )
        raise SkillFileError(items)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` when a close choice exists, else an empty string."""
    pool = list(choices)
    lowered = {c.lower(): c for c in pool}
    if word.lower() in lowered:
        return msg(" (did you mean '{choice}'?)").format(choice=lowered[word.lower()])
    close = difflib.get_close_matches(word, pool, n=1, cutoff=0.75)
    return msg(" (did you mean '{choice}'?)").format(choice=close[0]) if close else ""
