"""``guichet serve`` starts the HTTP side beside AMI and FastAGI, and stops it cleanly."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import aiohttp

from dispatcher.fake_asterisk import FakeAsterisk, wait_until

SECRET = "serve-secret"
AGENT_TOKEN = "a-counter-agent-token-of-test"


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUICHET_") and k != "REDIS_URL"}
    env.update(GUICHET_DATA_DIR=str(tmp_path / "data"), GUICHET_AGI_PORT="0", GUICHET_HTTP_PORT="0", GUICHET_LANG="en",
               **extra)
    env.pop("DATABASE_URL", None)
    return env


async def test_serve_answers_http_and_stops_cleanly(tmp_path: Path) -> None:
    async with FakeAsterisk(agents=["101", "102"], secrets={"guichet": SECRET}) as fake:
        env = _env(tmp_path, GUICHET_AMI_PORT=str(fake.ami_port), GUICHET_AMI_SECRET=SECRET,
                   GUICHET_DEVICE_TOKENS=f"a101={AGENT_TOKEN}")
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "guichet.cli", "serve",
            env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        assert proc.stdout is not None
        banner = ""
        while "recovered waiting" not in banner:  # the console wraps the banner
            line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
            assert line, banner
            banner += line.replace("\n", " ")
        found = re.search(r"HTTP\s+(http://127\.0\.0\.1:\d+)", banner)
        assert found, banner
        url = found.group(1)
        await wait_until(lambda: fake.ami_clients == 1, timeout=10)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{url}/api/v1/health") as r:
                assert r.status == 200 and (await r.json())["status"] == "ok"
            async with http.get(f"{url}/api/v1/openapi.json") as r:
                assert (await r.json())["openapi"] == "3.1.0"
        proc.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode == 0, err.decode()
        assert "stopped cleanly" in out.decode() and "Traceback" not in err.decode()
        assert AGENT_TOKEN not in out.decode() + err.decode()


async def test_serve_refuses_a_bad_token_file_naming_file_and_line(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text("# devices\na101 = long-enough-token-0001\nnobody = long-enough-token-0002\n", encoding="utf-8")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "guichet.cli", "serve",
        env=_env(tmp_path, GUICHET_DEVICE_TOKENS_FILE=str(tokens)),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2, (out, err)
    message = err.decode()
    assert f"{tokens}:3: unknown device or agent 'nobody'" in message
    assert "long-enough-token" not in message and "Traceback" not in message
