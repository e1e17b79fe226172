"""Replications: one scenario (or two variants) over several seeds, with a progress bar."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from simulations.draws import draw
from simulations.engine import Engine
from simulations.i18n import tr
from simulations.model import Scenario
from simulations.results import RunResult
from simulations.summary import Summary, summarise


def seeds(seed: int, replications: int) -> list[int]:
    """The seed of each replication (replication k of every variant uses the same one)."""
    return [seed + k for k in range(replications)]


def run_variants(
    scenarios: Sequence[Scenario],
    replications: int,
    seed: int,
    console: Console | None = None,
) -> list[list[RunResult]]:
    """Every variant over the same replications: the same citizens meet each variant.

    The contacts of a replication are drawn once and given to every variant
    (common random numbers). With a console, a progress bar follows the runs.
    """
    runs: list[list[RunResult]] = [[] for _ in scenarios]
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=console is None,
        transient=True,
    )
    total = replications * len(scenarios)
    with progress:
        task = progress.add_task(tr("simulating"), total=total)
        done = 0
        for s in seeds(seed, replications):
            draws = draw(scenarios[0], s)
            for k, scenario in enumerate(scenarios):
                name = tr("replication {number}/{count}").format(number=s - seed + 1,
                                                                  count=replications)
                if len(scenarios) > 1:
                    name += " " + tr("variant {name}").format(name="AB"[k] if k < 2 else k + 1)
                progress.update(task, description=name)

                def advance(share: float, base: int = done) -> None:
                    progress.update(task, completed=base + share)

                result = Engine(scenario, draws).run(advance)
                result.seed = s
                runs[k].append(result)
                done += 1
                progress.update(task, completed=done)
    return runs


def replicate(
    scenario: Scenario, replications: int, seed: int, console: Console | None = None
) -> Summary:
    """The figures of ``scenario`` over ``replications`` seeded replications."""
    return summarise(run_variants([scenario], replications, seed, console)[0])
