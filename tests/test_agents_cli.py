"""``guichet agents`` without a running server, and with bad input: one clear line, nothing left behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dispatcher.store.keys import Keys
from dispatcher.store.redis_server import RedisServer
from guichet.cli import app


def invoke(env: dict[str, str], *args: str) -> tuple[int, str]:
    done = CliRunner().invoke(app, list(args), env=env)
    return done.exit_code, done.output


@pytest.fixture
def env(tmp_path: Path, redis_server: RedisServer) -> dict[str, str]:
    clean = {k: "" for k in os.environ if k.startswith("GUICHET_")}
    return {**clean, "REDIS_URL": redis_server.url, "GUICHET_DATA_DIR": str(tmp_path), "GUICHET_LANG": "en"}


def test_a_change_no_server_applies_is_withdrawn(env: dict[str, str], redis_server: RedisServer) -> None:
    from redis import Redis

    code, out = invoke(env, "agents", "ready", "a101", "--wait", "0.3")
    assert code == 2 and "no running server applied the change within 0.3 s; withdrawn" in out
    with Redis.from_url(redis_server.url) as redis:
        assert redis.xlen(Keys().intake) == 0


def test_bad_input_is_refused_before_anything_is_sent(env: dict[str, str], tmp_path: Path) -> None:
    code, out = invoke(env, "agents", "pause", "a999", "lunch")
    assert code == 2 and "unknown agent 'a999'" in out
    code, out = invoke(env, "agents", "pause", "a101", "nap")
    assert code == 2 and "pause reason 'nap' is not one of the site's: 1 break, 2 lunch" in out
    no_server = {**env, "REDIS_URL": ""}
    code, out = invoke(no_server, "agents", "list")
    assert code == 2 and "GUICHET_DATA_DIR: no running server's Redis" in out
