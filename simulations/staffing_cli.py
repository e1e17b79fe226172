"""``guichet staffing``: required agents for one interval or for a forecast day."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

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


def _fraction(value: Optional[float], name: str, allow_one: bool = False) -> Optional[float]:
    """A share given as 0.8 or as 80 (percent) -> 0.8."""
    if value is None:
        return None
    if 1.0 < value <= 100.0:
        value = value / 100.0
    if not (0.0 < value < 1.0 or (allow_one and value == 1.0)):
        raise typer.BadParameter(f"{value:g} is not a share: give e.g. 0.8 or 80", param_hint=name)
    return value


def _shrinkage(value: float) -> float:
    if 1.0 <= value < 100.0:
        value = value / 100.0
    if not 0.0 <= value < 1.0:
        raise typer.BadParameter(f"{value:g} is not a share in [0, 1)", param_hint="--shrinkage")
    return value


def _positive(value: Optional[float], name: str, allow_zero: bool = False) -> Optional[float]:
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


@staffing_app.command("interval")
def interval_cmd(
    calls_per_hour: float = typer.Option(..., "--calls-per-hour", help="Arrivals per hour."),
    aht: float = typer.Option(..., "--aht", help="Average handling time, seconds."),
    sl: float = typer.Option(0.8, "--sl", help="Service-level target: 0.8 or 80 (%)."),
    within: float = typer.Option(20.0, "--within", help="Service-level threshold, seconds."),
    max_occupancy: Optional[float] = typer.Option(None, "--max-occupancy",
                                                  help="Highest occupancy, e.g. 0.85."),
    shrinkage: float = typer.Option(0.0, "--shrinkage",
                                    help="Share of paid time off the phones, e.g. 0.3."),
    asa: Optional[float] = typer.Option(None, "--asa", help="Highest average speed of answer, s."),
    patience: Optional[float] = typer.Option(
        None, "--patience", help="Callers' mean patience, s: Erlang A with abandonment."),
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
    forecast_file: Optional[Path] = typer.Argument(
        None, help="Forecast CSV (interval,process,channel,arrivals,aht_s); "
        "default: the bundled sample day.", show_default=False),
    out: Path = typer.Option(Path("out/staffing"), "--out", help="Where to write the CSV, PNG "
                             "and HTML."),
    sl: Optional[float] = typer.Option(None, "--sl", help="Service-level target for every "
                                       "process (default: the catalogue's per channel)."),
    within: Optional[float] = typer.Option(None, "--within", help="Threshold, s, for every "
                                           "process (default: the catalogue's)."),
    max_occupancy: Optional[float] = typer.Option(None, "--max-occupancy"),
    shrinkage: float = typer.Option(0.0, "--shrinkage", help="e.g. 0.3"),
    asa: Optional[float] = typer.Option(None, "--asa", help="Highest ASA, s."),
    patience: Optional[float] = typer.Option(None, "--patience", help="Mean patience, s "
                                             "(Erlang A)."),
    interval_minutes: int = typer.Option(15, "--interval-minutes", help="Interval length."),
    no_catalogue: bool = typer.Option(False, "--no-catalogue", help="Ignore the process "
                                      "catalogue's targets and domains."),
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
            err.print(line, highlight=False, markup=False)
        raise typer.Exit(2) from None
    day = fc.staff_day(forecast, service_level=sl_f, within_s=within, asa_s=asa,
                       max_occupancy=occ, shrinkage=shr, patience_s=patience,
                       catalogue=None if no_catalogue else "default")
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
