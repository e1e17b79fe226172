"""Agents' feature codes: what an agent dials on their softphone to change state.

``*21`` ready (also ends a wrap-up early, and brings back an agent paused
``no_answer``), ``*22`` then a reason digit to pause (``*221``, or ``*22``
and the digit when asked), ``*23`` to log out. The codes and the reasons are
part of the menu file (section ``agents``); the dialplan's ``[from-agents]``
hands every ``*`` code to the FastAGI script ``agent`` (see docs/phone.md).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

READY, PAUSE, LOGOUT = "ready", "pause", "logout"
LOGOUT_REASON = "logout"
"""The reason recorded with an agent's own log-out (feature code or ``guichet agents logout``)."""

_CODE = re.compile(r"^\*[0-9]{1,4}$")
_REASON = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
RESERVED_REASONS = frozenset({"no_answer"})
"""Reasons the routing core gives itself (ring-no-answer); an agent never picks them."""


def _default_reasons() -> dict[str, str]:
    return {"1": "break", "2": "lunch", "3": "meeting", "4": "training", "5": "back_office"}


@dataclass(frozen=True, slots=True)
class AgentCodes:
    """The feature codes and the pause reasons by digit."""

    ready: str = "*21"
    pause: str = "*22"
    logout: str = "*23"
    pause_reasons: Mapping[str, str] = field(default_factory=_default_reasons)

    def action(self, dialled: str) -> tuple[str, str] | None:
        """What ``dialled`` asks: (``ready``/``pause``/``logout``, the digits after a pause code); None if unknown."""
        if dialled == self.ready:
            return READY, ""
        if dialled == self.logout:
            return LOGOUT, ""
        if dialled.startswith(self.pause):
            rest = dialled[len(self.pause) :]
            if rest == "" or rest.isdigit():
                return PAUSE, rest
        return None

    def reasons(self) -> set[str]:
        """Every reason an agent may pause with."""
        return set(self.pause_reasons.values())


def parse_agent_codes(value: Any, problems: list[str]) -> AgentCodes:
    """The ``agents`` section of a menu file (defaults when absent); problems appended, each with its place."""
    if value is None:
        return AgentCodes()
    if not isinstance(value, dict):
        problems.append("agents: expected a mapping (ready, pause, logout, pause_reasons)")
        return AgentCodes()
    known = {"ready", "pause", "logout", "pause_reasons"}
    for key in value:
        if key not in known:
            problems.append(f"agents.{key}: unknown key (known: {', '.join(sorted(known))})")
    defaults = AgentCodes()
    codes: dict[str, str] = {}
    for name in ("ready", "pause", "logout"):
        code = str(value.get(name, getattr(defaults, name)))
        if not _CODE.match(code):
            problems.append(f"agents.{name}: {code!r} is not a feature code (a star then 1-4 digits, e.g. *21)")
        codes[name] = code
    if len(set(codes.values())) < 3:
        problems.append("agents: the ready, pause and logout codes must differ")
    for name in ("ready", "logout"):
        if codes[name] != codes["pause"] and codes[name].startswith(codes["pause"]):
            problems.append(f"agents.{name}: {codes[name]!r} would read as the pause code and a reason digit")
    raw = value.get("pause_reasons", _default_reasons())
    reasons: dict[str, str] = {}
    if not isinstance(raw, dict) or not raw:
        problems.append("agents.pause_reasons: expected a mapping of digit -> reason, e.g. {'1': break}")
    else:
        for digit, reason in raw.items():
            digit, reason = str(digit), str(reason)
            if not (len(digit) == 1 and digit.isdigit()):
                problems.append(f"agents.pause_reasons.{digit}: a reason is chosen by one digit (0-9)")
            elif not _REASON.match(reason) or reason in RESERVED_REASONS:
                problems.append(
                    f"agents.pause_reasons.{digit}: {reason!r} is not a reason word (lower case, e.g. lunch; not no_answer)"
                )
            else:
                reasons[digit] = reason
    return AgentCodes(codes["ready"], codes["pause"], codes["logout"], reasons or _default_reasons())
