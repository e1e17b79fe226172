"""The event classes themselves: each one's ``fields`` is exactly what its ``__init__`` takes and sets."""

from __future__ import annotations

import ast
import pickle
from pathlib import Path

import pytest

from dispatcher import events as ev
from skills.model import Channel

SOURCE = Path(ev.__file__).with_name("events.py")


def _classes() -> dict[str, ast.ClassDef]:
    tree = ast.parse(SOURCE.read_text(encoding="utf-8"))
    return {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}


@pytest.mark.parametrize("name", sorted(cls.__name__ for cls in ev.EVENT_TYPES.values()))
def test_fields_match_the_constructor(name: str) -> None:
    node = _classes()[name]
    init = next(f for f in node.body if isinstance(f, ast.FunctionDef) and f.name == "__init__")
    params = [a.arg for a in init.args.kwonlyargs]
    assigned = [
        t.attr
        for stmt in init.body
        if isinstance(stmt, ast.Assign)
        for t in stmt.targets
        if isinstance(t, ast.Attribute)
    ]
    assert list(getattr(ev, name).fields) == params == assigned


def test_equality_repr_and_pickle_follow_the_fields() -> None:
    offer = ev.ContactOffered(
        at=1.0,
        contact_id="c1",
        agent_id="a1",
        process="passport",
        channel=Channel.PHONE,
        level=3,
        waited=2.5,
    )
    same = pickle.loads(pickle.dumps(offer))
    assert same == offer and same is not offer
    assert offer != ev.ContactOffered(
        at=1.0,
        contact_id="c1",
        agent_id="a2",
        process="passport",
        channel=Channel.PHONE,
        level=3,
        waited=2.5,
    )
    assert offer != ev.ContactRequeued(at=1.0, contact_id="c1", reason="x")
    assert repr(offer).startswith("ContactOffered(at=1.0, contact_id='c1', agent_id='a1'")
    assert ev.loads(ev.dumps(offer)) == offer
    assert offer.kind == "contact_offered" and not offer.is_input
    assert ev.TimePassed(at=3.0).is_input


def test_bad_records_are_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="unknown event kind 'nope'"):
        ev.from_record({"kind": "nope", "at": 1.0})
    with pytest.raises(ValueError, match="contact_abandoned: unknown field 'who'"):
        ev.from_record({"kind": "contact_abandoned", "at": 1.0, "contact_id": "c", "who": 1})
    with pytest.raises(ValueError, match="contact_abandoned"):
        ev.from_record({"kind": "contact_abandoned", "at": 1.0})
