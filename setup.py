"""Build step: compile the routing core and the simulation loop with mypyc.

The modules below are plain, fully typed Python; mypyc turns them into C
extensions (the same source, two to six times faster), as black and mypy
ship themselves. Everything else stays interpreted. ``compiled-sources.json``
records the hash of each source compiled, so that an edited module whose
extension was not rebuilt is caught at import (``dispatcher/compiled.py``).
Set ``GUICHET_PURE_PYTHON=1`` to build without compiling anything.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from setuptools import setup

COMPILED = [
    "dispatcher/events.py",
    "dispatcher/state.py",
    "dispatcher/waiting.py",
    "dispatcher/timers.py",
    "dispatcher/policy.py",
    "dispatcher/strategies.py",
    "dispatcher/pool.py",
    "dispatcher/router.py",
    "dispatcher/naive.py",
    "dispatcher/counter/ewt.py",
    "simulations/engine.py",
]
RECORD = Path("dispatcher") / "compiled-sources.json"


def _extensions() -> list:
    here = Path(__file__).parent
    if os.environ.get("GUICHET_PURE_PYTHON") == "1":
        (here / RECORD).unlink(missing_ok=True)
        for path in COMPILED:  # an editable tree keeps the extensions of an earlier build
            for built in (here / path).parent.glob(Path(path).stem + ".cpython-*"):
                built.unlink()
        for shared in here.glob("guichet_core__mypyc.*"):
            shared.unlink()
        return []
    from mypyc.build import mypycify

    hashes = {path: hashlib.sha256((here / path).read_bytes()).hexdigest() for path in COMPILED}
    (here / RECORD).write_text(json.dumps(hashes, indent=1) + "\n")
    return mypycify(COMPILED, opt_level="3", group_name="guichet_core")


setup(ext_modules=_extensions())
