"""Checks ``guichet serve`` makes before starting anything, each naming the setting at fault.

A problem is a ``StartupError``: one line, ``SETTING: reason`` (``REDIS_URL``,
``DATABASE_URL``, ``GUICHET_DATA_DIR``...), which the command prints before
exiting with status 2, never a traceback. What may come later (Asterisk not
started yet) is only logged: the AMI adapter keeps trying.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from pathlib import Path

from dispatcher.i18n import msg
from guichet.config import Settings
from ivr.menu import IvrConfig
from ivr.prompts import missing

log = logging.getLogger("guichet.startup")
TIMEOUT_S = 3.0


class StartupError(Exception):
    """The server cannot start; ``setting`` is the user's name for what to fix."""

    def __init__(self, setting: str, reason: str) -> None:
        self.setting = setting
        self.reason = reason
        super().__init__(f"{setting}: {reason}")


def check_data_dir(settings: Settings) -> None:
    """The data directory exists or can be made, and is a directory."""
    path = settings.data_dir
    if path.exists() and not path.is_dir():
        raise StartupError("GUICHET_DATA_DIR", msg("{path} is a file, not a directory").format(path=path))
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StartupError("GUICHET_DATA_DIR", msg("cannot create {path}: {reason}").format(path=path, reason=exc.strerror or exc)) from None


def resolves(setting: str, host: str) -> None:
    """``host`` has an address; StartupError otherwise."""
    try:
        socket.getaddrinfo(host, None)
    except (socket.gaierror, UnicodeError) as exc:
        raise StartupError(setting, msg("host {host!r} does not resolve ({reason})").format(host=host, reason=_reason(exc))) from None


def check_listen(settings: Settings) -> None:
    """The FastAGI address can be listened on."""
    resolves("GUICHET_AGI_HOST", settings.agi_host)
    if settings.agi_port == 0:
        return
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((settings.agi_host, settings.agi_port))
        except OSError as exc:
            raise StartupError(
                "GUICHET_AGI_PORT", msg("cannot listen on {host}:{port} ({reason})").format(
                    host=settings.agi_host, port=settings.agi_port, reason=exc.strerror or _reason(exc))
            ) from None


async def check_redis(url: str) -> None:
    """``REDIS_URL`` is a Redis URL and the server answers PING."""
    from redis.asyncio import Redis

    try:
        client = Redis.from_url(url, socket_connect_timeout=TIMEOUT_S, socket_timeout=TIMEOUT_S)
    except ValueError as exc:
        raise StartupError("REDIS_URL", msg("not a Redis URL ({reason})").format(reason=exc)) from None
    try:
        await asyncio.wait_for(client.ping(), TIMEOUT_S * 2)
    except Exception as exc:  # redis raises its own ConnectionError, OSError or a timeout
        raise StartupError("REDIS_URL", msg("Redis at {where} does not answer ({reason})").format(
            where=_where(url), reason=_reason(exc))) from None
    finally:
        await client.aclose()
    log.info("live state: Redis at %s answers", _where(url))


async def check_database(url: str) -> None:
    """``DATABASE_URL`` is an async SQLAlchemy URL and the database answers."""
    from sqlalchemy import text
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError
    from sqlalchemy.ext.asyncio import create_async_engine

    try:
        engine = create_async_engine(url)
    except (ArgumentError, NoSuchModuleError, ValueError) as exc:
        raise StartupError(
            "DATABASE_URL",
            msg("not a database URL Guichet can use ({reason}; e.g. postgresql+asyncpg://user@host/db)").format(
                reason=_reason(exc)),
        ) from None
    except Exception as exc:  # e.g. a sync driver: InvalidRequestError
        raise StartupError("DATABASE_URL", _reason(exc)) from None
    try:
        async with asyncio.timeout(TIMEOUT_S * 2):
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
    except Exception as exc:
        raise StartupError(
            "DATABASE_URL", msg("the database at {where} does not answer ({reason})").format(
                where=_where(url), reason=_reason(exc))
        ) from None
    finally:
        await engine.dispose()
    log.info("history: the database at %s answers", _where(url))


def check_sounds(config: IvrConfig, sounds_dir: Path | None) -> list[tuple[str, str]]:
    """The prompts missing from ``GUICHET_SOUNDS_DIR`` (each logged by name); [] when unset."""
    if sounds_dir is None:
        return []
    if not sounds_dir.is_dir():
        raise StartupError("GUICHET_SOUNDS_DIR", msg("{path} is not a directory").format(path=sounds_dir))
    lacking = missing(config, sounds_dir)
    for sound, language in lacking:
        log.warning("prompt missing: %s/%s/%s.wav (install them: docs/phone.md)", sounds_dir, language, sound)
    if lacking:
        log.warning("%d prompts missing from %s; the IVR goes on without them", len(lacking), sounds_dir)
    else:
        log.info("all %d prompts found in %s", sum(len(v) for v in config.sounds().values()), sounds_dir)
    return lacking


async def check_all(settings: Settings, config: IvrConfig) -> None:
    """Every check, in the order a user would fix them."""
    check_data_dir(settings)
    check_listen(settings)
    resolves("GUICHET_AMI_HOST", settings.ami_host)
    if settings.redis_url:
        await check_redis(settings.redis_url)
    else:
        log.info("live state: a private Redis under %s", settings.data_dir / "redis")
    if settings.database_url:
        await check_database(settings.database_url)
    else:
        log.info("history: SQLite at %s", settings.data_dir / "guichet.sqlite")
    check_sounds(config, settings.sounds_dir)


def _where(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
        return f"{parsed.host or 'localhost'}:{parsed.port or ''}".rstrip(":")
    except Exception:
        return msg("the URL given")


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
