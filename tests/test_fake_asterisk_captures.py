"""The fake Asterisk against each new capture of Asterisk 22: same events, same order, same fields.

Each test plays the capture's scenario on the fake (over a real AMI socket
where the capture has actions and responses) and compares what matters for the
dispatcher: the event sequence of the scenario and the header layout of each
event kind the capture holds.
"""

from __future__ import annotations

import asyncio

from dispatcher.fake_asterisk import FakeAsterisk, wait_until
from dispatcher.fake_asterisk.pbx import AgentPhone
from tests.ami_helpers import capture, frames_of, headers_of

SECRET = "x"


class RawClient:
    """A plain TCP manager client: Login, actions, and every frame read."""

    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self._buffer = b""

    async def connect(self, port: int) -> RawClient:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port)
        await self.reader.readline()  # banner
        await self.action("Login", ActionID="login-1", Username="guichet", Secret=SECRET)
        await self.until(lambda: any(b"Authentication accepted" in f for f in self.frames))
        return self

    async def action(self, name: str, **headers: str) -> None:
        lines = [f"Action: {name}"] + [f"{k}: {v}" for k, v in headers.items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await self.writer.drain()

    async def until(self, predicate: object, timeout: float = 5.0) -> None:
        async def read() -> None:
            while not predicate():  # type: ignore[operator]
                data = await self.reader.read(65536)
                if not data:
                    return
                self._buffer += data
                *done, self._buffer = self._buffer.split(b"\r\n\r\n")
                self.frames += [f for f in done if f]

        await asyncio.wait_for(read(), timeout)

    def responses(self, action_id: str) -> list[dict[str, str]]:
        return [
            headers_of(f)
            for f in self.frames
            if f"\r\nActionID: {action_id}\r\n".encode() in f + b"\r\n"
        ]

    async def close(self) -> None:
        self.writer.close()


def names(frames: list[bytes], keep: set[str]) -> list[str]:
    out = []
    for frame in frames:
        h = headers_of(frame)
        event = h.get("Event")
        if event in keep:
            detail = (
                h.get("DialStatus")
                or h.get("State")
                or h.get("ContactStatus")
                or h.get("PeerStatus")
            )
            out.append(f"{event}:{detail}" if detail else event)
    return out


def layouts(frames: list[bytes], event: str) -> set[tuple[str, ...]]:
    return {
        tuple(line.partition(": ")[0] for line in f.decode().split("\r\n"))
        for f in frames
        if f.startswith(f"Event: {event}\r\n".encode())
    }


def fake_frames(fake: FakeAsterisk) -> list[bytes]:
    return [f.rstrip(b"\r\n") for f in fake.frames]


async def test_a_486_as_agent_busy_486_shows() -> None:
    keep = {
        "DialBegin",
        "DialState",
        "DialEnd",
        "HangupRequest",
        "Hangup",
        "DeviceStateChange",
        "MusicOnHoldStart",
    }
    captured = frames_of(capture("agent-busy-486.txt"))
    start = next(i for i, f in enumerate(captured) if f.startswith(b"Event: DialBegin"))
    want = [n for n in names(captured[start:], keep) if "trunk" not in n]
    async with FakeAsterisk(
        agents=[AgentPhone("PJSIP/agent104", "104", mode="busy")],
        record=True,
        secrets={"guichet": SECRET},
    ) as fake:
        call = fake.place_call("0612345678", "Citoyen")
        await wait_until(lambda: call.moh)
        fake.frames.clear()
        assert fake.pbx is not None
        fake.pbx.redirect(call, "to-agent", "104")
        await wait_until(lambda: call.moh)
        got = fake_frames(fake)
    assert [n for n in names(got, keep) if "trunk" not in n] == want
    for event in ("DialBegin", "DialState", "DialEnd", "HangupRequest"):
        assert layouts(got, event) <= layouts(captured, event), event
    dialstatus = [headers_of(f)["Value"] for f in got if b"Variable: GUICHET_DIALSTATUS" in f]
    assert dialstatus == ["BUSY"]


async def test_qualify_and_registration_as_agent_unreachable_qualify_shows() -> None:
    keep = {"PeerStatus", "ContactStatus", "DeviceStateChange"}
    captured = frames_of(capture("agent-unreachable-qualify.txt"))
    async with FakeAsterisk(
        agents=["101", "102"], record=True, secrets={"guichet": SECRET}
    ) as fake:
        fake.set_registered("101", False, how="qualify")
        fake.set_registered("101", True, how="qualify")
        fake.set_registered("102", False)
        fake.set_registered("102", True)
        got = fake_frames(fake)
    assert names(got, keep) == names(captured, keep)
    for event in keep:
        assert layouts(got, event) == layouts(captured, event), event


async def test_redirect_answers_as_redirect_errors_shows() -> None:
    async with FakeAsterisk(agents=["105"], record=True, secrets={"guichet": SECRET}) as fake:
        client = await RawClient().connect(fake.ami_port)
        call = fake.place_call("0612345678", "Citoyen")
        await wait_until(lambda: call.moh)
        asks = [
            (
                "r1",
                {
                    "Channel": "PJSIP/trunk-0000ffff",
                    "Context": "to-agent",
                    "Exten": "105",
                    "Priority": "1",
                },
            ),
            ("r2", {"Channel": call.name, "Exten": "105", "Priority": "1"}),
            (
                "r3",
                {
                    "Channel": call.name,
                    "Context": "to-agent",
                    "Exten": "105",
                    "Priority": "nolabel",
                },
            ),
        ]
        for action_id, headers in asks:
            await client.action("Redirect", ActionID=action_id, **headers)
        await client.until(lambda: all(client.responses(a) for a, _ in asks))
        got = [client.responses(a)[0]["Message"] for a, _ in asks]
        assert got == [
            "Channel does not exist: PJSIP/trunk-0000ffff",
            "Context not specified",
            "Priority is invalid",
        ]
        # The agent's leg taken away while it rings: it holds in [waiting]; the caller's Dial
        # returns CHANUNAVAIL with no DialEnd, and the caller is back on hold too.
        fake.phone("105").mode = "no_answer"
        assert fake.pbx is not None
        fake.pbx.redirect(call, "to-agent", "105")
        leg = next(c for c in fake.pbx.channels.values() if c.device == "PJSIP/agent105")
        fake.frames.clear()
        await client.action(
            "Redirect", ActionID="rl", Channel=leg.name, Context="waiting", Exten="s", Priority="1"
        )
        await client.until(lambda: client.responses("rl"))
        assert client.responses("rl")[0]["Message"] == "Redirect successful"
        await wait_until(lambda: call.moh and leg.moh)
        frames = fake_frames(fake)
        assert not any(f.startswith(b"Event: DialEnd") for f in frames)
        statuses = [headers_of(f)["Value"] for f in frames if b"Variable: GUICHET_DIALSTATUS" in f]
        assert statuses == ["CHANUNAVAIL"]
        await client.action("Hangup", ActionID="hl", Channel=leg.name)
        await wait_until(lambda: not leg.alive)
        fake.frames.clear()
        await client.action(
            "Redirect",
            ActionID="r4",
            Channel=call.name,
            Context="no-such-context",
            Exten="101",
            Priority="1",
        )
        await client.until(lambda: client.responses("r4"))
        assert client.responses("r4")[0]["Message"] == "Redirect successful"
        await wait_until(lambda: not call.alive)
        (hangup,) = [headers_of(f) for f in fake_frames(fake) if f.startswith(b"Event: Hangup\r\n")]
        assert (hangup["Context"], hangup["Exten"], hangup["Cause"]) == (
            "no-such-context",
            "101",
            "0",
        )
        await client.action(
            "Redirect",
            ActionID="r5",
            Channel=call.name,
            Context="to-agent",
            Exten="105",
            Priority="1",
        )
        await client.until(lambda: client.responses("r5"))
        assert client.responses("r5")[0]["Message"] == f"Channel does not exist: {call.name}"
        await client.close()


async def test_originate_failures_as_originate_failures_shows() -> None:
    captured = frames_of(capture("originate-failures.txt"))
    phones = [
        AgentPhone("PJSIP/agent105", "105", mode="no_answer"),
        AgentPhone("PJSIP/agent104", "104", mode="busy"),
        AgentPhone("PJSIP/agent106", "106", registered=False),
    ]
    async with FakeAsterisk(
        agents=phones, record=True, secrets={"guichet": SECRET}, time_scale=0.01
    ) as fake:
        client = await RawClient().connect(fake.ami_port)
        for action_id, endpoint in (
            ("o1", "PJSIP/agent105"),
            ("o2", "PJSIP/agent104"),
            ("o3", "PJSIP/agent106"),
            ("o4", "PJSIP/agent999"),
        ):
            await client.action(
                "Originate",
                ActionID=action_id,
                Channel=endpoint,
                Context="callback",
                Exten="0612345678",
                Priority="1",
                Timeout="8000",
                Async="true",
            )
        await client.until(
            lambda: all(len(client.responses(a)) == 2 for a in ("o1", "o2", "o3", "o4"))
        )
        for action_id, endpoint, reason in (
            ("o1", "PJSIP/agent105", "3"),
            ("o2", "PJSIP/agent104", "0"),
            ("o3", "PJSIP/agent106", "0"),
            ("o4", "PJSIP/agent999", "0"),
        ):
            queued, final = client.responses(action_id)
            assert queued["Message"] == "Originate successfully queued"
            assert (
                final["Event"],
                final["Response"],
                final["Channel"],
                final["Reason"],
                final["Uniqueid"],
            ) == ("OriginateResponse", "Failure", endpoint, reason, "<unknown>")
        await client.action(
            "Originate",
            ActionID="o5",
            Channel="PJSIP/agent106",
            Context="callback",
            Exten="0612345678",
            Priority="1",
            Timeout="8000",
        )
        await client.until(lambda: client.responses("o5"))
        assert client.responses("o5")[0]["Message"] == "Originate failed"
        got = [f for f in client.frames if f.startswith(b"Event: OriginateResponse")]
        assert layouts(got, "OriginateResponse") == layouts(captured, "OriginateResponse")
        # The unanswered phone: the response first, then its leg's Hangup with Cause 19.
        order = [
            (h.get("Event") or h.get("Response"), h.get("Cause") or h.get("Reason"))
            for h in map(headers_of, client.frames)
            if b"agent105" in h.get("Channel", "").encode()
        ]
        assert order.index(("OriginateResponse", "3")) < order.index(("Hangup", "19"))
        await client.close()


async def test_a_restart_as_shutdown_restart_shows() -> None:
    captured = frames_of(capture("shutdown-restart.txt"))
    keep = {
        "SoftHangupRequest",
        "MusicOnHoldStop",
        "Hangup",
        "Shutdown",
        "SuccessfulAuth",
        "FullyBooted",
    }
    first = next(i for i, f in enumerate(captured) if f.startswith(b"Event: SoftHangupRequest"))
    want = names(captured[first:], keep)
    async with FakeAsterisk(record=True, secrets={"guichet": SECRET}) as fake:
        client = await RawClient().connect(fake.ami_port)
        calls = [fake.place_call(f"061234567{i}") for i in range(2)]
        await wait_until(lambda: all(c.moh for c in calls))
        client.frames.clear()
        await fake.restart(down_s=0.1)
        await client.until(lambda: any(f.startswith(b"Event: Shutdown") for f in client.frames))
        again = await RawClient().connect(fake.ami_port)
        await again.until(lambda: any(f.startswith(b"Event: FullyBooted") for f in again.frames))
        got = names(client.frames + again.frames, keep)
        assert [n for n in got if n != "SuccessfulAuth"] == [
            n for n in want if n != "SuccessfulAuth"
        ]
        booted = [headers_of(f) for f in again.frames if f.startswith(b"Event: FullyBooted")]
        assert booted[0]["Uptime"] == "0"
        assert layouts(again.frames, "FullyBooted") == layouts(captured, "FullyBooted")
        globals_ = [headers_of(f) for f in again.frames if b"\r\nChannel: none\r\n" in f]
        assert {g["Variable"] for g in globals_} >= {"GUICHET_AGI", "RING_TIMEOUT"}
        assert layouts(client.frames, "Shutdown") == layouts(captured, "Shutdown")
        await again.close()
        await client.close()
