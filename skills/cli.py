"""``guichet skills ...``: check, convert and measure the catalogue and skill files.

Exit codes: 0 done, 2 a file was refused (every problem is printed as
``file:line: reason``), 1 an unexpected internal error (one line; set
``GUICHET_DEBUG=1`` for the traceback).
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Any, Literal, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text
from yaml.nodes import MappingNode, ScalarNode

from dispatcher.i18n import LangOpt, choose_language, msg
from skills._files import compose, load_text
from skills.catalogue import default_catalogue, parse_catalogue
from skills.coverage import (
    DomainCoverage,
    ProcessCoverage,
    domain_coverage,
    process_coverage,
    uncovered,
)
from skills.errors import UNKNOWN_PROCESS, Problem, Problems, SkillFileError
from skills.matrix import (
    default_matrix,
    format_of,
    looks_like_csv,
    parse_matrix,
    write_matrix,
)
from skills.model import ALL_CHANNELS, COMPETENT, Catalogue, Channel, SkillMatrix

EXIT_REFUSED = 2
EXIT_INTERNAL = 1
MAX_UNCOVERED_SHOWN = 20

skills_app = typer.Typer(
    help="Process catalogue and skill matrix: check, convert, coverage.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

Kind = Literal["catalogue", "matrix"]
F = TypeVar("F", bound=Callable[..., Any])


def register(app: typer.Typer) -> None:
    """Add the ``skills`` sub-command group to the ``guichet`` app."""
    app.add_typer(skills_app, name="skills")


# ------------------------------------------------------------------ helpers


def _guard(func: F) -> F:
    """Refused files exit 2 with their problems; nothing ever prints a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except SkillFileError as exc:
            _print_problems(exc.problems)
            raise typer.Exit(EXIT_REFUSED) from None
        except (typer.Exit, typer.Abort, typer.BadParameter):
            raise
        except BrokenPipeError:  # `guichet skills coverage | head`
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise typer.Exit(EXIT_INTERNAL) from None
        except Exception as exc:  # the user gets one line, not a traceback
            if os.environ.get("GUICHET_DEBUG"):
                raise
            typer.echo(
                msg("internal error: {kind}: {reason} (GUICHET_DEBUG=1 shows the traceback)").format(
                    kind=type(exc).__name__, reason=exc),
                err=True,
            )
            raise typer.Exit(EXIT_INTERNAL) from None

    return wrapper  # type: ignore[return-value]


def _print_problems(problems: tuple[Problem, ...] | list[Problem]) -> None:
    for problem in problems:
        typer.echo(str(problem))


def _console() -> Console:
    # Piped or captured output keeps long rows whole instead of folding them at 80.
    return Console(width=None if sys.stdout.isatty() else 160, highlight=False)


def _detect_kind(path: str, text: str) -> Kind | None:
    """A skill matrix or a catalogue, from the extension then the content."""
    fmt = format_of(path)
    if fmt == "csv" or (fmt is None and looks_like_csv(text)):
        return "matrix"
    root = compose(text, Problems(path))
    if root is None:
        return "catalogue"  # a syntax error: either parser reports it the same way
    if not isinstance(root, MappingNode):
        return None
    keys = {str(key.value) for key, _ in root.value if isinstance(key, ScalarNode)}
    if "agents" in keys:
        return "matrix"
    if keys & {"processes", "domains", "triage", "defaults"}:
        return "catalogue"
    return None


def _load_catalogue_option(path: Path | None) -> tuple[Catalogue, str]:
    """The catalogue of ``--catalogue``, or the bundled one; its name for messages."""
    if path is None:
        return default_catalogue(), msg("the bundled sample catalogue")
    return parse_catalogue(load_text(path), str(path)), str(path)


def _matrix_argument(path: Path | None, catalogue: Catalogue) -> tuple[SkillMatrix, str]:
    if path is None:
        return default_matrix(catalogue), "the bundled sample matrix"
    return parse_matrix(load_text(path), str(path), catalogue), str(path)


def _level_counts(matrix: SkillMatrix) -> str:
    counts = {1: 0, 2: 0, 3: 0}
    for agent in matrix.agents.values():
        for level in agent.skills.values():
            counts[level] += 1
    return msg("{expert} expert, {competent} competent, {trainee} trainee").format(
        expert=counts[3], competent=counts[2], trainee=counts[1])


def _channel_counts(matrix: SkillMatrix) -> str:
    parts = []
    for channel in ALL_CHANNELS:
        count = sum(channel in agent.channels for agent in matrix.agents.values())
        parts.append(f"{channel.value} {count}")
    return ", ".join(parts)


CATALOGUE_OPTION = typer.Option(
    None,
    "--catalogue",
    "-c",
    help="Catalogue to check matrices against (default: a catalogue among FILES, else the "
    "bundled sample).",
    dir_okay=False,
)


# ------------------------------------------------------------------ check


@skills_app.command("check")
@_guard
def check(
    files: list[Path] = typer.Argument(
        ..., help="Catalogue (.yaml) and/or skill matrix (.csv, .yaml) files.", dir_okay=False
    ),
    catalogue_path: Path | None = CATALOGUE_OPTION,
    allow_uncovered: bool = typer.Option(
        False,
        "--allow-uncovered",
        help="A process that no agent can take is a warning, not an error.",
    ),
    lang: LangOpt = None,
) -> None:
    """Validate files: print OK with counts, or every problem as file:line: reason (exit 2)."""
    choose_language(lang)
    refused = 0
    loaded: list[tuple[str, str, Kind | None]] = []
    for path in files:
        name = str(path)
        try:
            text = load_text(path)
        except SkillFileError as exc:
            _print_problems(exc.problems)
            refused += 1
            continue
        loaded.append((name, text, _detect_kind(name, text)))

    # Catalogues first: a matrix is checked against one.
    catalogues: list[tuple[str, Catalogue]] = []
    for name, text, kind in loaded:
        if kind is None:
            typer.echo(
                msg("{name}: cannot tell what this file is: a catalogue has 'domains' and 'processes', a skill matrix 'agents' (or a CSV header starting with agent_id)").format(name=name)
            )
            refused += 1
        elif kind == "catalogue":
            try:
                catalogue = parse_catalogue(text, name)
            except SkillFileError as exc:
                _print_problems(exc.problems)
                refused += 1
                continue
            catalogues.append((name, catalogue))
            typer.echo(
                msg("OK {name}: catalogue of {processes} processes in {domains} domains (triage: '{triage}')").format(
                    name=name, processes=len(catalogue.processes), domains=len(catalogue.domains),
                    triage=catalogue.triage)
            )

    matrices = [(name, text) for name, text, kind in loaded if kind == "matrix"]
    if matrices:
        reference = _reference_catalogue(catalogue_path, catalogues)
        if reference is None:
            typer.echo(
                msg("skill matrices not checked: the catalogue is invalid or ambiguous (name the one to use with --catalogue)")
            )
            raise typer.Exit(EXIT_REFUSED)
        catalogue, catalogue_name = reference
        for name, text in matrices:
            refused += not _check_matrix(name, text, catalogue, catalogue_name, allow_uncovered)

    if refused:
        raise typer.Exit(EXIT_REFUSED)


def _reference_catalogue(
    option: Path | None, given: list[tuple[str, Catalogue]]
) -> tuple[Catalogue, str] | None:
    if option is not None:
        try:
            return _load_catalogue_option(option)
        except SkillFileError as exc:
            _print_problems(exc.problems)
            return None
    if len(given) == 1:
        return given[0][1], given[0][0]
    if len(given) > 1:
        return None
    return default_catalogue(), msg("the bundled sample catalogue")


def _check_matrix(
    name: str, text: str, catalogue: Catalogue, catalogue_name: str, allow_uncovered: bool
) -> bool:
    try:
        matrix = parse_matrix(text, name, catalogue)
    except SkillFileError as exc:
        _print_problems(exc.problems)
        if any(p.kind == UNKNOWN_PROCESS for p in exc.problems):
            typer.echo(
                msg("{name}: note: checked against {catalogue_name}; name yours with --catalogue").format(name=name, catalogue_name=catalogue_name)
            )
        return False
    missing = uncovered(matrix, catalogue)
    prefix = msg("{name}: warning:").format(name=name) if allow_uncovered else f"{name}:"
    for code in missing[:MAX_UNCOVERED_SHOWN]:
        process = catalogue.processes[code]
        channels = "|".join(c.value for c in process.targets)
        typer.echo(
            msg("{prefix} process '{code}' is not covered: no agent at level >= {level} serving {channels}").format(
                prefix=prefix, code=code, level=max(process.min_level, COMPETENT), channels=channels)
        )
    if len(missing) > MAX_UNCOVERED_SHOWN:
        typer.echo(
            msg("{prefix} ... and {more} more uncovered processes (guichet skills coverage --min-agents 1 lists them)").format(
                prefix=prefix, more=len(missing) - MAX_UNCOVERED_SHOWN)
        )
    if missing and not allow_uncovered:
        typer.echo(
            msg("{name}: {missing} of {processes} processes not covered (--allow-uncovered accepts it)").format(
                name=name, missing=len(missing), processes=len(catalogue.processes))
        )
        return False
    typer.echo(
        msg("OK {name}: skill matrix of {agents} agents, {levels} skills; channels: {channels} "
            "(against {catalogue_name})").format(
            name=name, agents=len(matrix.agents), levels=_level_counts(matrix), channels=_channel_counts(matrix),
            catalogue_name=catalogue_name)
    )
    return True


# ------------------------------------------------------------------ coverage


class By(str, Enum):
    PROCESS = "process"
    DOMAIN = "domain"


@skills_app.command("coverage")
@_guard
def coverage(
    matrix_path: Path | None = typer.Argument(
        None, help="Skill matrix (.csv or .yaml); default: the bundled sample.", dir_okay=False
    ),
    catalogue_path: Path | None = typer.Option(
        None, "--catalogue", "-c", help="Catalogue (default: the bundled sample).", dir_okay=False
    ),
    min_agents: int = typer.Option(
        2, "--min-agents", "-n", min=1, help="Flag fewer competent agents than this."
    ),
    channels: list[Channel] | None = typer.Option(
        None, "--channel", help="Only this channel (repeat for several)."
    ),
    by: By = typer.Option(By.PROCESS, "--by", help="One row per process, or per domain."),
    show_all: bool = typer.Option(False, "--all", help="Every process, not only the short ones."),
    lang: LangOpt = None,
) -> None:
    """Processes with fewer than N competent agents (level >= 2), per channel."""
    choose_language(lang)
    catalogue, _ = _load_catalogue_option(catalogue_path)
    matrix, matrix_name = _matrix_argument(matrix_path, catalogue)
    wanted = tuple(channels) if channels else ALL_CHANNELS
    console = _console()
    if by is By.DOMAIN:
        _domain_table(console, matrix, catalogue, matrix_name, min_agents, wanted)
    else:
        _process_table(console, matrix, catalogue, matrix_name, min_agents, wanted, show_all)


def _count_cell(count: int, short: bool) -> Text:
    return Text(str(count), style="bold red" if short else "")


def _process_table(
    console: Console,
    matrix: SkillMatrix,
    catalogue: Catalogue,
    matrix_name: str,
    min_agents: int,
    wanted: tuple[Channel, ...],
    show_all: bool,
) -> None:
    rows = process_coverage(matrix, catalogue, min_agents=min_agents, channels=wanted)
    by_process: dict[str, dict[Channel, ProcessCoverage]] = {}
    for row in rows:
        by_process.setdefault(row.process, {})[row.channel] = row
    short_pairs = sum(row.short for row in rows)
    table = Table(
        title=msg("Competent agents (level >= {competent}, or the process's min level) per channel - {matrix_name}").format(competent=COMPETENT, matrix_name=matrix_name),
        caption=msg("red: fewer than {min_agents}; '.': channel not served by the process").format(min_agents=min_agents),
    )
    table.add_column(msg("process"))
    table.add_column(msg("label"), max_width=48, overflow="ellipsis", no_wrap=True)
    table.add_column(msg("domain"))
    for channel in wanted:
        table.add_column(channel.value, justify="right")
    table.add_column(msg("any"), justify="right")
    shown = 0
    for code, cells in by_process.items():
        if not show_all and not any(row.short for row in cells.values()):
            continue
        process = catalogue.processes[code]
        anyone = {agent for row in cells.values() for agent in row.agents}
        values: list[Text | str] = []
        for channel in wanted:
            cell = cells.get(channel)
            values.append(
                Text(".", style="dim") if cell is None else _count_cell(cell.competent, cell.short)
            )
        values.append(_count_cell(len(anyone), len(anyone) < min_agents))
        table.add_row(code, process.label, process.domain, *values)
        shown += 1
    served = [c for c in by_process.values() if c]
    if shown:
        console.print(table)
    elif served:
        console.print(
            msg("Every process has at least {min_agents} competent agent(s) on each of its channels.").format(min_agents=min_agents)
        )
    console.print(
        msg("{short} of {pairs} (process, channel) pairs have fewer than {min_agents} competent agent(s); "
            "{agents} agents, {processes} processes.").format(
            short=short_pairs, pairs=len(rows), min_agents=min_agents, agents=len(matrix.agents),
            processes=len(catalogue.processes))
    )


def _domain_table(
    console: Console,
    matrix: SkillMatrix,
    catalogue: Catalogue,
    matrix_name: str,
    min_agents: int,
    wanted: tuple[Channel, ...],
) -> None:
    rows = domain_coverage(matrix, catalogue, min_agents=min_agents, channels=wanted)
    by_domain: dict[str, dict[Channel, DomainCoverage]] = {}
    for row in rows:
        by_domain.setdefault(row.domain, {})[row.channel] = row
    table = Table(
        title=msg("Processes short of {min_agents} competent agents, per domain and channel - {matrix_name}").format(min_agents=min_agents, matrix_name=matrix_name),
        caption=msg("cell: short processes / processes served on the channel (fewest agents)"),
    )
    table.add_column(msg("domain"))
    for channel in wanted:
        table.add_column(channel.value, justify="right")
    table.add_column(msg("short processes"), max_width=60, overflow="fold")
    for domain, cells in by_domain.items():
        values: list[Text | str] = []
        short_codes: dict[str, None] = {}
        for channel in wanted:
            cell = cells.get(channel)
            if cell is None:
                values.append(Text(".", style="dim"))
                continue
            values.append(
                Text(
                    f"{cell.short}/{cell.processes} ({cell.fewest})",
                    style="bold red" if cell.short else "",
                )
            )
            short_codes.update(dict.fromkeys(cell.short_processes))
        label = catalogue.domains[domain].label if domain in catalogue.domains else domain
        table.add_row(label, *values, ", ".join(short_codes) or "-")
    console.print(table)
    total_short = sum(row.short for row in rows)
    console.print(
        msg("{short} (process, channel) pairs short of {min_agents} competent agent(s) in {domains_short} of "
            "{domains} domains.").format(
            short=total_short, min_agents=min_agents,
            domains_short=sum(1 for cells in by_domain.values() if any(r.short for r in cells.values())),
            domains=len(by_domain))
    )


# ------------------------------------------------------------------ convert


@skills_app.command("convert")
@_guard
def convert(
    source: Path = typer.Argument(
        ..., help="Skill matrix to read (.csv or .yaml).", dir_okay=False
    ),
    target: Path = typer.Argument(..., help="File to write (.csv or .yaml).", dir_okay=False),
    catalogue_path: Path | None = typer.Option(
        None,
        "--catalogue",
        "-c",
        help="Catalogue to validate against and order the columns by (default: bundled sample).",
        dir_okay=False,
    ),
    excel: bool = typer.Option(
        False, "--excel", help="CSV for French Excel: ';'-separated, with a UTF-8 BOM."
    ),
    lang: LangOpt = None,
) -> None:
    """Convert a skill matrix between CSV and YAML (validated on the way)."""
    choose_language(lang)
    fmt = format_of(target)
    if fmt is None:
        raise SkillFileError.single(
            str(target), msg("unknown output format: name the file .csv, .yaml or .yml")
        )
    if excel and fmt != "csv":
        raise SkillFileError.single(str(target), msg("--excel only applies to a .csv output"))
    catalogue, _ = _load_catalogue_option(catalogue_path)
    matrix = parse_matrix(load_text(source), str(source), catalogue)
    write_matrix(matrix, target, catalogue, fmt=fmt, excel=excel)
    typer.echo(msg("Wrote {target}: {agents} agents ({format}).").format(
        target=target, agents=len(matrix.agents), format=f"{fmt}, Excel" if excel else fmt))
