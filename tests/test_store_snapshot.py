"""A router restored from a checkpoint decides exactly like its uncrashed twin; a checkpoint is data."""

from __future__ import annotations

import json
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
    _round_trip(strategy, batch, cut, seed=7, busy=True)


def _round_trip(
    strategy: Strategy, batch: bool, cut: float, seed: int, rate: float = 0.6, horizon: float = 900.0,
    busy: bool = False, window: int = 20_000,
) -> None:
    catalogue, matrix = town(12, processes=5)
    policy = RoutingPolicy(strategy=strategy, batch_assignment=batch, ended_window=window)
    processes = [p for p in catalogue.processes if p != "triage"]
    load = Load(list(matrix.agents), processes, rate=rate, seed=seed, handle_s=15)
    original = Router(catalogue, matrix, policy)
    for event in load.login(0.0):
        load.observe(original.handle(event), 0.0)
    _drive(original, load, 0.0, cut, 0.7)
    if busy:
        assert original.queue.contacts and original.ended, "the cut must fall in a busy moment"

    restored = snapshot.restore(snapshot.take(original), catalogue, matrix, policy)
    assert restored is not original

    twin_load = Load(list(matrix.agents), processes, rate=rate, seed=seed, handle_s=15)
    twin_load.__dict__.update({k: v for k, v in load.__dict__.items() if k != "rng"})
    twin_load.rng.setstate(load.rng.getstate())
    twin_load._due = list(load._due)
    ahead = _drive(original, load, cut, cut + horizon, 0.7)
    behind = _drive(restored, twin_load, cut, cut + horizon, 0.7)
    assert len(ahead) > 100
    assert behind == ahead
    assert restored.ended == original.ended and restored.ended_before == original.ended_before
    assert [c.contact_id for c in restored.queue.contacts.values()] == [
        c.contact_id for c in original.queue.contacts.values()
    ]




@settings(max_examples=12, deadline=None)
@given(
    strategy=st.sampled_from(list(Strategy)),
    batch=st.booleans(),
    cut=st.floats(min_value=60.0, max_value=900.0),
    seed=st.integers(min_value=0, max_value=10_000),
    rate=st.sampled_from([0.3, 0.6, 1.2]),
    window=st.sampled_from([20_000, 30]),
)
def test_any_checkpoint_decides_like_its_twin(
    strategy: Strategy, batch: bool, cut: float, seed: int, rate: float, window: int
) -> None:
    """Property: whatever the moment, the policy, the load and the memory of ended contacts,
    checkpoint then restore changes no decision."""
    _round_trip(strategy, batch, cut, seed, rate, horizon=240.0, window=window)


def _busy_router() -> Router:
    catalogue, matrix = town(6, processes=3)
    router = Router(catalogue, matrix)
    load = Load(list(matrix.agents), [p for p in catalogue.processes if p != "triage"], rate=0.8, seed=3, handle_s=20)
    for event in load.login(0.0):
        load.observe(router.handle(event), 0.0)
    _drive(router, load, 0.0, 200.0, 0.5)
    return router


def test_the_tables_cover_every_attribute_of_the_records() -> None:
    """A field the core adds to its records must be added to the checkpoint, or this fails."""
    router = _busy_router()
    contact = next(iter(router.contacts.values()))
    agent = next(iter(router.agents.values()))
    assert _attributes(contact) == set(snapshot.CONTACT_FIELDS) | snapshot.CONTACT_LINKS
    assert _attributes(agent) == set(snapshot.AGENT_FIELDS) | snapshot.AGENT_LINKS
    assert _attributes(router) == snapshot.ROUTER_STATE | snapshot.ROUTER_GIVEN
    doc = snapshot.document(router)
    assert doc["format"] == "guichet-checkpoint" and doc["version"] == snapshot.VERSION
    assert json.loads(snapshot.take(router)) == doc


def _attributes(record: object) -> set[str]:
    """The attributes of a record, compiled (mypyc lists them) or interpreted."""
    names = getattr(type(record), "__mypyc_attrs__", None) or vars(record)
    return {n for n in names if not n.startswith("__")}


class _Boom:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        import os

        return (os.system, ("touch /tmp/guichet-pwned",))


@pytest.mark.parametrize(
    "data",
    [
        pickle.dumps(_Boom()),
        b"0123456789abcdef\n" + pickle.dumps(_Boom()),
        b"\x00\xff garbage \x80\x04",
        b"",
        b"[]",
        b'{"format": "guichet-checkpoint", "version": 99}',
        b'{"format": "something else", "version": 1}',
        b"[" * 100_000,
    ],
    ids=["pickle", "pickle-behind-stamp", "binary", "empty", "list", "version", "format", "deep"],
)
def test_a_checkpoint_that_is_not_ours_is_refused(data: bytes, tmp_path: object) -> None:
    from pathlib import Path

    marker = Path("/tmp/guichet-pwned")
    marker.unlink(missing_ok=True)
    catalogue, matrix = town(2)
    with pytest.raises(snapshot.CheckpointError):
        snapshot.restore(data, catalogue, matrix)
    assert not marker.exists()


def _tampered(mutate: object) -> bytes:
    doc = snapshot.document(_busy_router())
    mutate(doc)  # type: ignore[operator]
    return json.dumps(doc).encode()


@pytest.mark.parametrize(
    ("mutate", "says"),
    [
        (lambda d: d["contacts"][0].update(priority="2"), "priority: not an integer"),
        (lambda d: d["contacts"][0].update(channel="telepathy"), "not a valid Channel"),
        (lambda d: d["contacts"][0].update(__class__="os.system"), "unknown fields"),
        (lambda d: d["agents"][0].update(state="asleep"), "not a valid AgentState"),
        (lambda d: d["agents"][0].update(contact_id="nobody"), "unknown contact"),
        (lambda d: d["buckets"][0].update(process="no-such-process"), "not in the catalogue"),
        (lambda d: d["timers"].append([1e18, d["timers"][0][1], "wrap", "x", 1]), "same order"),
        (lambda d: d["timers"].insert(0, [1e18, 10**9, "wrap", "x", 1]), "not a heap"),
        (lambda d: d.pop("agents"), "inconsistent checkpoint"),
        (lambda d: d["ended"].append(["c", "vanished"]), "not a valid Outcome"),
    ],
    ids=["type", "enum", "extra-field", "agent-state", "dangling", "catalogue", "timer-order", "heap", "missing",
         "outcome"],
)
def test_a_tampered_checkpoint_is_refused_with_the_reason(mutate: object, says: str) -> None:
    catalogue, matrix = town(6, processes=3)
    with pytest.raises(snapshot.CheckpointError, match=says):
        snapshot.restore(_tampered(mutate), catalogue, matrix)
