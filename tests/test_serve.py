"""``guichet serve`` as a user runs it: a separate process on a (fake) Asterisk, stopped by SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from dispatcher.fake_asterisk import FakeAsterisk, wait_until
from dispatcher.store.redis_server import free_port

SECRET = "serve-secret"


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUICHET_") and k != "REDIS_URL"}
    env.pop("DATABASE_URL", None)
    env.update({"GUICHET_DATA_DIR": str(tmp_path / "data"), "GUICHET_AGI_PORT": "0", "GUICHET_HTTP_PORT": "0",
                "GUICHET_LANG": "en", **extra})
    return env


async def test_serve_connects_to_asterisk_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    async with FakeAsterisk(agents=["101", "102"], secrets={"guichet": SECRET}) as fake:
        env = _env(tmp_path, GUICHET_AMI_PORT=str(fake.ami_port), GUICHET_AMI_SECRET=SECRET)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "guichet.cli", "serve",
            env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        assert proc.stdout is not None
        banner = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        assert "Guichet serving" in banner and f"AMI 127.0.0.1:{fake.ami_port}" in banner
        await wait_until(lambda: fake.ami_clients == 1, timeout=10)
        proc.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode == 0, err.decode()
        assert "stopped cleanly" in out.decode()
        assert "Traceback" not in err.decode()
    assert (tmp_path / "data" / "guichet.sqlite").exists()


async def test_serve_refuses_a_bad_setting_with_one_clear_line(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "guichet.cli", "serve",
        env=_env(tmp_path, GUICHET_AMI_PORT="not-a-port"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2
    message = err.decode()
    assert message.startswith("error: GUICHET_AMI_PORT: ") and "Traceback" not in message


@pytest.mark.parametrize(
    "setting, value, says",
    [
        ("GUICHET_DATA_DIR", "{file}", "is a file, not a directory"),
        ("REDIS_URL", "redis://127.0.0.1:{port}/0", "does not answer"),
        ("REDIS_URL", "memcached://127.0.0.1/0", "not a Redis URL"),
        ("DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:{port}/test", "does not answer"),
        ("DATABASE_URL", "not a url", "not a database URL"),
        ("GUICHET_AMI_HOST", "no-such-host.invalid", "does not resolve"),
        ("GUICHET_AGI_HOST", "no-such-host.invalid", "does not resolve"),
        ("GUICHET_SOUNDS_DIR", "{file}", "is not a directory"),
    ],
)
async def test_a_setting_that_cannot_work_is_one_line_naming_it(
    tmp_path: Path, setting: str, value: str, says: str
) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("x", encoding="utf-8")
    env = _env(tmp_path, **{setting: value.format(file=a_file, port=free_port())})
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "guichet.cli", "serve",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    lines = [line for line in err.decode().splitlines() if line.strip()]
    assert proc.returncode == 2, err.decode()
    assert lines[-1].startswith(f"error: {setting}: ") and says in lines[-1], lines
    assert "Traceback" not in err.decode() and not any(line.startswith("error:") for line in lines[:-1])
