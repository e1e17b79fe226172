"""What a wheel (``pip install .``, not editable) carries, built here without compiling."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

from dispatcher.fake_asterisk.config_files import asterisk_config_dir

ROOT = Path(__file__).resolve().parent.parent


def test_the_checkout_config_wins_else_the_installed_one(tmp_path: Path) -> None:
    checkout, installed = tmp_path / "checkout", tmp_path / "installed"
    checkout.mkdir()
    assert asterisk_config_dir(checkout, installed) == installed
    (checkout / "extensions.conf").write_text("[guichet-in]\n")
    assert asterisk_config_dir(checkout, installed) == checkout


def test_the_wheel_carries_the_data_files(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, files):
        target = tree / name.decode()
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((ROOT / name.decode()).read_bytes())
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path), str(tree)],
        capture_output=True,
        text=True,
        env={**os.environ, "GUICHET_PURE_PYTHON": "1"},
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = tmp_path.glob("guichet-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    data = "guichet-0.1.0.data/data/share/guichet/asterisk-config/"
    assert {data + "extensions.conf", data + "manager.conf"} <= names
    assert {"skills/data/catalogue.yaml", "skills/data/agents.csv", "ivr/menus/default.yaml"} <= names
    assert "dispatcher/router.py" in names
    assert {f"simulations/locale/{lang}/LC_MESSAGES/planner.po" for lang in ("fr", "en")} <= names
    assert not [n for n in names if n.endswith(".so")]  # GUICHET_PURE_PYTHON=1 compiles nothing
