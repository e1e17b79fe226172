"""``compare_pbx`` catches every way the history can disagree with the PBX (it can fail)."""

from __future__ import annotations

import asyncio

from dispatcher.fake_asterisk.ledger import CallFate
from dispatcher.history.migrate import upgrade
from dispatcher.history.models import ContactRow
from dispatcher.history.writer import engine_for
from dispatcher.store.audit import compare_pbx

T = 1_700_000_000.0
AGENTS = {"PJSIP/agent101": "a101", "PJSIP/agent102": "a102"}


def _row(cid: str, outcome: str | None, agent: str | None, arrived: float, answered: float | None,
         ended: float | None) -> dict[str, object]:
    return {"contact_id": cid, "channel": "phone", "outcome": outcome, "agent_id": agent, "arrived_at": arrived,
            "answered_at": answered, "ended_at": ended, "updated_seq": 1}


async def test_every_kind_of_difference_is_counted(sqlite_url: str) -> None:
    await asyncio.to_thread(upgrade, sqlite_url)
    engine = engine_for(sqlite_url)
    async with engine.begin() as conn:
        await conn.execute(ContactRow.__table__.insert(), [
            _row("ok", "served", "a101", T, T + 5, T + 60),
            _row("abandoned", "abandoned", None, T, None, T + 30),
            _row("wrong-outcome", "abandoned", None, T, None, T + 9),
            _row("wrong-agent", "served", "a102", T, T + 5, T + 60),
            _row("wrong-wait", "served", "a101", T, T + 15, T + 60),
            _row("wrong-end", "served", "a101", T, T + 5, T + 90),
            _row("open", None, None, T, None, None),
            _row("outage", "abandoned", None, T, None, T + 40),
            _row("ghost", "abandoned", None, T, None, T + 3),
        ])
    calls = [
        CallFate("ok", "t-1", T - 2, T, T + 5, "PJSIP/agent101", T + 60),
        CallFate("abandoned", "t-2", T - 2, T + 0.3, None, None, T + 30),
        CallFate("wrong-outcome", "t-3", T - 2, T, T + 9, "PJSIP/agent101", T + 20),
        CallFate("wrong-agent", "t-4", T - 2, T, T + 5, "PJSIP/agent101", T + 60),
        CallFate("wrong-wait", "t-5", T - 2, T, T + 5, "PJSIP/agent101", T + 60),
        CallFate("wrong-end", "t-11", T - 2, T, T + 5, "PJSIP/agent101", T + 60),  # talked 55 s, not 85
        CallFate("open", "t-6", T - 2, T, None, None, T + 8),
        CallFate("outage", "t-7", T - 2, T, None, None, T + 12),  # left at 12; the dispatcher back at 40
        CallFate("missing", "t-8", T - 2, T, None, None, T + 8),
        CallFate("unseen", "t-9", T + 100, T + 101, None, None, T + 103),
        CallFate("in-ivr", "t-10", T - 2, None, None, None, T + 1),
    ]
    report = await compare_pbx(engine, calls, AGENTS, outages=[(T + 10, T + 40), (T + 100, T + 110)])
    await engine.dispose()
    assert {k: v for k, v in report.items() if k != "details"} == {
        "calls": 10, "unseen": 1, "not_in_history": 1, "still_open": 1, "outcome_differs": 1, "agent_differs": 1,
        "wait_off": 1, "end_off": 1, "extra_in_history": 1,
    }
    assert any(d.startswith("wrong-wait: PBX waited 5.00 s, history 15.00 s") for d in report["details"])
