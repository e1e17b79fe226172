"""Log lines on stderr, as text or as JSON: one setup for the server and its helper processes.

``setup(level, fmt)`` installs one stderr handler on the root logger. ``fmt``
is ``text`` (``2026-12-01 09:00:00,123 INFO ivr.server: ...``) or ``json``
(one object per line: ``time``, ``level``, ``logger``, ``message``, for a log
collector). ``current()`` says which the process uses, so a child process
(the history writer) logs the same way.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

LEVELS = ("debug", "info", "warning", "error")
FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
QUIET = ("aiosqlite", "asyncio", "alembic")
"""Libraries that are chatty at INFO/DEBUG about their own plumbing."""

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


def current() -> tuple[str, str]:
    """The root logger's level and format (``("info", "text")``), to hand to a child process."""
    root = logging.getLogger()
    fmt = "json" if any(isinstance(h.formatter, JsonFormatter) for h in root.handlers) else "text"
    return logging.getLevelName(root.getEffectiveLevel()).lower(), fmt
