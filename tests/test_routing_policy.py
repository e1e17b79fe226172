"""Policy knobs of the core that the phone desk relies on (issue 12 items 1, 2, 7; issue 9 item 7)."""

from __future__ import annotations

from dispatcher import events as ev
from dispatcher.events import AgentState, DeclineReason, Event, Outcome
from dispatcher.policy import RoutingPolicy
from tests.factories import COUNTER, PHONE, agent
from tests.test_routing_rules import Desk, of, offers

BUSY, UNAVAILABLE, NO_ANSWER = DeclineReason.BUSY, DeclineReason.UNAVAILABLE, DeclineReason.NO_ANSWER


def decline(desk: Desk, cid: str, agent_id: str, at: float, reason: DeclineReason) -> list[Event]:
    return desk(ev.OfferDeclined(at=at, contact_id=cid, agent_id=agent_id, reason=reason))


def endpoint(desk: Desk, agent_id: str, at: float, reachable: bool) -> list[Event]:
    return desk(ev.EndpointChanged(at=at, agent_id=agent_id, reachable=reachable))


def states(events: list[Event], agent_id: str) -> list[tuple[float, AgentState, str | None]]:
    return [(e.at, e.state, e.reason) for e in of(events, ev.AgentStateChanged) if e.agent_id == agent_id]


# ------------------------------------------------------------ busy back-off


def test_busy_decline_keeps_the_agent_from_calls_for_the_back_off_whatever_the_device_says() -> None:
    desk = Desk(agent("a", {"passport": 2}, PHONE, COUNTER), agent("b", {"passport": 2}))
    desk.ready("a", 0)
    assert offers(desk.arrive("c1", 1)) == [("c1", "a")]
    out = decline(desk, "c1", "a", 2, BUSY)
    assert states(out, "a") == [(2, AgentState.AVAILABLE, None)]
    # Asterisk says NOT_INUSE right after the 486: the agent stays out of calls
    assert endpoint(desk, "a", 2.1, True) == []
    assert offers(desk.arrive("c2", 3)) == []
    # counter work is no phone call: it still reaches the agent during the back-off
    assert offers(desk.arrive("t1", 10, channel=COUNTER)) == [("t1", "a")]
    desk(ev.OfferAnswered(at=11, contact_id="t1", agent_id="a"))
    desk.finish("t1", 15)
    assert offers(desk(ev.TimePassed(at=31.9))) == []  # wrap-up ended at 25, the back-off runs
    # the back-off ends at 32: the caller who rang the busy phone is offered again, first in line
    assert desk.router.next_timer_at() == 32.0
    out = desk(ev.TimePassed(at=40))
    assert offers(out) == [("c1", "a")] and out[0].at == 32


def test_the_same_caller_is_not_re_offered_to_the_busy_agent_within_the_back_off() -> None:
    desk = Desk(agent("a", {"passport": 2}), agent("b", {"passport": 2}), policy=RoutingPolicy(busy_backoff_s=30))
    desk.ready("a", 0)
    desk.arrive("c1", 1)
    out = decline(desk, "c1", "a", 2, BUSY)
    endpoint(desk, "a", 2, True)
    desk.ready("b", 5)
    assert offers(desk.log) == [("c1", "a"), ("c1", "b")]
    decline(desk, "c1", "b", 6, BUSY)
    endpoint(desk, "b", 6, True)
    desk(ev.TimePassed(at=31))
    assert offers(desk.log)[2:] == []
    out = desk(ev.TimePassed(at=32))
    assert offers(out) == [("c1", "a")]


def test_after_the_back_off_reachability_is_that_of_the_last_device_state() -> None:
    desk = Desk(agent("a", {"passport": 2}), policy=RoutingPolicy(busy_backoff_s=30))
    desk.ready("a", 0)
    desk.arrive("c1", 1)
    # the device state arrives before the decline (the order Asterisk may use): never stuck
    endpoint(desk, "a", 1.5, True)
    decline(desk, "c1", "a", 2, BUSY)
    assert offers(desk(ev.TimePassed(at=32))) == [("c1", "a")]
    decline(desk, "c1", "a", 33, BUSY)
    endpoint(desk, "a", 40, True)
    endpoint(desk, "a", 50, False)
    assert offers(desk(ev.TimePassed(at=63))) == []  # last said: unreachable
    assert not desk.router.agents["a"].reachable
    assert offers(endpoint(desk, "a", 70, True)) == [("c1", "a")]


def test_unavailable_decline_makes_the_agent_unreachable_at_once_until_the_device_says_so() -> None:
    desk = Desk(agent("a", {"passport": 2}, PHONE, COUNTER), policy=RoutingPolicy(fallback_after_overflows=None))
    desk.ready("a", 0)
    desk.arrive("c1", 1)
    decline(desk, "c1", "a", 2, UNAVAILABLE)
    assert offers(desk(ev.TimePassed(at=3600))) == []
    assert offers(desk.arrive("t1", 3601, channel=COUNTER)) == [("t1", "a")]
    desk.finish("t1", 3700)
    desk(ev.TimePassed(at=3800))
    assert offers(endpoint(desk, "a", 3900, True)) == [("c1", "a")]


# ------------------------------------------------------- automatic unpause


def test_no_answer_pause_ends_by_itself_when_the_policy_says_so() -> None:
    desk = Desk(agent("a", {"passport": 2}), policy=RoutingPolicy(no_answer_unpause_s=45))
    desk.ready("a", 0)
    desk.arrive("c1", 1)
    out = desk(ev.TimePassed(at=21))  # ring-no-answer after 20 s
    assert states(out, "a") == [(21, AgentState.PAUSED, "no_answer")]
    assert states(desk(ev.TimePassed(at=65.9)), "a") == []
    out = desk(ev.TimePassed(at=66))
    assert states(out, "a")[:1] == [(66, AgentState.AVAILABLE, None)]
    assert offers(out) == [("c1", "a")]


def test_no_answer_pause_stays_by_default_and_other_pauses_never_end_by_themselves() -> None:
    desk = Desk(agent("a", {"passport": 2}), agent("b", {"passport": 2}))
    desk.ready("a", 0)
    desk.arrive("c1", 1)
    decline(desk, "c1", "a", 2, NO_ANSWER)
    desk(ev.TimePassed(at=100_000))
    assert desk.router.agents["a"].state is AgentState.PAUSED

    desk = Desk(agent("a", {"passport": 2}), policy=RoutingPolicy(no_answer_unpause_s=45))
    desk.ready("a", 0)
    desk.arrive("c1", 1)
    decline(desk, "c1", "a", 2, NO_ANSWER)
    # the agent pauses for lunch meanwhile: the automatic return no longer applies
    desk(ev.AgentStatusSet(at=10, agent_id="a", state=AgentState.PAUSED, reason="lunch"))
    assert states(desk(ev.TimePassed(at=100)), "a") == []
    assert desk.router.agents["a"].reason == "lunch"


def test_ready_before_the_automatic_unpause_gives_one_state_change_only() -> None:
    desk = Desk(agent("a", {"passport": 2}), policy=RoutingPolicy(no_answer_unpause_s=45))
    desk.ready("a", 0)
    desk.arrive("c1", 1)
    decline(desk, "c1", "a", 2, NO_ANSWER)
    assert offers(desk.ready("a", 10)) == [("c1", "a")]
    desk(ev.OfferAnswered(at=11, contact_id="c1", agent_id="a"))
    assert states(desk(ev.TimePassed(at=47)), "a") == []


# ------------------------------------------------ a contact's timers die with its wait


def test_no_relaxation_fallback_or_expiry_for_a_contact_with_an_agent_or_ended() -> None:
    desk = Desk(agent("a", {"passport": 3}), agent("t", {"passport": 1}))
    desk.ready("a", 0)
    desk.arrive("c1", 1)  # overflow 60 s: would relax at 61, fall back at 121
    desk(ev.OfferAnswered(at=2, contact_id="c1", agent_id="a"))
    desk.arrive("c2", 3)
    desk(ev.ContactAbandoned(at=4, contact_id="c2"))
    out = desk(ev.TimePassed(at=500))
    assert of(out, ev.ContactRelaxed) == [] and of(out, ev.ContactRequeued) == []
    assert desk.router.next_timer_at() is None
    assert desk.finish("c1", 600)[0] == ev.ContactEnded(
        at=600, contact_id="c1", outcome=Outcome.SERVED, agent_id="a", waited=599
    )


def test_a_contact_ringing_past_its_overflow_relaxes_only_if_it_comes_back() -> None:
    desk = Desk(agent("a", {"passport": 3}, COUNTER), agent("t", {"passport": 1}, COUNTER))
    desk.ready("a", 0)
    desk.ready("t", 0)
    desk.arrive("c1", 1, channel=COUNTER)  # counter overflow: 900 s, no ring timeout
    assert of(desk(ev.TimePassed(at=1000)), ev.ContactRelaxed) == []  # with a since 1
    out = decline(desk, "c1", "a", 1001, DeclineReason.REJECTED)
    assert [type(e).__name__ for e in out] == [
        "ContactRequeued", "ContactRelaxed", "AgentStateChanged", "ContactOffered", "AgentStateChanged"
    ]
    assert offers(out) == [("c1", "t")]


# ------------------------------------------------------------ bounded memory


def test_ended_contacts_are_remembered_within_a_bounded_window() -> None:
    desk = Desk(agent("a", {"passport": 2}), policy=RoutingPolicy(ended_window=10, wrap_up_s=0))
    desk.ready("a", 0)
    for i in range(100):
        desk.arrive(f"c{i}", i)
        desk(ev.ContactAbandoned(at=i + 0.5, contact_id=f"c{i}"))
    router = desk.router
    assert len(router.ended) + len(router.ended_before) <= 10
    # the latest ones are still known: a duplicate is refused
    assert of(desk.arrive("c99", 200), ev.Rejected)[0].reason == "contact already known"
    assert of(desk.arrive("c95", 200), ev.Rejected)[0].reason == "contact already known"


def test_stale_timers_do_not_pile_up_over_a_long_day() -> None:
    desk = Desk(agent("a", {"passport": 2}, COUNTER), policy=RoutingPolicy(wrap_up_s=0))
    desk.ready("a", 0)
    for i in range(20_000):  # each counter ticket arms an 8-hour expiry, then is served
        desk.arrive(f"t{i}", i, channel=COUNTER)
        desk(ev.OfferAnswered(at=i + 0.1, contact_id=f"t{i}", agent_id="a"))
        desk.finish(f"t{i}", i + 0.5)
    assert len(desk.router.timers) <= 1100
    # each ticket was offered at once: its blanked queue entry does not stay behind either
    assert all(len(b.main) <= 64 and len(b.relaxed) <= 64 for b in desk.router.queue.buckets.values())


# ------------------------------------------------------------ late timers


def outage_desk(policy: RoutingPolicy) -> Desk:
    """An agent in wrap-up until 15 and a caller waiting when the dispatcher stops at 6."""
    desk = Desk(agent("a", {"passport": 2}), policy=policy)
    desk.ready("a", 0)
    desk.arrive("c1", 1)
    desk(ev.OfferAnswered(at=2, contact_id="c1", agent_id="a"))
    desk.finish("c1", 5)
    desk.arrive("c2", 6)
    return desk


def test_timers_learnt_late_fire_at_the_time_given_and_start_nothing_in_the_past() -> None:
    desk = outage_desk(RoutingPolicy(wrap_up_s=10, late_timer_s=1.0))
    out = desk(ev.TimePassed(at=100))  # the first tick after a restart
    assert {e.at for e in out} == {100}
    assert offers(out) == [("c2", "a")]
    assert states(out, "a") == [(100, AgentState.AVAILABLE, None), (100, AgentState.RESERVED, None)]
    assert desk.router.next_timer_at() == 120  # the ring-no-answer counts from the offer


def test_timers_within_the_tolerance_fire_at_their_due_time() -> None:
    desk = outage_desk(RoutingPolicy(wrap_up_s=10, late_timer_s=1.0))
    out = desk(ev.TimePassed(at=15.5))
    assert offers(out) == [("c2", "a")] and out[0].at == 15


def test_without_a_tolerance_overdue_timers_replay_at_their_due_times() -> None:
    desk = outage_desk(RoutingPolicy(wrap_up_s=10))
    out = desk(ev.TimePassed(at=100))
    # the offer made at 15 "rang" for 20 s during the outage: the agent is paused at 35
    assert states(out, "a") == [
        (15, AgentState.AVAILABLE, None), (15, AgentState.RESERVED, None), (35, AgentState.PAUSED, "no_answer")
    ]
