"""Statistics on hand-made contacts: every figure checked by hand, SQL and live alike."""

from __future__ import annotations

import pytest

from dispatcher import events as ev
from dispatcher.events import AgentState, Outcome
from dispatcher.history.live_stats import LiveStats
from dispatcher.history.stats import (
    ContactFacts,
    StateSpan,
    agent_days,
    compute,
    equal_treatment,
    forecast_records,
    spans_from_states,
)
from skills.model import Channel

T0 = 1_700_000_100.0  # 2023-11-14 23:15 Paris: inside one 15-minute interval


def _facts() -> list[ContactFacts]:
    return [
        ContactFacts("c1", "phone", "passport", "a1", T0, T0 + 10, T0 + 250, "served"),
        ContactFacts("c2", "phone", "passport", "a1", T0 + 5, T0 + 260, T0 + 400, "served"),
        ContactFacts("c3", "phone", "passport", None, T0 + 6, None, T0 + 8, "abandoned"),
        ContactFacts("c4", "phone", "passport", None, T0 + 7, None, T0 + 100, "abandoned"),
        ContactFacts("c5", "callback", "passport", "a2", T0 + 8, T0 + 300, T0 + 500, "served", deadline=T0 + 200),
        ContactFacts("c6", "callback", "passport", None, T0 + 9, None, None, None, deadline=T0 + 100),
        ContactFacts("c7", "callback", "passport", "a2", T0 + 9, T0 + 50, T0 + 60, "served", deadline=T0 + 100),
    ]


def test_figures_by_process_and_channel() -> None:
    rows = {r.channel: r for r in compute(_facts(), by=("process", "channel"), now=T0 + 150)}
    phone = rows["phone"]
    assert (phone.offered, phone.answered, phone.abandoned) == (4, 2, 2)
    assert phone.service_level == pytest.approx(1 / 3)  # c1 within 20 s; c3 is a short abandon
    assert phone.pickup_rate == pytest.approx(0.5)
    assert phone.asa_s == pytest.approx((10 + 255) / 2)
    assert phone.aht_s == pytest.approx((240 + 140) / 2)
    callback = rows["callback"]
    assert (callback.callbacks_due, callback.callbacks_honoured) == (3, 1)  # c5 late, c6 past its deadline, c7 on time
    assert compute(_facts(), by=("channel",), now=T0)[0].callbacks_due == 2


def test_occupancy_and_agent_days() -> None:
    spans = spans_from_states(
        [("a1", "available", T0), ("a1", "busy", T0 + 100), ("a1", "wrap_up", T0 + 300),
         ("a1", "paused", T0 + 400), ("a1", "offline", T0 + 500)],
        until=T0 + 800,
    )
    assert spans[-1] == StateSpan("a1", "offline", T0 + 500, T0 + 800)
    rows = compute(_facts(), spans, by=("agent",))
    a1 = next(r for r in rows if r.agent == "a1")
    assert a1.occupancy == pytest.approx(300 / 500)
    days = agent_days(_facts(), spans)
    assert [(d.agent, d.handled) for d in days] == [("a1", 2), ("a2", 2)]
    assert days[0].occupancy == pytest.approx(0.6)


def test_interval_labels_are_local_quarter_hours() -> None:
    rows = compute(_facts(), by=("interval",))
    assert [r.interval for r in rows] == ["2023-11-14 23:15"]
    with pytest.raises(ValueError, match="dimension"):
        compute(_facts(), by=("week",))


def test_forecast_records_feed_the_forecast() -> None:
    from simulations.forecast import forecast_from_history

    records = forecast_records(_facts())
    assert records[0] == {"arrived_at": T0, "process": "passport", "channel": "phone", "handle_s": 240.0}
    forecast = forecast_from_history(records)
    assert forecast.rows


def test_live_statistics_match_the_definitions() -> None:
    live = LiveStats(since=T0)
    batches = [
        [ev.AgentStatusSet(at=T0, agent_id="a1", state=AgentState.AVAILABLE),
         ev.AgentStateChanged(at=T0, agent_id="a1", state=AgentState.AVAILABLE)],
        [ev.ContactArrived(at=T0, contact_id="c1", channel=Channel.PHONE, process="passport"),
         ev.ContactQueued(at=T0, contact_id="c1", process="passport", channel=Channel.PHONE, priority=0, arrived_at=T0),
         ev.ContactOffered(at=T0, contact_id="c1", agent_id="a1", process="passport", channel=Channel.PHONE, level=2, waited=0.0),
         ev.AgentStateChanged(at=T0, agent_id="a1", state=AgentState.RESERVED, contact_id="c1")],
        [ev.OfferAnswered(at=T0 + 4, contact_id="c1", agent_id="a1"),
         ev.AgentStateChanged(at=T0 + 4, agent_id="a1", state=AgentState.BUSY, contact_id="c1")],
        [ev.ContactCompleted(at=T0 + 100, contact_id="c1"),
         ev.ContactEnded(at=T0 + 100, contact_id="c1", outcome=Outcome.SERVED, agent_id="a1", waited=100.0),
         ev.AgentStateChanged(at=T0 + 100, agent_id="a1", state=AgentState.AVAILABLE)],
    ]
    for batch in batches:
        live.sink(batch)
    (row,) = live.rows(now=T0 + 200, by=("channel",))
    assert (row.offered, row.answered, row.service_level, row.asa_s, row.aht_s) == (1, 1, 1.0, 4.0, 96.0)
    assert row.occupancy is None  # not a figure of a channel: its agents' idle time is not its own
    (total,) = live.rows(now=T0 + 200, by=())
    assert total.occupancy == pytest.approx(96 / 200)  # busy 4 -> 100, logged in 0 -> now (200)
    (agent,) = [r for r in live.rows(now=T0 + 150, by=("agent",)) if r.agent == "a1"]
    assert agent.occupancy == pytest.approx(96 / 150)  # the last state runs to now, no further


def test_equal_treatment_across_channels() -> None:
    def sla(process: str, channel: str) -> float:
        return {"phone": 20.0, "counter": 600.0, "callback": 3600.0}[channel]

    facts = [
        ContactFacts("p1", "phone", "passport", "a1", T0, T0 + 10, T0 + 100, "served"),
        ContactFacts("p2", "phone", "passport", "a1", T0, T0 + 30, T0 + 100, "served"),
        ContactFacts("k1", "counter", "passport", "a2", T0, T0 + 900, T0 + 1000, "served"),
        ContactFacts("b1", "callback", "passport", "a2", T0, T0 + 360, T0 + 400, "served"),
        ContactFacts("t1", "phone", "triage", "a1", T0, T0 + 5, T0 + 50, "served"),
    ]
    rows = {(r.process, r.channel): r for r in compute(facts, by=("process", "channel"), sla_seconds=sla)}
    assert rows[("passport", "phone")].wait_vs_target == pytest.approx(1.0)  # ASA 20 s / 20 s
    assert rows[("passport", "counter")].wait_vs_target == pytest.approx(1.5)  # 900 s / 600 s
    assert rows[("passport", "callback")].wait_vs_target == pytest.approx(0.1)
    assert rows[("passport", "phone")].channel_gap == pytest.approx(1.4)
    assert rows[("triage", "phone")].channel_gap is None  # one channel: nothing to compare
    (passport, triage) = equal_treatment(rows.values())
    assert passport.by_channel == pytest.approx({"callback": 0.1, "counter": 1.5, "phone": 1.0})
    assert (passport.gap, triage.gap) == (pytest.approx(1.4), None)
