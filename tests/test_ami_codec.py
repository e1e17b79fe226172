"""The AMI byte stream: whole frames whatever the TCP reads, accents intact."""

from __future__ import annotations

import asyncio
import socket

import pytest
from panoramisk.ami_protocol import AMIProtocol

from dispatcher.ami import codec
from dispatcher.ami.protocol import AmiManager, FrameProtocol

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
HELENE = (
    "Event: Newchannel\r\nPrivilege: call,all\r\nChannel: PJSIP/trunk-00000001\r\n"
    "CallerIDNum: 0612345678\r\nCallerIDName: Hélène Gaëlle Lefèvre\r\nUniqueid: 1795362857.5\r\n\r\n"
).encode("utf-8")


def test_every_split_of_a_frame_gives_the_same_frame() -> None:
    stream = BANNER + HELENE + HELENE
    for cut in range(1, len(stream)):
        reader = codec.FrameReader()
        frames = reader.feed(stream[:cut]) + reader.feed(stream[cut:])
        assert frames == [HELENE[:-4], HELENE[:-4]], cut
        assert reader.banner == "Asterisk Call Manager/11.0.0"
        assert "Hélène Gaëlle Lefèvre" in codec.decode(frames[0])


def test_byte_by_byte() -> None:
    reader = codec.FrameReader()
    frames = []
    for i in range(len(BANNER + HELENE)):
        frames += reader.feed((BANNER + HELENE)[i : i + 1])
    assert [codec.parse(codec.decode(f))["CallerIDName"] for f in frames] == [
        "Hélène Gaëlle Lefèvre"
    ]


def test_a_truncated_frame_glued_to_the_next_is_cut_at_the_next_frame() -> None:
    reader = codec.FrameReader()
    frames = reader.feed(
        b"Event: Hangup\r\nPrivilege: call,all\r\nChannel: PJSIP/tru"
        b"Event: Newchannel\r\nUniqueid: 1.1\r\n\r\n"
    )
    assert frames == [
        b"Event: Hangup\r\nPrivilege: call,all\r\nChannel: PJSIP/tru",
        b"Event: Newchannel\r\nUniqueid: 1.1",
    ]
    frames = codec.FrameReader().feed(
        b"Event: Hangup\r\nChannel: PJSIP/x\r\nEvent: Newchannel\r\n"
        b"Uniqueid: 2.2\r\nChannel: PJSIP/yResponse: Success\r\n\r\n"
    )
    assert frames == [
        b"Event: Hangup\r\nChannel: PJSIP/x",
        b"Event: Newchannel\r\nUniqueid: 2.2\r\nChannel: PJSIP/y",
        b"Response: Success",
    ]
    originate = b"Event: OriginateResponse\r\nActionID: 1\r\nResponse: Failure\r\nReason: 3"
    assert codec.FrameReader().feed(originate + b"\r\n\r\n") == [originate]
    user_event = b"Event: UserEvent\r\nUserEvent: GuichetTick\r\nNow: 1"
    assert codec.FrameReader().feed(user_event + b"\r\n\r\n") == [user_event]


def test_parse_repeated_keys_empty_values_and_bad_lines() -> None:
    text = "Response: Success\r\nChanVariable: A=1\r\nChanVariable: B=2\r\nAccountCode: \r\nnot a header\r\nEmpty:"
    assert codec.parse(text) == {
        "Response": "Success",
        "ChanVariable": ["A=1", "B=2"],
        "AccountCode": "",
        "Empty": "",
    }


def test_latin1_frames_are_read_not_dropped() -> None:
    frame = "Event: VarSet\r\nValue: Hélène".encode("latin-1")
    assert codec.parse(codec.decode(frame))["Value"] == "Hélène"


def test_a_runaway_frame_is_dropped() -> None:
    reader = codec.FrameReader(max_frame=100)
    assert reader.feed(b"Event: X\r\n" + b"A" * 200) == []
    assert reader.pending == 0 and reader.dropped_bytes > 0
    assert reader.feed(b"\r\n\r\nEvent: Y\r\n\r\n")[-1] == b"Event: Y"


class _Transport:
    def __init__(self) -> None:
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def close(self) -> None:
        pass


def _protocol(cls: type[AMIProtocol], manager: AmiManager) -> AMIProtocol:
    protocol = cls()
    protocol.connection_made(_Transport())  # type: ignore[arg-type]
    protocol.factory = manager
    protocol.encoding = "utf-8"
    return protocol


def test_panoramisk_alone_drops_a_split_character_and_frame_protocol_does_not() -> None:
    """The bug this project fixes: panoramisk 1.4 decodes each read on its own."""
    stream = BANNER + HELENE
    cut = stream.index("é".encode()) + 1  # in the middle of the two bytes of "é"
    names = {}
    for cls in (AMIProtocol, FrameProtocol):
        manager = AmiManager()
        got: list[str] = []
        manager.register_event("Newchannel", lambda m, e: got.append(e["CallerIDName"]))
        protocol = _protocol(cls, manager)
        protocol.data_received(stream[:cut])
        protocol.data_received(stream[cut:])
        names[cls.__name__] = got
    assert names["AMIProtocol"] == ["Hlène Gaëlle Lefèvre"]  # the é split across reads is lost
    assert names["FrameProtocol"] == ["Hélène Gaëlle Lefèvre"]


async def test_accents_split_across_tcp_reads_arrive_intact() -> None:
    """Over a real socket, each byte of Hélène's frame sent in its own TCP segment."""
    received: list[str] = []
    loop = asyncio.get_running_loop()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        writer.write(BANNER)
        await writer.drain()
        await asyncio.sleep(0.01)
        for i in range(len(HELENE)):
            writer.write(HELENE[i : i + 1])
            await writer.drain()
            await asyncio.sleep(0.0005)
        await reader.read()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    manager = AmiManager(host="127.0.0.1", port=port, loop=loop, ping_delay=3600)
    manager.register_fast("Newchannel", lambda name, h: received.append(str(h["CallerIDName"])))
    manager.connect()
    for _ in range(400):
        if received:
            break
        await asyncio.sleep(0.01)
    reads = manager.protocol.frames_in
    manager.close()
    server.close()
    await server.wait_closed()
    assert received == ["Hélène Gaëlle Lefèvre"]
    assert reads == 1
    assert manager.protocol.version == "11.0.0"


@pytest.mark.parametrize(
    "garbage",
    [
        b"\x00\xff\xfe garbage\r\n\r\n",
        b"no header line at all\r\n\r\n",
        b"Event: \r\n\r\n",
        b"Response: Success\r\nActionID: nobody-waits\r\n\r\n",
    ],
)
def test_garbage_frames_are_skipped_and_the_stream_goes_on(garbage: bytes) -> None:
    manager = AmiManager()
    got: list[str] = []
    manager.register_fast("Newchannel", lambda name, h: got.append(str(h["Uniqueid"])))
    protocol = _protocol(FrameProtocol, manager)
    protocol.data_received(BANNER + garbage + HELENE)
    assert got == ["1795362857.5"]


def test_a_failing_handler_does_not_stop_the_stream() -> None:
    manager = AmiManager()
    got: list[str] = []

    def handler(name: str, h: codec.Headers) -> None:
        if h["Uniqueid"] == "bad":
            raise RuntimeError("boom")
        got.append(str(h["Uniqueid"]))

    manager.register_fast("Newchannel", handler)
    protocol = _protocol(FrameProtocol, manager)
    protocol.data_received(b"Event: Newchannel\r\nUniqueid: bad\r\n\r\n" + HELENE)
    assert got == ["1795362857.5"]
    assert protocol.malformed == 1
