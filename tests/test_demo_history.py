"""`guichet demo` then `guichet stats`, as a newcomer runs them: the demo says where its history is."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path


def _guichet(*args: str, cwd: Path, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "160"}
    env.pop("GUICHET_DATA_DIR", None)
    return subprocess.run([sys.executable, "-m", "guichet.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)


def test_stats_reads_the_history_the_demo_says_it_kept(tmp_path: Path) -> None:
    demo = _guichet("demo", "--duration", "5", "--calls-per-minute", "240", "--visitors-per-minute", "120",
                    cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr
    assert "Comparé au terrain" in demo.stdout  # the statistics in French, the default
    assert "contacts par agent et par jour" not in demo.stdout  # 5 compressed seconds are not a day
    match = re.search(r"read it again with: (guichet stats --database-url '[^']+')", demo.stdout)
    assert match, demo.stdout[-2000:]
    command = shlex.split(match.group(1))
    again = _guichet(*command[1:], "--by", "channel", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    contacts = int(re.search(r"\((\d+) contacts\)", again.stdout).group(1))  # type: ignore[union-attr]
    assert contacts > 5
    assert "Égalité de traitement (SITIV)" in again.stdout
    assert not (tmp_path / "var").exists()  # nothing created in the default data directory
