"""What ``guichet serve`` says: log lines on stderr, as text or as JSON.

``setup(level, fmt)`` installs one stderr handler on the root logger: INFO by
default (connections, logins, resynchronisations, IVR handoffs, feature
codes, warnings), DEBUG adds every routing decision. ``fmt`` is ``text``
(``2026-12-01 09:00:00,123 INFO ivr.server: ...``) or ``json`` (one object
per line: ``time``, ``level``, ``logger``, ``message``, for a log collector);
``GUICHET_LOG_FORMAT`` chooses it.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from dispatcher import events as ev
from dispatcher.events import Event

LEVELS = ("debug", "info", "warning", "error")
FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
QUIET = ("aiosqlite", "asyncio", "alembic")
"""Libraries that are chatty at INFO/DEBUG about their own plumbing."""

decisions_log = logging.getLogger("guichet.decisions")


class JsonFormatter(logging.Formatter):
    """One JSON object per record."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def setup(level: str = "info", fmt: str = "text") -> logging.Handler:
    """Log to stderr at ``level`` (debug, info, warning, error) in ``fmt`` (text, json)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in QUIET:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    return handler


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
