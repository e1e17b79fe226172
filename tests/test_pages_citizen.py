"""The agent page's citizen record, history ("second call this week") and knowledge sheet, through the real
town hall: a known caller phones twice through the fake Asterisk; the agent's page (HTML, its live stream and
its action answers) shows the record, the first call in the history of the second, and the catalogue's sheet."""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path
from typing import Any

import aiohttp

from dispatcher.fake_asterisk import FakeAsterisk, wait_until
from guichet.townhall import TownHall
from tests.pages_helpers import browser_like, log_in
from tests.town_helpers import AGENT, keys_for, town

NUMBER = "0612345678"
CITIZEN = "C-0042"


async def _act(http: aiohttp.ClientSession, url: str, token: str, action: str) -> dict[str, Any]:
    async with http.post(f"{url}/agent/action", json={"action": action}, headers={"X-CSRF-Token": token}) as r:
        assert r.status == 200, await r.text()
        answer: dict[str, Any] = await r.json()
        return answer


async def _page(http: aiohttp.ClientSession, url: str) -> str:
    async with http.get(f"{url}/agent") as r:
        assert r.status == 200
        return await r.text()


def _week(html: str) -> str:
    found = re.search(r'<p id="c-week"[^>]*>(.*?)</p>', html)
    assert found, "no 'this week' line on the agent page"
    return found.group(1)


async def _first_snapshot(http: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    async with http.get(f"{url}/agent/events") as r:
        async for line in r.content:
            if line.startswith(b"data: "):
                snapshot: dict[str, Any] = json.loads(line[6:])
                return snapshot
    raise AssertionError("the agent's stream ended without a snapshot")


async def _call_held(hall: TownHall, fake: FakeAsterisk, talk_time: float) -> str:
    keys = keys_for(hall.ivr.config.menu, "passport")
    assert keys is not None
    fake.place_call(NUMBER, "Hélène", dtmf=[*keys, "2"], patience=60.0, talk_time=talk_time)
    agent = hall.dispatcher.router.agents[AGENT]
    await wait_until(lambda: agent.contact_id is not None, timeout=15.0)
    assert agent.contact_id is not None
    return agent.contact_id


async def _written(hall: TownHall, http: aiohttp.ClientSession, contact_id: str) -> None:
    """Until the history writer has the ended contact in SQL (it follows the event stream)."""
    from sqlalchemy import select

    from dispatcher.history.models import ContactRow

    engine = hall.pages.accounts.engine
    deadline = time.monotonic() + 15.0
    while time.monotonic() < deadline:
        async with engine.connect() as conn:
            row = (await conn.execute(select(ContactRow.outcome).where(ContactRow.contact_id == contact_id))).first()
        if row is not None and row.outcome is not None:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{contact_id} never reached the SQL history")


async def test_a_known_callers_second_call_shows_the_record_the_history_and_the_sheet(tmp_path: Path) -> None:
    citizens = tmp_path / "citizens.csv"
    citizens.write_text(f"number,citizen_id,name,language\n{NUMBER},{CITIZEN},Hélène Martin,fr\n", encoding="utf-8")
    async with town(tmp_path / "site", citizens) as (hall, fake), browser_like() as http:
        url = hall.http.url
        token = await log_in(http, url, "nathalie")
        await _act(http, url, token, "ready")

        first = await _call_held(hall, fake, talk_time=4.0)
        html = await _page(http, url)
        assert CITIZEN in html and NUMBER in html
        assert _week(html) == "" and 'id="c-history-none">Aucun contact précédent.' in html
        assert "Passeport (demande, renouvellement)" in html
        assert "Photo d&#39;identité de moins de 6 mois, conforme aux normes" in html
        assert "Relever les empreintes digitales et faire signer" in html
        assert 'href="https://www.service-public.fr/particuliers/vosdroits/N360"' in html
        agent = hall.dispatcher.router.agents[AGENT]
        await wait_until(lambda: agent.contact_id is None and agent.state.value == "available", timeout=15.0)
        await _written(hall, http, first)  # the caller hung up after talking: the first call is history

        second = await _call_held(hall, fake, talk_time=60.0)
        assert second != first
        html = await _page(http, url)
        assert _week(html) == "1 autre contact cette semaine"
        assert 'id="c-history-none" hidden' in html
        assert re.search(r'<tbody id="c-history"><tr><td>[0-9/]+ [0-9:]+</td><td>Passeport \(demande, renouvellement\)</td>', html)
        live = await _first_snapshot(http, url)
        contact = live["contact"]
        assert contact["contact_id"] == second and contact["citizen_id"] == CITIZEN
        assert contact["week"] == 1
        assert [h["contact_id"] for h in contact["history"]] == [first]
        assert contact["history"][0]["label"] == "Passeport (demande, renouvellement)"
        assert contact["sheet"]["ref"] == "etat-civil/passeport"
        assert "Photo d'identité de moins de 6 mois, conforme aux normes" in contact["sheet"]["pieces"]

        http.cookie_jar.update_cookies({"guichet_lang": "en"})
        english = await _page(http, url)
        assert _week(english) == "1 other contact this week" and "Documents to bring" in english
        assert "Passport (application, renewal)" in english
        assert "An ID photo less than 6 months old, to the standards" in english
        assert (await _first_snapshot(http, url))["contact"]["sheet"]["title"] == "Passport (application, renewal)"
        await _act(http, url, token, "done")


def test_a_missing_citizens_directory_is_named_at_start(tmp_path: Path) -> None:
    from guichet.config import Settings
    from guichet.startup import StartupError
    from guichet.townhall import citizens_of

    missing = tmp_path / "citoyens.csv"
    try:
        citizens_of(Settings(data_dir=tmp_path, citizens=missing))
    except StartupError as exc:
        assert str(exc) == f"GUICHET_CITIZENS: {missing}: No such file or directory"
    else:
        raise AssertionError("a missing directory must stop the start")
