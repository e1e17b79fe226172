"""Transfer to a named agent (issue 10 item 5): the contact is offered to that agent first,
keeps its arrival, and ends in one outcome; over the desk API on a real socket, and in the core."""

from __future__ import annotations

from dispatcher import events as ev
from dispatcher.events import AgentState, Outcome
from dispatcher.history.fold import Fold
from dispatcher.policy import RoutingPolicy
from dispatcher.store.redis_server import RedisServer
from tests.counter_helpers import counter_stack
from tests.factories import COUNTER, PHONE, agent
from tests.test_routing_rules import Desk, of, offers


def test_a_transferred_caller_is_offered_to_the_named_agent_and_ends_served_once() -> None:
    desk = Desk(
        agent("a", {"passport": 3}), agent("b", {"passport": 2}), agent("c", {"passport": 3}),
        policy=RoutingPolicy(wrap_up_s=0.0),
    )
    stream: list[ev.Event] = []

    def feed(event: ev.Event) -> list[ev.Event]:
        out = desk(event)
        stream.extend([event, *out])
        return out

    feed(ev.AgentStatusSet(at=0, agent_id="a", state=AgentState.AVAILABLE))
    feed(ev.ContactArrived(at=10, contact_id="call", channel=PHONE, process="passport"))
    feed(ev.OfferAnswered(at=11, contact_id="call", agent_id="a"))
    feed(ev.AgentStatusSet(at=12, agent_id="b", state=AgentState.AVAILABLE))
    feed(ev.AgentStatusSet(at=12, agent_id="c", state=AgentState.AVAILABLE))
    # a hands the call to b by name, although c is the better match by level
    out = feed(ev.ContactTransferred(at=60, contact_id="call", agent_id="a", to_agent_id="b"))
    assert offers(out) == [("call", "b")]
    assert of(out, ev.ContactOffered)[0].waited == 50  # arrival kept
    assert desk.router.agents["a"].state is AgentState.AVAILABLE
    feed(ev.OfferAnswered(at=61, contact_id="call", agent_id="b"))
    ended = of(feed(ev.ContactCompleted(at=200, contact_id="call")), ev.ContactEnded)
    assert [(e.outcome, e.agent_id) for e in ended] == [(Outcome.SERVED, "b")]
    # the history: one contact, served, its wait to a's answer; the trace shows the transfer
    fold = Fold()
    for seq, event in enumerate(stream, 1):
        fold.add(seq, event)
    row = fold.contacts["call"]
    assert (row["outcome"], row["agent_id"], row["arrived_at"], row["answered_at"]) == ("served", "a", 10, 11)
    assert [(e["kind"], e["agent_id"]) for e in fold.events if e["kind"] == "contact_transferred"] == [
        ("contact_transferred", "a")
    ]


def test_a_transfer_the_named_agent_cannot_take_is_refused_and_changes_nothing() -> None:
    desk = Desk(agent("a", {"passport": 3}), agent("b", {"creche": 3}), agent("v", {"passport": 3}, COUNTER, PHONE))
    desk.ready("a", 0)
    desk.arrive("call", 1)
    desk(ev.OfferAnswered(at=2, contact_id="call", agent_id="a"))
    desk.ready("b", 3)
    for to, reason in (("b", "cannot take"), ("v", "cannot take"), ("nobody", "no other agent"), ("a", "no other agent")):
        out = desk(ev.ContactTransferred(at=4, contact_id="call", agent_id="a", to_agent_id=to))
        assert [r.reason for r in of(out, ev.Rejected)] and reason in of(out, ev.Rejected)[0].reason, (to, out)
        assert desk.router.contacts["call"].agent_id == "a"
    out = desk(ev.ContactTransferred(at=5, contact_id="call", agent_id="b", to_agent_id="a"))
    assert "not with b" in of(out, ev.Rejected)[0].reason


async def test_a_counter_agent_transfers_the_called_visitor_to_a_named_colleague(
    redis_server: RedisServer, redis_prefix: str
) -> None:
    async with counter_stack(redis_server.url, redis_prefix) as s:
        status, ticket = await s.post("/api/v1/kiosk/tickets", "hdv-borne-1", {"process": "passport"})
        assert status == 201
        await s.post("/api/v1/desk/open", "a01", {"counter": "guichet 1"})
        status, desk = await s.post("/api/v1/desk/answer", "a01")
        assert desk["called"]["ticket"] == ticket["ticket"]
        await s.post("/api/v1/desk/open", "a02", {"counter": "guichet 3"})
        # an annexe agent cannot take a town-hall visitor: refused with the reason, nothing moves
        await s.post("/api/v1/desk/open", "a03", {"counter": "annexe 2"})
        status, refused = await s.post("/api/v1/desk/transfer", "a01", {"agent": "a03"})
        assert status == 409 and "cannot take" in refused["detail"]
        status, refused = await s.post("/api/v1/desk/transfer", "a01", {"bogus": 1})
        assert status == 422
        assert s.router.contacts[ticket["contact_id"]].agent_id == "a01"
        status, desk = await s.post("/api/v1/desk/transfer", "a01", {"agent": "a02"})
        assert status == 200 and desk["called"] is None
        status, other = await s.get("/api/v1/desk", "a02")
        assert other["offered"]["ticket"] == ticket["ticket"]
        await s.post("/api/v1/desk/answer", "a02")
        status, other = await s.post("/api/v1/desk/done", "a02")
        assert status == 200 and s.router.ended[ticket["contact_id"]] is Outcome.SERVED
        status, nothing = await s.post("/api/v1/desk/transfer", "a01", {"agent": "a02"})
        assert status == 409 and "aucun visiteur" in nothing["detail"]
