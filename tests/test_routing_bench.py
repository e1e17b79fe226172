"""``guichet bench routing --quick``: the table, then one JSON line with the issue's figures."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from guichet.cli import app


def test_bench_routing_quick_prints_its_figures_last() -> None:
    result = CliRunner().invoke(app, ["bench", "routing", "--quick"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output.strip().splitlines()[-1])
    for key in ("p50_us", "p99_us", "decisions_per_s", "rss_mb", "naive_p99_us", "speedup_vs_naive"):
        assert figures[key] > 0, key
    assert figures["benchmark"] == "routing" and figures["same_decisions_as_naive"] is True
    assert figures["naive_p50_us"] > figures["p50_us"]
    assert "naive" in result.output and "indexed" in result.output
