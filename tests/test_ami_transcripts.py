"""Every frame of the real Asterisk 22 captures through the dispatcher's parsing and adapter.

The captures (tests/data/ami-transcripts, copied from a lab Asterisk 22.10.1)
are replayed byte for byte, cut at random places, into ``FrameProtocol`` ->
``AmiAdapter`` -> the routing core; the core events that come out are checked.
"""

from __future__ import annotations

import pytest

from dispatcher import events as ev
from dispatcher.ami import codec
from dispatcher.ami.events import KNOWN_EVENTS
from dispatcher.events import AgentState, DeclineReason, Outcome
from tests.ami_helpers import CAPTURE_FILES, Replay, capture, frames_of, headers_of


@pytest.mark.parametrize("name", CAPTURE_FILES)
@pytest.mark.parametrize("seed", [None, 1, 2, 3])
async def test_every_frame_is_parsed_and_understood(name: str, seed: int | None) -> None:
    data = capture(name)
    replay = Replay(available=("a101",))
    replay.feed(data, seed=seed)
    frames = frames_of(data)
    assert replay.frames_in == len(frames)
    assert replay.malformed == 0
    assert replay.adapter.stats.unknown_events == set()
    for frame in frames:
        parsed = codec.parse(codec.decode(frame))
        expected = headers_of(frame)
        assert {k: (v[0] if isinstance(v, list) else v) for k, v in parsed.items()} == expected
        name_ = parsed.get("Event")
        assert name_ in KNOWN_EVENTS or "Response" in parsed, f"{name}: {frame[:60]!r}"


@pytest.mark.parametrize("name", CAPTURE_FILES)
async def test_results_do_not_depend_on_how_tcp_cut_the_bytes(name: str) -> None:
    def run(seed: int | None) -> list[str]:
        replay = Replay(available=("a101", "a105"))
        replay.feed(capture(name), seed=seed)
        return [ev.dumps(e) for e in replay.events()]

    whole = run(None)
    for seed in range(5):
        assert run(seed) == whole


async def test_a_call_through_the_ivr_is_queued_redirected_answered_and_completed() -> None:
    replay = Replay(available=("a101",))
    replay.feed(capture("call-ivr-wait-redirect-answer-hangup.txt"))
    (arrived,) = replay.events(ev.ContactArrived)
    assert arrived == ev.ContactArrived(
        at=1795362857.0,
        contact_id="1795362857.5",
        channel=ev.Channel.PHONE,
        process="passport",
        caller="sipp",
    )
    (offered,) = replay.events(ev.ContactOffered)
    assert (offered.contact_id, offered.agent_id) == ("1795362857.5", "a101")
    (redirect,) = replay.actions()
    assert {k: redirect[k] for k in ("Action", "Channel", "Context", "Exten", "Priority")} == {
        "Action": "Redirect",
        "Channel": "PJSIP/sipp-00000005",
        "Context": "to-agent",
        "Exten": "101",
        "Priority": "1",
    }
    (answered,) = replay.events(ev.OfferAnswered)
    assert (answered.contact_id, answered.agent_id) == ("1795362857.5", "a101")
    (completed,) = replay.events(ev.ContactCompleted)
    assert completed.contact_id == "1795362857.5"
    (ended,) = replay.events(ev.ContactEnded)
    assert ended.outcome is Outcome.SERVED and ended.agent_id == "a101"
    # The agent's softphone: ringing, in use, then free again.
    assert [e.reachable for e in replay.events(ev.EndpointChanged)] == [False, True]
    assert replay.router.agents["a101"].state is AgentState.AVAILABLE


async def test_the_abandon_capture_yields_an_abandon_with_the_wait() -> None:
    """Queued when the IVR set GUICHET_PROCESS (the channel was created at 1795362888, its
    Uniqueid says); hung up after the RTCP report of 1795362898.667544: 10.67 s on the line."""
    replay = Replay(available=())
    replay.feed(capture("caller-abandons-while-waiting.txt"))
    (abandoned,) = replay.events(ev.ContactAbandoned)
    assert abandoned.contact_id == "1795362888.7"
    (ended,) = replay.events(ev.ContactEnded)
    assert ended.outcome is Outcome.ABANDONED
    assert ended.waited == pytest.approx(1795362898.667544 - 1795362888.0)
    assert replay.actions() == []


async def test_an_agent_who_does_not_answer_is_paused_and_the_caller_requeued_first() -> None:
    replay = Replay(available=("a105",))
    replay.feed(capture("agent-no-answer.txt"))
    (declined,) = replay.events(ev.OfferDeclined)
    assert (declined.contact_id, declined.agent_id, declined.reason) == (
        "1795362902.8",
        "a105",
        DeclineReason.NO_ANSWER,
    )
    (requeued,) = replay.events(ev.ContactRequeued)
    assert requeued.contact_id == "1795362902.8"
    paused = [e for e in replay.events(ev.AgentStateChanged) if e.state is AgentState.PAUSED]
    assert [(e.agent_id, e.reason) for e in paused] == [("a105", "no_answer")]
    (ended,) = replay.events(ev.ContactEnded)  # then hung up by an AMI Hangup while back on hold
    assert ended.outcome is Outcome.ABANDONED
    # Requeued with its original arrival time: the wait counts from the first arrival.
    assert ended.waited == pytest.approx(ended.at - 1795362902.0)


async def test_app_queue_calls_are_not_the_dispatchers() -> None:
    replay = Replay(available=("a103",))
    replay.feed(capture("queue-peer-call.txt"))
    assert replay.events(ev.ContactArrived) == []
    assert replay.actions() == []
    assert [e.reachable for e in replay.events(ev.EndpointChanged)] == [False, True]


async def test_the_whole_session() -> None:
    replay = Replay(available=("a101",))
    replay.feed(capture("full-session.txt"))
    assert replay.protocol.version == "11.0.0"
    outcomes = {e.contact_id: e.outcome for e in replay.events(ev.ContactEnded)}
    assert outcomes == {
        "1795362857.5": Outcome.SERVED,
        "1795362888.7": Outcome.ABANDONED,
        "1795362902.8": Outcome.ABANDONED,
    }
    # The DeviceStateList at login: ten agents' phones, all free.
    first = replay.events(ev.EndpointChanged)[:10]
    assert sorted(e.agent_id for e in first) == [f"a{n}" for n in range(101, 111)]
    assert all(e.reachable for e in first)


async def test_event_lists_complete_the_action_futures() -> None:
    replay = Replay(available=())
    for name, action, count in (
        ("devicestatelist-response.txt", "DeviceStateList", 15),
        ("coreshowchannels-response.txt", "CoreShowChannels", 1),
    ):
        data = capture(name)
        action_id = headers_of(frames_of(data)[0])["ActionID"]
        future = replay.manager.send_action({"Action": action, "ActionID": action_id})
        replay.feed(data, seed=7)
        messages = future.result()
        assert len(messages) == count + 2
        assert messages[-1]["ListItems"] == str(count)
    # The list items answered the actions: none reached the adapter as live events.
    assert replay.events() == []


async def test_login_capture_banner_and_response() -> None:
    replay = Replay(available=())
    future = replay.manager.send_action(
        {"Action": "Login", "ActionID": "login-1", "Username": "dispatcher", "Secret": "x"}
    )
    replay.protocol.version = None
    replay.protocol.reader = codec.FrameReader()
    replay.feed(capture("login.txt"), seed=3)
    assert replay.protocol.version == "11.0.0"
    assert future.result().success
