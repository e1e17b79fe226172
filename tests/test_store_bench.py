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


def test_the_soak_checkpoint_figure_is_medians_and_a_slope_not_one_sample() -> None:
    from dispatcher.store.soak import checkpoint_trend

    noisy = [(i * 1_000, 30.0 + (25.0 if i % 2 else 0.0)) for i in range(200)]  # 30 or 55 ms, no trend
    flat = checkpoint_trend(noisy, 200_000)
    assert flat["checkpoint_samples_start"] == 40 and flat["checkpoint_samples_end"] == 40
    assert flat["checkpoint_ms_start"] == flat["checkpoint_ms_end"] == 42.5
    assert abs(flat["checkpoint_slope_ms_per_100k"]) < 1.0
    growing = checkpoint_trend([(d, 10.0 + d / 10_000) for d, _ in noisy], 200_000)
    assert growing["checkpoint_slope_ms_per_100k"] == 10.0
    assert growing["checkpoint_ratio"] > 2
