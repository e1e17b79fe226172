"""``guichet stats``, ``purge`` and ``db``: the history commands, handed the site's settings."""

from __future__ import annotations

import typer

from dispatcher.history import cli


def site_defaults() -> cli.SiteDefaults:
    """The history commands' view of the configuration (UserError naming the file and key if it is bad)."""
    from guichet.config import ConfigError, load_settings  # only when a history command runs

    try:
        settings = load_settings()
    except ConfigError as exc:
        raise cli.UserError(str(exc)) from None
    return cli.SiteDefaults(
        database_url=settings.database_url,
        data_dir=settings.data_dir,
        redis_url=settings.redis_url,
        retention_days=settings.retention_days,
        catalogue=settings.catalogue,
    )


def register(app: typer.Typer) -> None:
    """Add the history commands to the ``guichet`` command."""
    cli.register(app, site_defaults)
