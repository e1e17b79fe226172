"""``FakeAsterisk``: a simulated town-hall PBX speaking real AMI and FastAGI over TCP.

It runs the project's dialplan (``asterisk-config/extensions.conf``) and
manager users (``asterisk-config/manager.conf``), writes AMI frames in the
format of the real captures, and calls the IVR over FastAGI like Asterisk's
``AGI()``. Tests drive it (place a call with the keys the caller presses, make
an agent's softphone answer / not answer / go unavailable, hang a caller up,
cut the AMI link); the embedded default uses it as the town hall's phone
system when there is no Asterisk.

    fake = FakeAsterisk(secrets={"guichet": "s3cret"}, agi_address=("127.0.0.1", ivr_port))
    await fake.start()                    # AMI on 127.0.0.1:fake.ami_port
    call = fake.place_call("0612345678", "Hélène Dupont", dtmf=["1", "2"])
    fake.phone("101").mode = "no_answer"
    fake.dial("101", "*21")               # the agent dials a feature code on their softphone
    fake.hangup(call)
    fake.cut_ami()
    await fake.stop()
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import BinaryIO

from dispatcher.fake_asterisk import dialplan as dp
from dispatcher.fake_asterisk import frames as fr
from dispatcher.fake_asterisk.agi import FastAgiSession
from dispatcher.fake_asterisk.ami import (
    MANAGER_CONF,
    AmiServer,
    ManagerUser,
    users_from_manager_conf,
)
from dispatcher.fake_asterisk.pbx import PBX, AgentPhone, CallScript, Chan, LoopScheduler, Scheduler
from dispatcher.fake_asterisk.sounds import SoundLibrary

log = logging.getLogger(__name__)


class FakeAsterisk:
    """A protocol-faithful stand-in for Asterisk 22 on 127.0.0.1."""

    def __init__(
        self,
        *,
        agents: Iterable[str | AgentPhone] = ("101", "102", "103"),
        secrets: dict[str, str] | None = None,
        users: dict[str, ManagerUser] | None = None,
        manager_conf: str | Path = MANAGER_CONF,
        dialplan: str | Path | None = None,
        agi_address: tuple[str, int] | None = None,
        time_scale: float = 0.01,
        rtcp_interval: float | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        trunk: str = "trunk",
        record: bool = False,
        citizens_answer: Callable[[str], bool] | None = None,
        scheduler: Scheduler | None = None,
        record_to: BinaryIO | None = None,
        sounds_dir: str | Path | None = None,
    ) -> None:
        self.host, self.port = host, port
        self.agi_address = agi_address
        self.record = record
        self.frames: list[bytes] = []
        self.calls: list[Chan] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._plan = dp.load(dialplan)
        self._time_scale = time_scale
        self._rtcp = rtcp_interval
        self._trunk = trunk
        self._citizens_answer = citizens_answer
        self._agents = list(agents)
        if users is None:
            users = users_from_manager_conf(secrets or {}, Path(manager_conf))
        self._users = users
        self.pbx: PBX | None = None
        self.ami: AmiServer | None = None
        self.ami_port = 0
        self.agi_sessions: list[FastAgiSession] = []
        self._scheduler = scheduler
        self.record_to = record_to
        """A file that gets every event frame written, as sent (the benchmark's recording)."""
        self.sounds_dir = sounds_dir
        """Asterisk's sounds directory (``<dir>/fr/guichet/...``): a prompt not there fails as in
        the captures; None: every prompt is installed."""

    # ------------------------------------------------------------ life

    async def start(self) -> FakeAsterisk:
        self._loop = asyncio.get_running_loop()
        self.pbx = PBX(
            self._plan,
            self._scheduler or LoopScheduler(self._loop),
            self._emit,
            trunk=self._trunk,
            time_scale=self._time_scale,
            rtcp_interval=self._rtcp,
            agi_runner=self._run_agi,
            citizens_answer=self._citizens_answer,
        )
        self.pbx.sounds = SoundLibrary(self.sounds_dir)
        for agent in self._agents:
            phone = (
                agent if isinstance(agent, AgentPhone) else AgentPhone(f"PJSIP/agent{agent}", agent)
            )
            self.pbx.add_phone(phone)
        self.pbx.device_states[f"PJSIP/{self._trunk}"] = "NOT_INUSE"
        self.ami = AmiServer(self.pbx, self._users)
        self.ami_port = await self.ami.start(self.host, self.port)
        return self

    async def stop(self) -> None:
        if self.ami is not None:
            await self.ami.stop()
        for session in self.agi_sessions:
            if session.task is not None and not session.task.done():
                session.task.cancel()
        if self.pbx is not None:
            for chan in list(self.pbx.channels.values()):
                chan.cancel_timers()

    async def __aenter__(self) -> FakeAsterisk:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _emit(self, frame: bytes) -> None:
        if self.record:
            self.frames.append(frame)
        if self.record_to is not None:
            self.record_to.write(frame)
        if self.ami is not None:
            self.ami.broadcast(frame)

    def _run_agi(self, chan: Chan, url: str) -> None:
        session = FastAgiSession(self._pbx, chan, url, self.agi_address)
        self.agi_sessions.append(session)
        session.start()

    @property
    def _pbx(self) -> PBX:
        if self.pbx is None:
            raise RuntimeError("FakeAsterisk is not started")
        return self.pbx

    # ------------------------------------------------------------ callers

    def place_call(
        self,
        caller_num: str,
        caller_name: str = "",
        *,
        dtmf: Sequence[str] = (),
        exten: str = "100",
        patience: float | None = None,
        talk_time: float | None = None,
    ) -> Chan:
        """A citizen calls the town hall; ``dtmf``: the keys pressed at each IVR prompt."""
        script = CallScript(list(dtmf), patience, talk_time)
        chan = self._pbx.incoming(caller_num, caller_name or caller_num, exten, script)
        self.calls.append(chan)
        return chan

    def hangup(self, call: Chan | str) -> None:
        """The caller hangs up (BYE from the trunk)."""
        chan = self._find(call)
        if chan is not None:
            self._pbx.hangup(chan, 16)

    def _find(self, call: Chan | str) -> Chan | None:
        if isinstance(call, Chan):
            return call if call.alive else None
        pbx = self._pbx
        return pbx.by_uniqueid.get(call) or pbx.channels.get(call)

    def channel(self, call: Chan | str) -> Chan | None:
        """The live channel (by object, Uniqueid or name), None once hung up."""
        return self._find(call)

    def holding(self) -> list[Chan]:
        """Callers waiting with music in the holding context."""
        return [
            c for c in self._pbx.channels.values() if c.alive and c.moh and c.context == "waiting"
        ]

    def bridged_to(self, call: Chan) -> str | None:
        """The agent endpoint a caller is talking to, if any."""
        if call.bridge is None:
            return None
        for c in call.bridge.channels:
            if c is not call:
                return c.device
        return None

    # ------------------------------------------------------------ agents

    def phone(self, number: str) -> AgentPhone:
        """The softphone of agent ``number`` (e.g. "101"): set ``mode`` to answer / no_answer / busy."""
        return self._pbx.phones[f"PJSIP/agent{number}"]

    def dial(self, number: str, exten: str, dtmf: Sequence[str] = ()) -> Chan | None:
        """Agent ``number`` dials ``exten`` (e.g. a feature code, ``*21``) on their softphone.

        ``dtmf``: the keys they press at each prompt that reads keys. None if the phone
        is not registered (it cannot place a call)."""
        chan = self._pbx.from_phone(f"PJSIP/agent{number}", exten, CallScript(list(dtmf)))
        if chan is not None:
            self.calls.append(chan)
        return chan

    def set_registered(self, number: str, registered: bool, how: str = "register") -> None:
        """The agent's softphone goes unavailable or comes back: ``how`` is ``register``
        (REGISTER / Expires: 0), ``qualify`` (stops or resumes answering OPTIONS) or
        ``contact`` (a ContactStatus alone, as after an Asterisk restart)."""
        self._pbx.set_registered(f"PJSIP/agent{number}", registered, how)

    def agent_hangup(self, number: str) -> bool:
        """The agent hangs up the call on their phone; False if they had none."""
        device = f"PJSIP/agent{number}"
        for chan in list(self._pbx.channels.values()):
            if chan.device == device and chan.alive:
                self._pbx.hangup(chan, 16)
                return True
        return False

    # ------------------------------------------------------------ the AMI link

    def cut_ami(self) -> None:
        """Drop every AMI connection now (calls go on inside the PBX)."""
        if self.ami is not None:
            self.ami.cut()

    async def restart(self, down_s: float = 0.4) -> None:
        """``core restart now`` as shutdown-restart.txt shows: every channel is hung up
        (SoftHangupRequest Cause 4, then 16, Hangup Cause 0), ``Event: Shutdown``, the
        manager sockets close; AMI is back ``down_s`` later, still booting at the first Login."""
        pbx, ami = self._pbx, self.ami
        assert ami is not None
        chans = [c for c in pbx.channels.values() if c.alive]
        for chan in chans:
            self._emit(fr.soft_hangup_request(chan, 4))
        for chan in chans:
            chan.cancel_timers()
            if chan.moh:
                chan.moh = False
                self._emit(fr.moh_stop(chan))
            self._emit(fr.soft_hangup_request(chan, 16))
        for chan in chans:
            chan.bridge = chan.peer = chan.dialing = None
            pbx._destroy(chan, 0)
        self._emit(fr.shutdown(restart=True))
        ami.shutdown()
        ami.refusing = True
        await asyncio.sleep(down_s)
        pbx.booted = pbx.sched.now()
        ami.refusing = False

    def inject(self, raw: bytes) -> None:
        """Write these bytes on every logged-in AMI connection, as a broken or hostile peer would."""
        if self.ami is not None:
            for session in list(self.ami.sessions):
                if session.user is not None:
                    session.write(raw)

    def refuse_ami(self, refuse: bool = True) -> None:
        """Accept then drop new AMI connections while ``refuse`` (an Asterisk restarting)."""
        if self.ami is not None:
            self.ami.refusing = refuse

    @property
    def ami_clients(self) -> int:
        """Logged-in AMI connections."""
        return 0 if self.ami is None else sum(1 for s in self.ami.sessions if s.user is not None)

    def actions(self, name: str | None = None) -> list[dict[str, list[str]]]:
        """The AMI actions received (headers lower-cased), optionally of one name."""
        seen = [] if self.ami is None else self.ami.actions_seen
        if name is None:
            return list(seen)
        return [a for a in seen if a.get("action", [""])[0].lower() == name.lower()]


async def wait_until(
    predicate: Callable[[], object], timeout: float = 5.0, step: float = 0.005
) -> None:
    """Poll ``predicate`` until true; TimeoutError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout}s")
        await asyncio.sleep(step)
