"""What ``guichet serve`` says: log lines on stderr, as text or as JSON.

``setup(level, fmt)`` installs one stderr handler on the root logger: INFO by
default (connections, logins, resynchronisations, IVR handoffs, feature
codes, warnings), DEBUG adds every routing decision. ``fmt`` is ``text``
(``2026-12-01 09:00:00,123 INFO ivr.server: ...``) or ``json`` (one object
per line: ``time``, ``level``, ``logger``, ``message``, for a log collector);
``GUICHET_LOG_FORMAT`` chooses it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from dispatcher import events as ev
from dispatcher.events import Event
from dispatcher.observe.logs import FORMATS, LEVELS, JsonFormatter, setup

__all__ = ["FORMATS", "LEVELS", "JsonFormatter", "log_decisions", "setup"]

decisions_log = logging.getLogger("guichet.decisions")


def log_decisions(batch: Sequence[Event]) -> None:
    """Dispatcher sink: each input and its decisions at DEBUG (nothing is formatted above DEBUG)."""
    if not decisions_log.isEnabledFor(logging.DEBUG):
        return
    first, *decisions = batch
    if not decisions and isinstance(first, ev.TimePassed):
        return
    decisions_log.debug("%s -> %s", _short(first), "; ".join(_short(d) for d in decisions) or "nothing")


def _short(event: Event) -> str:
    record = ev.to_record(event)
    record.pop("at", None)
    for personal in ("caller", "number", "citizen_id"):
        record.pop(personal, None)
    kind = record.pop("kind")
    return f"{kind}({', '.join(f'{k}={v}' for k, v in record.items() if v is not None)})"
