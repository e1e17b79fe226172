"""Hostile or broken input on the AMI socket loses nothing else, and the logs stay readable.

Each case over a real socket: the fake Asterisk writes the bytes on the
manager connection (``inject``) or a hostile server answers the Login; the
dispatcher's adapter reads them like any other stream.
"""

from __future__ import annotations

import asyncio
import logging
import os

import pytest

from dispatcher import events as ev
from dispatcher.ami import codec
from dispatcher.ami.adapter import AmiAdapter
from dispatcher.router import Router
from dispatcher.service import Dispatcher
from tests import factories as f
from tests.ami_helpers import SECRET, PhoneRig, phone_matrix


def varset(uid: str, variable: str = "GUICHET_PROCESS", value: str = "passport") -> bytes:
    uid_line = f"Uniqueid: {uid}\r\n" if uid else ""
    return (
        "Event: VarSet\r\nPrivilege: dialplan,all\r\nChannel: PJSIP/trunk-0000abcd\r\n"
        f"CallerIDNum: 0612345678\r\nContext: from-trunk\r\nExten: 100\r\n{uid_line}"
        f"Variable: {variable}\r\nValue: {value}\r\n\r\n"
    ).encode()


def hangup(uid: str) -> bytes:
    return (
        "Event: Hangup\r\nPrivilege: call,all\r\nChannel: PJSIP/trunk-0000abcd\r\n"
        f"Context: from-trunk\r\nExten: 100\r\nUniqueid: {uid}\r\nCause: 16\r\n"
        "Cause-txt: Normal Clearing\r\n\r\n"
    ).encode()


def arrived(rig: PhoneRig) -> list[str]:
    return [e.contact_id for e in rig.events(ev.ContactArrived)]


@pytest.mark.parametrize(
    "junk",
    [
        pytest.param(
            os.urandom(1 << 20).replace(b"\r\n\r\n", b"") + os.urandom(4096), id="1MB-binary"
        ),
        pytest.param(b"A" * ((10 << 20) + 100), id="10MB-text-no-separator"),
        pytest.param(os.urandom(300_000).replace(b"\r\n\r\n", b""), id="300kB-binary"),
    ],
)
@pytest.mark.parametrize("separated", [True, False], ids=["then-separator", "glued"])
async def test_the_next_valid_frame_after_junk_is_not_lost(junk: bytes, separated: bool) -> None:
    async with PhoneRig(available=()) as rig:
        rig.fake.inject(junk + (b"\r\n\r\n" if separated else b""))
        rig.fake.inject(varset("1796000000.77"))
        await rig.until(lambda: "1796000000.77" in arrived(rig), timeout=10.0)
        reader = rig.adapter.manager.protocol.reader  # type: ignore[union-attr]
        assert reader.pending < 1 << 20
        # The link is still the same one, and it still works.
        call = rig.fake.place_call("0612345678")
        await rig.until(lambda: call.uniqueid in arrived(rig))
        assert rig.adapter.manager.connections == 1  # type: ignore[union-attr]


async def test_a_varset_without_uniqueid_is_skipped_with_one_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    async with PhoneRig(available=()) as rig:
        for _ in range(50):
            rig.fake.inject(varset(""))
        rig.fake.inject(varset("1796000000.78"))
        await rig.until(lambda: "1796000000.78" in arrived(rig))
    lines = [r for r in caplog.records if "without a Uniqueid" in r.getMessage()]
    assert len(lines) == 1
    assert not any(r.exc_info for r in caplog.records)
    assert arrived(rig) == ["1796000000.78"]


async def test_a_hangup_before_the_first_varset_leaves_no_ghost_contact() -> None:
    async with PhoneRig(available=()) as rig:
        rig.fake.inject(hangup("1796000000.79"))
        rig.fake.inject(varset("1796000000.79", "GUICHET_CITIZEN", "cit-1"))
        rig.fake.inject(varset("1796000000.79"))  # the IVR's SET VARIABLE on a dead channel
        rig.fake.inject(varset("1796000000.80"))
        await rig.until(lambda: "1796000000.80" in arrived(rig))
        assert "1796000000.79" not in arrived(rig)
        rig.make_available("a101")
        await asyncio.sleep(0.05)
        offered = [e.contact_id for e in rig.events(ev.ContactOffered)]
        assert "1796000000.79" not in offered


async def test_many_kinds_of_garbage_give_one_line_per_kind(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    async with PhoneRig(available=()) as rig:
        for i in range(30):
            rig.fake.inject(b"Garbage line without colon\r\n\r\n")
            rig.fake.inject(varset(""))
            rig.fake.inject(b"\x00\x01\x02\xff" * 10 + b"\r\n\r\n")
            await asyncio.sleep(0.001)
        rig.fake.inject(varset("1796000000.81"))
        await rig.until(lambda: "1796000000.81" in arrived(rig))
    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(messages) <= 4, messages
    assert not any(r.exc_info for r in caplog.records)


class HostileServer:
    """An AMI server that sends the banner, then answers Login with ``reply`` (or nothing)."""

    def __init__(self, reply: bytes | None) -> None:
        self.reply = reply
        self.connections = 0
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = await reader.read(4096)
            if not chunk:
                return
            data += chunk
        action_id = ""
        for line in data.decode().split("\r\n"):
            if line.lower().startswith("actionid:"):
                action_id = line.split(":", 1)[1].strip()
        if self.reply is not None:
            writer.write(self.reply.replace(b"{id}", action_id.encode()))
        await reader.read()  # keep the socket open until the client closes it

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (
            b"Response: Error\r\nActionID: {id}\r\nMessage: Authentication failed\r\n\r\n",
            "login refused",
        ),
        (None, "no answer to Login"),
    ],
    ids=["refused-socket-kept-open", "silent"],
)
async def test_a_server_that_keeps_the_socket_after_a_failed_login_is_detected(
    reply: bytes | None, expected: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    server = HostileServer(reply)
    port = await server.start()
    matrix = phone_matrix([101])
    adapter = AmiAdapter(
        Dispatcher(Router(f.catalogue(), matrix)),
        matrix,
        port=port,
        secret=SECRET,
        reconnect_min=0.05,
        reconnect_max=0.1,
        login_timeout=0.2,
        log_interval=60.0,
    )
    try:
        await adapter.start()
        for _ in range(300):
            if server.connections >= 3:
                break
            await asyncio.sleep(0.01)
        assert server.connections >= 3  # detected, dropped, retried: never stuck
        assert not adapter.link_up
        lines = [r for r in caplog.records if expected in r.getMessage()]
        assert len(lines) == 1, [r.getMessage() for r in caplog.records]  # rate-limited
        assert not any(r.exc_info for r in caplog.records)
    finally:
        await adapter.stop()
        await server.stop()


def test_the_reader_never_holds_more_than_its_bounds() -> None:
    reader = codec.FrameReader(max_frame=1000, max_binary=100)
    out = []
    for _ in range(50):
        out += reader.feed(b"\x00" * 37)
        assert reader.pending <= 100 + 37
    out += reader.feed(b"Event: Hangup\r\nUniqueid: 1.2\r\n\r\n")
    assert out[-1] == b"Event: Hangup\r\nUniqueid: 1.2"
    for _ in range(50):
        out += reader.feed(b"B" * 97)
        assert reader.pending <= 1000 + 97
    out += reader.feed(b"\r\n\r\nEvent: X\r\n\r\n")
    assert out[-1] == b"Event: X"
    assert reader.overflows >= 2
