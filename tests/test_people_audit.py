"""The audit log from outside: a supervisor forcing agents' states from the wallboard over HTTP, and
``guichet users`` and ``guichet purge`` run as commands; each action's row is read back from SQL."""

from __future__ import annotations

import getpass
import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from dispatcher.store.redis_server import RedisServer
from tests.pages_helpers import browser_like, log_in, pages_site


def _rows(database: Path, since: float) -> list[dict[str, Any]]:
    """The audit rows written since ``since``, oldest first (read with a connection of its own)."""
    with sqlite3.connect(database) as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute("SELECT * FROM audit_log WHERE at >= ? ORDER BY audit_id", (since,)).fetchall()
    return [dict(r) | {"detail": json.loads(r["detail"])} for r in rows]


async def test_a_supervisor_forces_states_from_the_wallboard_and_each_is_audited(
    redis_server: RedisServer, redis_prefix: str, tmp_path: Path
) -> None:
    database = tmp_path / "audit.sqlite"
    async with pages_site(redis_server.url, redis_prefix, f"sqlite+aiosqlite:///{database}") as site:
        agent_id = min(site.matrix.agents)
        name = site.matrix.agents[agent_id].name
        started = time.time()
        async with browser_like() as http:
            token = await log_in(http, site.url, "superviseur")
            async with http.get(f"{site.url}/wallboard") as r:
                board = await r.text()
            assert 'id="force-form"' in board and f'<option value="{agent_id}">{name}</option>' in board
            asked = [("available", "offline", "available"), ("paused", "available", "paused"),
                     ("offline", "paused", "offline")]
            for state, before, now in asked:
                async with http.post(f"{site.url}/wallboard/agents/{agent_id}/state", json={"state": state},
                                     headers={"X-CSRF-Token": token}) as r:
                    assert r.status == 200, await r.text()
                    assert await r.json() == {"agent_id": agent_id, "before": before, "asked": state, "now": now}
            for path, body, status in (("/wallboard/agents/nobody/state", {"state": "paused"}, 404),
                                       (f"/wallboard/agents/{agent_id}/state", {"state": "asleep"}, 422),
                                       (f"/wallboard/agents/{agent_id}/state", {"state": "paused", "reason": "nap"}, 422)):
                async with http.post(site.url + path, json=body, headers={"X-CSRF-Token": token}) as r:
                    assert r.status == status and r.content_type == "application/problem+json", await r.text()
            async with http.post(f"{site.url}/wallboard/agents/{agent_id}/state", json={"state": "paused"}) as r:
                assert r.status == 403, "no CSRF token, no forced state"
        async with browser_like() as http:
            token = await log_in(http, site.url, "admin")
            async with http.get(f"{site.url}/wallboard") as r:
                assert 'id="force-form"' not in await r.text()
            async with http.post(f"{site.url}/wallboard/agents/{agent_id}/state", json={"state": "paused"},
                                 headers={"X-CSRF-Token": token}) as r:
                assert r.status == 403
        assert site.dispatcher.router.agents[agent_id].state.value == "offline"
    forced = [r for r in _rows(database, started) if r["action"] == "force_state"]
    assert [(r["actor"], r["target"], r["detail"]["from"], r["detail"]["to"]) for r in forced] == [
        ("superviseur", agent_id, before, state) for state, before, _ in asked
    ]
    assert forced[1]["detail"]["reason"] == "supervisor"
    assert all(started <= r["at"] <= time.time() and r["source"] == "127.0.0.1" for r in forced)


def _guichet(data: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "GUICHET_CONFIG", "REDIS_URL")}
    env["GUICHET_DATA_DIR"] = str(data)
    done = subprocess.run([sys.executable, "-m", "guichet.cli", *args], input=stdin, capture_output=True, text=True,
                          env=env, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done


def test_user_changes_and_purges_run_as_commands_are_audited(tmp_path: Path) -> None:
    data = tmp_path / "var"
    started = time.time()
    _guichet(data, "users", "add", "claire", "--role", "supervisor", "--password-stdin", stdin="un mot de passe long\n")
    _guichet(data, "users", "passwd", "claire", "--password-stdin", stdin="un autre mot de passe\n")
    _guichet(data, "users", "disable", "claire")
    _guichet(data, "users", "enable", "claire")
    _guichet(data, "purge", "--dry-run")
    purged = _guichet(data, "purge", "--retention-days", "30")
    assert re.search(r"0 citizens, 0 contacts and 0 callbacks lost", purged.stdout)
    rows = _rows(data / "guichet.sqlite", started)
    me = f"cli:{getpass.getuser()}"
    assert [(r["actor"], r["action"], r["target"]) for r in rows] == [
        (me, "user_added", "claire"), (me, "password_changed", "claire"), (me, "user_disabled", "claire"),
        (me, "user_enabled", "claire"), (me, "purge", None),
    ], "one row per change, none for the dry run"
    assert rows[0]["detail"] == {"role": "supervisor", "agent_id": None}
    purge = rows[-1]["detail"]
    assert purge["retention_days"] == 30 and purge["citizens"] == purge["contacts"] == purge["callbacks"] == 0
    assert abs(purge["cutoff"] - (rows[-1]["at"] - 30 * 86400)) < 60
