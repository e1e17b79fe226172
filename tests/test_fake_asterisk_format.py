"""The fake Asterisk writes frames the way the real one does, and runs the project's config."""

from __future__ import annotations

import asyncio
from collections import defaultdict

import pytest

from dispatcher.ami import codec
from dispatcher.fake_asterisk import FakeAsterisk, wait_until
from dispatcher.fake_asterisk.agi import env_block
from dispatcher.fake_asterisk.ami import users_from_manager_conf
from dispatcher.fake_asterisk.dialplan import DEFAULT_PATH, load, parse
from tests.ami_helpers import CAPTURES, frames_of

CHANNEL_EVENTS_CHECKED = {
    "Newchannel",
    "Newstate",
    "VarSet",
    "Newexten",
    "NewCallerid",
    "NewConnectedLine",
    "DeviceStateChange",
    "AGIExecStart",
    "AGIExecEnd",
    "DTMFBegin",
    "DTMFEnd",
    "MusicOnHoldStart",
    "MusicOnHoldStop",
    "DialBegin",
    "DialState",
    "DialEnd",
    "BridgeCreate",
    "BridgeEnter",
    "BridgeLeave",
    "BridgeDestroy",
    "HangupRequest",
    "SoftHangupRequest",
    "Hangup",
    "CoreShowChannel",
    "CoreShowChannelsComplete",
    "FullyBooted",
    "DeviceStateListComplete",
    "RTCPSent",
}


def _layouts(frames: list[bytes]) -> dict[str, set[tuple[str, ...]]]:
    """Event (or response) name -> the header layouts (keys in order, Privilege value) seen."""
    out: dict[str, set[tuple[str, ...]]] = defaultdict(set)
    for frame in frames:
        lines = frame.decode("utf-8").split("\r\n")
        first = lines[0]
        keys = tuple(line.partition(": ")[0] for line in lines)
        privilege = next((line for line in lines if line.startswith("Privilege: ")), "")
        out[first].add(keys + (privilege,))
    return out


def _captured() -> dict[str, set[tuple[str, ...]]]:
    frames: list[bytes] = []
    for name in (
        "full-session.txt",
        "devicestatelist-response.txt",
        "coreshowchannels-response.txt",
    ):
        frames += frames_of((CAPTURES / name).read_bytes())
    return _layouts(frames)


async def _scripted_session(fake: FakeAsterisk) -> list[bytes]:
    """Calls through the dialplan like the captured ones: answered, abandoned, not answered."""
    pbx = fake.pbx
    assert pbx is not None
    from dispatcher.fake_asterisk.agi import ScriptedAgi

    def agi(chan, url):  # type: ignore[no-untyped-def]
        ScriptedAgi(
            pbx,
            chan,
            [
                "ANSWER",
                "GET DATA beep 6000 1",
                "SET VARIABLE GUICHET_PROCESS passport",
                'STREAM FILE silence/1 ""',
                "GET VARIABLE CALLERID(num)",
            ],
            0.001,
        ).start()

    pbx.agi_runner = agi
    answered = fake.place_call("sipp", "Citoyen", dtmf=["2"])
    await wait_until(lambda: answered.moh)
    pbx.redirect(answered, "to-agent", "101")
    await wait_until(lambda: answered.bridge is not None)
    await asyncio.sleep(0.06)
    fake.hangup(answered)
    gone = fake.place_call("sipp", "Citoyen", dtmf=["2"])
    await wait_until(lambda: gone.moh)
    fake.hangup(gone)
    fake.phone("105").mode = "no_answer"
    unanswered = fake.place_call("sipp", "Citoyen", dtmf=["2"])
    await wait_until(lambda: unanswered.moh)
    pbx.redirect(unanswered, "to-agent", "105")
    await wait_until(lambda: unanswered.moh and unanswered.context == "waiting", timeout=3)
    pbx.soft_hangup(unanswered)
    return list(fake.frames)


async def test_the_fake_writes_the_captured_layouts() -> None:
    captured = _captured()
    async with FakeAsterisk(
        agents=[str(n) for n in range(101, 111)],
        trunk="sipp",
        record=True,
        rtcp_interval=0.02,
        secrets={"guichet": "x"},
    ) as fake:
        frames = [f.rstrip(b"\r\n") for f in await _scripted_session(fake)]
    fake_layouts = _layouts(frames)
    checked = 0
    for first, layouts in fake_layouts.items():
        name = first.partition(": ")[2]
        if name not in CHANNEL_EVENTS_CHECKED or first not in captured:
            continue
        for layout in layouts:
            assert layout in captured[first], f"{first}: {layout} not among the captured layouts"
            checked += 1
    assert checked >= 20
    names = {first.partition(": ")[2] for first in fake_layouts}
    for needed in (
        "DialBegin",
        "DialEnd",
        "BridgeEnter",
        "Hangup",
        "MusicOnHoldStart",
        "VarSet",
        "AGIExecEnd",
    ):
        assert needed in names


async def test_frames_are_crlf_and_end_with_a_blank_line() -> None:
    async with FakeAsterisk(record=True, secrets={"guichet": "x"}) as fake:
        fake.place_call("0600000000", "Gaëlle")
        await asyncio.sleep(0.05)
        for frame in fake.frames:
            assert frame.endswith(b"\r\n\r\n")
            body = frame[:-4]
            assert b"\n" not in body.replace(b"\r\n", b"")
            assert (
                "Gaëlle".encode() in frame
                or b"CallerIDName" not in frame
                or b"<unknown>" in frame
                or b"0600000000" in frame
            )


async def test_hangup_causes_as_captured() -> None:
    """Bridged call: Cause 16 Normal Clearing; caller hanging up on hold: Cause 0."""
    async with FakeAsterisk(record=True, secrets={"guichet": "x"}) as fake:
        holding = fake.place_call("0600000001")
        await wait_until(lambda: holding.moh)
        fake.hangup(holding)
        talking = fake.place_call("0600000002")
        await wait_until(lambda: talking.moh)
        fake.pbx.redirect(talking, "to-agent", "101")
        await wait_until(lambda: talking.bridge is not None)
        fake.hangup(talking)
        hangups = [
            codec.parse(codec.decode(f.rstrip(b"\r\n")))
            for f in fake.frames
            if f.startswith(b"Event: Hangup\r")
        ]
        causes = {
            (h["Channel"].split("-")[0], h["Context"]): (h["Cause"], h["Cause-txt"])
            for h in hangups
        }
        assert causes[("PJSIP/trunk", "waiting")] == ("0", "Unknown")
        assert causes[("PJSIP/trunk", "to-agent")] == ("16", "Normal Clearing")
        assert causes[("PJSIP/agent101", "from-agents")] == ("16", "Normal Clearing")


def test_the_agi_block_is_the_captured_one() -> None:
    captured = (CAPTURES / "fastagi-session.txt").read_text().split(">>> from Asterisk\n", 2)[1]
    captured_keys = [line.partition(": ")[0] for line in captured.split("\n\n")[0].splitlines()]

    class C:
        name, language, uniqueid, caller_num, caller_name = (
            "PJSIP/trunk-00000001",
            "fr",
            "1.1",
            "06",
            "X",
        )
        exten, context, priority = "100", "from-trunk", 3

    block = env_block(C(), "agi://127.0.0.1:4573/ivr", "ivr").decode()  # type: ignore[arg-type]
    assert block.endswith("\n\n")
    assert [line.partition(": ")[0] for line in block.strip("\n").splitlines()] == captured_keys


def test_the_dialplan_is_the_projects() -> None:
    plan = load()
    assert DEFAULT_PATH.parts[-2:] == ("asterisk-config", "extensions.conf")
    assert plan.step("from-trunk", "100", 2).args == "CHANNEL(hangup_handler_push)=guichet-ended,s,1"
    assert plan.step("from-trunk", "100", 4).app == "AGI"
    assert plan.step("guichet-ended", "s", 1).args.startswith("DB(guichet/${UNIQUEID})=")
    assert plan.step("waiting", "s", 1).app == "MusicOnHold"
    dial = plan.step("to-agent", "101", 1)
    assert (dial.app, dial.args) == ("Dial", "PJSIP/agent${EXTEN},${RING_TIMEOUT}")
    assert plan.globals["RING_TIMEOUT"] == "15"
    assert plan.find("to-agent", "1042") is not None and plan.find("to-agent", "s") is None


def test_dialplan_parser_reports_the_line() -> None:
    with pytest.raises(ValueError, match=r"x.conf:3: 'same =>' without"):
        parse("[a]\n\nsame => n,NoOp()\n", "x.conf")


def test_manager_conf_gives_only_the_rights_needed() -> None:
    user = users_from_manager_conf({"guichet": "s"})["guichet"]
    assert user.read == {"system", "call", "dialplan"}
    assert user.write == {"call", "reporting", "originate", "system"}  # system: DBDelTree of its notes
    for action in (
        "redirect",
        "hangup",
        "originate",
        "coreshowchannels",
        "devicestatelist",
        "getvar",
        "dbget",
        "dbdeltree",
    ):
        assert user.may_write(action), action
    assert not user.may_write("command")
    assert not user.passes(b"Event: Newexten\r\nPrivilege: dialplan,all\r\n")
    assert not user.passes(b"Event: VarSet\r\nVariable: RTPAUDIOQOS\r\n")
    assert user.passes(b"Event: VarSet\r\nVariable: GUICHET_PROCESS\r\n")
    assert user.passes(b"Event: VarSet\r\nVariable: GUICHET_DIALSTATUS\r\n")


async def test_actions_outside_the_users_rights_are_refused() -> None:
    async with FakeAsterisk(secrets={"guichet": "pw"}) as fake:
        reader, writer = await asyncio.open_connection("127.0.0.1", fake.ami_port)
        assert await reader.readline() == b"Asterisk Call Manager/11.0.0\r\n"
        writer.write(b"Action: Command\r\nActionID: 1\r\nCommand: core stop now\r\n\r\n")
        writer.write(b"Action: Login\r\nActionID: 2\r\nUsername: guichet\r\nSecret: pw\r\n\r\n")
        writer.write(b"Action: Command\r\nActionID: 3\r\nCommand: core stop now\r\n\r\n")
        writer.write(b"Action: Ping\r\nActionID: 4\r\n\r\n")
        await writer.drain()
        data = b""
        while data.count(b"\r\n\r\n") < 5:
            data += await asyncio.wait_for(reader.read(4096), 2)
        frames = [codec.parse(codec.decode(f)) for f in data.split(b"\r\n\r\n") if f]
        by_id = {f.get("ActionID"): f for f in frames if "Response" in f}
        assert by_id["1"]["Message"] == "Authentication Required"
        assert by_id["2"]["Message"] == "Authentication accepted"
        assert by_id["3"]["Message"] == "Permission denied"
        assert by_id["4"]["Ping"] == "Pong"
        assert any(f.get("Event") == "FullyBooted" for f in frames)
        writer.close()
