"""``guichet db upgrade``, ``guichet stats`` and ``guichet purge`` on a real SQLite file."""

from __future__ import annotations

import asyncio
import csv
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dispatcher.history.models import AgentStateRow, ContactRow
from dispatcher.history.writer import engine_for
from guichet.cli import app

T0 = 1_700_000_100.0  # 2023-11-14 23:15 Paris


pytestmark = pytest.mark.usefixtures("english_wording")  # French, the default, is read in test_planner_lang


async def _insert(url: str) -> None:
    engine = engine_for(url)
    async with engine.begin() as conn:
        await conn.execute(
            ContactRow.__table__.insert(),
            [
                {"contact_id": "c1", "channel": "phone", "process": "passport", "agent_id": "a1", "arrived_at": T0,
                 "answered_at": T0 + 10, "ended_at": T0 + 250, "outcome": "served", "updated_seq": 1},
                {"contact_id": "c2", "channel": "phone", "process": "passport", "agent_id": None, "arrived_at": T0 + 5,
                 "answered_at": None, "ended_at": T0 + 60, "outcome": "abandoned", "updated_seq": 2},
            ],
        )
        await conn.execute(
            AgentStateRow.__table__.insert(),
            [{"seq": 1, "agent_id": "a1", "state": "available", "at": T0, "reason": None, "contact_id": None},
             {"seq": 2, "agent_id": "a1", "state": "busy", "at": T0 + 10, "reason": None, "contact_id": "c1"}],
        )
    await engine.dispose()


def _head(url: str) -> str:
    from alembic.script import ScriptDirectory

    from dispatcher.history.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    assert head is not None
    return head


def test_upgrade_stats_csv_and_purge(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    url = f"sqlite+aiosqlite:///{tmp_path / 'h.sqlite'}"
    runner = CliRunner()
    done = runner.invoke(app, ["db", "upgrade", "--database-url", url])
    assert done.exit_code == 0, done.output
    assert f"revision {_head(url)}" in done.output
    asyncio.run(_insert(url))
    out = tmp_path / "stats.csv"
    shown = runner.invoke(app, ["stats", "--from", "2023-11-14", "--database-url", url, "--csv", str(out)])
    assert shown.exit_code == 0, shown.output
    assert "91 % Issy" in shown.output and "50 %" in shown.output
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 1
    assert rows[0]["interval"] == "2023-11-14 23:15"
    assert (rows[0]["offered"], rows[0]["answered"], rows[0]["abandoned"]) == ("2", "1", "1")
    assert float(rows[0]["service_level"]) == 0.5
    french = tmp_path / "stats-fr.csv"
    shown = runner.invoke(app, ["stats", "--from", "2023-11-14", "--database-url", url, "--csv", str(french),
                                "--csv-locale", "fr"])
    assert shown.exit_code == 0, shown.output
    raw = french.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    (row,) = list(csv.DictReader(raw.decode("utf-8-sig").splitlines(), delimiter=";"))
    assert row["service_level"] == "0,5" and row["interval"] == "2023-11-14 23:15"
    by_agent = runner.invoke(app, ["stats", "--from", "2023-11-14", "--by", "agent", "--database-url", url])
    assert by_agent.exit_code == 0 and "a1" in by_agent.output
    purged = runner.invoke(app, ["purge", "--dry-run", "--database-url", url])
    assert purged.exit_code == 0 and "would lose" in purged.output


def test_user_errors_are_one_line_with_exit_2(tmp_path: Path) -> None:
    runner = CliRunner()
    url = f"sqlite+aiosqlite:///{tmp_path / 'empty.sqlite'}"
    sqlite3.connect(tmp_path / "empty.sqlite").close()  # a database without the tables
    missing = f"sqlite+aiosqlite:///{tmp_path / 'missing.sqlite'}"
    for args, words in (
        (["stats", "--from", "14/11/2023", "--database-url", url], "not a date"),
        (["stats", "--by", "week", "--database-url", url], "--by 'week'"),
        (["stats", "--from", "2023-11-14", "--database-url", url], "guichet db upgrade"),
        (["stats", "--database-url", missing], f"no history at {tmp_path / 'missing.sqlite'}"),
        (["purge", "--retention-days", "0", "--database-url", url], "at least 1"),
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert words in result.output
        assert "Traceback" not in result.output
    assert not (tmp_path / "missing.sqlite").exists()


def test_stats_without_a_data_directory_creates_nothing(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GUICHET_DATA_DIR", str(tmp_path / "nowhere"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("GUICHET_DATABASE_URL", raising=False)
    result = CliRunner().invoke(app, ["stats"])
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"error: no history at {tmp_path / 'nowhere' / 'guichet.sqlite'}")
    assert "db upgrade" not in result.output
    assert not (tmp_path / "nowhere").exists() and list(tmp_path.iterdir()) == []
