"""What a waiting-room display shows: the last calls of its site, and the words to speak."""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

SHOWN = 6


@dataclass(frozen=True, slots=True)
class Call:
    """One call of a ticket to a counter (a recall repeats it)."""

    site: str
    ticket: str
    counter: str
    at: float
    recall: int = 0

    @property
    def text(self) -> str:
        return f"{self.ticket} → {self.counter}"

    @property
    def speech(self) -> str:
        """The French text to speak: "Ticket A 0 4 2, guichet 3"."""
        spelled = " ".join(self.ticket)
        again = "Rappel. " if self.recall else ""
        return f"{again}Ticket {spelled}, {self.counter}"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "text": self.text, "speech": self.speech}


class Board:
    """The last ``SHOWN`` calls of one site, newest first."""

    def __init__(self) -> None:
        self.calls: deque[Call] = deque(maxlen=SHOWN)

    def add(self, call: Call) -> None:
        if call.recall:
            self.calls = deque((c for c in self.calls if c.ticket != call.ticket), maxlen=SHOWN)
        self.calls.appendleft(call)

    def state(self) -> list[dict[str, Any]]:
        return [c.as_dict() for c in self.calls]
