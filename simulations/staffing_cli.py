"""``guichet staffing``: required agents for one interval or for a forecast day."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from simulations.i18n import LANGUAGES, set_language, tr

staffing_app = typer.Typer(
    help="Staffing with Erlang C (or Erlang A with --patience): the fewest agents per interval.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add ``guichet staffing ...`` to the main command."""
    app.add_typer(staffing_app, name="staffing")


def planner_console() -> Console:
    """The console of the planner's tables: the terminal's width, 100 columns for a file or a
    pipe (rich would take 80, wrapping every table)."""
    console = Console()
    return console if console.is_terminal else Console(width=100)


def _fraction(value: float | None, name: str, allow_one: bool = False) -> float | None:
    """A share given as 0.8 or as 80 (percent) -> 0.8."""
    if value is None:
        return None
    if 1.0 < value <= 100.0:
        value = value / 100.0
    if not (0.0 < value < 1.0 or (allow_one and value == 1.0)):
        raise typer.BadParameter(tr("{value} is not a share: give e.g. 0.8 or 80").format(
            value=f"{value:g}"), param_hint=name)
    return value


def _shrinkage(value: float) -> float:
    """0.3 or 30 (percent) -> 0.3; 1 (100 %) is refused."""
    if 1.0 < value < 100.0:
        value = value / 100.0
    if not 0.0 <= value < 1.0:
        raise typer.BadParameter(tr("{value} is not a share in [0, 1): give e.g. 0.3 or 30")
                                 .format(value=f"{value:g}"), param_hint="--shrinkage")
    return value


def _positive(value: float | None, name: str, allow_zero: bool = False) -> float | None:
    if value is None:
        return None
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise typer.BadParameter(f"{value:g} " + (tr("must be >= 0") if allow_zero else
                                                  tr("must be > 0")), param_hint=name)
    return value


def _fmt_s(seconds: float) -> str:
    from simulations.i18n import number

    if not math.isfinite(seconds):
        return "∞"
    if seconds < 120:
        return f"{number(seconds, 1)} s"
    return f"{seconds:.0f} s ({number(seconds / 60, 1)} min)"


SlOpt = Annotated[float | None, typer.Option("--sl", help="Service-level target: 0.8 or 80 (%).")]
WithinOpt = Annotated[float | None, typer.Option("--within", help="Service-level threshold, s.")]
OccOpt = Annotated[float | None, typer.Option("--max-occupancy", help="Highest occupancy, "
                                              "e.g. 0.85.")]
ShrinkOpt = Annotated[float, typer.Option("--shrinkage", help="Share of paid time off the "
                                          "phones and counters, e.g. 0.3 or 30.")]
AsaOpt = Annotated[float | None, typer.Option("--asa", help="Highest average speed of answer, s.")]
PatienceOpt = Annotated[float | None, typer.Option(
    "--patience", help="Callers' mean patience, s: Erlang A, with abandonment.")]
LangOpt = Annotated[str | None, typer.Option(
    "--lang", help="Language of the tables, messages and reports: fr or en (default: "
    "GUICHET_LANG, else fr).", show_default=False)]


def choose_language(lang: str | None) -> str:
    """Set the planner commands' language from ``--lang`` (else GUICHET_LANG, else French)."""
    try:
        return set_language(lang)
    except ValueError:
        raise typer.BadParameter(f"{lang!r}: {' or '.join(LANGUAGES)}", param_hint="--lang") from None


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
    lang: LangOpt = None,
) -> None:
    """The fewest agents for one interval's traffic, and what they achieve."""
    from rich.table import Table

    from simulations import erlang, staffing
    from simulations.i18n import number

    choose_language(lang)
    console = planner_console()
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
    pct = tr("{value} %")
    console.print(
        "[bold]" + tr("{calls} calls/h x {aht} s = {load} Erlangs").format(
            calls=f"{calls_per_hour:g}", aht=f"{aht:g}", load=number(a, 3))
        + f"[/] ({model}); " + tr("target {share} within {within} s").format(
            share=pct.format(value=f"{100 * (sl_f or 0):.0f}"), within=f"{within:g}")
        + (", " + tr("ASA <= {asa} s").format(asa=f"{asa:g}") if asa is not None else "")
        + (", " + tr("occupancy <= {share}").format(share=pct.format(value=f"{100 * occ:.0f}"))
           if occ is not None else "")
        + (", " + tr("mean patience {patience} s").format(patience=f"{patience:g}")
           if patience is not None else ""),
        highlight=False,
    )
    table = Table(title=None, caption=tr("SL: share answered within the threshold; ASA: mean "
                                         "wait; P(wait): share that waits at all.")
                  if patience is None else tr("SL: share of the offered calls answered within "
                                              "the threshold (an abandon counts as missed); "
                                              "ASA: mean wait of the answered calls."),
                  caption_justify="left")
    cols = [tr("agents"), tr("service level"), tr("ASA"), tr("occupancy"), tr("P(wait)")]
    if patience is not None:  # Erlang A: say of which calls each figure is
        cols = [tr("agents"), tr("SL of offered"), tr("ASA of answered"), tr("occupancy"),
                tr("P(wait)"), tr("abandoned")]
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
        row = [f"{k}" + (" ←" if k == n else ""), pct.format(value=number(100 * vals[0], 2)),
               _fmt_s(float(vals[1])), pct.format(value=number(100 * vals[2], 1)),
               pct.format(value=number(100 * vals[3], 2))]
        if patience is not None:
            row.append(pct.format(value=number(100 * vals[4], 2)))
        table.add_row(*row, style=style)
    console.print(table)
    console.print("[bold green]" + (tr("{count} agent") if n == 1 else tr("{count} agents"))
                  .format(count=n) + "[/] " + tr("on the phones"), end="")
    if shr > 0:
        console.print(tr("; ") + "[bold cyan]" + tr("{count} scheduled").format(count=int(res.scheduled))
                      + "[/] " + tr("with {share} shrinkage").format(
                          share=pct.format(value=f"{100 * shr:.0f}")), highlight=False)
    else:
        console.print()


_PROCESS_ROWS_SHOWN = 30  # above this many process x channel rows, the table is in the HTML only


def _patience_option(spec: str | None) -> dict[str, float] | None:
    """``180`` (every live channel) or ``phone=180,counter=2400`` -> seconds per channel."""
    if spec is None or not spec.strip():
        return None
    from simulations.forecast_file import CHANNEL_NAMES, LIVE_CHANNELS

    hint = tr("give seconds (180) or per channel: phone=180,counter=2400")
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
            raise typer.BadParameter(f"{part!r}: " + tr("a live channel (phone, counter)") +
                                     f"; {hint}", param_hint="--patience")
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
    lang: LangOpt = None,
    csv_locale: Annotated[str | None, typer.Option(
        "--csv-locale", help="CSV as French Excel reads it (fr: ';' and decimal commas) or "
        "en; default: as the forecast was written.")] = None,
) -> None:
    """Required agents per interval, skill group and process for a forecast day."""
    from simulations import forecast as fc
    from simulations import report

    lang = choose_language(lang)
    console = planner_console()
    err = Console(stderr=True)
    if csv_locale not in (None, "fr", "en"):
        raise typer.BadParameter(f"{csv_locale!r}: fr or en", param_hint="--csv-locale")
    _positive(within, "--within", allow_zero=True)
    _positive(asa, "--asa")
    per_channel = _patience_option(patience)
    max_ab = _fraction(max_abandon, "--max-abandon")
    if max_ab is not None and not per_channel:
        raise typer.BadParameter(tr("a maximum abandon rate needs --patience (Erlang A)"),
                                 param_hint="--max-abandon")
    sl_f = _fraction(sl, "--sl")
    occ = _fraction(max_occupancy, "--max-occupancy", allow_one=True)
    shr = _shrinkage(shrinkage)
    path = forecast_file if forecast_file is not None else fc.sample_forecast_path()
    try:
        forecast = fc.load_forecast(path, interval_minutes)
    except fc.ForecastError as exc:
        n = len(exc.problems)
        kinds = (tr("{count} kind of problem") if n == 1 else tr("{count} kinds of problem"))
        err.print("[bold red]" + tr("invalid forecast ({kinds}):").format(
            kinds=kinds.format(count=n)) + "[/]", highlight=False)
        for line in exc.problems:
            typer.echo(line, err=True)  # one problem per line, never wrapped
        raise typer.Exit(2) from None
    how = {"file": tr("read from the file's times"),
           "option": "--interval-minutes"}[forecast.step_source]
    note = ""
    if forecast.encoding != "utf-8":
        note = "; " + tr("read as Windows-1252 (save as CSV UTF-8 to be sure of the accents)")
    console.print(tr("Intervals of {minutes} min ({how})").format(
        minutes=forecast.interval_min, how=how) + note, highlight=False, soft_wrap=True)
    try:
        day = fc.staff_day(forecast, service_level=sl_f, within_s=within, asa_s=asa,
                           max_occupancy=occ, shrinkage=shr, patience_s=per_channel,
                           max_abandon=max_ab, catalogue=None if no_catalogue else "default")
    except ValueError as exc:  # e.g. a catalogue target of 100 %, which no queue can meet
        err.print("[bold red]" + tr("cannot staff this forecast") + f"[/]: {exc}",
                  highlight=False)
        raise typer.Exit(2) from None
    for table in report.day_tables(day, lang):
        console.print(table)
    if len(day.by_process) <= _PROCESS_ROWS_SHOWN * len(day.minutes):
        console.print(report.process_table(day, lang))
    else:
        console.print(tr("Per process: see staffing.html and staffing.csv"))
    try:
        paths = report.write_reports(day, out, lang, csv_locale or forecast.locale)
    except OSError as exc:
        err.print("[bold red]" + tr("cannot write into {path}").format(path=out)
                  + f"[/]: {exc.strerror or exc}", highlight=False)
        raise typer.Exit(1) from None
    for kind, p in paths.items():
        console.print(f"{kind:>4}: {p}", highlight=False)
