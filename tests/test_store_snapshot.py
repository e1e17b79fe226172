"""A router restored from a checkpoint decides exactly like its uncrashed twin."""

from __future__ import annotations

import pytest

from dispatcher import events as ev
from dispatcher.policy import RoutingPolicy, Strategy
from dispatcher.router import Router
from dispatcher.store import snapshot
from dispatcher.store.loadgen import Load, town


def _drive(router: Router, load: Load, start: float, stop: float, step: float) -> list[dict]:
    records: list[dict] = []
    t = start
    while t < stop:
        for event in [*load.due(t), ev.TimePassed(at=t)]:
            decisions = router.handle(event)
            load.observe(decisions, event.at)
            records.extend(ev.to_record(d) for d in decisions)
        t += step
    return records


@pytest.mark.parametrize(
    ("strategy", "batch", "cut"),
    [
        (Strategy.MOST_SUITABLE, True, 300.0),
        (Strategy.FEWEST_SKILLS, False, 451.5),
        (Strategy.LEAST_OCCUPIED, True, 777.0),
    ],
)
def test_restored_router_decides_like_its_twin(strategy: Strategy, batch: bool, cut: float) -> None:
    catalogue, matrix = town(12, processes=5)
    policy = RoutingPolicy(strategy=strategy, batch_assignment=batch)
    processes = [p for p in catalogue.processes if p != "triage"]
    load = Load(list(matrix.agents), processes, rate=0.6, seed=7, handle_s=15)
    original = Router(catalogue, matrix, policy)
    for event in load.login(0.0):
        load.observe(original.handle(event), 0.0)
    _drive(original, load, 0.0, cut, 0.7)
    assert original.queue.contacts and original.ended, "the cut must fall in a busy moment"

    restored = snapshot.restore(snapshot.take(original))
    assert restored is not original

    twin_load = Load(list(matrix.agents), processes, rate=0.6, seed=7, handle_s=15)
    twin_load.__dict__.update({k: v for k, v in load.__dict__.items() if k != "rng"})
    twin_load.rng.setstate(load.rng.getstate())
    twin_load._due = list(load._due)
    ahead = _drive(original, load, cut, cut + 900.0, 0.7)
    behind = _drive(restored, twin_load, cut, cut + 900.0, 0.7)
    assert len(ahead) > 500
    assert behind == ahead
    assert restored.ended == original.ended
    assert [c.contact_id for c in restored.queue.contacts.values()] == [
        c.contact_id for c in original.queue.contacts.values()
    ]


def test_checkpoint_of_other_code_is_refused() -> None:
    catalogue, matrix = town(2)
    data = snapshot.take(Router(catalogue, matrix))
    stamp, _, body = data.partition(b"\n")
    with pytest.raises(snapshot.CheckpointMismatch):
        snapshot.restore(b"0123456789abcdef\n" + body)
    assert isinstance(snapshot.restore(stamp + b"\n" + body), Router)
