"""``guichet demo`` as a newcomer runs it: the wallboard's URL and logins first, the board moving
in a real browser, Ctrl-C stops every part cleanly."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

from playwright.async_api import expect

from tests.browser_helpers import WALL, accessibility, chromium, log_in_page, screenshot


async def test_demo_in_a_browser_until_ctrl_c(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUICHET_") and k not in ("REDIS_URL", "DATABASE_URL")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "guichet.cli", "demo", "--http-port", "0", "--calls-per-minute", "300",
        "--visitors-per-minute", "120", "--data-dir", str(tmp_path / "data"), "--lang", "en",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, start_new_session=True,
    )
    assert proc.stdout is not None
    try:
        first = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
        found = re.search(r"Wallboard: (http://127\.0\.0\.1:\d+)/wallboard", first)
        assert found, f"the first line must be the wallboard's URL: {first!r}"
        url = found.group(1)
        banner = ""
        while "pages:" not in banner:
            banner += (await asyncio.wait_for(proc.stdout.readline(), 10)).decode()
        password = re.search(r"login superviseur\s+password (\S+)", banner)
        assert password and re.search(r"login agent-a101\s+password \S+", banner)
        async with chromium() as browser:
            page = await (await browser.new_context(viewport=WALL, locale="fr-FR")).new_page()
            await log_in_page(page, url, "superviseur", password.group(1))
            assert page.url.endswith("/wallboard")
            offered = page.locator("[data-figure=offered]")
            await expect(offered).not_to_have_text("0", timeout=20_000)
            before = int(await offered.inner_text())
            await expect(page.locator("#agents .state-busy, #agents .state-reserved").first).to_be_visible(timeout=10_000)
            await page.wait_for_function(
                f"Number(document.querySelector('[data-figure=offered]').textContent) > {before}", timeout=15_000
            )
            await screenshot(page, "demo-wallboard-1920x1080")
            await accessibility(page, "demo wallboard")
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C at a terminal: to the whole group, children too
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()[-2000:]
    assert "stopped cleanly" in out.decode()
    assert "Traceback" not in err.decode()
