"""``guichet staffing``: required agents for one interval or for a forecast day."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

staffing_app = typer.Typer(
    help="Staffing with Erlang C (or Erlang A with --patience): the fewest agents per interval.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add ``guichet staffing ...`` to the main command."""
    app.add_typer(staffing_app, name="staffing")


def _fraction(value: float | None, name: str, allow_one: bool = False) -> float | None:
    """A share given as 0.8 or as 80 (percent) -> 0.8."""
    if value is None:
        return None
    if 1.0 < value <= 100.0:
        value = value / 100.0
    if not (0.0 < value < 1.0 or (allow_one and value == 1.0)):
        raise typer.BadParameter(f"{value:g} is not a share: give e.g. 0.8 or 80", param_hint=name)
    return value


def _shrinkage(value: float) -> float:
    """0.3 or 30 (percent) -> 0.3; 1 (100 %) is refused."""
    if 1.0 < value < 100.0:
        value = value / 100.0
    if not 0.0 <= value < 1.0:
        raise typer.BadParameter(f"{value:g} is not a share in [0, 1): give e.g. 0.3 or 30",
                                 param_hint="--shrinkage")
    return value


def _positive(value: float | None, name: str, allow_zero: bool = False) -> float | None:
    if value is None:
        return None
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise typer.BadParameter(f"{value:g} must be {'>= 0' if allow_zero else '> 0'}",
                                 param_hint=name)
    return value


def _fmt_s(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "∞"
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds:.0f} s ({seconds / 60:.1f} min)"


SlOpt = Annotated[float | None, typer.Option("--sl", help="Service-level target: 0.8 or 80 (%).")]
WithinOpt = Annotated[float | None, typer.Option("--within", help="Service-level threshold, s.")]
OccOpt = Annotated[float | None, typer.Option("--max-occupancy", help="Highest occupancy, "
                                              "e.g. 0.85.")]
ShrinkOpt = Annotated[float, typer.Option("--shrinkage", help="Share of paid time off the "
                                          "phones and counters, e.g. 0.3 or 30.")]
AsaOpt = Annotated[float | None, typer.Option("--asa", help="Highest average speed of answer, s.")]
PatienceOpt = Annotated[float | None, typer.Option(
    "--patience", help="Callers' mean patience, s: Erlang A, with abandonment.")]


@staffing_app.command("interval")
def interval_cmd(
    calls_per_hour: Annotated[float, typer.Option("--calls-per-hour", help="Arrivals per hour.")],
    aht: Annotated[float, typer.Option("--aht", help="Average handling time, seconds.")],
    sl: SlOpt = 0.8,
    within: WithinOpt = 20.0,
    max_occupancy: OccOpt = None,
    shrinkage: ShrinkOpt = 0.0,
    asa: AsaOpt = None,
    patience: PatienceOpt = None,
) -> None:
    """The fewest agents for one interval's traffic, and what they achieve."""
    from rich.table import Table

    from simulations import erlang, staffing

    console = Console()
    _positive(calls_per_hour, "--calls-per-hour", allow_zero=True)
    _positive(aht, "--aht")
    _positive(within, "--within", allow_zero=True)
    _positive(asa, "--asa")
    _positive(patience, "--patience")
    sl_f = _fraction(sl, "--sl")
    occ = _fraction(max_occupancy, "--max-occupancy", allow_one=True)
    shr = _shrinkage(shrinkage)
    within = 20.0 if within is None else within
    a = calls_per_hour * aht / 3600.0
    try:
        res = staffing.required_agents(a, aht, service_level=sl_f, within_s=within, asa_s=asa,
                                       max_occupancy=occ, shrinkage=shr, patience_s=patience)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    n = int(res.agents)
    model = "Erlang A" if patience is not None else "Erlang C"
    console.print(
        f"[bold]{calls_per_hour:g} calls/h x {aht:g} s = {a:.3f} Erlangs[/] ({model}); target "
        f"{sl_f:.0%} within {within:g} s"
        + (f", ASA <= {asa:g} s" if asa is not None else "")
        + (f", occupancy <= {occ:.0%}" if occ is not None else "")
        + (f", mean patience {patience:g} s" if patience is not None else "")
    )
    table = Table(title=None)
    cols = ["agents", "service level", "ASA", "occupancy", "P(wait)"]
    if patience is not None:  # Erlang A: say of which calls each figure is
        cols = ["agents", "SL of offered", "ASA of answered", "occupancy", "P(wait)", "abandoned"]
    for c in cols:
        table.add_column(c, justify="right")
    for k in (n - 1, n, n + 1):
        if k < 0 or (k == 0 and a > 0):
            continue
        if patience is not None:
            ra = erlang.erlang_a(k, a, aht, patience, within)
            vals = [ra.sl_offered, ra.asa, ra.occupancy, ra.p_wait, ra.p_abandon]
        else:
            rc = erlang.erlang_c_metrics(k, a, aht, within)
            vals = [rc.service_level, rc.asa, rc.occupancy, rc.p_wait]
        style = "bold green" if k == n else "dim"
        row = [f"{k}" + (" ←" if k == n else ""), f"{float(vals[0]):.2%}",
               _fmt_s(float(vals[1])), f"{float(vals[2]):.1%}", f"{float(vals[3]):.2%}"]
        if patience is not None:
            row.append(f"{float(vals[4]):.2%}")
        table.add_row(*row, style=style)
    console.print(table)
    console.print(f"[bold green]{n} agent{'s' if n != 1 else ''}[/] on the phones", end="")
    if shr > 0:
        console.print(f"; [bold cyan]{int(res.scheduled)} scheduled[/] with {shr:.0%} shrinkage")
    else:
        console.print()


_PROCESS_ROWS_SHOWN = 30  # above this many process x channel rows, the table is in the HTML only


def _patience_option(spec: str | None) -> dict[str, float] | None:
    """``180`` (every live channel) or ``phone=180,counter=2400`` -> seconds per channel."""
    if spec is None or not spec.strip():
        return None
    from simulations.forecast_file import CHANNEL_NAMES, LIVE_CHANNELS

    hint = "give seconds (180) or per channel: phone=180,counter=2400"
    found: dict[str, float] = {}
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        name, sep, value = part.rpartition("=")
        try:
            seconds = float(value.replace(" s", ""))
        except ValueError:
            raise typer.BadParameter(f"{part!r}: {hint}", param_hint="--patience") from None
        if not sep:
            return dict.fromkeys(LIVE_CHANNELS, _positive(seconds, "--patience") or 0.0)
        channel = CHANNEL_NAMES.get(name.strip().lower(), "")
        if channel not in LIVE_CHANNELS:
            raise typer.BadParameter(f"{part!r}: a live channel (phone, counter); {hint}",
                                     param_hint="--patience")
        found[channel] = _positive(seconds, "--patience") or 0.0
    return found


@staffing_app.command("day")
def day_cmd(
    forecast_file: Annotated[Path | None, typer.Argument(
        help="Forecast CSV (interval,process,channel,arrivals,aht_s or a French export: "
             "créneau;démarche;canal;arrivées;DMT); default: the bundled sample day.",
        show_default=False)] = None,
    out: Annotated[Path, typer.Option("--out", help="Where to write the CSV, PNG and HTML.")] = (
        Path("out/staffing")),
    sl: Annotated[float | None, typer.Option("--sl", help="Service-level target for every "
                                             "process (default: the catalogue's).")] = None,
    within: Annotated[float | None, typer.Option("--within", help="Threshold, s, for every "
                                                 "process (default: the catalogue's).")] = None,
    max_occupancy: OccOpt = None,
    shrinkage: ShrinkOpt = 0.0,
    asa: AsaOpt = None,
    patience: Annotated[str | None, typer.Option(
        "--patience", help="Mean patience, s, before hanging up: Erlang A on those channels. "
        "One figure for both, or per channel: 'phone=180,counter=2400'.")] = None,
    max_abandon: Annotated[float | None, typer.Option(
        "--max-abandon", help="Highest abandon rate (Erlang A), e.g. 0.05 or 5.")] = None,
    interval_minutes: Annotated[int | None, typer.Option(
        "--interval-minutes", help="Interval length, minutes (default: read from the "
        "file's times).")] = None,
    no_catalogue: Annotated[bool, typer.Option("--no-catalogue", help="Ignore the process "
                                               "catalogue's targets and domains.")] = False,
    lang: Annotated[str, typer.Option("--lang", help="Language of the reports: fr or en.")] = "fr",
    csv_locale: Annotated[str | None, typer.Option(
        "--csv-locale", help="CSV as French Excel reads it (fr: ';' and decimal commas) or "
        "en; default: as the forecast was written.")] = None,
) -> None:
    """Required agents per interval, skill group and process for a forecast day."""
    from simulations import forecast as fc
    from simulations import report

    console = Console()
    err = Console(stderr=True)
    if lang not in ("fr", "en"):
        raise typer.BadParameter(f"{lang!r}: fr or en", param_hint="--lang")
    if csv_locale not in (None, "fr", "en"):
        raise typer.BadParameter(f"{csv_locale!r}: fr or en", param_hint="--csv-locale")
    _positive(within, "--within", allow_zero=True)
    _positive(asa, "--asa")
    per_channel = _patience_option(patience)
    max_ab = _fraction(max_abandon, "--max-abandon")
    if max_ab is not None and not per_channel:
        raise typer.BadParameter("a maximum abandon rate needs --patience (Erlang A)",
                                 param_hint="--max-abandon")
    sl_f = _fraction(sl, "--sl")
    occ = _fraction(max_occupancy, "--max-occupancy", allow_one=True)
    shr = _shrinkage(shrinkage)
    path = forecast_file if forecast_file is not None else fc.sample_forecast_path()
    try:
        forecast = fc.load_forecast(path, interval_minutes)
    except fc.ForecastError as exc:
        n = len(exc.problems)
        err.print(f"[bold red]invalid forecast[/] ({n} kind{'s' if n != 1 else ''} of problem):",
                  highlight=False)
        for line in exc.problems:
            typer.echo(line, err=True)  # one problem per line, never wrapped
        raise typer.Exit(2) from None
    how = {"file": "read from the file's times" if lang == "en" else "lu dans les heures du "
           "fichier", "option": "--interval-minutes"}[forecast.step_source]
    note = ""
    if forecast.encoding != "utf-8":
        note = ("; read as Windows-1252 (save as CSV UTF-8 to be sure of the accents)"
                if lang == "en" else "; lu en Windows-1252 (enregistrez-le en CSV UTF-8 pour "
                "être sûr des accents)")
    console.print((f"Intervals of {forecast.interval_min} min ({how}){note}" if lang == "en"
                   else f"Créneaux de {forecast.interval_min} min ({how}){note}"),
                  highlight=False, soft_wrap=True)
    try:
        day = fc.staff_day(forecast, service_level=sl_f, within_s=within, asa_s=asa,
                           max_occupancy=occ, shrinkage=shr, patience_s=per_channel,
                           max_abandon=max_ab, catalogue=None if no_catalogue else "default")
    except ValueError as exc:  # e.g. a catalogue target of 100 %, which no queue can meet
        err.print(f"[bold red]cannot staff this forecast[/]: {exc}", highlight=False)
        raise typer.Exit(2) from None
    if not console.is_terminal:
        console = Console(width=100)  # a file or a pipe: the tables' own width, 100 columns
    for table in report.day_tables(day, lang):
        console.print(table)
    if len(day.by_process) <= _PROCESS_ROWS_SHOWN * len(day.minutes):
        console.print(report.process_table(day, lang))
    else:
        console.print("Per process: see staffing.html and staffing.csv" if lang == "en" else
                      "Par démarche : voir staffing.html et staffing.csv")
    try:
        paths = report.write_reports(day, out, lang, csv_locale or forecast.locale)
    except OSError as exc:
        err.print(f"[bold red]cannot write into {out}[/]: {exc.strerror or exc}", highlight=False)
        raise typer.Exit(1) from None
    for kind, p in paths.items():
        console.print(f"{kind:>4}: {p}", highlight=False)
