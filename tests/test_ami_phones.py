"""Agents' phones as Asterisk 22 shows them: busy (486), dead between qualify checks, gone.

Over real sockets: the fake Asterisk behaving as agent-busy-486.txt and
agent-unreachable-qualify.txt show, the AMI adapter, the routing core. And
the same captures replayed byte for byte through the adapter.
"""

from __future__ import annotations

import asyncio

from dispatcher import events as ev
from dispatcher.events import DeclineReason
from dispatcher.policy import RoutingPolicy
from tests.ami_helpers import PhoneRig, Replay, capture, phone_matrix


def dials_to(rig: PhoneRig, number: str) -> int:
    return sum(
        1
        for frame in rig.fake.frames
        if frame.startswith(b"Event: DialBegin\r\n")
        and f"\r\nDestChannel: PJSIP/agent{number}-".encode() in frame
    )


def reachable(rig: PhoneRig, agent_id: str) -> bool:
    return rig.router.agents[agent_id].reachable


async def test_a_busy_phone_gets_one_dial_per_back_off_then_takes_the_call_once_free() -> None:
    policy = RoutingPolicy(wrap_up_s=0, busy_backoff_s=1.0)
    async with PhoneRig(available=("a101",), policy=policy, record=True) as rig:
        rig.fake.phone("101").mode = "busy"
        call = rig.fake.place_call("0612345678", "Hélène")
        await rig.until(lambda: rig.events(ev.OfferDeclined))
        (declined,) = rig.events(ev.OfferDeclined)
        assert declined.reason is DeclineReason.BUSY
        await asyncio.sleep(0.6)  # inside the back-off: Asterisk showed the phone NOT_INUSE again
        assert rig.fake.pbx.device_states["PJSIP/agent101"] == "NOT_INUSE"
        assert dials_to(rig, "101") == 1
        assert not reachable(rig, "a101")
        rig.fake.phone("101").mode = "answer"  # the agent ends their other call
        await rig.until(lambda: rig.fake.bridged_to(call) == "PJSIP/agent101", timeout=3.0)
        assert dials_to(rig, "101") == 2


async def test_a_busy_phone_lets_the_caller_go_to_a_free_agent_at_once() -> None:
    policy = RoutingPolicy(wrap_up_s=0, busy_backoff_s=30.0)
    async with PhoneRig(available=("a101", "a102"), policy=policy, record=True) as rig:
        rig.fake.phone("101").mode = "busy"
        rig.fake.phone("102").answer_after = 0.05
        calls = [rig.fake.place_call(f"06000000{i:02d}") for i in range(2)]
        await rig.until(lambda: any(rig.fake.bridged_to(c) for c in calls))
        await asyncio.sleep(0.3)
        assert dials_to(rig, "101") == 1  # not 26 in 150 ms
        assert {rig.fake.bridged_to(c) for c in calls} == {"PJSIP/agent102", None}


async def test_a_phone_that_stops_answering_qualify_is_unreachable_then_back() -> None:
    async with PhoneRig(available=("a101", "a102")) as rig:
        rig.fake.set_registered("101", False, how="qualify")
        await rig.until(lambda: not reachable(rig, "a101"))
        call = rig.fake.place_call("0612345678")
        await rig.until(lambda: rig.fake.bridged_to(call) == "PJSIP/agent102")
        rig.fake.set_registered("101", True, how="qualify")
        await rig.until(lambda: reachable(rig, "a101"))
        second = rig.fake.place_call("0612345679")
        await rig.until(lambda: rig.fake.bridged_to(second) == "PJSIP/agent101")


async def test_a_contact_status_alone_makes_the_phone_unreachable() -> None:
    """After an Asterisk restart a phone can go Unreachable with no DeviceStateChange."""
    async with PhoneRig(available=("a101", "a102"), record=True) as rig:
        rig.fake.set_registered("101", False, how="contact")
        await rig.until(lambda: not reachable(rig, "a101"))
        assert rig.fake.pbx.device_states["PJSIP/agent101"] == "NOT_INUSE"
        call = rig.fake.place_call("0612345678")
        await rig.until(lambda: rig.fake.bridged_to(call) == "PJSIP/agent102")
        assert dials_to(rig, "101") == 0
        rig.fake.set_registered("101", True, how="contact")
        await rig.until(lambda: reachable(rig, "a101"))


async def test_unregister_and_register_again() -> None:
    async with PhoneRig(available=("a101",)) as rig:
        rig.fake.set_registered("101", False)
        await rig.until(lambda: not reachable(rig, "a101"))
        rig.fake.set_registered("101", True)
        await rig.until(lambda: reachable(rig, "a101"))


async def test_chanunavail_makes_the_agent_unreachable_until_its_phone_says_otherwise() -> None:
    async with PhoneRig(available=("a101", "a102"), record=True) as rig:
        rig.fake.phone("101").registered = False  # vanished without any event
        rig.fake.phone("102").answer_after = 0.1
        call = rig.fake.place_call("0612345678")
        await rig.until(lambda: rig.fake.bridged_to(call))
        declines = [e for e in rig.events(ev.OfferDeclined) if e.agent_id == "a101"]
        assert [d.reason for d in declines] in ([], [DeclineReason.UNAVAILABLE])
        if declines:
            assert not reachable(rig, "a101")
            rig.fake.set_registered("101", True)
            await rig.until(lambda: reachable(rig, "a101"))


# ------------------------------------------------------------ the captures themselves


def _replay(name: str, agent: str, policy: RoutingPolicy | None = None) -> Replay:
    number = int(agent[1:])
    replay = Replay(available=(), matrix=phone_matrix([number]))
    if policy is not None:
        replay.router.policy = policy
    replay.feed(capture(name))
    return replay


def test_the_486_capture_declines_busy_and_the_phone_stays_out_for_the_back_off() -> None:
    replay = Replay(available=("a104",), matrix=phone_matrix([104]))
    replay.feed(capture("agent-busy-486.txt"))
    offers = replay.events(ev.ContactOffered)
    (declined,) = replay.events(ev.OfferDeclined)
    assert declined.reason is DeclineReason.BUSY and declined.agent_id == "a104"
    assert len(offers) == 1  # the NOT_INUSE 1 ms after DialEnd brings no second offer
    changes = [e.reachable for e in replay.events(ev.EndpointChanged)]
    assert changes[-1] is True  # the last device state is told to the core...
    assert not replay.router.agents["a104"].reachable  # ...which holds the back-off
    replay.now += replay.router.policy.busy_backoff_s + 1
    replay.dispatcher.tick()
    assert replay.router.agents["a104"].reachable
    assert len(replay.events(ev.ContactOffered)) == 2  # once free, offered again


def test_the_qualify_capture_follows_every_signal() -> None:
    replay = Replay(available=(), matrix=phone_matrix([101, 102]))
    replay.feed(capture("agent-unreachable-qualify.txt"))
    changes = [(e.agent_id, e.reachable) for e in replay.events(ev.EndpointChanged)]
    assert changes == [("a101", False), ("a101", True), ("a102", False), ("a102", True)]


def test_the_shipped_aor_template_finds_a_dead_phone_in_seconds() -> None:
    """asterisk-config/pjsip.conf: qualify often enough that a dead phone is found in < 10 s."""
    from dispatcher.fake_asterisk.config_files import asterisk_config_dir

    section, values = None, {}
    for raw in (asterisk_config_dir() / "pjsip.conf").read_text(encoding="utf-8").splitlines():
        line = raw.split(";", 1)[0].strip()
        if line.startswith("["):
            section = line
        elif section == "[agent-aor](!)" and line.startswith("qualify_"):
            key, _, value = line.partition("=")
            values[key.strip()] = float(value)
    frequency, timeout = values["qualify_frequency"], values["qualify_timeout"]
    assert frequency + timeout < 10
    assert 0.5 <= timeout < frequency
