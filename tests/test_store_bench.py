"""``guichet bench store --quick``: a smoke run of the whole benchmark."""

from __future__ import annotations

import io

from rich.console import Console

from dispatcher.store.bench import run


def test_quick_bench_reports_every_figure() -> None:
    out = io.StringIO()
    figures = run(Console(file=out, width=120), quick=True)
    for name in ("redis_events_per_s", "sqlite_events_per_s", "postgres_events_per_s", "recovery_s"):
        assert figures[name] and figures[name] > 0, name
    assert figures["redis_events_per_s"] > figures["redis_baseline_events_per_s"]
    assert (figures["lost"], figures["duplicated"], figures["recovery_diverged"]) == (0, 0, 0)
    assert figures["waiting"] == 1_000
    assert "recovery" in out.getvalue()
