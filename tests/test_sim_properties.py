"""Property: whatever the day, the simulation never makes the core reject an input or lose a contact."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatcher.policy import RoutingPolicy, Strategy
from simulations.engine import simulate
from simulations.model import ArrivalInterval, CallbackOffer, Ringing, Scenario, Shift
from skills.model import Channel
from tests.factories import agent, catalogue, matrix

PROCESSES = ("passport", "creche", "voirie", "triage")
LIVE = (Channel.PHONE, Channel.COUNTER)
HOUR = 3600.0


@st.composite
def days(draw: st.DrawFn) -> Scenario:
    """A random small day: agents, skills, channels, shifts, arrivals and citizens' behaviour."""
    count = draw(st.integers(1, 5))
    agents = []
    shifts = []
    for k in range(count):
        skills = draw(st.dictionaries(st.sampled_from(PROCESSES), st.integers(1, 3), min_size=1))
        channels = draw(st.sets(st.sampled_from((*LIVE, Channel.CALLBACK)), min_size=1))
        agents.append(agent(f"a{k}", skills, *channels))
        start = draw(st.sampled_from((8.0, 9.0, 10.0)))
        shifts.append(
            Shift(f"a{k}", start * HOUR, (start + draw(st.sampled_from((1.0, 2.5)))) * HOUR)
        )
        if draw(st.booleans()):
            shifts.append(Shift(f"a{k}", 11 * HOUR, 12 * HOUR, frozenset({Channel.PHONE})))
    arrivals = tuple(
        ArrivalInterval(h * HOUR, (h + 1) * HOUR, process, channel, count, aht)
        for h in (8, 9, 10)
        for process, channel, count, aht in draw(
            st.lists(
                st.tuples(
                    st.sampled_from((*PROCESSES, "unknown")),
                    st.sampled_from(LIVE),
                    st.floats(0, 12),
                    st.sampled_from((120.0, 400.0)),
                ),
                max_size=3,
            )
        )
    )
    policy = RoutingPolicy(
        strategy=draw(st.sampled_from(list(Strategy))),
        wrap_up_s=draw(st.sampled_from((0.0, 15.0))),
        batch_assignment=draw(st.booleans()),
    )
    return Scenario(
        catalogue=catalogue(),
        matrix=matrix(*agents),
        arrivals=arrivals
        or (ArrivalInterval(8 * HOUR, 9 * HOUR, "passport", Channel.PHONE, 3, 200),),
        policy=policy,
        handling=draw(st.sampled_from(("exponential", "lognormal", "deterministic"))),
        patience=draw(
            st.sampled_from(
                ({}, {Channel.PHONE: 60.0}, {Channel.PHONE: 200.0, Channel.COUNTER: 900.0})
            )
        ),
        schedule=tuple(shifts),
        callback=draw(st.sampled_from((None, CallbackOffer(30.0, 0.7)))),
        ringing=Ringing(draw(st.sampled_from((0.0, 4.0))), draw(st.sampled_from((0.0, 0.3))), 20.0),
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(day=days(), seed=st.integers(0, 2**32 - 1))
def test_no_input_rejected_and_every_contact_has_one_fate(day: Scenario, seed: int) -> None:
    result = simulate(day, seed)
    assert result.rejected == 0
    for row in result.queues:
        fates = row.answered + row.abandoned + row.callbacks + row.expired + row.still_open
        assert fates == row.arrived, row
        assert 0 <= row.answered_in_target <= row.answered
    assert (
        sum(q.arrived for q in result.queues if q.process != "*" and q.channel != "callback")
        == result.contacts
    )
    for a in result.agents:
        shifts = [s for s in day.schedule or () if s.agent_id == a.agent_id]
        # A contact in hand at the end of a shift is finished first: the agent may stay longer.
        assert a.logged_in_s <= day.end_s - min(s.start_s for s in shifts) + 1e-6
        assert abs(a.logged_in_s - a.available_s - a.working_s - a.paused_s) < 1e-6
