"""Checkpoints of the routing core: a Router's whole state, exactly.

Recovery replays the input events logged after the last checkpoint, so a
checkpoint must restore a Router that decides exactly like the one it was
taken from: contacts with their arrival order and heap entries, agents with
their idle and occupancy timers, the availability index in its order, the
timers and the counters. The checkpoint is the Router object itself,
pickled: exact by construction (every attribute, shared references and heap
layouts included) and immune to the core's internals changing, which a
field-by-field JSON codec is not. ``tests/test_store_snapshot.py`` checks a
restored router against its uncrashed twin.

Unpickling runs code named in the data, so checkpoints are read only from
the site's own Redis (a private unix socket by default; with ``REDIS_URL``
protect the server with a password or ACL), and they carry a fingerprint of
the routing code: one written by another version is refused and recovery
replays the whole stream instead.
"""

from __future__ import annotations

import hashlib
import pickle
from functools import cache
from pathlib import Path

from dispatcher.router import Router

_CORE_MODULES = ("router", "pool", "timers", "state", "waiting", "policy", "strategies", "batch", "events")


@cache
def fingerprint() -> str:
    """A hash of the routing core's source: checkpoints only load into the same code."""
    digest = hashlib.sha256()
    here = Path(__file__).resolve().parent.parent
    for name in _CORE_MODULES:
        path = here / f"{name}.py"
        if path.exists():
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


class CheckpointMismatch(ValueError):
    """The checkpoint was written by another version of the routing core."""


def take(router: Router) -> bytes:
    """The Router's state (call between two ``handle`` calls)."""
    return fingerprint().encode() + b"\n" + pickle.dumps(router, protocol=pickle.HIGHEST_PROTOCOL)


def restore(data: bytes) -> Router:
    """The Router a ``take`` recorded; CheckpointMismatch if the code changed since."""
    stamp, _, body = data.partition(b"\n")
    if stamp.decode(errors="replace") != fingerprint():
        raise CheckpointMismatch(f"checkpoint of routing code {stamp[:16]!r}, running {fingerprint()}")
    router = pickle.loads(body)
    if not isinstance(router, Router):
        raise ValueError("checkpoint does not hold a Router")
    return router
