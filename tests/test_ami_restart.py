"""The dispatcher killed (no goodbye on the AMI socket) and restarted from its event stream.

Over real sockets: the fake Asterisk keeps its callers (waiting, ringing an
agent, talking to one) while the dispatcher is gone; some hang up meanwhile.
A new dispatcher rebuilt by replaying the first one's input events, with a new
AMI adapter that knows nothing, logs in: the resynchronisation takes over every
channel Asterisk still has and closes every contact Asterisk no longer has.
What the PBX saw and what the core recorded are then compared call by call.
"""

from __future__ import annotations

import asyncio
import time

from dispatcher import events as ev
from dispatcher.ami.adapter import AmiAdapter
from dispatcher.events import AgentState, Outcome
from dispatcher.history.fold import Fold
from dispatcher.policy import RoutingPolicy
from dispatcher.router import Router
from dispatcher.service import Dispatcher
from skills.catalogue import default_catalogue
from tests.ami_helpers import SECRET, PhoneRig, phone_matrix


class Restarted:
    """The dispatcher after a kill: a core rebuilt from the inputs, a fresh adapter."""

    def __init__(self, rig: PhoneRig) -> None:
        old = rig.adapter
        assert old is not None
        old.manager.closing = True  # killed: no reconnection, nothing said on the socket
        old.manager.protocol.transport.abort()
        rig.dispatcher._sinks.clear()
        inputs = [e for e in rig.events() if type(e) in ev.INPUT_TYPES]
        self.router = Router(default_catalogue(), rig.matrix, rig.router.policy)
        for event in inputs:
            self.router.handle(event)
        self.dispatcher = Dispatcher(self.router)
        self.batches: list[list[ev.Event]] = []
        self.dispatcher.add_sink(self.batches.append)
        self.matrix = rig.matrix
        self.port = rig.fake.ami_port
        self.before = {
            e.contact_id: e for e in rig.events(ev.ContactEnded) if isinstance(e, ev.ContactEnded)
        }
        self.adapter: AmiAdapter | None = None

    async def start(self) -> None:
        self.adapter = AmiAdapter(
            self.dispatcher, self.matrix, port=self.port, secret=SECRET, reconnect_min=0.02
        )
        await self.adapter.start()
        adapter = self.adapter
        while not (adapter.link_up and not adapter.resyncing):
            await asyncio.sleep(0.005)
        await self.dispatcher.start()

    async def stop(self) -> None:
        await self.dispatcher.stop()
        if self.adapter is not None:
            await self.adapter.stop()

    def ended(self) -> dict[str, ev.ContactEnded]:
        out = dict(self.before)
        for batch in self.batches:
            for e in batch:
                if isinstance(e, ev.ContactEnded):
                    assert e.contact_id not in out, f"{e.contact_id} ended twice"
                    out[e.contact_id] = e
        return out


async def test_kill_with_callers_waiting_ringing_and_talking_then_restart() -> None:
    policy = RoutingPolicy(wrap_up_s=0)
    matrix = phone_matrix(range(101, 105))
    async with PhoneRig(
        available=("a101", "a102"), matrix=matrix, policy=policy, time_scale=0.2
    ) as rig:
        rig.fake.phone("102").answer_after = 30.0  # rings (Dial timeout: 15 s x 0.2 = 3 s)
        talking = rig.fake.place_call("0600000001", "Talking")
        await rig.until(lambda: rig.fake.bridged_to(talking) == "PJSIP/agent101")
        ringing = rig.fake.place_call("0600000002", "Ringing")
        await rig.until(lambda: rig.agent_state("a102") is AgentState.RESERVED)
        await rig.until(
            lambda: any(c.device == "PJSIP/agent102" for c in rig.fake.pbx.channels.values())
        )
        waiting = rig.fake.place_call("0600000003", "Waiting")
        leaving = rig.fake.place_call("0600000004", "Leaving")
        done = rig.fake.place_call("0600000005", "Done")
        await rig.until(lambda: len(rig.fake.holding()) == 3)
        rig.make_available("a103")
        await rig.until(
            lambda: (
                rig.fake.bridged_to(waiting)
                or rig.fake.bridged_to(leaving)
                or rig.fake.bridged_to(done)
            )
        )
        with_a103 = next(c for c in (waiting, leaving, done) if rig.fake.bridged_to(c))
        await rig.until(lambda: rig.agent_state("a103") is AgentState.BUSY)  # the answer was seen

        restarted = Restarted(rig)  # kill -9
        await asyncio.sleep(0.05)
        # While no dispatcher runs, Asterisk goes on:
        holding = [c for c in (waiting, leaving, done) if c is not with_a103]
        gone_waiting = holding[0]
        rig.fake.hangup(gone_waiting)  # a waiting caller gives up
        rig.fake.agent_hangup("103")  # a conversation ends
        still_waiting = holding[1]
        try:
            await restarted.start()
            adapter = restarted.adapter
            assert adapter is not None
            # Every channel Asterisk has is followed again.
            for call in (talking, ringing, still_waiting):
                assert call.uniqueid in adapter.calls.by_contact
            ended = restarted.ended()
            assert ended[gone_waiting.uniqueid].outcome is Outcome.ABANDONED
            assert ended[with_a103.uniqueid].outcome is Outcome.SERVED
            assert restarted.router.agents["a103"].state is not AgentState.BUSY
            # Hang-ups after the restart reach the core, whatever the caller was doing.
            rig.fake.phone("102").answer_after = 0.01
            rig.fake.hangup(talking)
            await_ended = lambda uid: uid in restarted.ended()
            for _ in range(400):
                if await_ended(talking.uniqueid):
                    break
                await asyncio.sleep(0.01)
            assert restarted.ended()[talking.uniqueid].outcome is Outcome.SERVED
            assert restarted.router.agents["a101"].state is AgentState.AVAILABLE
            # The ringing caller's Dial ends (no answer after 3 s) or is answered; either way
            # everyone left ends up with an agent and then ends exactly once.
            for _ in range(800):
                if rig.fake.bridged_to(ringing) and rig.fake.bridged_to(still_waiting):
                    break
                await asyncio.sleep(0.01)
            assert rig.fake.bridged_to(ringing) and rig.fake.bridged_to(still_waiting)
            newcomer = rig.fake.place_call("0600000006", "New")
            restarted.dispatcher.submit(
                ev.AgentStatusSet(
                    at=restarted.dispatcher.clock(), agent_id="a104", state=AgentState.AVAILABLE
                )
            )
            for _ in range(400):
                if rig.fake.bridged_to(newcomer):
                    break
                await asyncio.sleep(0.01)
            assert rig.fake.bridged_to(newcomer)
            for call in (ringing, still_waiting, newcomer):
                rig.fake.hangup(call)
            for _ in range(400):
                if all(c.uniqueid in restarted.ended() for c in (ringing, still_waiting, newcomer)):
                    break
                await asyncio.sleep(0.01)
            ended = restarted.ended()
            every = (talking, ringing, waiting, leaving, done, newcomer)
            assert {c.uniqueid: ended[c.uniqueid].outcome.value for c in every} == {
                c.uniqueid: "abandoned" if c is gone_waiting else "served" for c in every
            }
            assert [c for c in every if c.alive] == []
            for agent in restarted.router.agents.values():
                assert agent.state not in (AgentState.BUSY, AgentState.RESERVED), agent.agent_id
        finally:
            await restarted.stop()


async def test_an_offer_to_a_caller_gone_unseen_ends_the_contact_not_the_agent() -> None:
    """The caller's Hangup was lost: the Redirect answers "Channel does not exist"."""
    async with PhoneRig(available=()) as rig:
        gone = rig.fake.place_call("0600000007", "Gone")
        await rig.until(lambda: rig.events(ev.ContactQueued))
        ami = rig.fake.ami
        assert ami is not None
        ami.broadcast = lambda frame: None  # type: ignore[method-assign]  # this Hangup is lost
        rig.fake.hangup(gone)
        del ami.broadcast
        rig.make_available("a101")
        await rig.until(lambda: gone.uniqueid in rig.ended())
        assert rig.ended()[gone.uniqueid].outcome is Outcome.ABANDONED
        assert rig.agent_state("a101") is AgentState.AVAILABLE
        assert rig.router.agents["a101"].reachable
        assert [e for e in rig.events(ev.OfferDeclined)] == []
        call = rig.fake.place_call("0600000008", "Next")
        await rig.until(lambda: rig.fake.bridged_to(call) == "PJSIP/agent101")


async def test_an_answer_while_the_dispatcher_is_down_after_its_ring_timeout_is_served() -> None:
    """Killed while a caller rings; Asterisk bridges them meanwhile, the core's ring timer
    is long overdue when it comes back: the history says served (as the PBX saw), not
    abandoned, and the agent is busy with them, then free."""
    async with PhoneRig(
        available=("a101",), policy=RoutingPolicy(wrap_up_s=0), time_scale=0.2
    ) as rig:
        rig.fake.phone("101").answer_after = 0.6  # answered while the dispatcher is away
        caller = rig.fake.place_call("0600000009", "Late")
        await rig.until(lambda: rig.agent_state("a101") is AgentState.RESERVED)
        await rig.until(
            lambda: any(c.device == "PJSIP/agent101" for c in rig.fake.pbx.channels.values())
        )
        restarted = Restarted(rig)  # kill -9 while it rings
        assert rig.fake.bridged_to(caller) is None
        for _ in range(400):
            if rig.fake.bridged_to(caller):
                break
            await asyncio.sleep(0.01)
        assert rig.fake.bridged_to(caller) == "PJSIP/agent101"
        offered = restarted.router.contacts[caller.uniqueid]
        assert offered.agent_id == "a101"
        timeout = offered.bucket.rules.offer_timeout_s
        assert timeout is not None
        # The outage as the core sees it outlasts the ring timeout.
        restarted.dispatcher.clock = lambda: time.time() + timeout + 30.0
        try:
            await restarted.start()
            ended = restarted.ended
            assert caller.uniqueid not in ended()
            assert restarted.router.agents["a101"].state is AgentState.BUSY
            assert restarted.router.agents["a101"].contact_id == caller.uniqueid
            assert rig.fake.bridged_to(caller) == "PJSIP/agent101"  # never taken from the agent
            rig.fake.hangup(caller)
            for _ in range(400):
                if caller.uniqueid in ended():
                    break
                await asyncio.sleep(0.01)
            assert ended()[caller.uniqueid].outcome is Outcome.SERVED
            assert ended()[caller.uniqueid].agent_id == "a101"
            fold = Fold()
            for seq, event in enumerate(
                [*rig.events(), *(e for batch in restarted.batches for e in batch)], 1
            ):
                fold.add(seq, event)
            row = fold.contacts[caller.uniqueid]
            assert (row["outcome"], row["agent_id"], row["wait_approximate"]) == ("served", "a101", False)
            assert restarted.router.agents["a101"].state is AgentState.AVAILABLE
        finally:
            await restarted.stop()


async def test_a_caller_gone_during_the_outage_is_abandoned_when_the_dialplan_noted_it() -> None:
    """The dialplan's hang-up handler noted the time in AstDB: the wait is exact, then the note is cleared."""
    async with PhoneRig(available=(), policy=RoutingPolicy(wrap_up_s=0)) as rig:
        caller = rig.fake.place_call("0600000012", "Gone")
        await rig.until(lambda: rig.events(ev.ContactQueued))
        arrived = rig.router.contacts[caller.uniqueid].arrived_at
        restarted = Restarted(rig)
        await asyncio.sleep(0.3)
        rig.fake.hangup(caller)
        hung_up = time.time()
        assert f"guichet/{caller.uniqueid}" in rig.fake.pbx.astdb
        restarted.dispatcher.clock = lambda: time.time() + 300.0
        try:
            await restarted.start()
            end = restarted.ended()[caller.uniqueid]
            assert (end.outcome, end.approximate, end.ended_at) == (Outcome.ABANDONED, False, end.ended_at)
            assert end.ended_at is not None and abs(end.ended_at - hung_up) < 0.05
            assert end.waited is not None and abs(end.waited - (hung_up - arrived)) < 0.05
            await rig.until(lambda: not rig.fake.pbx.astdb)  # read, then cleared
        finally:
            await restarted.stop()


async def test_a_caller_gone_during_the_outage_unnoted_is_abandoned_with_the_wait_until_the_kill() -> None:
    """No note in AstDB (a dialplan without the hang-up handler): the wait runs to the last
    moment the dispatcher knew, flagged approximate."""
    async with PhoneRig(available=(), policy=RoutingPolicy(wrap_up_s=0)) as rig:
        caller = rig.fake.place_call("0600000010", "Gone")
        await rig.until(lambda: rig.events(ev.ContactQueued))
        arrived = rig.router.contacts[caller.uniqueid].arrived_at
        restarted = Restarted(rig)
        last_known = restarted.router.now
        rig.fake.hangup(caller)
        rig.fake.pbx.astdb.clear()
        restarted.dispatcher.clock = lambda: time.time() + 300.0
        try:
            await restarted.start()
            end = restarted.ended()[caller.uniqueid]
            assert (end.outcome, end.approximate) == (Outcome.ABANDONED, True)
            assert end.waited == last_known - arrived
            assert end.waited < 300.0
        finally:
            await restarted.stop()


async def test_a_call_answered_and_ended_while_the_dispatcher_is_down_is_served() -> None:
    """Killed while a caller rings; the agent answers and the conversation ends before the
    dispatcher is back: Asterisk has no channel left, yet the history says served (as the
    PBX saw) with the conversation's real end, not abandoned."""
    async with PhoneRig(
        available=("a101",), policy=RoutingPolicy(wrap_up_s=0), time_scale=0.2
    ) as rig:
        rig.fake.phone("101").answer_after = 0.3
        caller = rig.fake.place_call("0600000011", "Brief")
        await rig.until(lambda: rig.agent_state("a101") is AgentState.RESERVED)
        await rig.until(
            lambda: any(c.device == "PJSIP/agent101" for c in rig.fake.pbx.channels.values())
        )
        restarted = Restarted(rig)  # kill -9 while it rings
        for _ in range(400):
            if rig.fake.bridged_to(caller):
                break
            await asyncio.sleep(0.01)
        assert rig.fake.bridged_to(caller) == "PJSIP/agent101"
        rig.fake.hangup(caller)
        restarted.dispatcher.clock = lambda: time.time() + 30.0
        try:
            await restarted.start()
            end = restarted.ended()[caller.uniqueid]
            assert (end.outcome, end.agent_id, end.approximate) == (Outcome.SERVED, "a101", True)
            assert restarted.router.agents["a101"].state is AgentState.AVAILABLE
        finally:
            await restarted.stop()


async def test_a_conversation_over_while_the_dispatcher_is_down_ends_when_it_did() -> None:
    """Killed while a caller talks; they hang up during the outage: served, and the history's
    end (so the talk time) is the hang-up the dialplan noted, not the restart; unnoted, the
    last moment the dispatcher knew, flagged approximate."""
    for noted in (True, False):
        async with PhoneRig(
            available=("a101",), policy=RoutingPolicy(wrap_up_s=0), time_scale=0.2
        ) as rig:
            caller = rig.fake.place_call("0600000013", "Talks")
            await rig.until(lambda: rig.agent_state("a101") is AgentState.BUSY)
            restarted = Restarted(rig)
            last_known = restarted.router.now
            await asyncio.sleep(0.3)
            rig.fake.hangup(caller)
            hung_up = time.time()
            if not noted:
                rig.fake.pbx.astdb.clear()
            restarted.dispatcher.clock = lambda: time.time() + 60.0
            try:
                await restarted.start()
                end = restarted.ended()[caller.uniqueid]
                assert (end.outcome, end.agent_id, end.approximate) == (Outcome.SERVED, "a101", not noted)
                assert end.ended_at is not None
                assert abs(end.ended_at - (hung_up if noted else last_known)) < 0.05
                fold = Fold()
                for seq, event in enumerate(
                    [*rig.events(), *(e for batch in restarted.batches for e in batch)], 1
                ):
                    fold.add(seq, event)
                row = fold.contacts[caller.uniqueid]
                assert (row["ended_at"], row["end_approximate"], row["wait_approximate"]) == (
                    end.ended_at, not noted, False)
            finally:
                await restarted.stop()


def test_a_hangup_read_while_the_resync_reads_asterisk_is_decided_by_its_snapshot() -> None:
    """The snapshot shows the caller bridged with the agent (answered while the link was down);
    its Hangup arrives before the takeover: served, not abandoned, and not followed for ever,
    whether the machine followed the caller (a link cut) or not (a restart)."""
    from dispatcher.ami.calls import PhoneCalls
    from dispatcher.ami.model import RINGING, CoreContact, LiveChannel, PhoneCall, agent_lines
    from skills.model import Channel
    from tests.ami_helpers import phone_matrix

    caller = LiveChannel("c1", "PJSIP/trunk-00000001", "to-agent", "101", "Dial", "b1", "c1")
    agent = LiveChannel("c2", "PJSIP/agent101-00000002", "to-agent", "", "AppDial", "b1", "c1")
    for followed in (True, False):
        machine = PhoneCalls(agent_lines(phone_matrix()))
        if followed:
            call = PhoneCall("c1", caller.channel, in_core=True, state=RINGING, agent_id="a101")
            machine.calls["c1"] = machine.by_contact["c1"] = call
        machine.begin_resync()
        assert machine.frame("Hangup", {"Uniqueid": "c1", "Channel": caller.channel}, 10.0) == []
        steps = machine.resync(
            [CoreContact("c1", Channel.PHONE, "offered", "a101")], [caller, agent], {}, 10.5, 5.0
        )
        events = [s for s in steps if isinstance(s, ev.Event)]
        assert [type(e) for e in events] == [ev.ContactTakenOver, ev.ContactAbandoned], followed
        assert events[1].left_at == (10.0 if followed else 10.5)  # type: ignore[attr-defined]
        assert "c1" not in machine.calls and "c1" not in machine.by_contact
