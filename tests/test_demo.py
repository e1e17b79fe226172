"""The embedded town hall end to end: simulated Asterisk over TCP, IVR, dispatcher, Redis, SQL."""

from __future__ import annotations

import asyncio
from pathlib import Path

from rich.console import Console
from sqlalchemy import func, select

from dispatcher.history.models import ContactRow
from dispatcher.history.writer import engine_for
from guichet.demo import DemoPlan, menu_paths, run_demo
from ivr.menu import load_menu
from skills.catalogue import default_catalogue


def test_every_menu_path_leads_to_a_catalogue_process() -> None:
    catalogue = default_catalogue()
    paths = menu_paths(load_menu(catalogue=catalogue).menu)
    assert len(paths) >= 20
    assert all(process in catalogue.processes for _keys, process in paths)
    assert (("1", "1"), "passport") in paths


def test_demo_routes_calls_and_visitors_and_writes_the_history(tmp_path: Path) -> None:
    plan = DemoPlan(seconds=6.0, calls_per_minute=240.0, visitors_per_minute=120.0, seed=3)
    with open(tmp_path / "screen.txt", "w", encoding="utf-8") as screen:
        tally, database_url = asyncio.run(run_demo(plan, tmp_path / "data", Console(file=screen, width=120)))
    assert "simulated town hall" in (tmp_path / "screen.txt").read_text(encoding="utf-8")
    assert tally.calls > 5 and tally.visitors > 3
    assert tally.offers["phone"] > 0 and tally.offers["counter"] > 0
    assert tally.outcomes["served"] > 0
    # visitors came through the kiosk API and were called on the display
    assert len(tally.tickets) == tally.visitors and tally.refused == 0
    assert len(set(tally.tickets)) == len(tally.tickets) and all(t[0].isalpha() and len(t) == 4 for t in tally.tickets)
    assert tally.displayed and {c["ticket"] for c in tally.displayed} <= set(tally.tickets)
    assert all(c["speech"].startswith(("Ticket ", "Rappel. Ticket ")) for c in tally.displayed)

    async def count() -> tuple[int, int, int]:
        engine = engine_for(database_url)
        async with engine.connect() as conn:
            total = await conn.scalar(select(func.count()).select_from(ContactRow))
            served = await conn.scalar(
                select(func.count()).select_from(ContactRow).where(ContactRow.outcome == "served")
            )
            again = await conn.scalar(select(func.count()).select_from(
                select(ContactRow.citizen_id).where(ContactRow.citizen_id.is_not(None))
                .group_by(ContactRow.citizen_id).having(func.count() > 1).subquery()))
        await engine.dispose()
        return int(total or 0), int(served or 0), int(again or 0)

    total, served, again = asyncio.run(count())
    assert again > 0, "the demo's known callers call again: the agent page has their history to show"
    assert total >= tally.calls // 2 + tally.visitors // 2
    assert served == tally.outcomes["served"]
    assert (tmp_path / "data" / "guichet.sqlite").exists()
