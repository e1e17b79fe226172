"""``guichet bench kiosk --quick`` runs its processes, both phases, and ends with its figures."""

from __future__ import annotations

import json
import subprocess
import sys


def test_bench_kiosk_quick_issues_tickets_with_calls_flowing_and_prints_its_figures() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "guichet.cli", "bench", "kiosk", "--quick"],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["benchmark"] == "kiosk" and figures["tickets"] > 0 and figures["calls_placed"] > 0
    assert figures["saturated_tickets"] > 0 and figures["offered_tickets_per_s"] == 100.0
    assert figures["numbers_per_day"] == 999 * 13 * 2 and figures["refused"] == {}
    assert figures["duplicates"] == 0 and figures["lost_tickets"] == 0
    for key in ("tickets_per_s", "issue_p99_ms", "saturated_issue_p99_ms", "display_p99_ms", "routing_p99_us", "lost",
                "checkpoints_forked", "checkpoint_hold_ms"):
        assert key in figures
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
