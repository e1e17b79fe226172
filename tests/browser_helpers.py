"""Pages in a real headless Chromium (Debian's package) driven by Playwright; axe-core; screenshots.

No browser is downloaded: Playwright starts ``/usr/bin/chromium`` (``.ci/run``
installs it). axe-core, vendored under tests/vendor/axe-core with its licence,
is injected into each page; any serious or critical violation fails the test.
Screenshots go to ``test-artefacts/screenshots`` (or ``$GUICHET_TEST_ARTEFACTS``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, Page, async_playwright

CHROMIUM = os.environ.get("GUICHET_CHROMIUM", "/usr/bin/chromium")
AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
ARTEFACTS = Path(os.environ.get("GUICHET_TEST_ARTEFACTS", Path(__file__).resolve().parents[1] / "test-artefacts"))
LAPTOP = {"width": 1366, "height": 768}
WALL = {"width": 1920, "height": 1080}
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """Debian's Chromium, headless."""
    if not Path(CHROMIUM).exists():
        raise AssertionError(f"{CHROMIUM} missing: apt-get install chromium (as .ci/run does)")
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                           args=["--no-sandbox", "--disable-dev-shm-usage"])
        try:
            yield browser
        finally:
            await browser.close()


async def accessibility(page: Page, name: str) -> list[dict[str, Any]]:
    """Run axe-core (WCAG 2.1 A and AA rules) on the page; fail on serious or critical violations."""
    await page.add_script_tag(path=str(AXE))
    result = await page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_AA
    )
    bad = [v for v in result["violations"] if v["impact"] in ("serious", "critical")]
    assert not bad, f"{name}: " + "; ".join(
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes'][:3]]}" for v in bad
    )
    passes: list[dict[str, Any]] = result["passes"]
    return passes


async def screenshot(page: Page, name: str) -> Path:
    """Keep a picture of the page as a test artefact."""
    folder = ARTEFACTS / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


async def log_in_page(page: Page, url: str, username: str, password: str) -> None:
    """Log in through the form, as a person would."""
    await page.goto(f"{url}/login")
    await page.get_by_label("Identifiant").fill(username)
    await page.get_by_label("Mot de passe").fill(password)
    await page.get_by_role("button", name="Connexion").click()
    await page.wait_for_load_state("domcontentloaded")
