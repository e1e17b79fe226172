"""Priority classes move a visitor up by a bounded amount: a property over the real routing core."""

from __future__ import annotations

import heapq

from hypothesis import given, settings
from hypothesis import strategies as st

from dispatcher import events as ev
from dispatcher.counter.sites import PriorityClass
from dispatcher.events import AgentState
from dispatcher.policy import RoutingPolicy
from dispatcher.router import Router
from skills.catalogue import default_catalogue
from skills.model import AgentProfile, Channel, SkillMatrix

DISABILITY = PriorityClass("disability", "Handicap", "Disability", 600.0)
SERVICE_S = 240.0
REGULAR_AT = 1000.0


def _serve(arrivals: list[tuple[float, str, bool]]) -> dict[str, float]:
    """One counter agent serving the tickets through the real core; when each was offered, in order."""
    catalogue = default_catalogue()
    skills = {code: 3 for code in catalogue.processes}
    matrix = SkillMatrix({"a1": AgentProfile("a1", "a1", skills, frozenset({Channel.COUNTER}))})
    router = Router(catalogue, matrix, RoutingPolicy(wrap_up_s=0.0, max_wait_s={c: None for c in Channel}))
    queue: list[tuple[float, int, ev.Event]] = []
    n = 0
    for at, cid, priority in arrivals:
        arrived = DISABILITY.arrival(at) if priority else None
        heapq.heappush(queue, (at, n, ev.ContactArrived(at=at, contact_id=cid, channel=Channel.COUNTER, process="passport", arrived_at=arrived)))
        n += 1
    heapq.heappush(queue, (0.0, -1, ev.AgentStatusSet(at=0.0, agent_id="a1", state=AgentState.AVAILABLE)))
    order: dict[str, float] = {}
    while queue:
        at, _, event = heapq.heappop(queue)
        for decision in router.handle(event):
            if isinstance(decision, ev.ContactOffered):
                order[decision.contact_id] = at
                n += 1
                heapq.heappush(queue, (at, n, ev.OfferAnswered(at=at, contact_id=decision.contact_id, agent_id="a1")))
                heapq.heappush(queue, (at + SERVICE_S, n + 1, ev.ContactCompleted(at=at + SERVICE_S, contact_id=decision.contact_id)))
                n += 1
    return order


priority_times = st.lists(st.floats(min_value=0.0, max_value=20_000.0, allow_nan=False), max_size=60)


@settings(max_examples=30, deadline=None)
@given(before=st.lists(st.floats(min_value=0.0, max_value=REGULAR_AT, allow_nan=False), max_size=10), later=priority_times)
def test_a_regular_visitor_is_passed_only_by_priority_tickets_issued_within_the_advance(before: list[float], later: list[float]) -> None:
    arrivals = [(at, f"early{i}", False) for i, at in enumerate(before)]
    arrivals.append((REGULAR_AT, "regular", False))
    arrivals += [(REGULAR_AT + 1e-3 + at, f"prio{i}", True) for i, at in enumerate(later)]
    offered = _serve(arrivals)
    order = list(offered)
    assert sorted(order) == sorted(cid for _at, cid, _p in arrivals)  # everyone is served
    issued = {cid: at for at, cid, _p in arrivals}
    for cid in order[: order.index("regular")]:
        if cid.startswith("prio"):
            assert issued[cid] <= REGULAR_AT + DISABILITY.advance_s
    # hence a bound on the regular visitor's wait that no later priority ticket moves: the
    # agent's current and earlier visitors, plus one advance window of priority tickets
    window = sum(1 for at in later if at <= DISABILITY.advance_s)
    assert offered["regular"] - REGULAR_AT <= (len(before) + window + 1) * SERVICE_S


@settings(max_examples=30, deadline=None)
@given(regular=st.lists(st.floats(min_value=0.0, max_value=5_000.0, allow_nan=False), min_size=1, max_size=30),
       priority_at=st.floats(min_value=0.0, max_value=5_000.0, allow_nan=False))
def test_a_priority_ticket_never_sinks_behind_regulars_issued_within_its_advance(regular: list[float], priority_at: float) -> None:
    arrivals = [(at, f"r{i}", False) for i, at in enumerate(regular)] + [(priority_at, "prio", True)]
    offered = _serve(arrivals)
    order = list(offered)
    for at, cid, _p in arrivals:
        still_waiting = offered[cid] > priority_at
        if cid != "prio" and DISABILITY.arrival(priority_at) < at <= priority_at and still_waiting:
            assert order.index(cid) > order.index("prio"), f"{cid} issued {priority_at - at:.0f} s before went first"
