"""The routing core's timers: one heap of (time, order, kind, subject, token).

A timer is never cancelled: its owner changes the token it expects
(``ContactRecord.timer_token``, ``offers``, ``AgentRecord.wrap_token``,
``AgentRecord.backoff_until``, ``AgentRecord.since``), and the
core drops a timer whose token no longer matches when it comes due.
"""

from __future__ import annotations

import heapq
from typing import Final

from mypy_extensions import mypyc_attr

Timer = tuple[float, int, str, str, float]
"""(due time, order of scheduling, kind, contact or agent id, token)."""

CONTACT: Final = "contact"
OFFER: Final = "offer"
WRAP: Final = "wrap"
BACKOFF: Final = "backoff"
UNPAUSE: Final = "unpause"
"""A contact's relaxation/fallback/expiry, an offer's ring-no-answer, an agent's wrap-up,
the end of an agent's busy back-off, an agent's automatic return from ``no_answer``."""


@mypyc_attr(serializable=True)
class TimerQueue:
    """Timers in due order; ties in the order they were scheduled."""

    __slots__ = ("heap", "_order")

    def __init__(self) -> None:
        self.heap: list[Timer] = []
        self._order = 0

    def __len__(self) -> int:
        return len(self.heap)

    def schedule(self, at: float, kind: str, subject: str, token: float) -> None:
        """Add a timer due at ``at``."""
        self._order += 1
        heapq.heappush(self.heap, (at, self._order, kind, subject, token))

    def due_at(self) -> float | None:
        """When the first timer is due (stale or not), or None."""
        return self.heap[0][0] if self.heap else None

    def pop(self) -> Timer:
        """Take the first timer."""
        return heapq.heappop(self.heap)

    def keep(self, live: list[Timer]) -> None:
        """Keep only ``live`` (a subset of the timers): stale ones stop taking memory."""
        heapq.heapify(live)
        self.heap = live
