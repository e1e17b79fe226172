"""``guichet serve`` (the server, on a real Asterisk) and ``guichet demo`` (the simulated town hall)."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import typer


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
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
) -> None:
    """Run the embedded town hall in a browser: prints the wallboard's URL and logins, runs until Ctrl-C."""
    from rich.console import Console

    from guichet.demo import DemoPlan, main

    plan = DemoPlan(seconds=duration, calls_per_minute=calls, visitors_per_minute=visitors, seed=seed)
    main(plan, data_dir, Console(), http_port=http_port)


def serve(
    config: Path = typer.Option(None, "--config", help="TOML settings file (default: $GUICHET_CONFIG)."),
) -> None:
    """Run the server against the Asterisk of the settings (GUICHET_AMI_*), until Ctrl-C."""
    from rich.console import Console

    from dispatcher.counter.sites import default_sites, load_sites
    from dispatcher.http.tokens import TokenConfigError
    from guichet.config import ConfigError, load_settings
    from guichet.townhall import run_town_hall
    from skills.catalogue import default_catalogue, load_catalogue
    from skills.errors import SkillFileError
    from skills.matrix import default_matrix, load_matrix

    console = Console()
    try:
        settings = load_settings(config)
        catalogue = load_catalogue(settings.catalogue) if settings.catalogue else default_catalogue()
        matrix = load_matrix(settings.skill_matrix, catalogue) if settings.skill_matrix else default_matrix(catalogue)
        sites = load_sites(settings.sites, catalogue) if settings.sites else default_sites(catalogue)
    except (ConfigError, SkillFileError) as exc:
        raise _fail(str(exc)) from None

    from guichet.logs import configure

    configure(settings.log_format)

    async def _run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with run_town_hall(settings, catalogue, matrix, sites=sites) as hall:
            console.print(
                f"Guichet serving: AMI {settings.ami_host}:{settings.ami_port}, FastAGI on "
                f"{settings.agi_host}:{hall.ivr.port}, HTTP {hall.http.url}, Redis {settings.redis_url or 'private, under ' + str(settings.data_dir)}, "
                f"history {hall.database_url}; "
                f"{len(hall.dispatcher.router.queue)} contacts recovered waiting."
            )
            await stop.wait()
        console.print("Guichet stopped cleanly.")

    try:
        asyncio.run(_run())
    except (OSError, TokenConfigError) as exc:
        raise _fail(str(exc)) from None


def register(app: typer.Typer) -> None:
    """Add ``serve`` and ``demo`` to the ``guichet`` command."""
    app.command("demo")(demo)
    app.command("serve")(serve)
