"""``guichet bench wallboard --quick`` runs its three processes and ends with its figures."""

from __future__ import annotations

import json
import math
import subprocess
import sys


def test_bench_wallboard_quick_feeds_every_screen_and_prints_its_figures() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "guichet.cli", "bench", "wallboard", "--quick"],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["benchmark"] == "wallboard" and figures["clients"] == 50 and figures["calls"] > 0
    assert figures["dropped"] == 0 and figures["snapshots"] > 0
    assert figures["replay_same_decisions"] is True
    for key in ("event_to_screen_p99_ms", "routing_p99_us", "baseline_routing_p99_us", "event_p99_us"):
        assert math.isfinite(figures[key]) and figures[key] > 0, key
    assert "Traceback" not in done.stderr and "Traceback" not in done.stdout, done.stderr[-3000:]
