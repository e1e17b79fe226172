"""`guichet stats --by agent` on real SQLite histories: occupancy against hand-computed days."""

from __future__ import annotations

import asyncio
import csv
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from dispatcher.history.migrate import upgrade
from dispatcher.history.models import AgentStateRow, ContactRow
from dispatcher.history.writer import engine_for
from guichet.cli import app

PARIS = ZoneInfo("Europe/Paris")


def at(hh: int, mm: int, ss: int = 0, day: int = 14) -> float:
    return datetime(2023, 11, day, hh, mm, ss, tzinfo=PARIS).timestamp()


# a1's day, by hand: logged in 08:00-12:00 and 13:30-17:00 = 450 min; busy or in wrap-up
# 6 + 2, 14 min 40 s + 5, 20 + 5 and 60 + 10 = 122 min 40 s; ringing and the break are
# logged-in time, not work. Occupancy 122.667 / 450 = 27.26 %.
A1 = [
    ("available", at(8, 0)), ("busy", at(8, 10)), ("wrap_up", at(8, 16)), ("available", at(8, 18)),
    ("reserved", at(8, 30)), ("busy", at(8, 30, 20)), ("wrap_up", at(8, 45)), ("available", at(8, 50)),
    ("paused", at(10, 0)), ("available", at(10, 15)),
    ("busy", at(11, 0)), ("wrap_up", at(11, 20)), ("available", at(11, 25)), ("offline", at(12, 0)),
    ("available", at(13, 30)), ("busy", at(14, 0)), ("wrap_up", at(15, 0)), ("available", at(15, 10)),
    ("offline", at(17, 0)),
]
A1_OCCUPANCY = (8 + 14 + 40 / 60 + 5 + 25 + 70) / 450
# a3 logged in the evening before, never logged off: clipped to the day asked for, 00:00-24:00;
# busy 09:00-09:30 only: 30 / 1440.
A3 = [("available", at(20, 0, day=13)), ("busy", at(9, 0)), ("available", at(9, 30))]
A3_OCCUPANCY = 30 / 1440


def _contacts(agent: str, answered: list[float]) -> list[dict[str, object]]:
    return [{"contact_id": f"{agent}-{k}", "channel": "phone", "process": "passport", "agent_id": agent,
             "arrived_at": t - 5, "answered_at": t, "ended_at": t + 60, "outcome": "served", "updated_seq": k}
            for k, t in enumerate(answered)]


async def _insert(url: str, states: dict[str, list[tuple[str, float]]], contacts: list[dict[str, object]]) -> None:
    engine = engine_for(url)
    rows = []
    for agent, changes in states.items():
        rows += [{"agent_id": agent, "state": state, "at": t, "reason": None, "contact_id": None}
                 for state, t in changes]
    rows.sort(key=lambda r: float(r["at"]))  # type: ignore[arg-type]
    async with engine.begin() as conn:
        await conn.execute(AgentStateRow.__table__.insert(), [{"seq": i + 1, **r} for i, r in enumerate(rows)])
        await conn.execute(ContactRow.__table__.insert(), contacts)
    await engine.dispose()


def _by_agent(url: str, out: Path, *day: str) -> dict[str, float]:
    result = CliRunner().invoke(app, ["stats", *day, "--by", "agent", "--database-url", url, "--csv", str(out),
                                      "--lang", "en"])
    assert result.exit_code == 0, result.output
    return {r["agent"]: float(r["occupancy"]) for r in csv.DictReader(out.open()) if r["occupancy"]}


def test_occupancy_of_hand_computed_agent_days(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'h.sqlite'}"
    upgrade(url, "head")
    asyncio.run(_insert(url, {"a1": A1, "a3": A3},
                        _contacts("a1", [at(8, 10), at(8, 30, 20), at(11, 0), at(14, 0)]) + _contacts("a3", [at(9, 0)])))
    found = _by_agent(url, tmp_path / "agents.csv", "--from", "2023-11-14")
    assert found["a1"] == pytest.approx(A1_OCCUPANCY, abs=0.01)  # within 1 point (here: exact)
    assert found["a1"] == pytest.approx(A1_OCCUPANCY, rel=1e-9)
    assert found["a3"] == pytest.approx(A3_OCCUPANCY, rel=1e-9)


def test_the_day_under_way_runs_the_last_state_to_now_not_to_midnight(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'today.sqlite'}"
    upgrade(url, "head")
    now = time.time()
    start_of_day = datetime.now(PARIS).replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    since = max(start_of_day, now - 3600)  # logged in an hour ago (or at midnight)
    logged = now - since
    # a2: busy for half of it, then 100 s of wrap-up, then available up to now
    a2 = [("available", since), ("busy", since + 0.25 * logged), ("wrap_up", since + 0.75 * logged),
          ("available", since + 0.75 * logged + min(100.0, 0.2 * logged))]
    asyncio.run(_insert(url, {"a2": a2}, _contacts("a2", [since + 0.25 * logged])))
    found = _by_agent(url, tmp_path / "today.csv")
    expected = (0.5 * logged + min(100.0, 0.2 * logged)) / (time.time() - since)
    assert found["a2"] == pytest.approx(expected, abs=0.01)  # within 1 point of the hand figure
