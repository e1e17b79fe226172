"""Properties of the phone state machine over random call sequences, link cuts, gaps and restarts.

The world is the fake Asterisk's PBX running the project's dialplan on a
virtual clock, the real routing core, and ``PhoneCalls`` between them (no
socket). Whatever happens, once the link is back and every caller has hung
up: the core holds no phone contact (nothing lost, nothing stuck), every
contact ended exactly once, no agent stays reserved or busy, and each agent's
reachability is what its phone's last state says.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatcher import events as ev
from dispatcher.events import AgentState
from tests.ami_world import World

AGENTS = (101, 102, 103)

op = st.one_of(
    st.tuples(st.just("call"), st.one_of(st.none(), st.floats(0.5, 30)), st.floats(0.5, 20)),
    st.tuples(st.just("wait"), st.floats(0.001, 20)),
    st.tuples(st.just("hangup"), st.integers(0, 50)),
    st.tuples(st.just("cut")),
    st.tuples(st.just("restore")),
    st.tuples(st.just("kill")),
    st.tuples(st.just("mode"), st.sampled_from(AGENTS), st.sampled_from(["answer", "no_answer", "busy"])),
    st.tuples(st.just("register"), st.sampled_from(AGENTS), st.booleans()),
    st.tuples(st.just("ready"), st.sampled_from(AGENTS)),
)


def play(world: World, ops: list[tuple[object, ...]]) -> None:
    for item in ops:
        kind = item[0]
        if kind == "call":
            world.call(patience=item[1], talk=item[2])  # type: ignore[arg-type]
        elif kind == "wait":
            world.advance(item[1])  # type: ignore[arg-type]
        elif kind == "hangup":
            alive = [c for c in world.callers if c.alive]
            if alive:
                world.hang_up(alive[int(item[1]) % len(alive)])  # type: ignore[call-overload]
        elif kind == "cut" and world.link:
            world.cut()
        elif kind == "restore" and not world.link:
            world.restore()
        elif kind == "kill":
            world.kill()
        elif kind == "mode":
            world.pbx.phones[f"PJSIP/agent{item[1]}"].mode = str(item[2])
        elif kind == "register":
            world.pbx.set_registered(f"PJSIP/agent{item[1]}", bool(item[2]))
            world.pump()
        elif kind == "ready":
            world.submit(ev.AgentStatusSet(at=world.now, agent_id=f"a{item[1]}", state=AgentState.AVAILABLE))
            world.pump()


def finish(world: World) -> None:
    """Link back, every caller hangs up, time passes."""
    if not world.link:
        world.restore()
    for chan in list(world.callers):
        if chan.alive:
            world.hang_up(chan)
    world.advance(120)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(op, max_size=40))
def test_nothing_lost_nothing_stuck(ops: list[tuple[object, ...]]) -> None:
    world = World(AGENTS)
    play(world, ops)
    finish(world)
    assert world.open_contacts() == []
    ended = [e.contact_id for e in world.core_log if isinstance(e, ev.ContactEnded)]
    assert len(ended) == len(set(ended)), "a contact ended twice"
    arrived = {e.contact_id for e in world.core_log if isinstance(e, ev.ContactArrived)}
    assert arrived <= set(ended)
    outcomes = world.outcomes()
    for uid in (arrived & world.seen_bridged) - world.requeued_unseen:
        assert outcomes[uid] == "served", uid
    for n in AGENTS:
        agent = world.agent(n)
        assert agent.state not in (AgentState.RESERVED, AgentState.BUSY), (n, agent.state)  # type: ignore[attr-defined]
        assert agent.reachable is world.expected_reachable(n), n  # type: ignore[attr-defined]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(op, max_size=30), st.integers(1, 4))
def test_a_kill_at_any_moment_then_a_resync_takes_every_channel_over(
    ops: list[tuple[object, ...]], callers: int
) -> None:
    world = World(AGENTS)
    for _ in range(callers):
        world.call(talk=None)
    play(world, ops)
    world.kill()
    world.restore()
    # Every caller Asterisk still has is followed; every open contact has its channel.
    alive = {c.uniqueid for c in world.callers if c.alive}
    for contact_id in world.open_contacts():
        assert contact_id in alive
        assert contact_id in world.machine.by_contact
    # Hang-ups after the restart reach the core, whatever state the caller was in.
    finish(world)
    assert world.open_contacts() == []
    outcomes = world.outcomes()
    arrived = {e.contact_id for e in world.core_log if isinstance(e, ev.ContactArrived)}
    for uid in (arrived & world.seen_bridged) - world.requeued_unseen:
        assert outcomes[uid] == "served", uid
    for n in AGENTS:
        assert world.agent(n).state not in (AgentState.RESERVED, AgentState.BUSY)  # type: ignore[attr-defined]


def test_no_machine_output_is_rejected_by_the_core_in_a_plain_day() -> None:
    world = World(AGENTS)
    for i in range(12):
        world.call(patience=None if i % 3 else 2.0, talk=3.0)
        world.advance(0.7)
    world.advance(60)
    rejected = [e for e in world.core_log if isinstance(e, ev.Rejected)]
    assert rejected == []
    served = [e for e in world.core_log if isinstance(e, ev.ContactEnded) and e.outcome.value == "served"]
    assert len(served) >= 8
