"""The simulation engine: reproducibility, conservation of contacts, schedules, RONA, callbacks."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dispatcher.events import ContactEnded, Event, Outcome, Rejected
from dispatcher.policy import RoutingPolicy
from dispatcher.router import Router
from simulations.draws import draw
from simulations.engine import Engine, simulate
from simulations.model import ArrivalInterval, CallbackOffer, Ringing, Scenario, Shift
from simulations.runner import run_variants
from simulations.summary import compare
from skills.model import Channel
from tests.factories import agent, catalogue, matrix

PHONE, COUNTER, CALLBACK = Channel.PHONE, Channel.COUNTER, Channel.CALLBACK
HOUR = 3600.0


def day(**changes: object) -> Scenario:
    """Three processes on phone and counter, four multi-skill agents, one busy hour."""
    base = Scenario(
        catalogue=catalogue(),
        matrix=matrix(
            agent("a1", {"passport": 3, "creche": 2}, PHONE, COUNTER, CALLBACK),
            agent("a2", {"creche": 3, "voirie": 2}, PHONE),
            agent("a3", {"voirie": 3, "triage": 2}, COUNTER, CALLBACK),
            agent("a4", {"passport": 2, "voirie": 2, "triage": 3}, PHONE, COUNTER),
        ),
        arrivals=(
            ArrivalInterval(9 * HOUR, 10 * HOUR, "passport", PHONE, 20, 240),
            ArrivalInterval(9 * HOUR, 10 * HOUR, "creche", PHONE, 15, 240),
            ArrivalInterval(9 * HOUR, 10 * HOUR, "voirie", COUNTER, 6, 600),
            ArrivalInterval(9 * HOUR, 10 * HOUR, "unknown_process", PHONE, 8, 180),
        ),
        policy=RoutingPolicy(wrap_up_s=10.0),
        patience={PHONE: 240.0},
        schedule=tuple(Shift(a, 9 * HOUR, 11 * HOUR) for a in ("a1", "a2", "a3", "a4")),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_same_seed_same_day_and_another_seed_another_day() -> None:
    first, again, other = simulate(day(), 3), simulate(day(), 3), simulate(day(), 4)
    assert repr(first.queues) == repr(again.queues) and repr(first.agents) == repr(again.agents)
    assert repr(first.queues) != repr(other.queues)


def test_every_contact_has_exactly_one_fate() -> None:
    result = simulate(day(), 7)
    assert result.rejected == 0
    total = result.queue("*", "phone")
    assert total is not None and total.abandoned > 0
    for row in result.queues:
        fates = row.answered + row.abandoned + row.callbacks + row.expired + row.still_open
        assert fates == row.arrived, row
    unknown = result.queue("unknown_process", "phone")
    assert unknown is not None and unknown.answered > 0  # routed to triage
    assert sum(q.arrived for q in result.queues if q.process != "*") == result.contacts
    for total in (q for q in result.queues if q.process == "*"):
        hours = [h for h in result.hours if h.channel == total.channel]
        assert sum(h.arrived for h in hours) == total.arrived
        assert sum(h.answered_in_target for h in hours) == total.answered_in_target
        assert {h.hour_s for h in hours} <= {9 * HOUR, 10 * HOUR}


def test_agents_work_only_on_their_shift_and_channels() -> None:
    shifts = (
        Shift("a1", 9 * HOUR, 9.5 * HOUR, frozenset({COUNTER})),
        Shift("a2", 9 * HOUR, 11 * HOUR),
        Shift("a3", 9 * HOUR, 11 * HOUR),
        Shift("a4", 9 * HOUR, 11 * HOUR),
    )
    result = simulate(day(schedule=shifts), 2)
    a1 = next(a for a in result.agents if a.agent_id == "a1")
    assert abs(a1.logged_in_s - 0.5 * HOUR) < 1e-6
    passport = result.queue("passport", "phone")
    assert passport is not None
    # a1 (counter only for half an hour) never answers the phone: a4 takes every passport call.
    a4 = next(a for a in result.agents if a.agent_id == "a4")
    assert a4.served >= passport.answered > 0


def test_a_shift_without_channels_gives_back_the_matrix_channels() -> None:
    shifts = (
        Shift("a4", 9 * HOUR, 9.5 * HOUR, frozenset({COUNTER})),
        Shift("a4", 9.5 * HOUR, 11 * HOUR),
    )
    passports = (ArrivalInterval(9 * HOUR, 10 * HOUR, "passport", PHONE, 6, 240),)
    only_a4 = day(schedule=shifts, patience={}, arrivals=passports)
    result = simulate(only_a4, 4)
    passport = result.queue("passport", "phone")
    assert passport is not None and passport.answered == passport.arrived > 0
    assert result.rejected == 0


def test_ring_no_answer_requeues_and_pauses_the_agent() -> None:
    plain = simulate(day(patience={}), 5)
    rona = simulate(day(patience={}, ringing=Ringing(2.0, 0.4, 30.0)), 5)
    assert rona.rejected == 0
    assert sum(a.paused_s for a in rona.agents) > 0 == sum(a.paused_s for a in plain.agents)
    phone_plain, phone_rona = plain.queue("*", "phone"), rona.queue("*", "phone")
    assert phone_plain is not None and phone_rona is not None
    assert phone_rona.answered == phone_rona.arrived  # nobody lost, only delayed
    assert phone_rona.asa_s > phone_plain.asa_s


def test_long_waits_turn_into_callbacks_served_later() -> None:
    result = simulate(day(callback=CallbackOffer(threshold_s=60.0, share=1.0)), 1)
    phone = result.queue("*", "phone")
    callbacks = result.queue("*", "callback")
    assert phone is not None and callbacks is not None
    assert phone.callbacks == callbacks.arrived > 0
    assert callbacks.answered > 0
    assert result.rejected == 0


def test_identical_variants_differ_by_exactly_zero() -> None:
    runs_a, runs_b = run_variants([day(), day()], replications=3, seed=9)
    for difference in compare(runs_a, runs_b):
        if difference.delta.n:
            assert difference.delta.mean == 0.0 and difference.delta.half_width == 0.0


def test_a_better_skilled_team_serves_passports_faster_on_the_same_citizens() -> None:
    weak = day()
    strong = day(
        matrix=matrix(
            *(replace(a, skills={**a.skills, "passport": 3}) for a in weak.matrix.agents.values())
        )
    )
    runs_a, runs_b = run_variants([weak, strong], replications=4, seed=21)
    found = {(d.process, d.channel, d.metric): d for d in compare(runs_a, runs_b)}
    sl = found[("passport", "phone", "service_level")]
    assert sl.delta.mean > 0
    assert [r.contacts for r in runs_a] == [r.contacts for r in runs_b]


def test_manual_wrap_up_cannot_be_simulated() -> None:
    with pytest.raises(ValueError, match="wrap-up"):
        simulate(day(policy=RoutingPolicy(wrap_up_s=None)), 1)


def test_the_recorded_inputs_replayed_into_a_fresh_core_give_the_same_outcomes() -> None:
    scenario = day(callback=CallbackOffer(60.0, 0.5), ringing=Ringing(2.0, 0.3, 30.0))
    inputs: list[Event] = []
    engine = Engine(scenario, draw(scenario, 8), inputs)
    engine.run()
    router = Router(scenario.catalogue, scenario.matrix, scenario.policy)
    ended: dict[str, Outcome] = {}
    for event in inputs:
        for out in router.handle(event):
            assert not isinstance(out, Rejected), out
            if isinstance(out, ContactEnded):
                ended[out.contact_id] = out.outcome
    simulated = {
        cid: outcome
        for cid, outcome in zip(engine.contact_ids, engine.outcome, strict=True)
        if outcome is not None
    }
    assert ended == simulated and Outcome.CALLBACK_SCHEDULED in ended.values()


def test_a_slower_level_stretches_the_handling_times_of_the_same_citizens() -> None:
    base = day(
        handling="deterministic",
        patience={},
        arrivals=day().arrivals[:1],
        policy=RoutingPolicy(wrap_up_s=0.0),
    )
    plain, slow = simulate(base, 6), simulate(replace(base, level_factors={3: 2.0}), 6)
    a1_plain = next(a for a in plain.agents if a.agent_id == "a1")  # passport level 3
    a1_slow = next(a for a in slow.agents if a.agent_id == "a1")
    a4_plain = next(a for a in plain.agents if a.agent_id == "a4")  # passport level 2
    assert a1_plain.served > 0 and a4_plain.working_s > 0
    assert a1_slow.working_s / a1_slow.served == pytest.approx(
        2 * a1_plain.working_s / a1_plain.served
    )
