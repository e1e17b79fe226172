"""``guichet staffing``: required agents for one interval or for a forecast day."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from simulations import erlang, staffing

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
    if not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise typer.BadParameter(f"{value:g} must be {'>= 0' if allow_zero else '> 0'}",
                                 param_hint=name)
    return value


def _fmt_s(seconds: float) -> str:
    if not np.isfinite(seconds):
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
    if patience is not None:
        cols.append("abandoned")
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


@staffing_app.command("day")
def day_cmd(
    forecast_file: Annotated[Path | None, typer.Argument(
        help="Forecast CSV (interval,process,channel,arrivals,aht_s); default: the bundled "
             "sample day.", show_default=False)] = None,
    out: Annotated[Path, typer.Option("--out", help="Where to write the CSV, PNG and HTML.")] = (
        Path("out/staffing")),
    sl: Annotated[float | None, typer.Option("--sl", help="Service-level target for every "
                                             "process (default: the catalogue's).")] = None,
    within: Annotated[float | None, typer.Option("--within", help="Threshold, s, for every "
                                                 "process (default: the catalogue's).")] = None,
    max_occupancy: OccOpt = None,
    shrinkage: ShrinkOpt = 0.0,
    asa: AsaOpt = None,
    patience: PatienceOpt = None,
    interval_minutes: Annotated[int, typer.Option("--interval-minutes",
                                                  help="Interval length, minutes.")] = 15,
    no_catalogue: Annotated[bool, typer.Option("--no-catalogue", help="Ignore the process "
                                               "catalogue's targets and domains.")] = False,
) -> None:
    """Required agents per interval, skill group and process for a forecast day."""
    from simulations import forecast as fc
    from simulations import report

    console = Console()
    err = Console(stderr=True)
    _positive(within, "--within", allow_zero=True)
    _positive(asa, "--asa")
    _positive(patience, "--patience")
    sl_f = _fraction(sl, "--sl")
    occ = _fraction(max_occupancy, "--max-occupancy", allow_one=True)
    shr = _shrinkage(shrinkage)
    path = forecast_file if forecast_file is not None else fc.sample_forecast_path()
    try:
        forecast = fc.load_forecast(path, interval_minutes)
    except fc.ForecastError as exc:
        err.print(f"[bold red]invalid forecast[/] ({len(exc.problems)} problem"
                  f"{'s' if len(exc.problems) != 1 else ''}):", highlight=False)
        for line in str(exc).splitlines():
            typer.echo(line, err=True)  # one problem per line, never wrapped
        raise typer.Exit(2) from None
    try:
        day = fc.staff_day(forecast, service_level=sl_f, within_s=within, asa_s=asa,
                           max_occupancy=occ, shrinkage=shr, patience_s=patience,
                           catalogue=None if no_catalogue else "default")
    except ValueError as exc:  # e.g. a catalogue target of 100 %, which no queue can meet
        err.print(f"[bold red]cannot staff this forecast[/]: {exc}", highlight=False)
        raise typer.Exit(2) from None
    for table in report.day_tables(day):
        console.print(table)
    console.print(report.process_table(day))
    try:
        paths = report.write_reports(day, out)
    except OSError as exc:
        err.print(f"[bold red]cannot write into {out}[/]: {exc.strerror or exc}", highlight=False)
        raise typer.Exit(1) from None
    for kind, p in paths.items():
        console.print(f"{kind:>4}: {p}", highlight=False)
