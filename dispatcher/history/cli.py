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

from simulations.i18n import N_

EXIT_USER = 2

CSV_HEADERS: dict[str, str] = {
    "interval": N_("interval"), "process": N_("process"), "channel": N_("channel"), "agent": N_("agent"),
    "offered": N_("offered"), "answered": N_("answered"), "abandoned": N_("abandoned"),
    "service_level": N_("service_level"), "pickup_rate": N_("pickup_rate"), "asa_s": N_("asa_s"),
    "aht_s": N_("aht_s"), "occupancy": N_("occupancy"), "callbacks_due": N_("callbacks_due"),
    "callbacks_honoured": N_("callbacks_honoured"), "wait_vs_target": N_("wait_vs_target"),
    "channel_gap": N_("channel_gap"),
}
"""The CSV's columns (``StatRow``'s fields) and their French header, through the planner's catalogue."""

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


def _fail(message: str, template: str = "error: {message}") -> typer.Exit:
    typer.echo(template.format(message=message), err=True)
    return typer.Exit(EXIT_USER)


def _stats_fail(message: str) -> typer.Exit:
    """``_fail`` in the planner's language (``guichet stats``)."""
    from simulations.i18n import tr

    return _fail(message, tr("error: {message}"))


def _database_url(given: str | None, create: bool = True) -> str:
    """The history database: given, else the site's DATABASE_URL, else its SQLite file.

    ``create=False`` (reading commands): a SQLite file that does not exist is an error,
    never created empty.
    """
    from dispatcher.history.writer import sqlite_url

    if given:
        path = _sqlite_path(given)
        if not create and path is not None and not path.exists():
            raise UserError(_no_history(path))
        return given
    site = _site()
    if site.database_url:
        return site.database_url
    if not create and not site.sqlite_path.exists():
        raise UserError(_no_history(site.sqlite_path))
    return sqlite_url(site.sqlite_path)


def _no_history(path: Path) -> str:
    from simulations.i18n import tr

    return tr("no history at {path}: nothing has been recorded there yet (`guichet serve` writes "
              "it; `guichet demo` says where it kept its own); give --database-url or "
              "GUICHET_DATA_DIR").format(path=path)


def _sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for another database or an in-memory one)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite") or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def _day(text: str | None, zone: ZoneInfo, option: str) -> datetime:
    try:
        day = date.fromisoformat(text) if text else datetime.now(zone).date()
    except ValueError:
        from simulations.i18n import tr

        raise UserError(f"{option} {text!r}: " + tr("not a date (YYYY-MM-DD)")) from None
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


def _times(value: float | None) -> str:
    from simulations.i18n import number

    return "-" if value is None else number(value, 2)


def _secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} s"


async def _load(url: str, start: float, end: float, now: float) -> tuple[list[Any], list[Any]]:
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from dispatcher.history.queries import load_period
    from dispatcher.history.writer import engine_for
    from simulations.i18n import tr

    engine = engine_for(url)
    try:
        return await load_period(engine, start, end, now)
    except (OperationalError, ProgrammingError) as exc:
        raise UserError(f"{url}: " + tr("cannot read the history ({reason}); run `guichet db upgrade`")
                        .format(reason=exc.orig)) from None
    except OSError as exc:
        raise UserError(f"{url}: " + tr("database unreachable ({reason})").format(reason=exc)) from None
    finally:
        await engine.dispose()


def stats(
    start: str = typer.Option(None, "--from", help="First day, YYYY-MM-DD (default: today)."),
    end: str = typer.Option(None, "--to", help="Day after the last, YYYY-MM-DD (default: --from + 1)."),
    by: str = typer.Option("interval,process,channel", "--by", help="Group on: interval, process, channel, agent."),
    csv_path: Path = typer.Option(None, "--csv", help="Also write the figures to this CSV file."),
    database_url: str = typer.Option(None, "--database-url", help="Default: DATABASE_URL, else the SQLite file."),
    tz: str = typer.Option("Europe/Paris", "--tz", help="Time zone of the intervals and days."),
    csv_locale: str = typer.Option(None, "--csv-locale", help="fr: the CSV as French Excel opens it (';', "
                                   "decimal commas); en: ',' and decimal points (default: as --lang).",
                                   show_default=False),
    lang: str = typer.Option(None, "--lang", help="Language of the tables and the CSV's header: fr or en "
                             "(default: GUICHET_LANG, else fr).", show_default=False),
) -> None:
    """Offered, answered, abandoned, service level, pick-up rate, ASA, AHT, occupancy, callbacks,
    and the equal treatment of each process across channels (SITIV)."""
    from simulations.i18n import set_language

    try:
        lang = set_language(lang)
    except ValueError as exc:
        raise _fail(f"--lang {exc}") from None
    if csv_locale not in (None, "fr", "en"):
        raise _stats_fail(f"--csv-locale {csv_locale!r}: fr or en")
    show_stats(start, end, by, csv_path, database_url, tz, csv_locale=csv_locale or lang)


def show_stats(
    start: str | None,
    end: str | None,
    by: str,
    csv_path: Path | None,
    database_url: str | None,
    tz: str,
    per_day_figures: bool = True,
    csv_locale: str = "en",
) -> None:
    """Print the statistics of a period (``per_day_figures=False``: time is not real, as in
    the demo, so figures per agent and day are left out of the field comparison); in the
    planner's language (``simulations.i18n``), 100 columns wide when not on a terminal."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    from dispatcher.history.stats import (
        DIMENSIONS,
        FIELD_REFERENCES,
        StatRow,
        agent_days,
        compute,
        equal_treatment,
    )
    from simulations.i18n import channel_name, language, tr

    try:
        zone = ZoneInfo(tz)
    except (KeyError, ValueError):
        raise _stats_fail(f"--tz {tz!r}: " + tr("unknown time zone")) from None
    now = datetime.now(zone).timestamp()
    try:
        first = _day(start, zone, "--from")
        last = _day(end, zone, "--to") if end else first + timedelta(days=1)
        if last <= first:
            raise UserError(f"--to {end}: " + tr("must be after --from {day}").format(day=first.date()))
        dims = [d.strip() for d in by.split(",") if d.strip()]
        bad = [d for d in dims if d not in DIMENSIONS]
        if bad:
            raise UserError(f"--by {bad[0]!r}: " + tr("not one of {choices}").format(choices=", ".join(DIMENSIONS)))
        url = _database_url(database_url, create=False)
        sla_seconds = _sla_lookup()
        facts, spans = asyncio.run(_load(url, first.timestamp(), last.timestamp(), now))
    except UserError as exc:
        raise _stats_fail(str(exc)) from None
    rows = compute(facts, spans, by=dims, sla_seconds=sla_seconds, now=now, tz=tz)
    total = compute(facts, spans, by=(), sla_seconds=sla_seconds, now=now, tz=tz)
    console = Console() if sys.stdout.isatty() else Console(width=100)
    per_agent = set(dims) <= {"interval", "agent"}
    one_day = last - first == timedelta(days=1)
    legend = tr("off.: offered; ans.: answered; ab.: abandoned; SL: answered within the target / "
                "offered; pick.: answered / offered; ASA: mean wait of the answered; AHT: mean "
                "handling time; occ.: share of the logged-in time busy or in wrap-up; cb: "
                "callbacks honoured by their deadline / due.")
    if not per_agent:
        legend += " " + tr("occ.: a figure of agents (--by agent or interval); n/a per process or "
                           "channel, which do not own the agents' idle time; the total row is over "
                           "every agent.")
    table = Table(
        title=tr("Guichet statistics {first} -> {last} ({count} contacts)").format(
            first=first.date(), last=last.date(), count=len(facts)),
        caption=legend, caption_justify="left", box=box.SIMPLE_HEAD, padding=(0, 0, 0, 1), pad_edge=False,
    )
    names = {"interval": tr("time") if one_day else tr("interval"), "process": tr("process"),
             "channel": tr("channel"), "agent": tr("agent")}
    for name in (*(names[d] for d in dims), tr("off."), tr("ans."), tr("ab."), tr("SL"), tr("pick."),
                 tr("ASA"), tr("AHT"), tr("occ."), tr("cb")):
        table.add_column(name, justify="left" if name in names.values() else "right", overflow="fold")

    def label(row: StatRow, dim: str) -> str:
        value: str = getattr(row, dim)
        if dim == "interval" and one_day:
            return value.rpartition(" ")[2]  # the date is in the title
        return channel_name(value) if dim == "channel" else value

    labelled = [([label(r, d) for d in dims], r, False) for r in rows]
    labelled += [([tr("total"), *[""] * (len(dims) - 1)] if dims else [], r, True) for r in total]
    for keys, r, is_total in labelled:
        occupancy = _pct(r.occupancy) if per_agent or is_total else tr("n/a")
        table.add_row(
            *keys, str(r.offered), str(r.answered), str(r.abandoned), _pct(r.service_level), _pct(r.pickup_rate),
            _secs(r.asa_s), _secs(r.aht_s), occupancy, f"{r.callbacks_honoured}/{r.callbacks_due}",
        )
    console.print(table)

    fairness = equal_treatment(compute(facts, spans, by=("process", "channel"), sla_seconds=sla_seconds,
                                       now=now, tz=tz))
    channels = sorted({c for e in fairness for c in e.by_channel})
    if fairness:
        equal = Table(
            title=tr("Equal treatment (SITIV): mean wait over the channel's target, per process"),
            caption=tr("1.00 = the wait equals the target; gap: worst channel minus best channel "
                       "(0 = the same treatment whatever the door)"), caption_justify="left",
        )
        equal.add_column(tr("process"), overflow="fold")
        for c in channels:
            equal.add_column(channel_name(c), justify="right")
        equal.add_column(tr("gap"), justify="right")
        for e in fairness:
            equal.add_row(e.process, *(_times(e.by_channel.get(c)) for c in channels), _times(e.gap))
        console.print(equal)

    ref = Table(title=tr("Compared with the field"))
    for name in (tr("figure"), tr("here"), tr("field reference")):
        ref.add_column(name)
    t = total[0] if total else None
    ref.add_row(tr("pick-up rate"), _pct(t.pickup_rate if t else None), tr(FIELD_REFERENCES["pickup_rate"]))
    honoured = f"{t.callbacks_honoured}/{t.callbacks_due}" if t else "-"
    ref.add_row(tr("callbacks honoured by deadline"), honoured, tr(FIELD_REFERENCES["callbacks_honoured"]))
    if per_day_figures:
        days = agent_days(facts, spans, tz=tz)
        handled = [d.handled for d in days if d.handled]
        per_day = sum(handled) / len(handled) if handled else None
        ref.add_row(
            tr("contacts per agent per day"), "-" if per_day is None else f"{per_day:.0f}",
            tr(FIELD_REFERENCES["contacts_per_agent_day"]),
        )
    console.print(ref)
    if csv_path is not None:
        try:
            french = csv_locale == "fr"
            codes = [f.name for f in dataclasses.fields(StatRow)]
            headers = {c: tr(CSV_HEADERS[c]) if language() == "fr" else c for c in codes}
            with csv_path.open("w", newline="", encoding="utf-8-sig" if french else "utf-8") as out:
                writer = csv.writer(out, delimiter=";" if french else ",")
                writer.writerow([headers[c] for c in codes])
                for r in rows:
                    record = dataclasses.asdict(r)
                    if french:
                        record = {k: str(v).replace(".", ",") if isinstance(v, float) else v for k, v in record.items()}
                    writer.writerow([record[c] for c in codes])
        except OSError as exc:
            raise _stats_fail(f"{csv_path}: {exc.strerror}") from None
        console.print(tr("{count} rows written to {path}").format(count=len(rows), path=csv_path), highlight=False)


def purge(
    retention_days: int = typer.Option(None, "--retention-days", help="Default: the configured retention (365)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only count what would be removed."),
    database_url: str = typer.Option(None, "--database-url", help="Default: DATABASE_URL, else the SQLite file."),
    redis_url: str = typer.Option(
        None, "--redis-url", help="Default: REDIS_URL, else the private Redis under the data directory."
    ),
) -> None:
    """Remove citizens' personal data older than the retention period (CNIL), from SQL and Redis."""
    import time

    from dispatcher.history.purge import purge as run_purge
    from dispatcher.history.writer import engine_for
    from dispatcher.people.audit import operator

    try:
        url = _database_url(database_url, create=False)
        days = retention_days if retention_days is not None else _site().retention_days
        if days < 1:
            raise UserError(f"--retention-days {days}: must be at least 1")
    except UserError as exc:
        raise _fail(str(exc)) from None

    async def _run() -> tuple[Any, Any]:
        from sqlalchemy.exc import OperationalError, ProgrammingError

        engine = engine_for(url)
        try:
            result = await run_purge(engine, days, time.time(), dry_run=dry_run, actor=operator())
        except (OperationalError, ProgrammingError) as exc:
            raise UserError(f"{url}: cannot purge ({exc.orig}); run `guichet db upgrade`") from None
        finally:
            await engine.dispose()
        return result, await _purge_redis(redis_url, result.cutoff, dry_run)

    try:
        result, streams = asyncio.run(_run())
    except UserError as exc:
        raise _fail(str(exc)) from None
    verb = "would lose" if dry_run else "lost"
    removed = "would be removed" if dry_run else "removed"
    cutoff = datetime.fromtimestamp(result.cutoff).date()
    typer.echo(
        f"SQL history, before {cutoff}: {result.citizens} citizens, {result.contacts} contacts and "
        f"{result.callbacks} callbacks {verb} their personal data"
    )
    if streams is None:
        typer.echo("Redis: no live state found (no REDIS_URL, no private Redis under the data directory)")
        return
    typer.echo(
        f"Redis, before {cutoff}: {streams.events} events {removed} from the event stream "
        f"({streams.personal} with a caller's number or a citizen id), {streams.intake} intake entries {removed}"
        + (f"; {streams.kept} kept, not yet in the SQL history (removed at the next purge)" if streams.kept else "")
    )


async def _purge_redis(given: str | None, cutoff: float, dry_run: bool) -> Any:
    """The Redis part of the purge: REDIS_URL, or the private server (reused if it runs, else started)."""
    from redis.exceptions import RedisError

    from dispatcher.store.keys import Keys, connect
    from dispatcher.store.purge import purge_streams
    from dispatcher.store.redis_server import RedisLaunchError, RedisServer

    site = _site()
    url = given or site.redis_url
    server = None
    if url is None:
        where = site.data_dir / "redis"
        if not where.is_dir():
            return None
        server = RedisServer(where)
        try:
            url = await asyncio.to_thread(server.start)
        except RedisLaunchError as exc:
            raise UserError(f"{where}: cannot start the private Redis ({exc})") from None
    try:
        redis = connect(url)
    except ValueError as exc:
        raise UserError(f"REDIS_URL {url!r}: {exc}") from None
    try:
        return await purge_streams(redis, Keys(), cutoff, dry_run=dry_run)
    except (RedisError, OSError) as exc:
        raise UserError(f"{url}: Redis unreachable ({exc})") from None
    finally:
        await redis.aclose()
        if server is not None:
            await asyncio.to_thread(server.stop, adopted=False)


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
