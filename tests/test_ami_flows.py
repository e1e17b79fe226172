"""The phone channel end to end over real TCP: fake Asterisk <-AMI/FastAGI-> adapter, IVR, core."""

from __future__ import annotations

import asyncio

import pytest

from dispatcher import events as ev
from dispatcher.events import AgentState, DeclineReason, Outcome
from dispatcher.policy import RoutingPolicy
from ivr.citizens import directory_of
from skills.model import Channel
from tests import factories as f
from tests.ami_helpers import PhoneRig, phone_matrix, settle


def _agents(*specs: tuple[int, dict[str, int]]) -> object:
    return f.matrix(
        *(
            f.agent(f"a{n}", skills, Channel.PHONE, Channel.CALLBACK, endpoint=f"PJSIP/agent{n}")
            for n, skills in specs
        )
    )


async def test_call_qualified_by_dtmf_waits_then_goes_to_the_right_agent() -> None:
    """Hélène presses 1 (état civil) then 1 (passeport); only a102 knows passports."""
    matrix = _agents((101, {"id_card": 3, "triage": 2}), (102, {"passport": 2, "triage": 1}))
    directory = directory_of([("0612345678", "cit-42", "Hélène Dupont")])
    async with PhoneRig(
        available=(), matrix=matrix, ivr=True, directory=directory, record=True
    ) as rig:
        call = rig.fake.place_call("+33612345678", "Hélène Dupont", dtmf=["1", "1"])
        await rig.until(lambda: rig.fake.holding())  # waiting with music: nobody available yet
        (arrived,) = rig.events(ev.ContactArrived)
        assert (arrived.contact_id, arrived.process, arrived.caller, arrived.citizen_id) == (
            call.uniqueid,
            "passport",
            "+33612345678",
            "cit-42",
        )
        for agent in ("a101", "a102"):
            rig.make_available(agent)
        await rig.until(lambda: rig.fake.bridged_to(call))
        assert rig.fake.bridged_to(call) == "PJSIP/agent102"
        (redirect,) = rig.fake.actions("Redirect")
        assert {k: redirect[k][0] for k in ("channel", "context", "exten", "priority")} == {
            "channel": call.name,
            "context": "to-agent",
            "exten": "102",
            "priority": "1",
        }
        await rig.until(lambda: rig.agent_state("a102") is AgentState.BUSY)
        assert rig.fake.channel(call).caller_name == "Hélène Dupont"
        rig.fake.hangup(call)
        await rig.until(lambda: call.uniqueid in rig.ended())
        ended = rig.ended()[call.uniqueid]
        assert (ended.outcome, ended.agent_id) == (Outcome.SERVED, "a102")
        kinds = [e.kind for e in rig.events() if getattr(e, "contact_id", None) == call.uniqueid]
        assert kinds[:3] == ["contact_arrived", "contact_queued", "contact_offered"]
        assert kinds[-3:] == ["offer_answered", "contact_completed", "contact_ended"] or kinds[
            -2:
        ] == ["contact_completed", "contact_ended"]


async def test_abandon_while_waiting() -> None:
    async with PhoneRig(available=()) as rig:
        call = rig.fake.place_call("0102030405", "Gaëlle")
        await rig.until(lambda: rig.events(ev.ContactQueued))
        await asyncio.sleep(0.2)
        rig.fake.hangup(call)
        await rig.until(lambda: call.uniqueid in rig.ended())
        ended = rig.ended()[call.uniqueid]
        assert ended.outcome is Outcome.ABANDONED
        assert 0.2 <= ended.waited < 2.0


async def test_ring_no_answer_requeues_first_and_pauses_the_agent() -> None:
    async with PhoneRig(available=("a101",)) as rig:
        rig.fake.phone("101").mode = "no_answer"
        first = rig.fake.place_call("0600000001", "Premier")
        await rig.until(lambda: rig.events(ev.ContactOffered))
        second = rig.fake.place_call("0600000002", "Second")
        await rig.until(lambda: len(rig.events(ev.ContactQueued)) == 2)
        # Dial(PJSIP/agent101,15) times out (15 s x time_scale): DialEnd NOANSWER.
        await rig.until(lambda: rig.events(ev.OfferDeclined))
        (declined,) = rig.events(ev.OfferDeclined)
        assert (declined.contact_id, declined.agent_id, declined.reason) == (
            first.uniqueid,
            "a101",
            DeclineReason.NO_ANSWER,
        )
        assert rig.agent_state("a101") is AgentState.PAUSED
        assert rig.router.agents["a101"].reason == "no_answer"
        await rig.until(lambda: rig.fake.channel(first).moh)  # back on hold, in Asterisk too
        rig.make_available("a102")
        await rig.until(lambda: rig.fake.bridged_to(first))
        assert rig.fake.bridged_to(first) == "PJSIP/agent102"  # the first caller before the second
        assert rig.fake.channel(second).moh


async def test_an_unavailable_endpoint_is_not_offered_calls() -> None:
    async with PhoneRig(available=("a101", "a102")) as rig:
        rig.fake.set_registered("101", False)
        await rig.until(lambda: not rig.router.agents["a101"].reachable)
        call = rig.fake.place_call("0600000003")
        await rig.until(lambda: rig.fake.bridged_to(call))
        assert rig.fake.bridged_to(call) == "PJSIP/agent102"
        rig.fake.set_registered("101", True)
        await rig.until(lambda: rig.router.agents["a101"].reachable)
        other = rig.fake.place_call("0600000004")
        await rig.until(lambda: rig.fake.bridged_to(other))
        assert rig.fake.bridged_to(other) == "PJSIP/agent101"


async def test_a_phone_that_vanished_without_a_device_event_declines_unavailable() -> None:
    """Dial to an unregistered endpoint creates no channel: GUICHET_DIALSTATUS=CHANUNAVAIL says so."""
    async with PhoneRig(available=("a101",)) as rig:
        rig.fake.pbx.phones["PJSIP/agent101"].registered = False  # no DeviceStateChange sent
        call = rig.fake.place_call("0600000005")
        await rig.until(lambda: rig.events(ev.OfferDeclined))
        (declined,) = rig.events(ev.OfferDeclined)
        assert declined.reason is DeclineReason.UNAVAILABLE
        assert not rig.router.agents["a101"].reachable
        await rig.until(lambda: rig.fake.channel(call).moh)
        rig.make_available("a102")
        await rig.until(lambda: rig.fake.bridged_to(call))


async def test_a_busy_phone_declines_busy() -> None:
    async with PhoneRig(available=("a101",)) as rig:
        rig.fake.phone("101").mode = "busy"
        rig.fake.place_call("0600000006")
        await rig.until(lambda: rig.events(ev.OfferDeclined))
        assert rig.events(ev.OfferDeclined)[0].reason is DeclineReason.BUSY


async def test_the_agent_hangs_up_first() -> None:
    async with PhoneRig(available=("a101",)) as rig:
        call = rig.fake.place_call("0600000007")
        await rig.until(lambda: rig.fake.bridged_to(call))
        assert rig.fake.agent_hangup("101")
        await rig.until(lambda: call.uniqueid in rig.ended())
        assert rig.ended()[call.uniqueid].outcome is Outcome.SERVED
        assert rig.fake.channel(call) is None


async def test_ami_cut_mid_call_and_restored_loses_and_duplicates_nobody() -> None:
    async with PhoneRig(available=("a101",), matrix=phone_matrix(range(101, 104))) as rig:
        talking = rig.fake.place_call("0600000010", "Talking")
        await rig.until(lambda: rig.fake.bridged_to(talking))
        holding = rig.fake.place_call("0600000011", "Holding")
        leaving = rig.fake.place_call("0600000012", "Leaving")
        await rig.until(lambda: len(rig.fake.holding()) == 2)
        await rig.until(lambda: {holding.uniqueid, leaving.uniqueid} <= set(rig.router.contacts))
        holding_arrival = rig.router.contacts[holding.uniqueid].arrived_at
        resyncs = rig.adapter.stats.resyncs

        rig.fake.refuse_ami(True)
        rig.fake.cut_ami()
        await rig.until(lambda: not rig.adapter.link_up)
        # While the link is down, Asterisk goes on without the dispatcher:
        rig.fake.hangup(talking)  # a conversation ends
        rig.fake.hangup(leaving)  # a caller gives up
        newcomer = rig.fake.place_call(
            "0600000013", "Newcomer"
        )  # a caller arrives (no IVR: generalist)
        await rig.until(lambda: rig.fake.channel(newcomer).moh)
        await asyncio.sleep(0.1)
        rig.fake.refuse_ami(False)
        await rig.until(lambda: rig.adapter.stats.resyncs > resyncs)
        await rig.synced()

        ended = rig.ended()
        assert ended[talking.uniqueid].outcome is Outcome.SERVED
        assert ended[leaving.uniqueid].outcome is Outcome.ABANDONED
        assert holding.uniqueid not in ended
        assert rig.router.contacts[holding.uniqueid].arrived_at == holding_arrival  # kept its place
        arrivals = [e.contact_id for e in rig.events(ev.ContactArrived)]
        assert sorted(arrivals) == sorted(
            [talking.uniqueid, holding.uniqueid, leaving.uniqueid, newcomer.uniqueid]
        )  # each once
        newcomer_arrival = rig.router.contacts[newcomer.uniqueid].arrived_at
        assert newcomer_arrival <= rig.dispatcher.clock() - 0.1 + 1.0

        # Everyone left is served, in arrival order.
        rig.make_available("a102")
        await rig.until(lambda: rig.fake.bridged_to(holding) and rig.fake.bridged_to(newcomer))
        assert [e.kind for e in rig.events(ev.Rejected)] == []


async def test_offer_decided_while_the_link_is_down_is_carried_out_after_resync() -> None:
    async with PhoneRig(available=()) as rig:
        call = rig.fake.place_call("0600000020")
        await rig.until(lambda: rig.fake.holding())
        rig.fake.refuse_ami(True)
        rig.fake.cut_ami()
        await rig.until(lambda: not rig.adapter.link_up)
        rig.make_available("a101")
        assert rig.events(ev.ContactOffered)  # decided now, carried out once the link is back
        await asyncio.sleep(0.05)
        assert rig.fake.bridged_to(call) is None
        rig.fake.refuse_ami(False)
        await rig.until(lambda: rig.fake.bridged_to(call))
        assert len(rig.fake.actions("Redirect")) == 1


async def test_cut_while_ringing_the_agent_finds_the_answer_after_resync() -> None:
    async with PhoneRig(available=("a101",), time_scale=0.1) as rig:  # Dial rings 1.5 s
        rig.fake.phone("101").answer_after = 0.3
        call = rig.fake.place_call("0600000030")
        await rig.until(lambda: rig.fake.channel(call).dialing is not None)
        rig.fake.refuse_ami(True)
        rig.fake.cut_ami()
        await rig.until(lambda: rig.fake.bridged_to(call))  # answered during the outage
        rig.fake.refuse_ami(False)
        await rig.until(lambda: rig.events(ev.OfferAnswered))
        assert rig.agent_state("a101") is AgentState.BUSY
        rig.fake.hangup(call)
        await rig.until(lambda: call.uniqueid in rig.ended())
        assert rig.ended()[call.uniqueid].outcome is Outcome.SERVED


@pytest.mark.parametrize(
    "junk",
    [
        b"this is not AMI\r\n\r\n",
        b"Event: Hangup\r\nPrivilege: call,all\r\nChannel: PJSIP/trunk-0000",  # truncated, then glued
        b"Event: SomethingNew\r\nPrivilege: call,all\r\nFoo: bar\r\n\r\n",
        b"Event: Hangup\r\nPrivilege: call,all\r\n\r\n",  # no Uniqueid
        b"Event: DialEnd\r\nUniqueid: 42.42\r\nDialStatus: ANSWER\r\n\r\n",  # a channel nobody knows
        b"\xff\xfe\x00\x01\r\n\r\n",
        b"Response: Success\r\nActionID: stale\r\n\r\n",
    ],
)
async def test_malformed_truncated_and_unknown_frames_are_skipped(junk: bytes) -> None:
    async with PhoneRig(available=("a101",)) as rig:
        call = rig.fake.place_call("0600000040")
        await rig.until(lambda: rig.fake.bridged_to(call))
        for session in rig.fake.ami.sessions:
            session.write(junk)
        rig.fake.hangup(call)
        await rig.until(lambda: call.uniqueid in rig.ended())
        assert rig.ended()[call.uniqueid].outcome is Outcome.SERVED
        again = rig.fake.place_call("0600000041")
        await rig.until(lambda: rig.fake.bridged_to(again))
        assert rig.adapter.link_up


async def test_callback_is_an_originate_to_the_agent_then_the_citizen() -> None:
    async with PhoneRig(available=()) as rig:
        rig.callback_requested("cb-1", "0611223344")
        rig.make_available("a101")
        await rig.until(lambda: rig.events(ev.OfferAnswered))
        (originate,) = rig.fake.actions("Originate")
        assert originate["channel"] == ["PJSIP/agent101"]
        assert (originate["context"], originate["exten"]) == (["callback"], ["0611223344"])
        await rig.until(lambda: any(c.bridge for c in rig.fake.pbx.channels.values()))
        assert rig.agent_state("a101") is AgentState.BUSY
        rig.fake.agent_hangup("101")
        await rig.until(lambda: "cb-1" in rig.ended())
        assert rig.ended()["cb-1"].outcome is Outcome.SERVED


async def test_callback_the_agent_does_not_answer() -> None:
    async with PhoneRig(available=()) as rig:
        rig.fake.phone("101").mode = "no_answer"
        rig.callback_requested("cb-2", "0611223355")
        rig.make_available("a101")
        await rig.until(lambda: rig.events(ev.OfferDeclined))
        assert rig.events(ev.OfferDeclined)[0].reason is DeclineReason.NO_ANSWER
        assert "cb-2" in rig.router.contacts  # still waiting for an agent


async def test_credentials_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from dispatcher.ami.adapter import AmiAdapter
    from guichet.config import load_settings

    monkeypatch.setenv("GUICHET_AMI_USERNAME", "guichet")
    monkeypatch.setenv("GUICHET_AMI_SECRET", "from-env")
    monkeypatch.setenv("GUICHET_AMI_PORT", "5999")
    rig = PhoneRig()
    adapter = AmiAdapter.from_settings(load_settings(), rig.dispatcher, rig.matrix)
    config = adapter.manager.config
    assert (config["username"], config["secret"], config["port"]) == ("guichet", "from-env", 5999)


async def test_wrong_secret_is_refused_and_retried() -> None:
    from dispatcher.ami.adapter import AmiAdapter

    rig = PhoneRig()
    await rig.fake.start()
    adapter = AmiAdapter(
        rig.dispatcher,
        rig.matrix,
        port=rig.fake.ami_port,
        secret="wrong",
        reconnect_min=0.02,
        reconnect_max=0.05,
    )
    await adapter.start()
    await settle(0.3)
    assert not adapter.link_up
    assert adapter.manager.connections >= 2  # refused, reconnected, refused again
    await adapter.stop()
    await rig.fake.stop()


async def test_the_dispatchers_own_ring_timer_brings_the_caller_back_on_hold() -> None:
    """The core's ring-no-answer timer (0.3 s here) fires before Asterisk's Dial timeout (1.5 s)."""
    timeouts = {channel: None for channel in Channel} | {Channel.PHONE: 0.3}
    policy = RoutingPolicy(wrap_up_s=0, offer_timeout_s=timeouts)
    async with PhoneRig(available=("a101",), policy=policy, time_scale=0.1) as rig:
        rig.fake.phone("101").mode = "no_answer"
        call = rig.fake.place_call("0600000050")
        await rig.until(lambda: rig.fake.channel(call).dialing is not None)
        await rig.until(lambda: rig.events(ev.ContactRequeued))
        assert rig.events(ev.ContactRequeued)[0].reason == "no_answer"
        assert rig.agent_state("a101") is AgentState.PAUSED
        await rig.until(
            lambda: rig.fake.channel(call).moh and rig.fake.channel(call).context == "waiting"
        )
        redirects = [(a["context"][0], a["exten"][0]) for a in rig.fake.actions("Redirect")]
        assert redirects == [("to-agent", "101"), ("waiting", "s")]
        assert (
            rig.events(ev.OfferDeclined) == []
        )  # the DialEnd CANCEL of our own Redirect is not a decline


async def test_an_agent_on_another_call_is_not_offered_one() -> None:
    async with PhoneRig(available=("a101", "a102")) as rig:
        pbx = rig.fake.pbx
        personal = pbx.new_channel("PJSIP/agent101", "from-agents", "s")  # a call of their own
        pbx.set_state(personal, 6)
        await rig.until(lambda: not rig.router.agents["a101"].reachable)
        call = rig.fake.place_call("0600000051")
        await rig.until(lambda: rig.fake.bridged_to(call))
        assert rig.fake.bridged_to(call) == "PJSIP/agent102"


async def test_a_redirect_racing_the_callers_hangup_does_not_blame_the_agent() -> None:
    async with PhoneRig(available=()) as rig:
        call = rig.fake.place_call("0600000052")
        await rig.until(lambda: rig.events(ev.ContactQueued))
        rig.fake.hangup(call)  # the Hangup event is on its way...
        rig.make_available("a101")  # ...when an agent frees up and is offered the caller
        assert rig.events(ev.ContactOffered)
        await rig.until(lambda: call.uniqueid in rig.ended())
        assert rig.ended()[call.uniqueid].outcome is Outcome.ABANDONED
        assert rig.events(ev.OfferDeclined) == []
        assert rig.router.agents["a101"].reachable
        assert rig.agent_state("a101") is AgentState.AVAILABLE


async def test_a_silent_link_is_dropped_and_reestablished() -> None:
    """Half-open TCP (Asterisk's host gone without a FIN): no reply to pings for 3 intervals."""
    async with PhoneRig(available=("a101",)) as rig:
        rig.adapter.manager.ping_interval = 0.1
        rig.adapter.manager.ping()
        resyncs = rig.adapter.stats.resyncs
        for session in list(rig.fake.ami.sessions):
            session.closed = True  # it stops writing...
            session.transport.pause_reading()  # ...and reading, but keeps the socket open
        await rig.until(lambda: rig.adapter.stats.resyncs > resyncs, timeout=5)
        call = rig.fake.place_call("0600000060")
        await rig.until(lambda: rig.fake.bridged_to(call))


async def test_an_agent_without_a_softphone_is_declined_and_the_caller_goes_elsewhere() -> None:
    matrix = f.matrix(
        f.agent("a100", {"triage": 3}, Channel.PHONE),  # phone skills, but no endpoint
        f.agent("a101", {"triage": 2}, Channel.PHONE, endpoint="PJSIP/agent101"),
    )
    async with PhoneRig(available=("a100",), matrix=matrix) as rig:
        call = rig.fake.place_call("0600000070")
        await rig.until(lambda: rig.events(ev.OfferDeclined))
        declined = rig.events(ev.OfferDeclined)[0]
        assert (declined.agent_id, declined.reason) == ("a100", DeclineReason.UNAVAILABLE)
        rig.make_available("a101")
        await rig.until(lambda: rig.fake.bridged_to(call))
        assert rig.fake.bridged_to(call) == "PJSIP/agent101"


async def test_late_dial_status_of_a_rung_out_agent_does_not_decline_the_next_offer() -> None:
    # a101 rings out while a102 is free: the core re-offers at once, and the dialplan's
    # GUICHET_DIALSTATUS of the failed Dial (extension 101) arrives after that new offer.
    async with PhoneRig(available=("a101", "a102")) as rig:
        rig.fake.phone("101").mode = "no_answer"
        call = rig.fake.place_call("0600000009", "Gaëlle")
        await rig.until(lambda: rig.fake.bridged_to(call))
        assert rig.fake.bridged_to(call) == "PJSIP/agent102"
        await rig.until(lambda: rig.events(ev.OfferAnswered))
        declined = rig.events(ev.OfferDeclined)
        assert [(d.agent_id, d.reason) for d in declined] == [("a101", DeclineReason.NO_ANSWER)]
        answered = rig.events(ev.OfferAnswered)
        assert [(a.contact_id, a.agent_id) for a in answered] == [(call.uniqueid, "a102")]
        assert rig.agent_state("a102") is AgentState.BUSY
