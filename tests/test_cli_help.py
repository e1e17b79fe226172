"""``--help`` of every command shows flags as flags, and ``guichet bench --help`` lists the benchmarks."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from guichet import bench
from guichet.cli import app

COMMANDS = [
    [], ["serve"], ["demo"], ["bench"], ["purge"], ["stats"], ["agents"], ["agents", "list"], ["agents", "pause"],
    ["ivr"], ["ivr", "prompts"], ["ivr", "install"], ["skills"], ["skills", "check"], ["simulate"], ["staffing"],
    ["db", "upgrade"],
]


def help_of(*args: str) -> str:
    done = CliRunner().invoke(app, [*args, "--help"], env={"COLUMNS": "100"})
    assert done.exit_code == 0, done.output
    return done.output


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a) or "guichet")
def test_flags_take_no_value(args: list[str]) -> None:
    text = help_of(*args)
    assert "<bool>" not in text
    assert "--help" in text


def test_bench_help_lists_every_benchmark_on_its_own_line() -> None:
    text = help_of("bench")
    for name in bench.BENCHMARKS:
        assert any(line.strip().startswith(name + " ") for line in text.splitlines()), name
    assert set(bench.BENCHMARKS) <= set(bench.DESCRIPTIONS), "a benchmark without its line of help"
    assert "--quick " in text
