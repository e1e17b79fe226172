"""Shared pieces of the phone-channel tests: the captures, a replay harness, a live rig."""

from __future__ import annotations

import asyncio
import random
from typing import Any
from collections.abc import Iterable
from pathlib import Path

from dispatcher import events as ev
from dispatcher.ami.adapter import AmiAdapter
from dispatcher.ami.protocol import AmiManager, FrameProtocol
from dispatcher.events import AgentState, Event
from dispatcher.fake_asterisk import FakeAsterisk, wait_until
from dispatcher.policy import RoutingPolicy
from dispatcher.router import Router
from dispatcher.service import Dispatcher
from ivr.server import IvrServer
from skills.catalogue import default_catalogue
from skills.model import Channel, SkillMatrix
from tests import factories as f

CAPTURES = Path(__file__).resolve().parent / "data" / "ami-transcripts"
CAPTURE_FILES = sorted(p.name for p in CAPTURES.glob("*.txt") if not p.name.startswith("fastagi-"))
SECRET = "test-secret"


def capture(name: str) -> bytes:
    return (CAPTURES / name).read_bytes()


BANNER = b"Asterisk Call Manager/"


def connections_of(data: bytes) -> list[bytes]:
    """A capture cut where a new connection's banner starts (shutdown-restart.txt holds two)."""
    parts = [p for p in data.split(BANNER) if p]
    return [BANNER + p if data.startswith(BANNER) or i else p for i, p in enumerate(parts)]


def frames_of(data: bytes) -> list[bytes]:
    """The frames of a capture, split independently of the code under test (banners left out)."""
    frames = []
    for part in connections_of(data):
        if part.startswith(BANNER):
            part = part[part.index(b"\r\n") + 2 :]
        frames += [f for f in part.split(b"\r\n\r\n") if f]
    return frames


def headers_of(frame: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in frame.decode("utf-8").split("\r\n"):
        key, _, value = line.partition(": ")
        out.setdefault(key, value)
    return out


def phone_matrix(
    numbers: Iterable[int] = range(101, 111), skills: dict[str, int] | None = None
) -> SkillMatrix:
    """Agents a101... with softphones PJSIP/agent101..., phone only."""
    skills = skills or {"passport": 2, "id_card": 2, "triage": 2}
    return f.matrix(
        *(
            f.agent(
                f"a{n}", dict(skills), Channel.PHONE, Channel.CALLBACK, endpoint=f"PJSIP/agent{n}"
            )
            for n in numbers
        )
    )


class _Transport:
    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


class Replay:
    """The dispatcher's parsing, adapter and core fed with recorded bytes (no socket).

    ``clock`` follows the timing evidence the frames carry (a channel's
    Uniqueid is its creation second, RTCP reports carry their NTP time, the
    lab IVR's GUICHET_CONTACT is ``c-<epoch>``), so waits come out as they were.
    """

    def __init__(
        self, available: Iterable[str] = ("a101",), matrix: SkillMatrix | None = None
    ) -> None:
        self.now = 0.0
        self.matrix = matrix or phone_matrix()
        self.router = Router(f.catalogue(), self.matrix, RoutingPolicy(wrap_up_s=0))
        self.dispatcher = Dispatcher(self.router, clock=lambda: self.now)
        self.batches: list[list[Event]] = []
        self.dispatcher.add_sink(self.batches.append)
        self.manager = AmiManager()
        self.adapter = AmiAdapter(self.dispatcher, self.matrix, manager=self.manager)
        self.transport = _Transport()
        self.protocol = FrameProtocol()
        self.protocol.connection_made(self.transport)  # type: ignore[arg-type]
        self.protocol.factory = self.manager
        self.protocol.encoding = "utf-8"
        self.manager.protocol = self.protocol
        self.frames_before = self.malformed_before = 0
        self.adapter.link_up = True
        for agent in available:
            self.dispatcher.submit(
                ev.AgentStatusSet(at=self.now, agent_id=agent, state=AgentState.AVAILABLE)
            )
        self.batches.clear()

    def feed(self, data: bytes, seed: int | None = None) -> None:
        """Feed the bytes frame by frame (advancing the clock), each cut at random places if ``seed``."""
        rng = random.Random(seed)
        for i, part in enumerate(connections_of(data)):
            if i:
                self.reconnect()
            self._feed_connection(part, rng, seed)

    def reconnect(self) -> None:
        """A new AMI connection (the capture's next banner): a fresh protocol, counts kept."""
        self.frames_before += self.protocol.frames_in
        self.malformed_before += self.protocol.malformed
        self.transport = _Transport()
        self.protocol = FrameProtocol()
        self.protocol.connection_made(self.transport)  # type: ignore[arg-type]
        self.protocol.factory = self.manager
        self.protocol.encoding = "utf-8"
        self.manager.protocol = self.protocol

    @property
    def frames_in(self) -> int:
        return self.frames_before + self.protocol.frames_in

    @property
    def malformed(self) -> int:
        return self.malformed_before + self.protocol.malformed

    def _feed_connection(self, data: bytes, rng: random.Random, seed: int | None) -> None:
        if data.startswith(BANNER):
            end = data.index(b"\r\n") + 2
            self.protocol.data_received(data[:end])
            data = data[end:]
        for frame in frames_of(data):
            self._advance(headers_of(frame))
            raw = frame + b"\r\n\r\n"
            if seed is None:
                self.protocol.data_received(raw)
                continue
            cuts = sorted(rng.sample(range(1, len(raw)), min(3, len(raw) - 1)))
            for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=False):
                self.protocol.data_received(raw[a:b])

    def _advance(self, h: dict[str, str]) -> None:
        evidence = None
        if h.get("Event") == "Newchannel":
            evidence = float(h["Uniqueid"].split(".")[0])
        elif h.get("Event") == "RTCPSent" and "SentNTP" in h:
            evidence = float(h["SentNTP"])
        elif h.get("Event") == "AGIExecStart" and '"c-' in h.get("Command", ""):
            evidence = float(h["Command"].split('"c-')[1].rstrip('"'))
        if evidence is not None and evidence > self.now:
            self.now = evidence

    def events(self, *kinds: type[Event]) -> list[Event]:
        found = [e for batch in self.batches for e in batch]
        return [e for e in found if isinstance(e, kinds)] if kinds else found

    def actions(self) -> list[dict[str, str]]:
        """The AMI actions the adapter wrote (as header dicts)."""
        out = []
        for data in self.transport.written:
            out.append(headers_of(data.rstrip(b"\r\n")))
        return out


class PhoneRig:
    """A dispatcher, its AMI adapter and a fake Asterisk, over real TCP sockets."""

    def __init__(
        self,
        available: Iterable[str] = ("a101", "a102"),
        *,
        matrix: SkillMatrix | None = None,
        agents: Iterable[str] | None = None,
        policy: RoutingPolicy | None = None,
        ivr: bool = False,
        directory: object = None,
        ivr_config: object = None,
        **fake_kwargs: Any,
    ) -> None:
        self.matrix = matrix or phone_matrix(range(101, 104))
        self.available = list(available)
        self.router = Router(default_catalogue(), self.matrix, policy or RoutingPolicy(wrap_up_s=0))
        self.dispatcher = Dispatcher(self.router)
        self.batches: list[list[Event]] = []
        self.dispatcher.add_sink(self.batches.append)
        numbers = (
            list(agents)
            if agents is not None
            else [
                p.endpoint.rpartition("agent")[2] for p in self.matrix.agents.values() if p.endpoint
            ]
        )
        self.fake = FakeAsterisk(
            agents=numbers, secrets={"guichet": SECRET}, agi_address=("127.0.0.1", 9), **fake_kwargs
        )  # type: ignore[arg-type]
        self.adapter: AmiAdapter | None = None
        self.ivr: IvrServer | None = None
        if ivr:
            self.ivr = IvrServer(self.dispatcher, ivr_config, directory=directory, port=0)  # type: ignore[arg-type]

    async def start(self) -> PhoneRig:
        if self.ivr is not None:
            self.fake.agi_address = ("127.0.0.1", await self.ivr.start())
        await self.fake.start()
        self.adapter = AmiAdapter(
            self.dispatcher,
            self.matrix,
            port=self.fake.ami_port,
            secret=SECRET,
            reconnect_min=0.02,
            reconnect_max=0.2,
        )
        await self.adapter.start()
        if self.ivr is not None:
            self.ivr.phone = self.adapter
        await self.synced()
        await self.dispatcher.start()
        for agent in self.available:
            self.make_available(agent)
        return self

    async def synced(self, timeout: float = 5.0) -> None:
        adapter = self.adapter
        assert adapter is not None
        await wait_until(lambda: adapter.link_up and not adapter.resyncing, timeout)

    async def stop(self) -> None:
        steps = [("dispatcher", self.dispatcher.stop())]
        if self.adapter is not None:
            steps.append(("adapter", self.adapter.stop()))
        steps.append(("fake", self.fake.stop()))
        if self.ivr is not None:
            steps.append(("ivr", self.ivr.stop()))
        for name, step in steps:
            try:
                await asyncio.wait_for(step, 3.0)
            except TimeoutError:
                raise AssertionError(f"{name}.stop() hung") from None

    async def __aenter__(self) -> PhoneRig:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def events(self, *kinds: type[Event]) -> list[Event]:
        found = [e for batch in self.batches for e in batch]
        return [e for e in found if isinstance(e, kinds)] if kinds else found

    def ended(self) -> dict[str, ev.ContactEnded]:
        out: dict[str, ev.ContactEnded] = {}
        for e in self.events(ev.ContactEnded):
            assert isinstance(e, ev.ContactEnded)
            assert e.contact_id not in out, f"{e.contact_id} ended twice"
            out[e.contact_id] = e
        return out

    def make_available(self, agent_id: str) -> None:
        """The agent says they are ready (as from their agent page)."""
        self.dispatcher.submit(
            ev.AgentStatusSet(
                at=self.dispatcher.clock(), agent_id=agent_id, state=AgentState.AVAILABLE
            )
        )

    def callback_requested(self, contact_id: str, number: str, process: str = "passport") -> None:
        """A callback contact (as a web form "call me back" would create)."""
        self.dispatcher.submit(
            ev.ContactArrived(
                at=self.dispatcher.clock(),
                contact_id=contact_id,
                channel=Channel.CALLBACK,
                process=process,
                caller=number,
            )
        )

    def agent_state(self, agent_id: str) -> AgentState:
        return self.router.agents[agent_id].state

    async def until(self, predicate: object, timeout: float = 5.0) -> None:
        await wait_until(predicate, timeout)  # type: ignore[arg-type]


async def settle(seconds: float = 0.05) -> None:
    await asyncio.sleep(seconds)
