"""Benchmark registry: ``guichet bench NAME`` runs one and ends with a JSON line."""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from typing import Any

from rich import box
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

# name -> "module:function"; each function prints its table and returns its figures.
BENCHMARKS: dict[str, str] = {
    "ami": "guichet.bench_ami:run",
    "erlang": "simulations.bench_erlang:run",
    "ewt": "dispatcher.counter.bench_ewt:run",
    "kiosk": "guichet.bench_kiosk:run",
    "routing": "dispatcher.bench:run",
    "store": "dispatcher.store.bench:run",
    "soak": "dispatcher.store.soak:run",
    "sim": "simulations.bench_sim:run",
    "wallboard": "guichet.bench_wallboard:run",
}

DESCRIPTIONS: dict[str, str] = {
    "ami": "AMI adapter: call to Redirect latency, link cuts",
    "erlang": "Erlang B/C/A staffing formulas against a reference",
    "routing": "routing core: decisions/s and latency vs. a naive router",
    "store": "Redis store: events written/s, recovery after a crash",
    "sim": "a simulated day: contacts/s through the routing core",
    "ewt": "estimated wait at arrival against the wait then had",
    "kiosk": "kiosks and displays against a running server, calls flowing",
    "soak": "200,000 contacts: memory and checkpoints stay flat",
    "wallboard": "200 live wallboards while 100 calls/s flow: event to screen, routing",
}
"""One line per benchmark for ``guichet bench --help``."""


def help_text() -> str:
    """The ``guichet bench`` help: what it does, then each benchmark on its own line."""
    lines = [f"  {name:<8} {DESCRIPTIONS.get(name, BENCHMARKS[name])}" for name in sorted(BENCHMARKS)]
    return (
        "Run a benchmark: a readable table, then one JSON line with its figures.\n\n"
        "\b\nBenchmarks (guichet bench NAME):\n" + "\n".join(lines)
    )


BenchFunction = Callable[[Console, bool], dict[str, Any]]

WIDTH = 100
"""The tables' width when the output is not a terminal (CI, ``| tee``): rich would use 80."""


class BenchConsole(Console):
    """The benchmarks' console: 100 columns when not a terminal, and a table never cut.

    A table wider than the console is drawn compact (no vertical rules, one space between
    columns) and its cells wrap, long words folded, instead of ending in "…".
    """

    def print(self, *objects: Any, **kwargs: Any) -> None:
        """Print as rich does, each table fitted to the width first."""
        super().print(*(fit(o, self) if isinstance(o, Table) else o for o in objects), **kwargs)


def fit(table: Table, console: Console) -> Table:
    """``table`` made to fit ``console``'s width without cutting a value (the same table).

    Too wide, it is drawn compact; each column then gets at least its longest word and the
    room left is shared in proportion to what each column would take on one line.
    """
    texts = [[Text.from_markup(str(cell)).plain for cell in (c.header, *c.cells)] for c in table.columns]
    for column in table.columns:
        column.overflow = "fold"
        column.no_wrap = False
    if _width(table, console) <= console.width:
        return table
    table.box = box.SIMPLE_HEAD
    table.padding = (0, 0, 0, 1)
    table.pad_edge = False
    lines = [max((len(line) for t in cells for line in t.splitlines()), default=1) for cells in texts]
    if _width(table, console) <= console.width:
        return table
    words = [max((len(w) for t in cells for w in t.split()), default=1) for cells in texts]
    for column, least in zip(table.columns, words, strict=True):
        column.width = least
    room = console.width - _width(table, console)
    wanted = [line - least for line, least in zip(lines, words, strict=True)]
    total = sum(wanted)
    if room > 0 and total > 0:
        for column, want in zip(table.columns, wanted, strict=True):
            column.width = (column.width or 0) + room * want // total
    return table


def _width(table: Table, console: Console) -> int:
    """The width ``table`` would take with no limit."""
    unbounded = console.options.update_width(10 * console.width)
    return Measurement.get(console, unbounded, table).maximum


def bench_console() -> BenchConsole:
    """The console ``guichet bench`` prints its tables on (100 columns when piped)."""
    return BenchConsole(width=None if Console().is_terminal else WIDTH)


def load(name: str) -> BenchFunction:
    """The benchmark function registered as ``name``."""
    module_name, _, attr = BENCHMARKS[name].partition(":")
    func: BenchFunction = getattr(importlib.import_module(module_name), attr)
    return func


def run(name: str, quick: bool = False) -> dict[str, Any]:
    """Run a benchmark, print its table, then its figures as one JSON line."""
    console = bench_console()
    figures = load(name)(console, quick)
    figures = {"benchmark": name, "quick": quick, **figures}
    print(json.dumps(figures, sort_keys=False, default=str), flush=True)
    return figures
