"""Issue 9 items 1-2 in the core: a late answer is served, a gone caller's wait is the best evidence."""

from __future__ import annotations

from dispatcher import events as ev
from dispatcher.events import AgentState, Outcome
from tests.factories import agent
from tests.test_routing_rules import Desk, of, offers


def test_a_late_answer_after_the_ring_timer_took_the_offer_back_is_served() -> None:
    desk = Desk(agent("alice", {"passport": 3}), agent("bob", {"passport": 3}))
    desk.ready("alice", 0)
    assert offers(desk.arrive("c1", 1)) == [("c1", "alice")]
    # the dispatcher was away: the ring timer fired, alice is paused no_answer, c1 waits again
    desk(ev.TimePassed(at=60))
    assert desk.router.agents["alice"].state is AgentState.PAUSED
    assert desk.router.contacts["c1"].agent_id is None
    # Asterisk had bridged them meanwhile: the contact is with alice, alice busy
    out = desk(ev.ContactTakenOver(at=61, contact_id="c1", agent_id="alice"))
    assert not of(out, ev.Rejected)
    assert [(e.agent_id, e.state, e.contact_id) for e in of(out, ev.AgentStateChanged)] == [
        ("alice", AgentState.BUSY, "c1")
    ]
    # bob logging in takes nothing: c1 is no longer waiting
    assert offers(desk.ready("bob", 62)) == []
    ended = of(desk.finish("c1", 200), ev.ContactEnded)
    assert [(e.outcome, e.agent_id, e.waited) for e in ended] == [(Outcome.SERVED, "alice", 199.0)]


def test_a_takeover_is_refused_when_the_agent_holds_another_contact() -> None:
    desk = Desk(agent("alice", {"passport": 3}))
    desk.ready("alice", 0)
    desk.arrive("c1", 1)
    desk.arrive("c2", 2)
    out = desk(ev.ContactTakenOver(at=3, contact_id="c2", agent_id="alice"))
    assert [r.reason for r in of(out, ev.Rejected)] == ["contact is not waiting for alice"]
    assert desk.router.contacts["c1"].agent_id == "alice"
    # offered to alice: the takeover counts as her answer
    out = desk(ev.ContactTakenOver(at=4, contact_id="c1", agent_id="alice"))
    assert [(e.state, e.contact_id) for e in of(out, ev.AgentStateChanged)] == [(AgentState.BUSY, "c1")]


def test_an_abandon_ends_with_the_best_evidence_of_the_wait_flagged_approximate() -> None:
    desk = Desk(agent("alice", {"passport": 3}))
    desk.arrive("c1", 10)
    desk.arrive("c2", 10)
    desk.arrive("c3", 10)
    out = desk(ev.ContactAbandoned(at=100, contact_id="c1", left_at=40.0, approximate=True))
    out += desk(ev.ContactAbandoned(at=100, contact_id="c2", left_at=5.0, approximate=True))
    out += desk(ev.ContactAbandoned(at=100, contact_id="c3"))
    ended = {e.contact_id: (e.outcome, e.waited, e.approximate) for e in of(out, ev.ContactEnded)}
    assert ended == {
        "c1": (Outcome.ABANDONED, 30.0, True),
        "c2": (Outcome.ABANDONED, 0.0, True),  # clamped to the arrival
        "c3": (Outcome.ABANDONED, 90.0, False),
    }


def test_the_new_fields_are_validated_from_records() -> None:
    good = ev.ContactAbandoned(at=1.0, contact_id="c1", left_at=0.5, approximate=True)
    assert ev.loads(ev.dumps(good)) == good
    assert ev.from_record({"kind": "contact_abandoned", "at": 1, "contact_id": "c1"}).approximate is False
    for bad in ({"left_at": "soon"}, {"left_at": float("nan")}, {"approximate": 1}):
        try:
            ev.from_record({"kind": "contact_abandoned", "at": 1, "contact_id": "c1", **bad})
        except ValueError as exc:
            assert next(iter(bad)) in str(exc)
        else:
            raise AssertionError(bad)
    taken = ev.ContactTakenOver(at=1.0, contact_id="c1", agent_id="alice")
    assert ev.loads(ev.dumps(taken)) == taken
    assert ev.ContactTakenOver in ev.INPUT_TYPES
