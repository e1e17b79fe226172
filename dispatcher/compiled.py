"""Which modules run compiled, and whether each was compiled from the source beside it.

``pip install`` compiles the routing core with mypyc (see ``setup.py``) and
records the hash of every source it compiled. An extension module always wins
over its ``.py`` at import, so a module edited since then would silently run
its old code: ``check()`` refuses that, naming the modules to rebuild.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

RECORD = Path(__file__).with_name("compiled-sources.json")
ROOT = Path(__file__).resolve().parent.parent


class StaleBuildError(ImportError):
    """A compiled module no longer matches its source."""


def _module_name(path: str) -> str:
    return path.removesuffix(".py").replace("/", ".")


def _recorded() -> dict[str, str]:
    """Source path -> hash of each module the last build compiled (empty for a pure build)."""
    return json.loads(RECORD.read_text()) if RECORD.exists() else {}


def _is_extension(name: str) -> bool:
    spec = importlib.util.find_spec(name)
    return spec is not None and spec.origin is not None and not spec.origin.endswith(".py")


def compiled_modules() -> list[str]:
    """The modules that import as C extensions in this installation."""
    return [_module_name(path) for path in _recorded() if _is_extension(_module_name(path))]


def stale_sources() -> list[str]:
    """The sources (relative paths) edited since they were compiled."""
    stale = []
    for path, digest in _recorded().items():
        source = ROOT / path
        if not source.exists() or not _is_extension(_module_name(path)):
            continue
        if hashlib.sha256(source.read_bytes()).hexdigest() != digest:
            stale.append(path)
    return stale


def check() -> None:
    """Raise StaleBuildError if a compiled module would run older code than its source."""
    stale = stale_sources()
    if stale:
        raise StaleBuildError(
            f"{', '.join(stale)} changed since the routing core was compiled: "
            "run `pip install -e .` again to rebuild it "
            "(or GUICHET_PURE_PYTHON=1 pip install -e . to run it uncompiled)"
        )
