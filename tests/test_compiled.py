"""The compiled routing core: present, up to date, and deciding exactly as its source does."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dispatcher import compiled
from dispatcher import events as ev
from dispatcher.router import Router
from simulations.draws import draw
from simulations.engine import Engine
from tests.test_sim_engine import day

ROOT = Path(__file__).resolve().parent.parent

# Replays JSON-lines inputs through the routing core imported from its .py
# sources (the compiled extensions beside them are ignored), prints the decisions.
INTERPRETED_REPLAY = """
import importlib.machinery as machinery, json, os, sys
root = os.path.realpath(sys.argv[1])
ours = {root, os.path.join(root, "dispatcher"), os.path.join(root, "simulations")}

def source_only(path):
    if os.path.realpath(path or ".") not in ours:
        raise ImportError(path)
    return machinery.FileFinder(path, (machinery.SourceFileLoader, machinery.SOURCE_SUFFIXES))

sys.path_hooks.insert(0, source_only)
sys.path_importer_cache.clear()
sys.path.insert(0, root)
from dispatcher import events as ev
from dispatcher.router import Router
from tests.test_sim_engine import day

import dispatcher.router, dispatcher.waiting, dispatcher.events
for module in (dispatcher.router, dispatcher.waiting, dispatcher.events):
    assert module.__file__.endswith(".py"), module.__file__
scenario = day()
router = Router(scenario.catalogue, scenario.matrix, scenario.policy)
for line in sys.stdin:
    decisions = router.handle(ev.loads(line))
    print(json.dumps([ev.to_record(d) for d in decisions]))
"""


def _expect_compiled() -> bool:
    return os.environ.get("GUICHET_PURE_PYTHON") != "1"


def test_the_core_runs_compiled_unless_built_pure() -> None:
    modules = compiled.compiled_modules()
    if _expect_compiled():
        assert {"dispatcher.router", "dispatcher.waiting", "simulations.engine"} <= set(modules), (
            "the routing core runs uncompiled: `pip install -e .` compiles it "
            "(set GUICHET_PURE_PYTHON=1 when testing a pure build on purpose)"
        )
    else:
        assert modules == []


def test_compiled_and_interpreted_core_decide_the_same() -> None:
    scenario = day()
    inputs: list[ev.Event] = []
    Engine(scenario, draw(scenario, 11), inputs).run()
    kinds = {type(e) for e in inputs}
    assert {ev.ContactArrived, ev.OfferAnswered, ev.ContactCompleted, ev.ContactAbandoned} <= kinds
    router = Router(scenario.catalogue, scenario.matrix, scenario.policy)
    ours = [json.dumps([ev.to_record(d) for d in router.handle(e)]) for e in inputs]
    replay = subprocess.run(
        [sys.executable, "-c", INTERPRETED_REPLAY, str(ROOT)],
        input="".join(ev.dumps(e) + "\n" for e in inputs),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert replay.returncode == 0, replay.stderr
    theirs = replay.stdout.splitlines()
    assert len(theirs) == len(inputs) > 200
    assert theirs == ours


def test_a_source_edited_after_its_build_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if _expect_compiled():
        assert compiled.RECORD.exists(), "no record of a compiled build: run `pip install -e .`"
        assert compiled.stale_sources() == []
    record = {
        "dispatcher/router.py": "0" * 64,  # as if router.py had changed since the build
        "dispatcher/waiting.py": hashlib.sha256((ROOT / "dispatcher/waiting.py").read_bytes()).hexdigest(),
    }
    fake = tmp_path / "compiled-sources.json"
    fake.write_text(json.dumps(record))
    monkeypatch.setattr(compiled, "RECORD", fake)
    if not _expect_compiled():  # a pure build runs its sources: nothing can go stale
        assert compiled.stale_sources() == []
        compiled.check()
        return
    assert compiled.stale_sources() == ["dispatcher/router.py"]
    with pytest.raises(compiled.StaleBuildError, match=r"dispatcher/router\.py changed.*pip install"):
        compiled.check()
