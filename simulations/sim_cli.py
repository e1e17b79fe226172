"""``guichet simulate`` and ``guichet whatif``: a simulated day of the real front desk.

Both read the catalogue, the skill matrix, the forecast and the schedule
(the bundled samples by default), build a ``Scenario`` and run it through the
real routing core over several replications. ``whatif`` runs a variant B on
the same citizens (common random numbers) and reports B - A with its 95 %
confidence interval.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from simulations.i18n import channel_name, number, tr
from simulations.staffing_cli import LangOpt, choose_language

if TYPE_CHECKING:
    from rich.console import Console

    from simulations.model import Scenario
    from simulations.summary import Difference, Estimate, Summary
    from skills.model import Channel

CatalogueOpt = Annotated[
    Path | None,
    typer.Option("--catalogue", help="Process catalogue (YAML); default: the bundled sample."),
]
MatrixOpt = Annotated[
    Path | None,
    typer.Option("--matrix", help="Skill matrix (CSV or YAML); default: the bundled sample."),
]
ForecastOpt = Annotated[
    Path | None,
    typer.Option(
        "--forecast",
        help="Forecast CSV (interval,process,channel,arrivals,aht_s); default: the bundled sample.",
    ),
]
ScheduleOpt = Annotated[
    Path | None,
    typer.Option(
        "--schedule",
        help="Schedule CSV (agent_id,start,end,channels); default: the bundled sample; 'all': every agent all day.",
    ),
]
StrategyOpt = Annotated[
    str,
    typer.Option(
        "--strategy", help="Agent choice: most_suitable, fewest_skills or least_occupied."
    ),
]
WrapUpOpt = Annotated[
    float,
    typer.Option(
        "--wrap-up",
        help="Seconds of wrap-up after each contact (0: the forecast's AHT includes it).",
    ),
]
HandlingOpt = Annotated[
    str,
    typer.Option(
        "--handling", help="Handling-time distribution: exponential, lognormal or deterministic."
    ),
]
CvOpt = Annotated[
    float, typer.Option("--cv", help="Coefficient of variation of lognormal handling times.")
]
PatienceOpt = Annotated[
    str,
    typer.Option(
        "--patience",
        help="Mean patience per live channel before hanging up, e.g. 'phone=180,counter=2400'; '' for none.",
    ),
]
CallbackOpt = Annotated[
    float,
    typer.Option(
        "--callback-after",
        help="Offer a callback when the estimated wait exceeds this (s); 0: no callbacks.",
    ),
]
ShareOpt = Annotated[
    float, typer.Option("--callback-share", help="Share of callers offered a callback who take it.")
]
LevelOpt = Annotated[
    str,
    typer.Option(
        "--level-factors",
        help="Handling-time multiplier by the serving agent's level, e.g. '1=1.3,3=0.9'.",
    ),
]
NoAnswerOpt = Annotated[
    float,
    typer.Option("--no-answer", help="Probability that an agent lets a phone offer ring out."),
]
RingOpt = Annotated[float, typer.Option("--ring", help="Seconds between an offer and its pick-up.")]
ReplicationsOpt = Annotated[
    int, typer.Option("--replications", "-r", min=1, help="Independent replications of the day.")
]
SeedOpt = Annotated[
    int, typer.Option("--seed", help="Seed of the random streams (same seed, same results).")
]
CsvOpt = Annotated[
    Path | None,
    typer.Option("--csv", help="Write the figures per process and channel to this CSV file."),
]


def _fail(message: str) -> typer.Exit:
    typer.echo(tr("error: {message}").format(message=message), err=True)
    return typer.Exit(2)


def _first_line(exc: Exception) -> str:
    lines = str(exc).splitlines() or [exc.__class__.__name__]
    more = " " + tr("(and {count} more problems)").format(count=len(lines) - 1) if len(lines) > 1 else ""
    return lines[0] + more


def _patience(spec: str) -> dict[Channel, float]:
    from simulations.scenario import ScenarioError
    from skills.model import Channel

    found: dict[Channel, float] = {}
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        name, _, value = part.partition("=")
        try:
            channel = Channel(name.strip())
            seconds = float(value)
        except ValueError:
            raise ScenarioError(
                "--patience", f"{part!r}: " + tr("expected channel=seconds, e.g. phone=180")
            ) from None
        if not channel.is_live or seconds <= 0:
            raise ScenarioError(
                "--patience", f"{part!r}: " + tr("a live channel (phone, counter) and seconds > 0")
            )
        found[channel] = seconds
    return found


def _level_factors(spec: str) -> dict[int, float]:
    from simulations.scenario import ScenarioError
    from skills.model import LEVELS

    found: dict[int, float] = {}
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        level, _, value = part.partition("=")
        try:
            factor = float(value)
        except ValueError:
            factor = -1.0
        if not level.strip().isdigit() or int(level) not in LEVELS or factor <= 0:
            raise ScenarioError("--level-factors",
                                f"{part!r}: " + tr("expected level=factor, e.g. 1=1.3"))
        found[int(level)] = factor
    return found


def _scenario(
    catalogue_path: Path | None,
    matrix_path: Path | None,
    forecast_path: Path | None,
    schedule_path: Path | None,
    strategy: str,
    wrap_up: float,
    handling: str,
    cv: float,
    patience: str,
    callback_after: float,
    callback_share: float,
    no_answer: float,
    ring: float,
    level_factors: str,
) -> Scenario:
    """The scenario the options describe (files are checked; errors carry file and line)."""
    from dataclasses import replace

    from dispatcher.policy import RoutingPolicy, Strategy
    from simulations.forecast import load_forecast, sample_forecast_path
    from simulations.model import HANDLING_KINDS, ArrivalInterval, CallbackOffer, Ringing, Scenario
    from simulations.scenario import ScenarioError, default_schedule_path, full_day, load_schedule
    from skills.catalogue import default_catalogue, load_catalogue
    from skills.matrix import load_matrix
    from skills.model import Channel

    if strategy not in {s.value for s in Strategy}:
        raise ScenarioError(
            "--strategy",
            tr("unknown strategy {name!r} (expected {choices})").format(
                name=strategy, choices=", ".join(s.value for s in Strategy)),
        )
    if handling not in HANDLING_KINDS:
        raise ScenarioError(
            "--handling",
            tr("unknown distribution {name!r} (expected {choices})").format(
                name=handling, choices=", ".join(HANDLING_KINDS)),
        )
    if not 0 <= no_answer < 1 or not 0 <= callback_share <= 1:
        raise ScenarioError("--no-answer/--callback-share", tr("probabilities lie in [0, 1)"))
    if wrap_up < 0 or ring < 0 or callback_after < 0 or cv <= 0:
        raise ScenarioError(
            "options", tr("--wrap-up, --ring and --callback-after are >= 0 and --cv > 0")
        )
    catalogue = load_catalogue(catalogue_path) if catalogue_path else default_catalogue()
    if matrix_path:
        matrix = load_matrix(matrix_path, catalogue)
    else:
        from skills.matrix import default_matrix

        matrix = default_matrix(catalogue)
    forecast = load_forecast(forecast_path or sample_forecast_path())
    step = forecast.interval_min * 60.0
    arrivals = tuple(
        ArrivalInterval(
            r.minute * 60.0,
            r.minute * 60.0 + step,
            r.process,
            Channel(r.channel),
            r.arrivals,
            r.aht_s,
        )
        for r in forecast.rows
    )
    if not arrivals:
        raise ScenarioError(forecast.source, tr("the forecast has no interval"))
    if schedule_path is not None and str(schedule_path) == "all":
        schedule = full_day(matrix, arrivals)
    else:
        schedule = load_schedule(schedule_path or default_schedule_path(), matrix)
    policy = replace(RoutingPolicy(), strategy=Strategy(strategy), wrap_up_s=wrap_up)
    return Scenario(
        catalogue=catalogue,
        matrix=matrix,
        arrivals=arrivals,
        policy=policy,
        handling=handling,
        handling_cv=cv,
        patience=_patience(patience),
        schedule=schedule,
        callback=CallbackOffer(callback_after, callback_share) if callback_after > 0 else None,
        ringing=Ringing(answer_delay_s=ring, no_answer_probability=no_answer),
        level_factors=_level_factors(level_factors),
    )


def _est(estimate: Estimate, percent: bool, counted: bool = False) -> str:
    """The mean, and under it its 95 % interval (in percent for shares); ``n/a (1 run)`` or
    ``n/a (4 contacts)`` when too few replications or contacts support it; ``-``: no value.
    A figure equal in every replication says so (``each run``), except a count (``counted``)."""
    if not estimate.shown:
        why = estimate.why_not.replace(" (", "\n").rstrip(")").replace("contacts", "cont.")
        return why.partition("\n")[0] if counted else why  # a count's row says why elsewhere
    scale = 100.0 if percent else 1.0
    digits = 1 if percent else 0
    text = number(estimate.mean * scale, digits)
    if estimate.constant:
        return text + "\n[dim]" + tr("const.") + "[/]" if not counted else text
    return f"{text}\n[dim]{estimate.low * scale:.0f}–{estimate.high * scale:.0f}[/]"


def table_console(console: Console) -> Console:
    """The console itself on a terminal; 100 columns for a file or a pipe."""
    from rich.console import Console

    return console if console.is_terminal else Console(width=100, file=console.file)


def print_summary(console: Console, summary: Summary, title: str) -> None:
    """The per-process-and-channel table, then the agents' occupancy (100 columns wide)."""
    from rich import box
    from rich.table import Table

    console = table_console(console)
    table = Table(
        title=title + " — " + (tr("{count} replication: mean") if summary.replications == 1
                               else tr("{count} replications: mean, and under it its 95 % CI"))
        .format(count=summary.replications),
        caption=tr("arr.: contacts arrived (mean); SL: answered within the target / arrived "
                   "(open ones not yet due left out); pick.: answered / arrived; aband.: "
                   "abandoned / arrived; ASA and p90: wait of the answered; open: still "
                   "waiting at closing time. n/a: fewer than 2 runs or 10 contacts; const.: "
                   "the same value in every replication."),
        caption_justify="left",
        padding=(0, 0, 0, 1),
        pad_edge=False,
        box=box.SIMPLE_HEAD,
    )
    for name, justify in (
        (tr("process"), "left"),
        (tr("channel"), "left"),
        (tr("arr."), "right"),
        (tr("target"), "right"),
        (tr("SL %"), "right"),
        (tr("pick. %"), "right"),
        (tr("aband. %"), "right"),
        (tr("ASA s"), "right"),
        (tr("p90 s"), "right"),
        (tr("open"), "right"),
    ):
        table.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for q in summary.queues:
        total = q.process == "*"
        table.add_row(
            "[b]" + tr("all") + "[/b]" if total else q.process,
            channel_name(q.channel),
            number(q.arrived.mean, 1),
            "" if total else _duration(q.target_s),
            _est(q.metrics["service_level"], True),
            _est(q.metrics["pickup_rate"], True),
            _est(q.metrics["abandon_rate"], True),
            _est(q.metrics["asa_s"], False),
            _est(q.metrics["p90_wait_s"], False),
            _est(q.metrics["still_open"], False, counted=True),
            end_section=True,
        )
    console.print(table)
    print_hours(console, summary)
    agents = Table(title=tr("Agents: mean, and under it its 95 % CI"), collapse_padding=True)
    agents.add_column(tr("agent"))
    agents.add_column(tr("occupancy %"), justify="right")
    agents.add_column(tr("contacts served"), justify="right")
    for a in summary.agents:
        agents.add_row(
            a.agent_id, _est(a.metrics["occupancy"], True),
            _est(a.metrics["served"], False, counted=True),
        )
    console.print(agents)
    if summary.rejected:
        console.print("[red]" + tr("{count} inputs rejected by the routing core").format(
            count=summary.rejected) + "[/red]")


def print_hours(console: Console, summary: Summary) -> None:
    """Service level per channel and hour of arrival (and the contacts that came)."""
    from rich.table import Table

    starts = sorted({h.hour_s for h in summary.hours if h.hour_s is not None})
    if not starts:
        return
    table = Table(title=tr("Service level % by hour of arrival (contacts arrived)"))
    table.add_column(tr("channel"), no_wrap=True)
    for start in starts:
        table.add_column(f"{int(start // 3600):02d}h", justify="right")
    cells: dict[str, dict[float, str]] = {}
    for h in summary.hours:
        sl = h.metrics["service_level"].mean
        text = "-" if math.isnan(sl) else f"{sl * 100:.0f}"
        cells.setdefault(h.channel, {})[h.hour_s or 0.0] = f"{text} ({h.arrived.mean:.0f})"
    for channel, by_hour in cells.items():
        table.add_row(channel_name(channel), *(by_hour.get(start, "") for start in starts))
    console.print(table)


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:g} h"
    if seconds >= 60:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def print_differences(console: Console, differences: list[Difference], title: str) -> None:
    """A, B and B - A per process, channel and figure (service level, pick-up rate, ASA),
    all three from the same replication pairs."""
    from rich import box
    from rich.table import Table

    console = table_console(console)
    labels = {"service_level": tr("SL %"), "pickup_rate": tr("pick. %"), "asa_s": tr("ASA s")}
    table = Table(
        title=title,
        caption=tr("A, B: mean and its 95 % CI; B-A: the paired difference (points or seconds) "
                   "and its 95 % CI, green when B is significantly better, red when worse; from "
                   "the replications where both variants have the figure (n). n/a: fewer than "
                   "2 pairs or 10 contacts; const.: the same value in every replication "
                   "(pair)."),
        caption_justify="left",
        padding=(0, 0, 0, 1),
        pad_edge=False,
        box=box.SIMPLE_HEAD,
    )
    names = (tr("process"), tr("channel"), tr("figure"), "n", "A", "B", tr("B-A (95 % CI)"))
    for k, name in enumerate(names):
        table.add_column(name, justify="left" if k < 3 else "right", no_wrap=True)
    for d in differences:
        if d.metric not in labels:
            continue
        percent = d.metric != "asa_s"
        table.add_row(
            "[b]" + tr("all") + "[/b]" if d.process == "*" else d.process,
            channel_name(d.channel),
            labels[d.metric],
            str(d.delta.n),
            _one_line(_est(d.a, percent)),
            _one_line(_est(d.b, percent)),
            _delta(d.delta, percent),
            end_section=d.metric == "asa_s",
        )
    console.print(table)


def _one_line(cell: str) -> str:
    """A two-line cell on one line: ``87.4 (77.3–93.4)``, ``n/a (1 run)``."""
    first, _, second = cell.partition("\n")
    return f"{first} ({second})" if second else first


def _delta(estimate: Estimate, percent: bool) -> str:
    """``+d (lo to hi)`` in points or seconds, green when B is significantly better, red when
    worse; ``n/a (1 run)`` from a single pair."""
    if not estimate.shown:
        return estimate.why_not.replace("contacts", "cont.")
    scale, unit = (100.0, " pt") if percent else (1.0, " s")
    mean, low, high = (x * scale for x in (estimate.mean, estimate.low, estimate.high))
    digits = 1 if percent else 0
    shown = ("+" if mean >= 0 else "") + number(mean, digits)
    if estimate.constant:
        return f"{shown}{unit} [dim](" + tr("const.") + ")[/]"
    text = f"{shown}{unit} [dim](" + tr("{low} to {high}").format(low=f"{low:+.0f}",
                                                                  high=f"{high:+.0f}") + ")[/]"
    if low > 0 or high < 0:
        good = (mean > 0) == percent
        return f"[{'green' if good else 'red'}]{text}[/]"
    return text


def register(app: typer.Typer) -> None:
    """Add ``simulate`` and ``whatif`` to the ``guichet`` command."""

    @app.command("simulate")
    def simulate(
        catalogue: CatalogueOpt = None,
        matrix: MatrixOpt = None,
        forecast: ForecastOpt = None,
        schedule: ScheduleOpt = None,
        strategy: StrategyOpt = "most_suitable",
        wrap_up: WrapUpOpt = 0.0,
        handling: HandlingOpt = "lognormal",
        cv: CvOpt = 0.8,
        patience: PatienceOpt = "phone=180",
        callback_after: CallbackOpt = 240.0,
        callback_share: ShareOpt = 0.5,
        no_answer: NoAnswerOpt = 0.02,
        ring: RingOpt = 3.0,
        level_factors: LevelOpt = "",
        replications: ReplicationsOpt = 10,
        seed: SeedOpt = 1,
        csv: CsvOpt = None,
        agents_csv: Annotated[
            Path | None,
            typer.Option("--agents-csv", help="Write the agents' figures to this CSV file."),
        ] = None,
        lang: LangOpt = None,
    ) -> None:
        """Simulate a day of the front desk through the real routing core; report per process and channel."""
        from rich.console import Console

        from simulations.runner import replicate
        from simulations.summary import write_agents_csv, write_summary_csv
        from skills.errors import SkillFileError

        choose_language(lang)
        try:
            scenario = _scenario(
                catalogue,
                matrix,
                forecast,
                schedule,
                strategy,
                wrap_up,
                handling,
                cv,
                patience,
                callback_after,
                callback_share,
                no_answer,
                ring,
                level_factors,
            )
        except (ValueError, SkillFileError) as exc:
            raise _fail(_first_line(exc)) from None
        console = Console()
        summary = replicate(scenario, replications, seed, Console(stderr=True))
        print_summary(console, summary, tr("Simulated day ({strategy})").format(strategy=strategy))
        try:
            if csv:
                write_summary_csv(summary, csv)
            if agents_csv:
                write_agents_csv(summary, agents_csv)
        except OSError as exc:
            raise _fail(tr("cannot write the CSV file: {reason}").format(reason=exc)) from None

    @app.command("whatif")
    def whatif(
        train: Annotated[
            str | None,
            typer.Option(
                "--train",
                help="B: train agents, 'COUNT:process:level' (the least occupied in A) or 'a101+a102:process:level'.",
            ),
        ] = None,
        matrix_b: Annotated[
            Path | None, typer.Option("--matrix-b", help="B: another skill matrix file.")
        ] = None,
        strategy_b: Annotated[
            str | None, typer.Option("--strategy-b", help="B: another agent-choice strategy.")
        ] = None,
        schedule_b: Annotated[
            Path | None, typer.Option("--schedule-b", help="B: another schedule file.")
        ] = None,
        catalogue: CatalogueOpt = None,
        matrix: MatrixOpt = None,
        forecast: ForecastOpt = None,
        schedule: ScheduleOpt = None,
        strategy: StrategyOpt = "most_suitable",
        wrap_up: WrapUpOpt = 0.0,
        handling: HandlingOpt = "lognormal",
        cv: CvOpt = 0.8,
        patience: PatienceOpt = "phone=180",
        callback_after: CallbackOpt = 240.0,
        callback_share: ShareOpt = 0.5,
        no_answer: NoAnswerOpt = 0.02,
        ring: RingOpt = 3.0,
        level_factors: LevelOpt = "",
        replications: ReplicationsOpt = 10,
        seed: SeedOpt = 1,
        csv: CsvOpt = None,
        lang: LangOpt = None,
    ) -> None:
        """Compare variant B with A on the same citizens: the difference and its 95 % CI."""
        from dataclasses import replace

        from rich.console import Console

        from simulations.runner import run_variants
        from simulations.scenario import load_schedule, parse_training
        from simulations.scenario import train as train_agents
        from simulations.summary import compare, summarise, write_difference_csv
        from skills.errors import SkillFileError

        choose_language(lang)
        if not any((train, matrix_b, strategy_b, schedule_b)):
            raise _fail(
                tr("say what variant B changes: --train, --matrix-b, --strategy-b or --schedule-b")
            )
        options = (
            handling,
            cv,
            patience,
            callback_after,
            callback_share,
            no_answer,
            ring,
            level_factors,
        )
        try:
            a = _scenario(catalogue, matrix, forecast, schedule, strategy, wrap_up, *options)
            b = _scenario(
                catalogue,
                matrix_b or matrix,
                forecast,
                schedule,
                strategy_b or strategy,
                wrap_up,
                *options,
            )
            if schedule_b:
                b = replace(b, schedule=load_schedule(schedule_b, b.matrix))
            training = parse_training(train) if train else None
        except (ValueError, SkillFileError) as exc:
            raise _fail(_first_line(exc)) from None
        console, progress = Console(), Console(stderr=True)
        runs_a = run_variants([a], replications, seed, progress)[0]
        changes = []
        if matrix_b:
            changes.append(tr("matrix {path}").format(path=matrix_b))
        if strategy_b:
            changes.append(tr("strategy {name}").format(name=strategy_b))
        if schedule_b:
            changes.append(tr("schedule {path}").format(path=schedule_b))
        if training is not None:
            who, process, level = training
            occupancy = {s.agent_id: s.metrics["occupancy"].mean for s in summarise(runs_a).agents}
            try:
                trained, chosen = train_agents(
                    b.matrix, b.catalogue, who, process, level, occupancy
                )
                b = replace(b, matrix=trained)
            except (ValueError, SkillFileError) as exc:
                raise _fail(_first_line(exc)) from None
            changes.append(tr("{agents} trained on {process} at level {level}").format(
                agents=", ".join(chosen), process=process, level=level))
        runs_b = run_variants([b], replications, seed, progress)[0]
        differences = compare(runs_a, runs_b)
        console.print(tr("B: {changes}").format(changes=tr("; ").join(changes)), highlight=False)
        print_differences(
            console,
            differences,
            tr("What if — B minus A, {count} paired replications (same citizens)").format(
                count=replications),
        )
        if csv:
            try:
                write_difference_csv(differences, csv)
            except OSError as exc:
                raise _fail(tr("cannot write the CSV file: {reason}").format(reason=exc)) from None
