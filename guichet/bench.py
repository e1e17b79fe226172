"""Benchmark registry: ``guichet bench NAME`` runs one and ends with a JSON line."""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from typing import Any

from rich.console import Console

# name -> "module:function"; each function prints its table and returns its figures.
BENCHMARKS: dict[str, str] = {
    "ami": "dispatcher.ami.bench:run",
    "erlang": "simulations.bench_erlang:run",
    "ewt": "dispatcher.counter.bench_ewt:run",
    "kiosk": "guichet.bench_kiosk:run",
    "routing": "dispatcher.bench:run",
    "store": "dispatcher.store.bench:run",
    "sim": "simulations.bench_sim:run",
    "wallboard": "guichet.bench_wallboard:run",
}

BenchFunction = Callable[[Console, bool], dict[str, Any]]


def load(name: str) -> BenchFunction:
    """The benchmark function registered as ``name``."""
    module_name, _, attr = BENCHMARKS[name].partition(":")
    func: BenchFunction = getattr(importlib.import_module(module_name), attr)
    return func


def run(name: str, quick: bool = False) -> dict[str, Any]:
    """Run a benchmark, print its table, then its figures as one JSON line."""
    console = Console()
    figures = load(name)(console, quick)
    figures = {"benchmark": name, "quick": quick, **figures}
    print(json.dumps(figures, sort_keys=False, default=str), flush=True)
    return figures
