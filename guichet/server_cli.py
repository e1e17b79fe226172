"""``guichet serve`` (the server, on a real Asterisk) and ``guichet demo`` (the simulated town hall)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from pathlib import Path

import typer

from dispatcher.i18n import M_, LangOpt, choose_language, msg
from guichet.logs import FORMATS, LEVELS

log = logging.getLogger("guichet.serve")


def _fail(message: str) -> typer.Exit:
    typer.echo(msg("error: {message}").format(message=message), err=True)
    return typer.Exit(2)


def demo(
    duration: float = typer.Option(
        None, "--duration", min=5.0, help="Stop after this many seconds (default: run until Ctrl-C)."
    ),
    calls: float = typer.Option(90.0, "--calls-per-minute", min=0.0, help="Phone calls per minute."),
    visitors: float = typer.Option(30.0, "--visitors-per-minute", min=0.0, help="Counter visitors per minute."),
    seed: int = typer.Option(1, "--seed", help="Seed of the simulated citizens."),
    data_dir: Path = typer.Option(None, "--data-dir", help="Where Redis and SQLite live (default: a new temporary folder)."),
    http_port: int = typer.Option(8080, "--http-port", envvar="GUICHET_HTTP_PORT", min=0, max=65535, help="HTTP port of the pages and the API (busy: a free one; 0: any)."),
    lang: LangOpt = None,
) -> None:
    """Run the embedded town hall in a browser: prints the wallboard's URL and logins, runs until Ctrl-C."""
    from rich.console import Console

    from guichet.demo import DemoPlan, main

    choose_language(lang)
    plan = DemoPlan(seconds=duration, calls_per_minute=calls, visitors_per_minute=visitors, seed=seed)
    main(plan, data_dir, Console(), http_port=http_port)


def serve(
    config: Path = typer.Option(None, "--config", help="TOML settings file (default: $GUICHET_CONFIG)."),
    log_level: str = typer.Option(
        "info", "--log-level", help="debug (every routing decision), info, warning or error.", metavar="LEVEL"
    ),
    lang: LangOpt = None,
) -> None:
    """Run the server against the Asterisk of the settings (GUICHET_AMI_*), until Ctrl-C.

    Logs go to stderr (GUICHET_LOG_FORMAT=json for one JSON object per line).
    A setting that cannot work stops it at once: one line naming the setting, exit status 2.
    """
    from guichet.logs import setup
    from guichet.townhall import run

    choose_language(lang)
    level = log_level.lower()
    if level not in LEVELS:
        raise _fail(msg("--log-level: {value!r} is not one of {choices}").format(
            value=log_level, choices=", ".join(LEVELS)))
    fmt = os.environ.get("GUICHET_LOG_FORMAT", "text").lower()
    if fmt not in FORMATS:
        raise _fail(msg("GUICHET_LOG_FORMAT: {value!r} is not one of {choices}").format(
            value=fmt, choices=", ".join(FORMATS)))
    setup(level, fmt)
    try:
        run(_serve(config))
    except KeyboardInterrupt:
        pass


async def _serve(config: Path | None) -> None:
    from dispatcher.policy import RoutingPolicy
    from dispatcher.http.tokens import TokenConfigError
    from guichet.startup import StartupError, check_all
    from guichet.town_files import TownFilesError, load_town_files
    from guichet.townhall import run_town_hall

    try:
        town = load_town_files(config)
        await check_all(town.settings, town.menu)
    except (TownFilesError, StartupError) as exc:
        raise _fail(str(exc)) from None
    settings, catalogue, matrix, menu = town.settings, town.catalogue, town.matrix, town.menu

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    policy = RoutingPolicy(no_answer_unpause_s=settings.no_answer_unpause_s)
    try:
        async with run_town_hall(settings, catalogue, matrix, policy, ivr_config=menu, sites=town.sites) as hall:
            banner = M_("Guichet serving: AMI {ami}, FastAGI on {agi}, HTTP {http}, Redis {redis}, "
                        "history {history}; {waiting} contacts recovered waiting.")
            private = M_("private, under {path}")
            figures = {"ami": f"{settings.ami_host}:{settings.ami_port}", "agi": f"{settings.agi_host}:{hall.ivr.port}",
                       "http": hall.http.url, "history": hall.database_url,
                       "waiting": len(hall.dispatcher.router.queue)}
            typer.echo(msg(banner).format(
                redis=settings.redis_url or msg(private).format(path=settings.data_dir), **figures))
            log.info("%s", banner.format(redis=settings.redis_url or private.format(path=settings.data_dir),
                                         **figures))
            await stop.wait()
            log.info("stopping")
    except OSError as exc:
        raise _fail(f"{exc.strerror or exc}") from None
    except TokenConfigError as exc:
        raise _fail(str(exc)) from None
    except Exception as exc:
        from dispatcher.store.redis_server import RedisLaunchError

        if isinstance(exc, RedisLaunchError):
            raise _fail(msg("GUICHET_DATA_DIR: the private Redis did not start: {reason}").format(reason=exc)) from None
        if os.environ.get("GUICHET_DEBUG"):
            raise
        raise _fail(msg("{kind}: {reason} (GUICHET_DEBUG=1 shows where)").format(
            kind=type(exc).__name__, reason=exc)) from None
    typer.echo(msg("Guichet stopped cleanly."))
    log.info("stopped cleanly")


def register(app: typer.Typer) -> None:
    """Add ``serve`` and ``demo`` to the ``guichet`` command."""
    app.command("demo")(demo)
    app.command("serve")(serve)
