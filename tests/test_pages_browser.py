"""The pages in a real headless Chromium against the whole town hall (fake Asterisk over TCP).

Each page is checked with axe-core (no serious or critical WCAG 2.1 AA
violation) and photographed (test-artefacts/screenshots).
"""

from __future__ import annotations

import time
from pathlib import Path

from playwright.async_api import Page, expect

from dispatcher.people.audit import entries
from tests.browser_helpers import LAPTOP, WALL, accessibility, chromium, log_in_page, screenshot
from tests.pages_helpers import PASSWORD
from tests.town_helpers import AGENT, keys_for, town

WALLBOARD_ROW = f"#agents tr:has-text('Nathalie Lefèvre')"


async def _wallboard_shows(board: Page, text: str, within_s: float) -> float:
    """Seconds until the wallboard's row of the agent shows ``text`` (fails past ``within_s``)."""
    started = time.monotonic()
    await expect(board.locator(WALLBOARD_ROW)).to_contain_text(text, timeout=within_s * 1000)
    return time.monotonic() - started


async def _fits(page: Page) -> bool:
    """No horizontal scrolling at the page's viewport."""
    return bool(await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


async def test_agent_takes_a_call_and_the_wallboard_follows(tmp_path: Path) -> None:
    async with town(tmp_path) as (hall, fake), chromium() as browser:
        url = hall.http.url
        supervisor = await browser.new_context(viewport=WALL, locale="fr-FR")
        board = await supervisor.new_page()
        await board.goto(f"{url}/login")
        await accessibility(board, "login")
        await log_in_page(board, url, "superviseur", PASSWORD)
        assert board.url.endswith("/wallboard")
        await expect(board.locator("#live-status")).to_have_text("En direct")
        agent_context = await browser.new_context(viewport=LAPTOP, locale="fr-FR")
        desk = await agent_context.new_page()
        await log_in_page(desk, url, "nathalie", PASSWORD)
        assert desk.url.endswith("/agent")
        await expect(desk.locator("#state")).to_have_text("déconnecté")
        await accessibility(desk, "agent page")
        await desk.get_by_role("button", name="Prêt").first.click()
        await expect(desk.locator("#state")).to_have_text("disponible")
        assert await _wallboard_shows(board, "disponible", 1.0) <= 1.0
        keys = keys_for(hall.ivr.config.menu, "passport")
        assert keys is not None
        fake.place_call("0612345678", "Hélène", dtmf=[*keys, "2"], patience=60.0, talk_time=30.0)
        await expect(desk.locator("#c-label")).to_contain_text("Passeport", timeout=10_000)
        await expect(desk.locator("#contact")).to_be_visible()
        await expect(desk.locator("#c-citizen")).to_contain_text("0612345678")
        await expect(desk.locator("#sheet-name")).to_have_text("Passeport (demande, renouvellement)")
        await expect(desk.locator("#sheet-pieces li").first).to_contain_text("pré-demande en ligne")
        await expect(desk.locator("#sheet-link")).to_have_attribute(
            "href", "https://www.service-public.fr/particuliers/vosdroits/N360")
        assert await _fits(desk), "the agent page scrolls sideways at 1366x768"
        assert await _wallboard_shows(board, "Passeport", 1.0) <= 1.0
        await screenshot(desk, "agent-with-call-1366x768")
        await accessibility(desk, "agent page with a call")
        await desk.get_by_role("button", name="Terminé").click()
        await expect(desk.locator("#contact-none")).to_be_visible()
        await expect(desk.locator("#state")).to_have_text("disponible", timeout=5_000)
        assert await _wallboard_shows(board, "disponible", 2.0) <= 2.0
        await expect(board.locator("[data-figure=answered]")).to_have_text("1")
        await screenshot(board, "wallboard-1920x1080")
        assert await _fits(board), "the wallboard scrolls sideways at 1920x1080"
        await accessibility(board, "wallboard")
        router = hall.dispatcher.router
        assert router.agents[AGENT].contact_id is None
        ended = [c for c, outcome in router.ended.items()]
        assert ended, "the call ended in the core"
        await board.get_by_label("Agent", exact=True).select_option(AGENT)
        await board.get_by_label("Nouvel état").select_option("paused")
        await board.get_by_role("button", name="Appliquer").click()
        await expect(board.locator("#force-message")).to_contain_text("Nathalie Lefèvre : disponible → en pause")
        await expect(desk.locator("#state")).to_contain_text("en pause", timeout=2_000)
        assert await _wallboard_shows(board, "en pause", 1.0) <= 1.0
        await accessibility(board, "wallboard after forcing a state")
        forced = [e for e in await entries(hall.pages.accounts.engine, 10) if e.action == "force_state"]
        assert [(e.actor, e.target, e.detail["from"], e.detail["to"]) for e in forced] == [
            ("superviseur", AGENT, "available", "paused")]


async def test_kiosk_ticket_is_called_on_the_display_and_tracked(tmp_path: Path) -> None:
    async with town(tmp_path) as (hall, _fake), chromium() as browser:
        url = hall.http.url
        kiosk = await (await browser.new_context(viewport=LAPTOP, locale="fr-FR", has_touch=True)).new_page()
        await log_in_page(kiosk, url, "borne", PASSWORD)
        assert kiosk.url.endswith("/kiosk")
        await accessibility(kiosk, "kiosk")
        await screenshot(kiosk, "kiosk-1366x768")
        screen = await (await browser.new_context(viewport=WALL, locale="fr-FR")).new_page()
        await log_in_page(screen, url, "ecran", PASSWORD)
        assert screen.url.endswith("/display")
        await expect(screen.locator("#live-status")).to_have_text("En direct")
        await accessibility(screen, "display")
        await kiosk.get_by_role("button", name="Passeport (demande, renouvellement)").tap()
        number = (await kiosk.locator("#ticket-number").inner_text()).strip()
        code = (await kiosk.locator("#ticket-code").inner_text()).strip()
        assert number.startswith("A") and len(number) == 4
        await expect(kiosk.locator("#ticket-wait")).to_have_text("aucun agent disponible pour le moment")
        await screenshot(kiosk, "kiosk-ticket")
        await accessibility(kiosk, "kiosk ticket")
        citizen = await (await browser.new_context(viewport=LAPTOP, locale="fr-FR")).new_page()
        await citizen.goto(f"{url}/track")
        await citizen.get_by_label("Code de la demande").fill(code)
        await citizen.get_by_role("button", name="Rechercher").click()
        await expect(citizen.locator("#track-status")).to_have_text("en attente")
        await accessibility(citizen, "tracking")
        desk = await (await browser.new_context(viewport=LAPTOP, locale="fr-FR")).new_page()
        await log_in_page(desk, url, "nathalie", PASSWORD)
        await desk.get_by_role("combobox", name="Guichet", exact=True).select_option("guichet 1")
        await desk.get_by_role("button", name="Ouvrir le guichet").click()
        await expect(desk.locator("#desk-line")).to_have_text("guichet 1")
        await expect(desk.locator("#c-label")).to_contain_text("Passeport", timeout=5_000)
        await desk.get_by_role("button", name="Appeler le visiteur").click()
        await expect(screen.locator("#calls li").first).to_contain_text(number, timeout=1_000)
        await expect(screen.locator("#calls li").first).to_contain_text("guichet 1")
        await screenshot(screen, "display-1920x1080")
        await citizen.reload()
        await expect(citizen.locator("#track-status")).to_have_text("en cours de traitement")
        await screenshot(citizen, "tracking-1366x768")
        await desk.get_by_role("button", name="Visiteur servi").click()
        await expect(desk.locator("#contact-none")).to_be_visible()
        await citizen.reload()
        await expect(citizen.locator("#track-status")).to_have_text("traitée", timeout=5_000)


async def test_planner_runs_a_staffing_day_and_shows_its_chart(tmp_path: Path) -> None:
    async with town(tmp_path) as (hall, _fake), chromium() as browser:
        url = hall.http.url
        context = await browser.new_context(viewport=LAPTOP, locale="fr-FR", accept_downloads=True)
        planner = await context.new_page()
        await log_in_page(planner, url, "planif", PASSWORD)
        assert planner.url.endswith("/planner")
        await accessibility(planner, "planner")
        bad = tmp_path / "prevision.csv"
        bad.write_text("interval,process,channel,arrivals,aht_s\n08:30,passport,phone,deux,300\n", encoding="utf-8")
        await planner.get_by_label("Prévision (CSV", exact=False).set_input_files(str(bad))
        await planner.get_by_role("button", name="Lancer").click()
        await expect(planner.locator("#problems")).to_contain_text("prevision.csv:2")
        forecast = Path(__file__).resolve().parents[1] / "simulations" / "data" / "forecast.csv"
        await planner.get_by_label("Prévision (CSV", exact=False).set_input_files(str(forecast))
        await planner.get_by_label("Calcul", exact=True).select_option("staffing")
        await planner.get_by_role("button", name="Lancer").click()
        await expect(planner.locator("#job-status")).to_have_text("terminé", timeout=30_000)
        await expect(planner.locator("#progress")).to_have_js_property("value", 100)
        bars = planner.locator("#agents-chart rect")
        assert await bars.count() >= 30
        await expect(planner.locator("#sl-chart text").nth(1)).to_contain_text("%")
        assert await planner.locator("#sl-chart rect").count() >= 3
        await screenshot(planner, "planner-staffing-1366x768")
        await accessibility(planner, "planner result")
        async with planner.expect_download() as download:
            await planner.get_by_role("link", name="Télécharger le CSV").click()
        saved = await (await download.value).path()
        head = Path(saved).read_text(encoding="utf-8").splitlines()[0]
        assert head.startswith("interval,process,channel")
        exports = [e for e in await entries(hall.pages.accounts.engine, 10) if e.action == "export_csv"]
        assert [(e.actor, e.target.split("/")[:2]) for e in exports if e.target] == [("planif", ["planner", "staffing"])]
        await planner.goto(f"{url}/planner")
        await planner.get_by_label("Calcul", exact=True).select_option("simulation")
        await planner.get_by_label("Réplications", exact=False).fill("1")
        await planner.get_by_role("button", name="Lancer").click()
        await expect(planner.locator("#job-status")).to_have_text("terminé", timeout=60_000)
        assert await planner.locator("#sl-chart rect").count() >= 3
        await screenshot(planner, "planner-simulation-1366x768")
        await planner.goto(f"{url}/wallboard")
        await expect(planner.locator("main")).to_contain_text("n’est pas ouverte à votre rôle")
        await accessibility(planner, "refused page")
