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
    st.tuples(
        st.just("mode"), st.sampled_from(AGENTS), st.sampled_from(["answer", "no_answer", "busy"])
    ),
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
            world.submit(
                ev.AgentStatusSet(at=world.now, agent_id=f"a{item[1]}", state=AgentState.AVAILABLE)
            )
            world.pump()


def finish(world: World) -> None:
    """Link back, every caller hangs up, time passes."""
    if not world.link:
        world.restore()
    for chan in list(world.callers):
        if chan.alive:
            world.hang_up(chan)
    world.advance(120)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
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
    for uid in (arrived & world.bridged) - world.requeued_unseen:
        assert outcomes[uid] == "served", uid
    for n in AGENTS:
        agent = world.agent(n)
        assert agent.state not in (AgentState.RESERVED, AgentState.BUSY), (n, agent.state)  # type: ignore[attr-defined]
        assert agent.reachable is world.expected_reachable(n), n  # type: ignore[attr-defined]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
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
    for uid in (arrived & world.bridged) - world.requeued_unseen:
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
    served = [
        e for e in world.core_log if isinstance(e, ev.ContactEnded) and e.outcome.value == "served"
    ]
    assert len(served) >= 8


def _capture_frames() -> list[tuple[str, dict[str, str]]]:
    from dispatcher.ami import codec
    from tests.ami_helpers import CAPTURE_FILES, capture, frames_of

    out = []
    for name in CAPTURE_FILES:
        for frame in frames_of(capture(name)):
            headers = codec.parse(codec.decode(frame))
            event = headers.get("Event")
            if isinstance(event, str):
                out.append((event, headers))  # type: ignore[arg-type]
    return out


FRAMES = _capture_frames()
step = st.one_of(
    st.tuples(st.just("frame"), st.integers(0, len(FRAMES) - 1)),
    st.tuples(st.just("gap"), st.integers(1, 50)),
    st.tuples(st.just("restart")),
    st.tuples(st.just("ready"), st.sampled_from((101, 102, 104, 105))),
    st.tuples(st.just("tick"), st.floats(0.0, 60.0)),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(step, max_size=80))
def test_any_sequence_of_real_frames_with_gaps_and_restarts_strands_nothing(
    steps: list[tuple[object, ...]],
) -> None:
    """Real frames in any order, some lost, the dispatcher restarted: never an exception, and once
    Asterisk has nothing left (the final resync), the core holds no phone contact and no agent
    stays reserved or busy."""
    from dispatcher.ami.calls import PhoneCalls
    from dispatcher.ami.model import agent_lines
    from dispatcher.ami.resync import core_contacts
    from dispatcher.policy import RoutingPolicy
    from dispatcher.router import Router
    from tests import factories as f
    from tests.ami_helpers import phone_matrix

    matrix = phone_matrix((101, 102, 104, 105))
    router = Router(f.catalogue(), matrix, RoutingPolicy(wrap_up_s=0))
    machine = PhoneCalls(agent_lines(matrix))
    machine.link_up = True
    now = [1_796_000_000.0]
    pending: list[ev.Event] = []

    def submit(event: ev.Event) -> None:
        decisions = router.handle(event)
        for out in machine.decided([event, *decisions]):
            if isinstance(out, ev.Event):
                pending.append(out)

    def run(outs: list[object]) -> None:
        for out in outs:
            if isinstance(out, ev.Event):
                submit(out)
        while pending:
            submit(pending.pop(0))

    skip = 0
    for item in steps:
        now[0] += 0.01
        kind = item[0]
        if kind == "frame":
            if skip:
                skip -= 1  # lost in a gap
                continue
            name, headers = FRAMES[int(item[1])]  # type: ignore[call-overload]
            run(machine.frame(name, headers, now[0]))  # type: ignore[arg-type]
        elif kind == "gap":
            skip = int(item[1])  # type: ignore[call-overload]
            machine.link_lost(now[0])
            run(machine.resync(core_contacts(router), [], {}, now[0]))
        elif kind == "restart":
            machine = PhoneCalls(agent_lines(matrix))
            machine.link_up = True
        elif kind == "ready":
            run([ev.AgentStatusSet(at=now[0], agent_id=f"a{item[1]}", state=AgentState.AVAILABLE)])
        elif kind == "tick":
            now[0] += float(item[1])  # type: ignore[arg-type]
            run([ev.TimePassed(at=now[0])])
    machine.link_lost(now[0])
    machine.begin_resync()
    run(machine.resync(core_contacts(router), [], {}, now[0]))
    assert core_contacts(router) == []
    for agent in router.agents.values():
        assert agent.state not in (AgentState.RESERVED, AgentState.BUSY), agent.agent_id
