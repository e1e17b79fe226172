"""``guichet stats``, ``guichet purge`` and ``guichet db upgrade``.

The site's settings are handed in by the application (``register(app, site)``,
``site`` giving the ``SiteDefaults`` of the configuration when a command runs):
this module reads no configuration itself.
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import typer

EXIT_USER = 2

db_app = typer.Typer(help="The history database.", no_args_is_help=True)


class UserError(Exception):
    """A mistake of the user: printed as one line, exit code 2."""


@dataclass(frozen=True, slots=True)
class SiteDefaults:
    """What the history commands take from the site's configuration."""

    database_url: str | None = None
    """DATABASE_URL; None: the SQLite file under ``data_dir``."""
    data_dir: Path = Path("var")
    redis_url: str | None = None
    """REDIS_URL; None: the private Redis under ``data_dir``."""
    retention_days: int = 365
    catalogue: Path | None = None
    """The process catalogue file; None: the bundled sample."""

    @property
    def sqlite_path(self) -> Path:
        """The default history database file."""
        return self.data_dir / "guichet.sqlite"


def _no_site() -> SiteDefaults:
    return SiteDefaults()


_site: Callable[[], SiteDefaults] = _no_site
"""The provider ``register`` was given (the defaults until then)."""


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(EXIT_USER)


def _database_url(given: str | None) -> str:
    if given:
        return given
    site = _site()
    if site.database_url:
        return site.database_url
    from dispatcher.history.writer import sqlite_url

    return sqlite_url(site.sqlite_path)


def _day(text: str | None, zone: ZoneInfo, option: str) -> datetime:
    try:
        day = date.fromisoformat(text) if text else datetime.now(zone).date()
    except ValueError:
        raise UserError(f"{option} {text!r}: not a date (YYYY-MM-DD)") from None
    return datetime(day.year, day.month, day.day, tzinfo=zone)


def _sla_lookup() -> Callable[[str, str], float]:
    from skills.catalogue import default_catalogue, load_catalogue
    from skills.model import Channel

    path = _site().catalogue
    catalogue = load_catalogue(path) if path else default_catalogue()

    def sla_seconds(process: str, channel: str) -> float:
        """The process's SLA on the channel, else the triage one (a process since removed)."""
        known = process if process in catalogue.processes else catalogue.triage
        try:
            return catalogue.target(known, Channel(channel)).sla_seconds
        except (KeyError, ValueError):
            return 20.0

    return sla_seconds


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f} %"


def _secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} s"


async def _load(url: str, start: float, end: float) -> tuple[list[Any], list[Any]]:
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from dispatcher.history.queries import load_period
    from dispatcher.history.writer import engine_for

    engine = engine_for(url)
    try:
        return await load_period(engine, start, end)
    except (OperationalError, ProgrammingError) as exc:
        raise UserError(f"{url}: cannot read the history ({exc.orig}); run `guichet db upgrade`") from None
    except OSError as exc:
        raise UserError(f"{url}: database unreachable ({exc})") from None
    finally:
        await engine.dispose()


def stats(
    start: str = typer.Option(None, "--from", help="First day, YYYY-MM-DD (default: today)."),
    end: str = typer.Option(None, "--to", help="Day after the last, YYYY-MM-DD (default: --from + 1)."),
    by: str = typer.Option("interval,process,channel", "--by", help="Group on: interval, process, channel, agent."),
    csv_path: Path = typer.Option(None, "--csv", help="Also write the figures to this CSV file."),
    database_url: str = typer.Option(None, "--database-url", help="Default: DATABASE_URL, else the SQLite file."),
    tz: str = typer.Option("Europe/Paris", "--tz", help="Time zone of the intervals and days."),
) -> None:
    """Offered, answered, abandoned, service level, pick-up rate, ASA, AHT, occupancy, callbacks."""
    from rich.console import Console
    from rich.table import Table

    from dispatcher.history.stats import DIMENSIONS, FIELD_REFERENCES, StatRow, agent_days, compute

    try:
        zone = ZoneInfo(tz)
    except (KeyError, ValueError):
        raise _fail(f"--tz {tz!r}: unknown time zone") from None
    try:
        first = _day(start, zone, "--from")
        last = _day(end, zone, "--to") if end else first + timedelta(days=1)
        if last <= first:
            raise UserError(f"--to {end}: must be after --from {first.date()}")
        dims = [d.strip() for d in by.split(",") if d.strip()]
        bad = [d for d in dims if d not in DIMENSIONS]
        if bad:
            raise UserError(f"--by {bad[0]!r}: not one of {', '.join(DIMENSIONS)}")
        url = _database_url(database_url)
        sla_seconds = _sla_lookup()
        facts, spans = asyncio.run(_load(url, first.timestamp(), last.timestamp()))
    except UserError as exc:
        raise _fail(str(exc)) from None
    now = datetime.now(zone).timestamp()
    rows = compute(facts, spans, by=dims, sla_seconds=sla_seconds, now=now, tz=tz)
    total = compute(facts, spans, by=(), sla_seconds=sla_seconds, now=now, tz=tz)
    console = Console() if sys.stdout.isatty() else Console(width=160)
    table = Table(title=f"Guichet statistics {first.date()} -> {last.date()} ({len(facts)} contacts)")
    for name in (*dims, "offered", "answered", "abandoned", "SL", "pick-up", "ASA", "AHT", "occupancy", "callbacks ok"):
        table.add_column(name, justify="left" if name in DIMENSIONS else "right")
    labelled = [([getattr(r, d) for d in dims], r) for r in rows]
    labelled += [(["total", *[""] * (len(dims) - 1)] if dims else [], r) for r in total]
    for keys, r in labelled:
        table.add_row(
            *keys, str(r.offered), str(r.answered), str(r.abandoned), _pct(r.service_level), _pct(r.pickup_rate),
            _secs(r.asa_s), _secs(r.aht_s), _pct(r.occupancy), f"{r.callbacks_honoured}/{r.callbacks_due}",
        )
    console.print(table)
    days = agent_days(facts, spans, tz=tz)
    handled = [d.handled for d in days if d.handled]
    per_day = sum(handled) / len(handled) if handled else None
    ref = Table(title="Compared with the field")
    for name in ("figure", "here", "field reference"):
        ref.add_column(name)
    t = total[0] if total else None
    ref.add_row("pick-up rate", _pct(t.pickup_rate if t else None), FIELD_REFERENCES["pickup_rate"])
    honoured = f"{t.callbacks_honoured}/{t.callbacks_due}" if t else "-"
    ref.add_row("callbacks honoured by deadline", honoured, FIELD_REFERENCES["callbacks_honoured"])
    ref.add_row(
        "contacts per agent per day", "-" if per_day is None else f"{per_day:.0f}",
        FIELD_REFERENCES["contacts_per_agent_day"],
    )
    console.print(ref)
    if csv_path is not None:
        try:
            with csv_path.open("w", newline="", encoding="utf-8") as out:
                writer = csv.DictWriter(out, fieldnames=[f.name for f in dataclasses.fields(StatRow)])
                writer.writeheader()
                for r in rows:
                    writer.writerow(dataclasses.asdict(r))
        except OSError as exc:
            raise _fail(f"{csv_path}: {exc.strerror}") from None
        console.print(f"{len(rows)} rows written to {csv_path}")


def purge(
    retention_days: int = typer.Option(None, "--retention-days", help="Default: the configured retention (365)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only count what would be removed."),
    database_url: str = typer.Option(None, "--database-url", help="Default: DATABASE_URL, else the SQLite file."),
) -> None:
    """Remove citizens' personal data older than the retention period (CNIL)."""
    import time

    from dispatcher.history.purge import purge as run_purge
    from dispatcher.history.writer import engine_for

    try:
        url = _database_url(database_url)
        days = retention_days if retention_days is not None else _site().retention_days
        if days < 1:
            raise UserError(f"--retention-days {days}: must be at least 1")
    except UserError as exc:
        raise _fail(str(exc)) from None

    async def _run() -> Any:
        from sqlalchemy.exc import OperationalError, ProgrammingError

        engine = engine_for(url)
        try:
            return await run_purge(engine, days, time.time(), dry_run=dry_run)
        except (OperationalError, ProgrammingError) as exc:
            raise UserError(f"{url}: cannot purge ({exc.orig}); run `guichet db upgrade`") from None
        finally:
            await engine.dispose()

    try:
        result = asyncio.run(_run())
    except UserError as exc:
        raise _fail(str(exc)) from None
    verb = "would lose" if dry_run else "lost"
    cutoff = datetime.fromtimestamp(result.cutoff).date()
    typer.echo(
        f"before {cutoff}: {result.citizens} citizens, {result.contacts} contacts and "
        f"{result.callbacks} callbacks {verb} their personal data"
    )


@db_app.command("upgrade")
def db_upgrade(
    revision: str = typer.Argument("head", help="Target revision."),
    database_url: str = typer.Option(None, "--database-url", help="Default: DATABASE_URL, else the SQLite file."),
) -> None:
    """Create or migrate the history tables (Alembic), from any directory."""
    from alembic.util.exc import CommandError
    from sqlalchemy.exc import OperationalError

    from dispatcher.history.migrate import current, upgrade

    try:
        url = _database_url(database_url)
        upgrade(url, revision)
        typer.echo(f"history database at revision {current(url)}")
    except UserError as exc:
        raise _fail(str(exc)) from None
    except (CommandError, OperationalError, OSError) as exc:
        raise _fail(f"{database_url or 'history database'}: {str(exc).splitlines()[0]}") from None


def register(app: typer.Typer, site: Callable[[], SiteDefaults] = _no_site) -> None:
    """Add ``stats``, ``purge`` and ``db`` to the ``guichet`` command; ``site`` reads the configuration
    (raising UserError with the reason when it is unusable)."""
    global _site
    _site = site
    app.command("stats")(stats)
    app.command("purge")(purge)
    app.add_typer(db_app, name="db")
