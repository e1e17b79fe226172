"""Device and counter-agent tokens, from the environment or a secrets file (never committed).

Both say ``id=token`` pairs: the environment variable as a comma-separated
list (``GUICHET_DEVICE_TOKENS="hdv-borne-1=...,a03=..."``), the file one pair a
line (``#`` comments, blank lines allowed). Each id must be a known subject: a
kiosk or display of the sites file, or an agent of the skill matrix (a
counter agent). A bad pair is refused with the file, the line and the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from dispatcher.counter.sites import Sites
from dispatcher.http.roles import DeviceTokens, Principal, Role
from skills.model import SkillMatrix

MIN_TOKEN_LENGTH = 16


class TokenConfigError(Exception):
    """The tokens cannot be used; the message says where and why (never the token)."""


def _pairs(text: str, where: str, separator: str) -> list[tuple[str, str, str]]:
    """(where:line, id, token) of each pair."""
    found: list[tuple[str, str, str]] = []
    chunks = text.splitlines() if separator == "\n" else text.split(separator)
    for number, chunk in enumerate(chunks, start=1):
        line = chunk.strip()
        if not line or line.startswith("#"):
            continue
        place = f"{where}:{number}" if separator == "\n" else f"{where} (pair {number})"
        subject, eq, token = line.partition("=")
        if not eq or not subject.strip() or not token.strip():
            raise TokenConfigError(f"{place}: expected id=token")
        found.append((place, subject.strip(), token.strip()))
    return found


def load_tokens(
    subjects: Mapping[str, Principal],
    env_value: str | None = None,
    file: Path | None = None,
) -> DeviceTokens:
    """The tokens of the environment's list and of the file, for the known ``subjects``."""
    pairs: list[tuple[str, str, str]] = []
    if file is not None:
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise TokenConfigError(f"{file}: cannot read the tokens file ({exc.__class__.__name__})") from None
        pairs += _pairs(text, str(file), "\n")
    if env_value:
        pairs += _pairs(env_value, "GUICHET_DEVICE_TOKENS", ",")
    by_token: dict[str, Principal] = {}
    seen: dict[str, str] = {}
    for place, subject, token in pairs:
        principal = subjects.get(subject)
        if principal is None:
            raise TokenConfigError(f"{place}: unknown device or agent {subject!r}")
        if len(token) < MIN_TOKEN_LENGTH:
            raise TokenConfigError(f"{place}: the token of {subject} is shorter than {MIN_TOKEN_LENGTH} characters")
        if token in by_token:
            raise TokenConfigError(f"{place}: {subject} has the same token as {by_token[token].subject}")
        if subject in seen:
            raise TokenConfigError(f"{place}: {subject} already has a token ({seen[subject]})")
        seen[subject] = place
        by_token[token] = principal
    return DeviceTokens(by_token)


def device_subjects(sites: Sites, matrix: SkillMatrix) -> dict[str, Principal]:
    """Who each token id may be: the sites' kiosks and displays, and the agents (counter agents)."""
    found: dict[str, Principal] = {a: Principal(a, frozenset({Role.COUNTER_AGENT})) for a in matrix.agents}
    for site in sites.sites.values():
        for kiosk in site.kiosks:
            found[kiosk] = Principal(kiosk, frozenset({Role.KIOSK}), site.code)
        for display in site.displays:
            found[display] = Principal(display, frozenset({Role.DISPLAY}), site.code)
    return found
