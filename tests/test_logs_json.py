"""``GUICHET_LOG_FORMAT=json``: the server's log lines are JSON objects."""

from __future__ import annotations

import json
import logging

import pytest

from guichet.config import ConfigError, load_settings
from guichet.logs import setup


def test_json_log_lines(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUICHET_LOG_FORMAT", "json")
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    setup("info", load_settings().log_format)
    logging.getLogger("guichet.test").warning("ticket %s refusé", "A042")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("guichet.test").exception("failed")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert lines[0]["message"] == "ticket A042 refusé" and lines[0]["level"] == "WARNING"
    assert lines[0]["logger"] == "guichet.test" and lines[0]["time"].endswith("+00:00")
    assert "RuntimeError: boom" in lines[1]["exception"]
    for handler in root.handlers[:]:
        root.removeHandler(handler)
    root.handlers[:], root.level = saved[0], saved[1]


def test_unknown_log_format_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUICHET_LOG_FORMAT", "xml")
    with pytest.raises(ConfigError, match="GUICHET_LOG_FORMAT"):
        load_settings()
