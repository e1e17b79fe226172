"""Routing rules 1-7 of DESIGN.md, each by example."""

from __future__ import annotations

from typing import TypeVar

import pytest

from dispatcher import events as ev
from dispatcher.events import AgentState, DeclineReason, Event, Outcome
from dispatcher.policy import RoutingPolicy, Strategy
from dispatcher.router import Router
from tests.factories import CALLBACK, COUNTER, EMAIL, PHONE, agent, catalogue, matrix

READY, PAUSED, OFFLINE = AgentState.AVAILABLE, AgentState.PAUSED, AgentState.OFFLINE
E = TypeVar("E", bound=Event)


def offers(events: list[Event]) -> list[tuple[str, str]]:
    """(contact, agent) of every offer among ``events``."""
    return [(e.contact_id, e.agent_id) for e in events if isinstance(e, ev.ContactOffered)]


def of(events: list[Event], kind: type[E]) -> list[E]:
    return [e for e in events if isinstance(e, kind)]


class Desk:
    """A router with helpers that read like the front desk."""

    def __init__(self, *agents, policy: RoutingPolicy | None = None, **cat) -> None:
        self.router = Router(catalogue(**cat), matrix(*agents), policy or RoutingPolicy())
        self.log: list[Event] = []

    def __call__(self, event: Event) -> list[Event]:
        out = self.router.handle(event)
        self.log.extend(out)
        return out

    def ready(self, agent_id: str, at: float) -> list[Event]:
        return self(ev.AgentStatusSet(at=at, agent_id=agent_id, state=READY))

    def arrive(self, cid: str, at: float, process: str | None = "passport", channel=PHONE, priority: int = 0) -> list[Event]:
        return self(ev.ContactArrived(at=at, contact_id=cid, channel=channel, process=process, priority=priority))

    def finish(self, cid: str, at: float) -> list[Event]:
        return self(ev.ContactCompleted(at=at, contact_id=cid))


# ---------------------------------------------------------------- rule 1


def test_rule1_only_an_available_agent_with_skill_channel_and_level_is_offered() -> None:
    desk = Desk(
        agent("no_skill", {"creche": 3}),
        agent("counter_only", {"passport": 3}, COUNTER),
        agent("trainee", {"passport": 1}),
        agent("paused", {"passport": 3}),
        agent("right", {"passport": 2}),
    )
    for a in ("no_skill", "counter_only", "trainee", "right"):
        desk.ready(a, 0)
    desk.ready("paused", 0)
    desk(ev.AgentStatusSet(at=0.5, agent_id="paused", state=PAUSED, reason="lunch"))
    assert offers(desk.arrive("c1", 1)) == [("c1", "right")]


def test_rule1_nobody_eligible_means_the_contact_waits() -> None:
    desk = Desk(agent("a", {"creche": 3}))
    desk.ready("a", 0)
    out = desk.arrive("c1", 1)
    assert offers(out) == []
    assert of(out, ev.ContactQueued)[0].process == "passport"
    assert desk.router.position("c1") == 1


def test_rule1_unreachable_softphone_gets_no_call_but_still_counter_work() -> None:
    desk = Desk(agent("a", {"passport": 3}, PHONE, COUNTER))
    desk.ready("a", 0)
    desk(ev.EndpointChanged(at=0.5, agent_id="a", reachable=False))
    assert offers(desk.arrive("call", 1)) == []
    assert offers(desk.arrive("ticket", 2, channel=COUNTER)) == [("ticket", "a")]
    desk(ev.OfferAnswered(at=3, contact_id="ticket", agent_id="a"))
    desk.finish("ticket", 4)
    assert offers(desk(ev.EndpointChanged(at=30, agent_id="a", reachable=True))) == [("call", "a")]


# ---------------------------------------------------------------- rule 2


def test_rule2_priority_class_first() -> None:
    desk = Desk(agent("a", {"passport": 2}, PHONE, COUNTER))
    desk.arrive("old", 0)
    desk.arrive("urgent", 5, channel=COUNTER, priority=1)
    assert offers(desk.ready("a", 10)) == [("urgent", "a")]


def test_rule2_waited_time_relative_to_the_channel_sla() -> None:
    # phone SLA 20 s, counter SLA 600 s: 15 s on the phone is 0.75, 400 s at the counter 0.67.
    desk = Desk(agent("a", {"passport": 2}, PHONE, COUNTER))
    desk.arrive("ticket", 0, channel=COUNTER)
    desk.arrive("call", 385)
    assert offers(desk.ready("a", 400)) == [("call", "a")]
    desk2 = Desk(agent("a", {"passport": 2}, PHONE, COUNTER))
    desk2.arrive("ticket", 0, channel=COUNTER)
    desk2.arrive("call", 395)
    assert offers(desk2.ready("a", 400)) == [("ticket", "a")]


def test_rule2_arrival_order_breaks_ties() -> None:
    desk = Desk(agent("a", {"passport": 2, "creche": 2}))
    desk.arrive("first", 3, process="creche")
    desk.arrive("second", 3, process="passport")
    assert offers(desk.ready("a", 10)) == [("first", "a")]


def test_rule2_live_contacts_before_deferrable_ones() -> None:
    desk = Desk(agent("a", {"passport": 2}, PHONE, EMAIL))
    desk.arrive("mail", 0, channel=EMAIL)
    desk.arrive("call", 300_000)
    assert offers(desk.ready("a", 300_001)) == [("call", "a")]
    desk(ev.OfferAnswered(at=300_002, contact_id="call", agent_id="a"))
    out = desk.finish("call", 300_100)
    assert of(out, ev.AgentStateChanged)[-1].state is AgentState.WRAP_UP
    # blending: between live contacts the agent works the e-mail
    assert offers(desk(ev.TimePassed(at=300_110))) == [("mail", "a")]


# ---------------------------------------------------------------- rule 3


def test_rule3_most_suitable_then_idle_longest() -> None:
    desk = Desk(agent("competent", {"passport": 2}), agent("expert", {"passport": 3}), agent("expert2", {"passport": 3}))
    desk.ready("competent", 0)
    desk.ready("expert2", 2)
    desk.ready("expert", 1)
    assert offers(desk.arrive("c1", 5)) == [("c1", "expert")]
    assert offers(desk.arrive("c2", 6)) == [("c2", "expert2")]
    assert offers(desk.arrive("c3", 7)) == [("c3", "competent")]


def test_rule3_fewest_skills_keeps_scarce_experts_free() -> None:
    policy = RoutingPolicy(strategy=Strategy.FEWEST_SKILLS)
    desk = Desk(
        agent("polyvalent", {"passport": 3, "creche": 3, "voirie": 3}),
        agent("specialist", {"passport": 2}),
        policy=policy,
    )
    desk.ready("polyvalent", 0)
    desk.ready("specialist", 1)
    assert offers(desk.arrive("c1", 5)) == [("c1", "specialist")]


def test_rule3_least_occupied_balances_the_load() -> None:
    policy = RoutingPolicy(strategy=Strategy.LEAST_OCCUPIED, wrap_up_s=0.0)
    desk = Desk(agent("a", {"passport": 3}), agent("b", {"passport": 2}), policy=policy)
    desk.ready("a", 0)
    desk.ready("b", 0)
    assert offers(desk.arrive("c1", 10)) == [("c1", "a")]
    desk(ev.OfferAnswered(at=10, contact_id="c1", agent_id="a"))
    desk.finish("c1", 100)
    # a was busy 90 s of 100, b never: b takes the next one despite a lower level
    assert offers(desk.arrive("c2", 101)) == [("c2", "b")]


def test_rule3_batch_assignment_serves_more_contacts_than_greedy() -> None:
    # Both agents come back from wrap-up at the same instant. Greedy would give the
    # older passport call to the polyvalent agent first and strand the crèche call.
    def run(batch: bool) -> list[tuple[str, str]]:
        policy = RoutingPolicy(batch_assignment=batch, wrap_up_s=10.0)
        desk = Desk(agent("poly", {"passport": 2, "creche": 2}), agent("pass", {"passport": 2}), policy=policy)
        for name in ("poly", "pass"):
            desk.ready(name, 0)
            desk.arrive(f"warm-{name}", 0.5)
            desk(ev.OfferAnswered(at=0.6, contact_id=f"warm-{name}", agent_id=name))
        desk.finish("warm-poly", 1)
        desk.finish("warm-pass", 1)
        desk.arrive("passport-call", 2)
        desk.arrive("creche-call", 3, process="creche")
        return offers(desk(ev.TimePassed(at=11)))

    assert sorted(run(batch=True)) == [("creche-call", "poly"), ("passport-call", "pass")]
    assert run(batch=False) == [("passport-call", "poly")]


# ---------------------------------------------------------------- rule 4


def test_rule4_skill_relaxation_after_the_overflow_delay() -> None:
    desk = Desk(agent("trainee", {"passport": 1}))
    desk.ready("trainee", 0)
    assert offers(desk.arrive("c1", 1)) == []
    assert desk.router.next_timer_at() == 61
    assert offers(desk(ev.TimePassed(at=60))) == []
    out = desk(ev.TimePassed(at=61.5))
    relaxed = of(out, ev.ContactRelaxed)
    assert relaxed and relaxed[0].at == 61 and relaxed[0].min_level == 1
    assert offers(out) == [("c1", "trainee")]
    assert of(out, ev.ContactOffered)[0].waited == 60


def test_rule4_relaxed_contacts_keep_urgency_order_among_trainees() -> None:
    desk = Desk(agent("trainee", {"passport": 1, "creche": 1}))
    desk.arrive("late", 10, process="creche")
    desk.arrive("early", 0)
    desk(ev.TimePassed(at=100))
    assert offers(desk.ready("trainee", 100)) == [("early", "trainee")]


# ---------------------------------------------------------------- rule 5


def test_rule5_ring_no_answer_requeues_first_and_pauses_the_agent() -> None:
    desk = Desk(agent("sleepy", {"passport": 3}), agent("other", {"passport": 2}))
    desk.ready("sleepy", 0)
    desk.arrive("c1", 1)
    desk.arrive("c2", 2)
    out = desk(ev.TimePassed(at=30))
    assert of(out, ev.ContactRequeued)[0].contact_id == "c1"
    paused = [e for e in of(out, ev.AgentStateChanged) if e.agent_id == "sleepy"]
    assert paused[-1].state is PAUSED and paused[-1].reason == "no_answer"
    assert desk.router.position("c1") == 1
    assert offers(desk.ready("other", 31)) == [("c1", "other")]


def test_rule5_decline_from_asterisk_no_answer_and_busy() -> None:
    desk = Desk(agent("a", {"passport": 3}, PHONE, COUNTER))
    desk.ready("a", 0)
    desk.arrive("c1", 1)
    out = desk(ev.OfferDeclined(at=5, contact_id="c1", agent_id="a", reason=DeclineReason.BUSY))
    assert of(out, ev.ContactRequeued)[0].reason == "busy"
    # busy softphone: unreachable for calls, still available for the counter
    assert of(out, ev.AgentStateChanged)[-1].state is READY
    assert offers(desk.arrive("t1", 6, channel=COUNTER)) == [("t1", "a")]


def test_rule5_late_answer_after_requeue_is_rejected() -> None:
    desk = Desk(agent("a", {"passport": 3}))
    desk.ready("a", 0)
    desk.arrive("c1", 1)
    desk(ev.TimePassed(at=40))
    out = desk(ev.OfferAnswered(at=41, contact_id="c1", agent_id="a"))
    assert of(out, ev.Rejected)[0].reason == "contact is not offered to a"


# ---------------------------------------------------------------- rule 6


def test_rule6_abandon_while_waiting_records_the_wait() -> None:
    desk = Desk(agent("a", {"creche": 3}))
    desk.arrive("c1", 100)
    out = desk(ev.ContactAbandoned(at=142.5, contact_id="c1"))
    ended = of(out, ev.ContactEnded)[0]
    assert ended.outcome is Outcome.ABANDONED and ended.waited == 42.5
    assert len(desk.router.queue) == 0


def test_rule6_abandon_while_ringing_frees_the_agent() -> None:
    desk = Desk(agent("a", {"passport": 3}))
    desk.ready("a", 0)
    desk.arrive("c1", 1)
    out = desk(ev.ContactAbandoned(at=3, contact_id="c1"))
    assert of(out, ev.ContactEnded)[0].outcome is Outcome.ABANDONED
    assert of(out, ev.AgentStateChanged)[-1].state is READY


# ---------------------------------------------------------------- rule 7


def test_rule7_callback_keeps_the_callers_place_and_gets_a_deadline() -> None:
    desk = Desk(agent("a", {"passport": 3}, CALLBACK))
    desk.arrive("c1", 10)
    desk.arrive("c2", 20)
    out = desk(ev.CallbackRequested(at=60, contact_id="c2", callback_id="cb2", number="0601020304"))
    assert of(out, ev.ContactEnded)[0].outcome is Outcome.CALLBACK_SCHEDULED
    queued = of(out, ev.ContactQueued)[0]
    assert queued.channel is CALLBACK and queued.arrived_at == 20
    record = desk.router.contacts["cb2"]
    assert record.deadline == 60 + 48 * 3600 and record.caller == "0601020304"
    desk(ev.CallbackRequested(at=61, contact_id="c1", callback_id="cb1"))
    assert offers(desk.ready("a", 62)) == [("cb1", "a")]


# ------------------------------------------------------ triage, lifecycle


def test_unqualified_contact_goes_to_triage_and_requalification_keeps_arrival() -> None:
    desk = Desk(agent("generalist", {"triage": 2}), agent("expert", {"creche": 3}))
    desk.ready("generalist", 0)
    out = desk.arrive("c1", 5, process=None)
    assert of(out, ev.ContactQueued)[0].process == "triage"
    assert offers(out) == [("c1", "generalist")]
    desk(ev.OfferAnswered(at=6, contact_id="c1", agent_id="generalist"))
    desk.arrive("c2", 7, process="creche")
    out = desk(ev.ContactQualified(at=30, contact_id="c1", process="creche"))
    assert of(out, ev.ContactRequeued)[0].reason == "requalified"
    assert of(out, ev.ContactQueued)[0].arrived_at == 5
    assert offers(desk.ready("expert", 31)) == [("c1", "expert")]


def test_unknown_process_code_falls_back_to_triage() -> None:
    desk = Desk(agent("generalist", {"triage": 2}))
    out = desk.arrive("c1", 0, process="no-such-process")
    assert of(out, ev.ContactQueued)[0].process == "triage"


def test_wrap_up_then_available_and_pause_after_the_current_contact() -> None:
    desk = Desk(agent("a", {"passport": 3}))
    desk.ready("a", 0)
    desk.arrive("c1", 1)
    desk(ev.OfferAnswered(at=2, contact_id="c1", agent_id="a"))
    assert desk(ev.AgentStatusSet(at=3, agent_id="a", state=PAUSED, reason="formation")) == []
    out = desk.finish("c1", 100)
    assert of(out, ev.AgentStateChanged)[-1].state is PAUSED
    assert of(out, ev.AgentStateChanged)[-1].reason == "formation"
    desk.ready("a", 200)
    desk.arrive("c2", 201)
    desk(ev.OfferAnswered(at=202, contact_id="c2", agent_id="a"))
    out = desk.finish("c2", 300)
    assert of(out, ev.AgentStateChanged)[-1].state is AgentState.WRAP_UP
    assert of(desk(ev.TimePassed(at=310)), ev.AgentStateChanged)[-1].state is READY


def test_counter_ticket_left_at_closing_time_expires() -> None:
    desk = Desk(agent("a", {"creche": 3}))
    desk.arrive("t1", 0, channel=COUNTER)
    out = desk(ev.TimePassed(at=9 * 3600))
    assert of(out, ev.ContactEnded)[0].outcome is Outcome.EXPIRED


def test_agent_logging_out_while_ringing_sends_the_contact_back() -> None:
    desk = Desk(agent("a", {"passport": 3}), agent("b", {"passport": 2}))
    desk.ready("a", 0)
    desk.ready("b", 0)
    desk.arrive("c1", 1)
    out = desk(ev.AgentStatusSet(at=2, agent_id="a", state=OFFLINE))
    assert offers(out) == [("c1", "b")]


@pytest.mark.parametrize(
    "event, reason",
    [
        (ev.ContactAbandoned(at=1, contact_id="ghost"), "unknown contact"),
        (ev.OfferAnswered(at=1, contact_id="ghost", agent_id="a"), "unknown contact"),
        (ev.AgentStatusSet(at=1, agent_id="nobody", state=READY), "unknown agent"),
        (ev.AgentStatusSet(at=1, agent_id="a", state=AgentState.BUSY), "an agent cannot ask for busy"),
        (ev.ContactCompleted(at=1, contact_id="waiting"), "contact is not with an agent"),
        (ev.AgentProfileChanged(at=1, agent_id="a", skills={"nope": 2}, channels=(PHONE,)), "unknown process 'nope'"),
    ],
)
def test_bad_inputs_are_rejected_with_a_reason_and_change_nothing(event: Event, reason: str) -> None:
    desk = Desk(agent("a", {"creche": 3}))
    desk.arrive("waiting", 0)
    before = (len(desk.router.queue), {k: a.state for k, a in desk.router.agents.items()})
    out = desk(event)
    assert [e.reason for e in of(out, ev.Rejected)] == [reason]
    assert (len(desk.router.queue), {k: a.state for k, a in desk.router.agents.items()}) == before


def test_duplicate_arrival_is_rejected_not_duplicated() -> None:
    desk = Desk(agent("a", {"creche": 3}))
    desk.arrive("c1", 0)
    out = desk.arrive("c1", 1)
    assert of(out, ev.Rejected)[0].reason == "contact already known"
    assert len(desk.router.queue) == 1


def test_estimated_wait_grows_with_the_queue_and_is_zero_with_a_free_agent() -> None:
    desk = Desk(agent("a", {"passport": 3}), agent("b", {"passport": 3}))
    desk.ready("a", 0)
    assert desk.router.estimated_wait("passport", PHONE, 1) == 0.0
    desk(ev.AgentStatusSet(at=1, agent_id="a", state=PAUSED))
    desk.ready("b", 1)
    desk.arrive("c1", 2)
    desk.arrive("c2", 3)
    one_ahead = desk.router.estimated_wait("passport", PHONE, 4)
    desk.arrive("c3", 5)
    assert desk.router.estimated_wait("passport", PHONE, 6) > one_ahead > 0
    assert desk.router.estimated_wait("creche", PHONE, 6) == float("inf")


def test_rule4_wider_group_a_contact_nobody_can_take_goes_to_the_generalists() -> None:
    desk = Desk(agent("generalist", {"triage": 2}))
    desk.ready("generalist", 0)
    assert offers(desk.arrive("c1", 10, process="voirie")) == []
    assert offers(desk(ev.TimePassed(at=129))) == []
    out = desk(ev.TimePassed(at=131))
    assert [e.reason for e in of(out, ev.ContactRequeued)] == ["fallback"]
    queued = of(out, ev.ContactQueued)[0]
    assert (queued.process, queued.arrived_at) == ("triage", 10)
    assert offers(out) == [("c1", "generalist")]


def test_rule4_no_wider_group_when_the_policy_says_never() -> None:
    desk = Desk(agent("generalist", {"triage": 2}), policy=RoutingPolicy(fallback_after_overflows=None))
    desk.ready("generalist", 0)
    desk.arrive("c1", 10, process="voirie")
    assert offers(desk(ev.TimePassed(at=10_000))) == []


def test_requalified_while_ringing_an_agent_who_holds_the_new_process_keeps_the_offer() -> None:
    desk = Desk(agent("generalist", {"triage": 2, "passport": 2}), agent("pass", {"passport": 3}))
    desk.ready("generalist", 0)
    assert offers(desk.arrive("c1", 1, process=None)) == [("c1", "generalist")]
    out = desk(ev.ContactQualified(at=2, contact_id="c1", process="passport"))
    # the offer stands, and the stream says the process changed (issue 14 item 5)
    assert out == [ev.ContactRequalified(at=2, contact_id="c1", process="passport", agent_id="generalist")]
    assert desk.router.contacts["c1"].process == "passport"
    desk(ev.OfferAnswered(at=3, contact_id="c1", agent_id="generalist"))
    assert of(desk.finish("c1", 60), ev.ContactEnded)[0].outcome is Outcome.SERVED


def test_requalified_while_ringing_an_agent_without_the_process_goes_back_to_the_queue() -> None:
    desk = Desk(agent("generalist", {"triage": 2}), agent("expert", {"creche": 3}))
    desk.ready("generalist", 0)
    desk.ready("expert", 0)
    desk.arrive("c1", 1, process=None)
    out = desk(ev.ContactQualified(at=2, contact_id="c1", process="creche"))
    assert [e.reason for e in of(out, ev.ContactRequeued)] == ["requalified"]
    assert offers(out) == [("c1", "expert")]
