"""Who is calling: citizen records by phone number, and repeat callers.

The IVR knows a caller by their caller id only. ``CitizenDirectory`` finds
the citizen's record (the town's directory: the history database in
production, a small CSV file or a dict in tests and the embedded default).
``CallLog`` says whether the number called within the last N days; it keeps
no phone number in clear, only a keyed hash, and forgets calls older than
its retention (CNIL: minimal data, limited retention).
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import os
import re
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

_ANONYMOUS = {"", "anonymous", "unknown", "<unknown>", "restricted", "private", "unavailable"}


def normalize_number(raw: str | None) -> str | None:
    """A French caller id in national form (``+33 6 12 34 56 78`` -> ``0612345678``); None if hidden."""
    if raw is None:
        return None
    number = re.sub(r"[\s.\-()]", "", raw)
    if number.lower() in _ANONYMOUS:
        return None
    if number.startswith("+33"):
        number = "0" + number[3:]
    elif number.startswith("0033"):
        number = "0" + number[4:]
    return number or None


@dataclass(frozen=True, slots=True)
class Citizen:
    """The part of a citizen's record the phone channel needs."""

    citizen_id: str
    name: str | None = None
    language: str | None = None


class CitizenDirectory(Protocol):
    def lookup(self, number: str) -> Citizen | None: ...


class StaticDirectory:
    """Citizens by phone number, from a mapping or a CSV file (number,citizen_id,name,language)."""

    def __init__(self, citizens: Mapping[str, Citizen] | None = None) -> None:
        self._by_number: dict[str, Citizen] = {}
        for number, citizen in (citizens or {}).items():
            key = normalize_number(number)
            if key:
                self._by_number[key] = citizen

    @classmethod
    def from_csv(cls, path: str | Path) -> StaticDirectory:
        with open(path, encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
        return cls(
            {
                row["number"]: Citizen(
                    row["citizen_id"], row.get("name") or None, row.get("language") or None
                )
                for row in rows
                if row.get("number") and row.get("citizen_id")
            }
        )

    def lookup(self, number: str) -> Citizen | None:
        key = normalize_number(number)
        return self._by_number.get(key) if key else None


class CallLog:
    """Recent calls by (hashed) number, to flag repeat callers."""

    def __init__(self, retention_days: float = 30.0, key: bytes | None = None) -> None:
        self.retention_s = retention_days * 86400.0
        self._key = key or os.urandom(32)
        self._calls: dict[bytes, deque[float]] = {}
        self._order: deque[tuple[float, bytes]] = deque()

    def _hash(self, number: str) -> bytes:
        return hmac.new(self._key, number.encode("utf-8"), hashlib.sha256).digest()

    def seen_within(self, number: str, days: float, now: float) -> bool:
        """True if ``number`` called in the last ``days`` days (before ``now``)."""
        self._purge(now)
        times = self._calls.get(self._hash(number))
        return times is not None and bool(times) and times[-1] >= now - days * 86400.0

    def record(self, number: str, now: float) -> None:
        digest = self._hash(number)
        self._calls.setdefault(digest, deque()).append(now)
        self._order.append((now, digest))

    def _purge(self, now: float) -> None:
        limit = now - self.retention_s
        while self._order and self._order[0][0] < limit:
            at, digest = self._order.popleft()
            times = self._calls.get(digest)
            if times:
                while times and times[0] <= at:
                    times.popleft()
                if not times:
                    del self._calls[digest]

    def __len__(self) -> int:
        return len(self._calls)


def directory_of(entries: Iterable[tuple[str, str, str | None]]) -> StaticDirectory:
    """A directory from ``(number, citizen_id, name)`` triples (tests, the embedded town hall)."""
    return StaticDirectory({number: Citizen(cid, name) for number, cid, name in entries})
