"""People's accounts: argon2 hashes in SQL, the audit log, and ``guichet users`` from outside."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from dispatcher.history.migrate import upgrade
from dispatcher.history.writer import engine_for
from dispatcher.people.accounts import AccountError, Accounts
from dispatcher.people.audit import entries
from dispatcher.people.roles import Role

FAST = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)


async def test_accounts_verify_disable_and_audit(database_url: str) -> None:
    await asyncio.to_thread(upgrade, database_url)
    engine = engine_for(database_url)
    accounts = Accounts(engine, FAST)
    try:
        await accounts.add("claire", "un mot de passe long", Role.SUPERVISOR, display_name="Claire M.")
        await accounts.add("agent7", "autre mot de passe", Role.AGENT, agent_id="a07")
        assert (await accounts.verify("claire", "un mot de passe long")).role is Role.SUPERVISOR
        assert await accounts.verify("claire", "mauvais mot de passe") is None
        assert await accounts.verify("nobody", "un mot de passe long") is None
        assert (await accounts.verify("agent7", "autre mot de passe")).agent_id == "a07"
        with pytest.raises(AccountError, match="existe déjà"):
            await accounts.add("claire", "un mot de passe long", Role.ADMIN)
        with pytest.raises(AccountError, match="agent de la matrice"):
            await accounts.add("agent8", "un mot de passe long", Role.AGENT)
        with pytest.raises(AccountError, match="trop court"):
            await accounts.add("bob", "court", Role.PLANNER)
        with pytest.raises(AccountError, match="invalide"):
            await accounts.add("Bob Smith", "un mot de passe long", Role.PLANNER)
        await accounts.set_active("claire", False, actor="admin1")
        assert await accounts.verify("claire", "un mot de passe long") is None
        await accounts.set_password("agent7", "un tout nouveau secret", actor="admin1")
        assert await accounts.verify("agent7", "autre mot de passe") is None
        assert await accounts.verify("agent7", "un tout nouveau secret") is not None
        with pytest.raises(AccountError, match="aucun compte"):
            await accounts.set_active("ghost", False)
        stored = {p.username: p for p in await accounts.list()}
        assert set(stored) == {"claire", "agent7"} and not stored["claire"].active
        log = [(e.actor, e.action, e.target) for e in await entries(engine)]
        assert log == [
            ("admin1", "password_changed", "agent7"),
            ("admin1", "user_disabled", "claire"),
            ("cli", "user_added", "agent7"),
            ("cli", "user_added", "claire"),
        ]
        async with engine.connect() as conn:
            digest = (await conn.exec_driver_sql("SELECT password_hash FROM users WHERE username='agent7'")).scalar()
        assert digest.startswith("$argon2id$") and "secret" not in digest
    finally:
        await engine.dispose()


def _guichet(tmp_path: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "GUICHET_CONFIG")}
    env["GUICHET_DATA_DIR"] = str(tmp_path / "var")
    return subprocess.run(
        [sys.executable, "-m", "guichet.cli", "users", *args],
        input=stdin, capture_output=True, text=True, env=env, timeout=60, check=False,
    )


def test_users_command_from_outside(tmp_path: Path) -> None:
    made = _guichet(tmp_path, "add", "claire", "--role", "supervisor", "--name", "Claire M.", "--password-stdin",
                    stdin="un mot de passe long\n")
    assert made.returncode == 0, made.stderr
    assert "compte claire créé (supervisor)" in made.stdout
    again = _guichet(tmp_path, "add", "claire", "--role", "admin", "--password-stdin", stdin="un mot de passe long\n")
    assert again.returncode == 2 and "existe déjà" in again.stderr and "Traceback" not in again.stderr
    bad_role = _guichet(tmp_path, "add", "zoe", "--role", "boss", "--password-stdin", stdin="x" * 12 + "\n")
    assert bad_role.returncode == 2 and "boss" in bad_role.stderr
    assert _guichet(tmp_path, "add", "a1", "--role", "agent", "--agent", "a01", "--password-stdin",
                    stdin="mot de passe agent\n").returncode == 0
    assert _guichet(tmp_path, "passwd", "a1", "--password-stdin", stdin="nouveau mot de passe\n").returncode == 0
    short = _guichet(tmp_path, "passwd", "a1", "--password-stdin", stdin="court\n")
    assert short.returncode == 2 and "trop court" in short.stderr
    assert _guichet(tmp_path, "disable", "claire").returncode == 0
    missing = _guichet(tmp_path, "disable", "ghost")
    assert missing.returncode == 2 and "aucun compte 'ghost'" in missing.stderr
    listing = _guichet(tmp_path, "list")
    lines = listing.stdout.splitlines()
    assert lines[1].split()[:4] == ["a1", "agent", "a01", "actif"]
    assert lines[2].split()[:4] == ["claire", "supervisor", "-", "désactivé"]
    assert "Claire M." in lines[2]
