"""The six violations of the design an outside fuzzer found (issue 14), each as it was reported."""

from __future__ import annotations

import math
from itertools import pairwise

import pytest

from dispatcher import compiled
from dispatcher import events as ev
from dispatcher.events import AgentState, DeclineReason, Event, Outcome
from dispatcher.history.fold import Fold
from dispatcher.policy import RoutingPolicy
from skills.model import Channel
from tests.factories import COUNTER, PHONE, agent
from tests.test_routing_rules import Desk, of, offers


def times_never_go_back(events: list[Event]) -> bool:
    return all(a.at <= b.at for a, b in pairwise(events))


def kinds(events: list[Event]) -> list[str]:
    return [e.kind for e in events]


# ------------------------------------------------------------------ case 1


def test_case1_requalification_after_the_fallback_time_is_not_undone() -> None:
    desk = Desk(agent("triage", {"triage": 2}), agent("passport", {"passport": 3}))
    desk.ready("triage", 0)
    desk.arrive("c1", 0, process=None)  # fallback delay: two overflow delays, 120 s
    desk(ev.OfferAnswered(at=1, contact_id="c1", agent_id="triage"))
    # a 3-minute triage conversation ends by re-qualifying the call to passport
    out = desk(ev.ContactQualified(at=180, contact_id="c1", process="passport"))
    queued = of(out, ev.ContactQueued)
    assert [(q.process, q.arrived_at) for q in queued] == [("passport", 0)]
    # the next events do not send it back to triage: its fallback counts from 180
    for at in (181, 200, 299):
        assert of(desk(ev.TimePassed(at=at)), ev.ContactRequeued) == []
    assert desk.router.contacts["c1"].process == "passport"
    assert offers(desk.ready("passport", 299.5)) == [("c1", "passport")]
    assert times_never_go_back(desk.log)


def test_case1_a_contact_restored_with_an_old_arrival_decides_at_its_own_time() -> None:
    desk = Desk(agent("triage", {"triage": 2}))
    desk.ready("triage", 0)
    desk(ev.TimePassed(at=500))
    # found again after a restart: arrived at 0, so relaxation and fallback are long due
    out = desk(ev.ContactArrived(at=1000, contact_id="c1", channel=PHONE, process="passport", arrived_at=0))
    assert kinds(out) == [
        "contact_queued", "contact_relaxed", "contact_requeued", "contact_queued", "contact_relaxed",
        "contact_offered", "agent_state_changed",
    ]
    assert {e.at for e in out} == {1000}
    assert desk.router.next_timer_at() == 1020  # the ring-no-answer of that offer
    assert times_never_go_back(desk.log)


# ------------------------------------------------------------------ case 2


def counter_policy(max_wait: float) -> RoutingPolicy:
    base = RoutingPolicy()
    return RoutingPolicy(max_wait_s=base.max_wait_s | {Channel.COUNTER: max_wait})


def test_case2_a_contact_offered_at_its_expiry_instant_still_expires() -> None:
    desk = Desk(agent("a", {"passport": 2}, COUNTER), policy=counter_policy(100))
    desk.arrive("t1", 0, channel=COUNTER)
    # the agent is ready at the very instant the ticket reaches its maximum wait
    out = desk.ready("a", 100)
    assert [(e.contact_id, e.outcome) for e in of(out, ev.ContactEnded)] == [("t1", Outcome.EXPIRED)]
    assert offers(out) == []
    # a ticket restored with its maximum wait already reached is never offered
    out = desk(ev.ContactArrived(at=300, contact_id="t2", channel=COUNTER, process="passport", arrived_at=200))
    assert kinds(out) == ["contact_queued", "contact_ended"]


def test_case2_a_contact_declined_after_its_expiry_expires_when_it_comes_back() -> None:
    desk = Desk(agent("a", {"passport": 2}, COUNTER), agent("b", {"passport": 2}, COUNTER), policy=counter_policy(100))
    desk.ready("a", 0)
    assert offers(desk.arrive("t1", 50, channel=COUNTER)) == [("t1", "a")]
    assert desk(ev.TimePassed(at=150)) == []  # the agent holds it: no expiry meanwhile
    desk.ready("b", 160)
    out = desk(ev.OfferDeclined(at=170, contact_id="t1", agent_id="a", reason=DeclineReason.REJECTED))
    assert kinds(out)[:2] == ["contact_requeued", "contact_ended"]
    assert of(out, ev.ContactEnded)[0].outcome is Outcome.EXPIRED
    assert offers(out) == []


def test_case2_every_contact_keeps_its_timers_through_offer_decline_and_requeue() -> None:
    desk = Desk(agent("a", {"passport": 2}), agent("triage", {"triage": 2}))
    desk.ready("a", 0)
    desk.arrive("c1", 0)  # relaxes at 60, falls back at 120
    desk(ev.OfferDeclined(at=1, contact_id="c1", agent_id="a", reason=DeclineReason.REJECTED))
    assert desk.router.next_timer_at() == 60
    desk.ready("a", 100)  # offered again at 100; the fallback time passes while it rings
    assert desk(ev.TimePassed(at=119)) == []
    out = desk(ev.TimePassed(at=130))  # ring-no-answer at 120: back, and the fallback is due
    assert [e.reason for e in of(out, ev.ContactRequeued)] == ["no_answer", "fallback"]
    assert [q.process for q in of(out, ev.ContactQueued)] == ["triage"]
    desk.ready("triage", 140)
    assert offers(desk.log)[-1] == ("c1", "triage")
    assert times_never_go_back(desk.log)


# ------------------------------------------------------------------ case 3


def test_case3_batch_considers_relaxed_contacts_below_the_head() -> None:
    trainee = agent("trainee", {"passport": 1, "voirie": 2})
    other = agent("other", {"voirie": 2})
    desk = Desk(trainee, other, policy=RoutingPolicy(wrap_up_s=10))
    desk.ready("trainee", 0)
    desk.ready("other", 0)
    desk.arrive("x1", 1, process="voirie")
    desk.arrive("x2", 2, process="voirie")
    for cid, who in (("x1", "trainee"), ("x2", "other")):
        desk(ev.OfferAnswered(at=3, contact_id=cid, agent_id=who))
    desk.arrive("p", 50)  # the trainee may take it from 110 by relaxation
    desk.arrive("p0", 100, priority=5)  # more urgent, not yet relaxed
    desk.arrive("v", 105, process="voirie")
    desk.finish("x1", 110)
    desk.finish("x2", 110)
    out = desk(ev.TimePassed(at=120))  # both wrap-ups end at once
    assert sorted(offers(out)) == [("p", "trainee"), ("v", "other")]


def batch_desk() -> Desk:
    a = agent("a", {"passport": 3, "creche": 2})
    b = agent("b", {"creche": 2})
    desk = Desk(a, b, policy=RoutingPolicy(wrap_up_s=10))
    for who in ("a", "b"):
        desk.ready(who, 0)
    desk.arrive("x1", 1, process="creche")
    desk.arrive("x2", 1, process="creche")
    for cid in ("x1", "x2"):
        offered = next(e for e in desk.log if isinstance(e, ev.ContactOffered) and e.contact_id == cid)
        desk(ev.OfferAnswered(at=2, contact_id=cid, agent_id=offered.agent_id))
    return desk


def test_case3_batch_weights_never_trade_urgency_for_an_agents_level() -> None:
    desk = batch_desk()
    desk.arrive("c1", 10.0, process="creche")
    desk.arrive("c2", 10.01, process="creche")
    desk.arrive("p1", 10.02, process="passport")  # the least urgent, but "a" is an expert
    desk.finish("x1", 20)
    desk.finish("x2", 20)
    out = desk(ev.TimePassed(at=30))
    assert sorted(c for c, _a in offers(out)) == ["c1", "c2"]


def test_case3_batch_keeps_arrival_order_between_otherwise_equal_contacts() -> None:
    desk = batch_desk()
    desk.arrive("c1", 10, process="creche")
    desk.arrive("c2", 20, process="creche")
    desk.arrive("p1", 20, process="passport")  # same wait as c2, arrived after it
    desk.finish("x1", 25)
    desk.finish("x2", 25)
    out = desk(ev.TimePassed(at=35))
    assert sorted(c for c, _a in offers(out)) == ["c1", "c2"]


# ------------------------------------------------------------------ case 4


@pytest.mark.parametrize("first_priority", [0, 5])
def test_case4_contacts_takeable_at_the_same_instant_go_by_urgency(first_priority: int) -> None:
    desk = Desk(agent("trainee", {"passport": 1, "creche": 1}))
    desk.ready("trainee", 0)
    desk.arrive("first", 0, priority=first_priority)
    desk.arrive("second", 0, process="creche", priority=5 - first_priority)
    out = desk(ev.TimePassed(at=60))  # both relax at 60, in the order their timers were set
    urgent = "first" if first_priority == 5 else "second"
    assert offers(out) == [(urgent, "trainee")]


def test_case4_same_instant_ties_follow_waited_time_then_arrival() -> None:
    desk = Desk(agent("trainee", {"passport": 1, "creche": 1, "voirie": 1}))
    desk.ready("trainee", 0)
    desk.arrive("late", 10, process="voirie")  # relaxes at 70
    desk.arrive("early", 5, process="creche")  # relaxes at 65
    desk(ev.AgentStatusSet(at=64, agent_id="trainee", state=AgentState.PAUSED, reason="x"))
    out = desk.ready("trainee", 80)
    assert offers(out) == [("early", "trainee")]


# ------------------------------------------------------------------ case 5


def test_case5_a_re_tag_is_a_decision_the_history_sees() -> None:
    desk = Desk(agent("generalist", {"triage": 2, "passport": 2}))
    desk.ready("generalist", 0)
    desk.arrive("c1", 1, process=None)
    out = desk(ev.ContactQualified(at=2, contact_id="c1", process="passport"))
    assert out == [ev.ContactRequalified(at=2, contact_id="c1", process="passport", agent_id="generalist")]
    desk(ev.OfferAnswered(at=3, contact_id="c1", agent_id="generalist"))
    desk.finish("c1", 50)
    fold = Fold(triage="triage", callback_deadline_s=3600)
    for seq, event in enumerate(desk.log, 1):
        fold.add(seq, event)
    assert fold.contacts["c1"]["process"] == "passport"


def test_case5_a_ringing_contact_ends_before_its_agent_changes_state() -> None:
    desk = Desk(agent("a", {"passport": 2}), policy=RoutingPolicy(wrap_up_s=0))
    desk.ready("a", 0)
    desk.arrive("c1", 1)
    out = desk(ev.ContactAbandoned(at=2, contact_id="c1"))
    assert kinds(out) == ["contact_ended", "agent_state_changed"]
    desk.arrive("c2", 3)
    out = desk(ev.CallbackRequested(at=4, contact_id="c2", callback_id="cb2"))
    assert kinds(out)[:3] == ["contact_ended", "agent_state_changed", "contact_queued"]
    assert of(out, ev.ContactEnded)[0].outcome is Outcome.CALLBACK_SCHEDULED


# ------------------------------------------------------------------ case 6


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ({"kind": "contact_arrived", "at": 1, "contact_id": "c", "channel": "phone", "priority": "2"}, "priority"),
        ({"kind": "contact_arrived", "at": "10", "contact_id": "c", "channel": "phone"}, "at"),
        ({"kind": "time_passed", "at": None}, "at"),
        ({"kind": "time_passed", "at": math.nan}, "at"),
        ({"kind": "time_passed", "at": True}, "at"),
        ({"kind": "agent_profile_changed", "at": 1, "agent_id": "a", "skills": {"passport": "3"}, "channels": []}, "skills"),
        ({"kind": "agent_profile_changed", "at": 1, "agent_id": "a", "skills": {}, "channels": ["fax"]}, "channels"),
        ({"kind": "endpoint_changed", "at": 1, "agent_id": "a", "reachable": "yes"}, "reachable"),
        ({"kind": "contact_arrived", "at": 1, "contact_id": 7, "channel": "phone"}, "contact_id"),
        ({"kind": "offer_declined", "at": 1, "contact_id": "c", "agent_id": "a", "reason": "tired"}, "reason"),
    ],
)
def test_case6_ill_typed_records_are_refused_at_the_edge(record: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=f"{record['kind']}: field '{field}': expected"):
        ev.from_record(record)


def test_case6_well_typed_records_still_load_with_integer_times() -> None:
    event = ev.from_record({"kind": "contact_arrived", "at": 10, "contact_id": "c", "channel": "phone", "priority": 2})
    assert event == ev.ContactArrived(at=10.0, contact_id="c", channel=Channel.PHONE, priority=2)
    assert isinstance(event.at, float)


def twins(*agents_: object) -> tuple[Desk, Desk]:
    desks = (Desk(*agents_), Desk(*agents_))
    for desk in desks:
        desk.ready("a", 0)
        desk.arrive("c0", 1, process="creche")
    return desks


def test_case6_an_ill_typed_profile_is_rejected_whole_and_the_agent_keeps_working() -> None:
    hit, twin = twins(agent("a", {"passport": 2}), agent("b", {"creche": 2}))
    bad = ev.AgentProfileChanged(at=5, agent_id="a", skills={"passport": "3"}, channels=(PHONE,))  # type: ignore[dict-item]
    out = hit(bad)
    assert [(r.input_kind, r.subject) for r in of(out, ev.Rejected)] == [("agent_profile_changed", "a")]
    assert "skills" in of(out, ev.Rejected)[0].reason
    assert [e for e in out if not isinstance(e, ev.Rejected)] == twin(ev.TimePassed(at=5))
    # the available agent is still offered what it can take, exactly as its twin is
    assert offers(hit.arrive("c1", 6)) == offers(twin.arrive("c1", 6)) == [("c1", "a")]


def test_case6_ill_typed_scalars_never_reach_the_core() -> None:
    hit, twin = twins(agent("a", {"passport": 2}))

    def bad_arrival() -> Event:
        return ev.ContactArrived(at=5, contact_id="c1", channel=PHONE, process="passport", priority="2")  # type: ignore[arg-type]

    if compiled.compiled_modules():
        # compiled, the event cannot even be built with a string priority
        with pytest.raises(TypeError):
            bad_arrival()
        return
    out = hit(bad_arrival())
    assert [r.reason for r in of(out, ev.Rejected)] == ["field 'priority': expected an integer, got '2'"]
    assert "c1" not in hit.router.contacts
    assert offers(hit.arrive("c1", 6)) == offers(twin.arrive("c1", 6)) == [("c1", "a")]


def test_case6_nothing_raises_out_of_handle() -> None:
    desk = Desk(agent("a", {"passport": 2}))
    for thing in (None, "contact_arrived", 42, ev.ContactOffered(
        at=1, contact_id="c", agent_id="a", process="passport", channel=PHONE, level=2, waited=0.0
    )):
        out = desk.router.handle(thing)  # type: ignore[arg-type]
        assert [e.kind for e in out] == ["rejected"]
        assert not of(out, ev.Rejected)[0].reason.startswith("internal error")


# ------------------------------------------------------------------ sites (issue 10 item 2)


def test_a_visitor_waits_for_a_counter_of_their_own_site_whatever_comes_first() -> None:
    town, annexe = agent("town", {"passport": 3}, COUNTER, PHONE), agent("annexe", {"passport": 3}, COUNTER, PHONE)
    for batch in (False, True):
        desk = Desk(town, annexe, policy=RoutingPolicy(batch_assignment=batch, wrap_up_s=0.0))
        desk(ev.AgentProfileChanged(at=0, agent_id="town", skills={"passport": 3}, channels=(COUNTER, PHONE), site="hdv"))
        desk(ev.AgentProfileChanged(at=0, agent_id="annexe", skills={"passport": 3}, channels=(COUNTER, PHONE), site="annexe"))
        # the annexe's visitor is the most urgent of the counter bucket, and waits
        desk(ev.ContactArrived(at=1, contact_id="v-annexe", channel=COUNTER, process="passport", site="annexe"))
        desk(ev.ContactArrived(at=2, contact_id="v-hdv", channel=COUNTER, process="passport", site="hdv"))
        # the town hall agent frees up first: it passes over the head for its own site's visitor
        assert offers(desk.ready("town", 3)) == [("v-hdv", "town")]
        assert desk.router.contacts["v-annexe"].agent_id is None
        assert offers(desk.ready("annexe", 4)) == [("v-annexe", "annexe")]
        # a caller has no site: the annexe's agent, free again, takes one
        desk.finish("v-annexe", 5)
        assert offers(desk.arrive("call", 6)) == [("call", "annexe")]
