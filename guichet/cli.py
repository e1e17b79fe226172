"""The ``guichet`` command: one entry point for agents' admins, planners and operators."""

from __future__ import annotations

import importlib
from typing import Any

import typer

from dispatcher import compiled
from guichet import bench as bench_registry

app = typer.Typer(
    help="Guichet: the dispatch server of a town hall's single front desk.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

def _print_version(asked: bool) -> None:
    if asked:
        from guichet import __version__

        typer.echo(f"guichet {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", help="Print the version and exit.", is_eager=True, callback=_print_version
    ),
) -> None:
    """Guichet: the dispatch server of a town hall's single front desk."""


# Modules that add their commands to the app through a ``register(app)`` function.
COMMAND_MODULES: list[str] = [
    "guichet.server_cli",
    "simulations.staffing_cli",
    "simulations.sim_cli",
    "skills.cli",
    "guichet.history_commands",
    "guichet.agents_cli",
    "guichet.ivr_cli",
    "guichet.users_cli",
    "dispatcher.counter.cli",
]


def _flags_as_flags() -> None:
    """typer 0.29's rich help prints a value after every flag (``--dry-run <bool>``): a flag takes none."""
    from typer.core import TyperOption

    shown = TyperOption.display_type_rich

    def display_type_rich(self: TyperOption, ctx: Any) -> str | None:
        return None if self.is_flag else shown(self, ctx)

    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


_flags_as_flags()


@app.command("bench", help=bench_registry.help_text())
def bench(
    name: str = typer.Argument(..., metavar="NAME", help="One of: " + ", ".join(sorted(bench_registry.BENCHMARKS))),
    quick: bool = typer.Option(False, "--quick", help="A smaller run, for a smoke test."),
) -> None:
    """Run a benchmark: a readable table, then one JSON line with its figures."""
    if name not in bench_registry.BENCHMARKS:
        known = ", ".join(sorted(bench_registry.BENCHMARKS))
        raise typer.BadParameter(f"unknown benchmark {name!r}; known: {known}")
    bench_registry.run(name, quick=quick)


def _register_all() -> None:
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(app)


_register_all()


def main() -> None:
    """Console entry point."""
    try:
        compiled.check()
    except compiled.StaleBuildError as exc:
        typer.echo(f"guichet: {exc}", err=True)
        raise SystemExit(1) from None
    app()


if __name__ == "__main__":
    main()
