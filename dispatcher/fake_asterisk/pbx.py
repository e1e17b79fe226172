"""A tiny model of Asterisk's channels running the project's dialplan.

``PBX`` owns the channels, bridges and device states, runs the dialplan of
``asterisk-config/extensions.conf`` (Answer, Set, AGI, Goto, MusicOnHold,
Dial, Hangup, Wait, Playback, NoOp) and writes every AMI event it causes, in
Asterisk's order and format, to ``emit``. It knows nothing of sockets: the
AMI server (``ami.py``) and the FastAGI client (``agi.py``) plug into it.

Time comes from a ``Scheduler``: the asyncio loop in tests and in the
embedded town hall, a virtual clock in the benchmark. ``time_scale``
multiplies the dialplan's durations (a 15 s Dial timeout lasts 0.15 s with
``time_scale=0.01``).
"""

from __future__ import annotations

import itertools
import logging
import random
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from dispatcher.fake_asterisk import frames as fr
from dispatcher.fake_asterisk.dialplan import Dialplan, split_args, substitute
from dispatcher.fake_asterisk.sounds import SoundLibrary

log = logging.getLogger(__name__)

UP, RINGING, RING, DOWN = 6, 5, 4, 0

DIAL_VARS = (
    "DIALSTATUS",
    "DIALEDPEERNUMBER",
    "DIALEDPEERNAME",
    "ANSWEREDTIME",
    "ANSWEREDTIME_MS",
    "DIALEDTIME",
    "DIALEDTIME_MS",
    "RINGTIME",
    "RINGTIME_MS",
    "PROGRESSTIME",
    "PROGRESSTIME_MS",
)


class Handle(Protocol):
    def cancel(self) -> None: ...


class Scheduler(Protocol):
    def now(self) -> float: ...
    def call_later(self, delay: float, fn: Callable[..., Any], *args: Any) -> Handle: ...


class LoopScheduler:
    """Real time on the running asyncio loop."""

    def __init__(self, loop: Any) -> None:
        self.loop = loop

    def now(self) -> float:
        return time.time()

    def call_later(self, delay: float, fn: Callable[..., Any], *args: Any) -> Handle:
        return self.loop.call_later(max(0.0, delay), fn, *args)


@dataclass(eq=False)
class AgentPhone:
    """An agent's softphone: registered or not, and what it does when it rings."""

    endpoint: str
    number: str
    mode: str = "answer"
    """``answer``, ``no_answer`` (rings until the Dial timeout) or ``busy`` (rejects with 486)."""
    answer_after: float = 0.005
    """Seconds of ringing before an ``answer`` phone picks up (real seconds, not scaled)."""
    registered: bool = True
    language: str = "fr"
    """The channel language of calls it places (pjsip.conf's ``language = fr`` of the agents' template)."""

    @property
    def resource(self) -> str:
        return self.endpoint.partition("/")[2]


@dataclass(eq=False)
class CallScript:
    """What the caller does: the keys pressed at each IVR prompt, how long they hold on."""

    dtmf: list[str] = field(default_factory=list)
    """One entry per prompt that reads keys: ``"2"``, ``"0612345678#"``, or ``""`` (no key: timeout)."""
    patience: float | None = None
    """Hang up after this long in the waiting context (real seconds); None: wait forever."""
    talk_time: float | None = None
    """Hang up this long after being bridged to an agent; None: stay until hung up."""


@dataclass(eq=False)
class Chan:
    """One Asterisk channel (``ChannelLike`` for the frame writers)."""

    name: str
    uniqueid: str
    linkedid: str
    device: str
    created: float
    state: int = DOWN
    caller_num: str = "<unknown>"
    caller_name: str = "<unknown>"
    connected_num: str = "<unknown>"
    connected_name: str = "<unknown>"
    language: str = "en"
    context: str = ""
    exten: str = ""
    priority: int = 1
    block: str | None = None
    dest_block: str | None = None
    vars: dict[str, str] = field(default_factory=dict)
    app: str = ""
    app_data: str = ""
    alive: bool = True
    moh: bool = False
    bridge: Bridge | None = None
    peer: Chan | None = None
    """The other leg of a Dial (set on both legs)."""
    dialing: Dial | None = None
    agi: Any = None
    timers: list[Handle] = field(default_factory=list)
    script: CallScript | None = None
    ssrc: int = 0
    packets: int = 0
    hangup_cause: int = 16
    on_end: Callable[[Chan], None] | None = None
    hangup_after_agi: int | None = None
    """The caller hung up during a FastAGI session: the cause, applied once the script closes."""
    hangup_handlers: list[str] = field(default_factory=list)
    """``context,exten,priority`` pushed with ``CHANNEL(hangup_handler_push)``, run as it hangs up."""

    def touch(self) -> None:
        self.block = None
        self.dest_block = None

    def cancel_timers(self) -> None:
        for handle in self.timers:
            handle.cancel()
        self.timers.clear()


@dataclass(eq=False)
class Bridge:
    uniqueid: str
    channels: list[Chan] = field(default_factory=list)
    technology: str = "simple_bridge"


@dataclass(eq=False)
class Dial:
    caller: Chan
    callee: Chan | None
    phone: AgentPhone | None
    started: float
    timeout: Handle | None = None
    answer: Handle | None = None
    on_result: Callable[[str], None] | None = None
    """For originated legs: called with ANSWER / NOANSWER / BUSY / CHANUNAVAIL."""


class PBX:
    """Channels, bridges, devices and the dialplan interpreter."""

    def __init__(
        self,
        dialplan: Dialplan,
        scheduler: Scheduler,
        emit: Callable[[bytes], None],
        *,
        trunk: str = "trunk",
        time_scale: float = 1.0,
        rtcp_interval: float | None = None,
        agi_runner: Callable[[Chan, str], None] | None = None,
        citizens_answer: Callable[[str], bool] | None = None,
        seed: int | None = None,
    ) -> None:
        self.dialplan = dialplan
        self.sched = scheduler
        self.emit = emit
        self.trunk = trunk
        self.time_scale = time_scale
        self.rtcp_interval = rtcp_interval
        self.agi_runner = agi_runner
        self.citizens_answer = citizens_answer or (lambda number: True)
        self.rng = random.Random(seed)
        self.sounds = SoundLibrary()
        """The sound files this PBX has (``SoundLibrary(root)``; default: all of them)."""
        self.on_bridge: Callable[[Chan, Chan], None] | None = None
        """Called when a caller and the leg it dialled are bridged (the traffic's accounting)."""
        self.channels: dict[str, Chan] = {}
        self.by_uniqueid: dict[str, Chan] = {}
        self.by_device: dict[str, set[Chan]] = {}
        self.phones: dict[str, AgentPhone] = {}
        self.device_states: dict[str, str] = {}
        self.wall: Callable[[], float] = time.time
        """The wall clock of ``${EPOCH}`` and ``${STRFTIME()}`` (a simulation sets its virtual one)."""
        self.astdb: dict[str, str] = {}
        """Asterisk's database (``DB(family/key)``, AMI ``DBGet`` / ``DBDelTree``): ``family/key`` -> value."""
        self._seq = itertools.count(1)
        self.booted = scheduler.now()

    # ------------------------------------------------------------ devices

    def add_phone(self, phone: AgentPhone) -> None:
        self.phones[phone.endpoint] = phone
        self.device_states[phone.endpoint] = "NOT_INUSE" if phone.registered else "UNAVAILABLE"

    def _device_state(self, device: str) -> str:
        phone = self.phones.get(device)
        chans = self.by_device.get(device, ())
        if phone is None:  # the trunk: in use while it carries a call
            return "INUSE" if chans else "NOT_INUSE"
        if not phone.registered and not chans:
            return "UNAVAILABLE"
        if any(c.state in (UP, RING) for c in chans):  # RING: a call the phone places
            return "RINGINUSE" if any(c.state == RINGING for c in chans) else "INUSE"
        if any(c.state == RINGING for c in chans):
            return "RINGING"
        return "NOT_INUSE"

    def update_device(self, device: str) -> None:
        state = self._device_state(device)
        if self.device_states.get(device) != state:
            self.device_states[device] = state
            self.emit(fr.device_state(device, state))

    def set_registered(self, endpoint: str, registered: bool, how: str = "register") -> None:
        """The phone registers / unregisters (``how="register"``), answers qualify again or stops
        (``"qualify"``), or only its contact's status changes with no device state (``"contact"``,
        seen after an Asterisk restart); the events as agent-unreachable-qualify.txt shows."""
        phone = self.phones[endpoint]
        phone.registered = registered
        resource = phone.resource
        digits = "".join(ch for ch in resource if ch.isdigit())
        port = 6000 + int(digits[-3:]) if digits else 6000
        peer = "Reachable" if registered else "Unreachable"
        if how == "contact":
            self.emit(fr.contact_status(resource, port, peer))
            return
        if registered:
            if how == "register":
                self.emit(fr.contact_status(resource, port, "NonQualified"))
                self.emit(fr.peer_status(endpoint, peer))
            else:
                self.emit(fr.peer_status(endpoint, peer))
            self.emit(fr.contact_status(resource, port, "Reachable", 1487))
            self.update_device(endpoint)
            return
        self.emit(fr.peer_status(endpoint, peer))
        self.update_device(endpoint)
        self.emit(
            fr.contact_status(resource, port, "Removed" if how == "register" else "Unreachable")
        )

    # ------------------------------------------------------------ channels

    def new_channel(
        self,
        device: str,
        context: str,
        exten: str,
        linkedid: str | None = None,
        uniqueid: str | None = None,
    ) -> Chan:
        seq = next(self._seq)
        now = self.sched.now()
        uid = uniqueid or f"{int(now)}.{seq}"
        chan = Chan(
            name=f"{device}-{seq:08x}",
            uniqueid=uid,
            linkedid=linkedid or uid,
            device=device,
            created=now,
            context=context,
            exten=exten,
            ssrc=self.rng.getrandbits(32),
        )
        self.channels[chan.name] = chan
        self.by_uniqueid[uid] = chan
        self.by_device.setdefault(device, set()).add(chan)
        return chan

    def incoming(
        self,
        caller_num: str,
        caller_name: str,
        exten: str,
        script: CallScript,
        context: str = "from-trunk",
    ) -> Chan:
        """A call from the trunk: Newchannel, then the dialplan from ``context``."""
        chan = self.new_channel(f"PJSIP/{self.trunk}", context, exten)
        chan.state = RING
        chan.caller_num, chan.caller_name = caller_num, caller_name
        chan.script = script
        self.emit(fr.newchannel(chan))
        self.emit(fr.varset(chan, "SIPDOMAIN", "127.0.0.1"))
        self.run(chan)
        return chan

    def from_phone(
        self, endpoint: str, exten: str, script: CallScript | None = None, context: str = "from-agents"
    ) -> Chan | None:
        """The agent dials ``exten`` on their softphone (a feature code); None if it is not registered."""
        phone = self.phones.get(endpoint)
        if phone is None or not phone.registered:
            return None
        chan = self.new_channel(endpoint, context, exten)
        chan.state = RING
        chan.caller_num, chan.caller_name = phone.number, phone.number
        chan.language = phone.language
        chan.script = script
        self.emit(fr.newchannel(chan))
        self.update_device(endpoint)
        self.run(chan)
        return chan

    def var(self, chan: Chan, name: str) -> str | None:
        if name == "EXTEN":
            return chan.exten
        if name == "CONTEXT":
            return chan.context
        if name in ("CALLERID(num)", "CALLERID(number)"):
            return chan.caller_num
        if name == "CALLERID(name)":
            return chan.caller_name
        if name == "CHANNEL(language)":
            return chan.language
        if name == "UNIQUEID":
            return chan.uniqueid
        if name == "EPOCH":
            return str(int(self.wall()))
        if name.startswith("STRFTIME(") and name.endswith(")"):
            return strftime_now(split_args(name[9:-1])[-1], self.wall())
        if name.startswith("DB(") and name.endswith(")"):
            return self.astdb.get(name[3:-1], "")
        if name in chan.vars:
            return chan.vars[name]
        return self.dialplan.globals.get(name)

    def set_var(self, chan: Chan, name: str, value: str) -> None:
        if name == "CHANNEL(language)":
            chan.language = value
            chan.touch()
        elif name in ("CALLERID(num)", "CALLERID(number)"):
            chan.caller_num = value
            chan.touch()
        elif name == "CALLERID(name)":
            chan.caller_name = value
            chan.touch()
        elif name == "CHANNEL(hangup_handler_push)":
            chan.hangup_handlers.append(value)
        elif name.startswith("DB(") and name.endswith(")"):
            self.astdb[name[3:-1]] = value
        else:
            chan.vars[name] = value
            self.emit(fr.varset(chan, name, value))

    def set_state(self, chan: Chan, state: int) -> None:
        if chan.state != state:
            chan.state = state
            chan.touch()
            self.emit(fr.newstate(chan))
            self.update_device(chan.device)

    def later(self, chan: Chan, delay: float, fn: Callable[..., Any], *args: Any) -> None:
        chan.timers.append(self.sched.call_later(delay, fn, *args))

    # ------------------------------------------------------------ dialplan

    def goto(self, chan: Chan, context: str, exten: str, priority: int = 1) -> None:
        chan.context, chan.exten, chan.priority = context, exten, priority
        chan.touch()

    def run(self, chan: Chan) -> None:
        """Execute priorities until an application blocks (or the channel ends)."""
        for _ in range(200):
            if not chan.alive:
                return
            ext = self.dialplan.find(chan.context, chan.exten)
            step = None if ext is None else ext.steps.get(chan.priority)
            if step is None:
                log.info(
                    "fake asterisk: no %s,%s,%d: hang up %s",
                    chan.context,
                    chan.exten,
                    chan.priority,
                    chan.name,
                )
                # No such context or extension: hung up at once with Cause 0 (redirect-errors.txt).
                self.hangup(chan, 0 if ext is None else 16, request=False)
                return
            data = substitute(step.args, lambda n: self.var(chan, n))
            self.emit(fr.newexten(chan, step.app, data))
            chan.app, chan.app_data = step.app, data
            app = getattr(self, "app_" + step.app.lower(), None)
            if app is None:
                log.warning("fake asterisk: application %s not modelled; skipped", step.app)
                result = "next"
            else:
                result = app(chan, data)
            if result == "next":
                chan.priority += 1
                chan.touch()
            elif result != "jump":
                return
        log.error("fake asterisk: dialplan loop on %s", chan.name)
        self.hangup(chan, 16, request=False)

    def resume(self, chan: Chan) -> None:
        """Continue after a blocking application finished."""
        if chan.alive:
            chan.priority += 1
            chan.touch()
            self.run(chan)

    def app_answer(self, chan: Chan, data: str) -> str:
        self.set_state(chan, UP)
        return "next"

    def app_noop(self, chan: Chan, data: str) -> str:
        return "next"

    def app_set(self, chan: Chan, data: str) -> str:
        name, _, value = data.partition("=")
        self.set_var(chan, name.strip(), value)
        return "next"

    def app_playback(self, chan: Chan, data: str) -> str:
        self.set_var(chan, "PLAYBACKSTATUS", "SUCCESS")
        return "next"

    def app_goto(self, chan: Chan, data: str) -> str:
        parts = [p.strip() for p in split_args(data)]
        if len(parts) == 1:
            ctx, ext, prio = chan.context, chan.exten, parts[0]
        elif len(parts) == 2:
            ctx, ext, prio = chan.context, parts[0], parts[1]
        else:
            ctx, ext, prio = parts[0], parts[1], parts[2]
        found = self.dialplan.find(ctx, ext)
        if prio.isdigit():
            number = int(prio)
        elif found is not None and prio in found.labels:
            number = found.labels[prio]
        else:
            number = 1
        self.goto(chan, ctx, ext, number)
        return "jump"

    def app_hangup(self, chan: Chan, data: str) -> str:
        self.hangup(chan, int(data) if data.strip().isdigit() else 16, request=False)
        return "block"

    def app_wait(self, chan: Chan, data: str) -> str:
        self.later(chan, float(data or 0) * self.time_scale, self.resume, chan)
        return "block"

    def app_musiconhold(self, chan: Chan, data: str) -> str:
        klass = split_args(data)[0] or "default"
        chan.moh = True
        self.emit(fr.moh_start(chan, klass))
        script = chan.script
        if script is not None and script.patience is not None:
            self.later(chan, script.patience, self.hangup, chan, 0)
        return "block"

    def app_agi(self, chan: Chan, data: str) -> str:
        if self.agi_runner is None:
            self.set_var(chan, "AGISTATUS", "FAILURE")
            return "next"
        self.agi_runner(chan, split_args(data)[0])
        return "block"

    def agi_done(self, chan: Chan, status: str = "SUCCESS") -> None:
        """The AGI session ended: AGISTATUS, then the next priority (or the pending hang-up)."""
        chan.agi = None
        if chan.hangup_after_agi is not None and chan.alive:
            cause, chan.hangup_after_agi = chan.hangup_after_agi, None
            self.hangup(chan, cause, request=False)
            return
        if chan.alive:
            self.set_var(chan, "AGISTATUS", status)
            self.resume(chan)

    def app_dial(self, chan: Chan, data: str) -> str:
        args = split_args(data)
        target = args[0].strip()
        timeout = float(args[1]) if len(args) > 1 and args[1].strip() else 30.0
        for name in DIAL_VARS:
            self.set_var(chan, name, "")
        tech, _, resource = target.partition("/")
        resource, _, via = resource.partition("@")
        if via:
            self._dial_out(chan, resource, timeout)
            return "block"
        phone = self.phones.get(target)
        if phone is None or not phone.registered:
            self.set_var(chan, "DIALSTATUS", "CHANUNAVAIL")
            return "next"
        self._dial_phone(chan, phone, timeout)
        return "block"

    # ------------------------------------------------------------ Dial

    def _dial_phone(
        self,
        chan: Chan,
        phone: AgentPhone,
        timeout: float,
        on_result: Callable[[str], None] | None = None,
    ) -> Dial:
        leg = self.new_channel(phone.endpoint, "from-agents", "s", linkedid=chan.linkedid)
        leg.language = chan.language
        self.emit(fr.newchannel(leg))
        self.set_var(leg, "DIALEDPEERNUMBER", phone.resource)
        leg.exten = phone.number
        leg.caller_num = phone.number
        leg.connected_num, leg.connected_name = chan.caller_num, chan.caller_name
        leg.touch()
        self.emit(fr.newexten(leg, "AppDial", "(Outgoing Line)"))
        self.emit(fr.newcallerid(leg))
        self.emit(fr.newconnectedline(leg))
        self.emit(fr.dial_begin(chan, leg, phone.resource))
        chan.connected_num, chan.connected_name = phone.number, "<unknown>"
        chan.touch()
        self.emit(fr.newconnectedline(chan))
        dial = Dial(chan, leg, phone, self.sched.now(), on_result=on_result)
        chan.dialing = dial
        leg.peer, chan.peer = chan, leg
        if phone.mode == "busy" or self.device_states.get(phone.endpoint) in ("INUSE", "BUSY"):
            # As agent-busy-486.txt: the leg rings, the device shows BUSY, the phone's 486
            # hangs the leg up (Cause 17) 3 ms after DialBegin, then DialEnd BUSY.
            leg.state = RINGING
            leg.touch()
            self.emit(fr.newstate(leg))
            self.set_var(chan, "RINGTIME", "0")
            self.set_var(chan, "RINGTIME_MS", "2")
            self.device_states[phone.endpoint] = "BUSY"
            self.emit(fr.device_state(phone.endpoint, "BUSY"))
            self.emit(fr.dial_state(chan, leg, "RINGING"))
            self.later(chan, 0.003, self._dial_fail, dial, "BUSY", 17)
            return dial
        self.set_state(leg, RINGING)
        self.set_var(chan, "RINGTIME", "0")
        self.set_var(chan, "RINGTIME_MS", "1")
        self.emit(fr.dial_state(chan, leg, "RINGING"))
        dial.timeout = self.sched.call_later(
            timeout * self.time_scale, self._dial_fail, dial, "NOANSWER", 0
        )
        if phone.mode == "answer":
            dial.answer = self.sched.call_later(phone.answer_after, self._dial_answer, dial)
        return dial

    def _dial_out(self, chan: Chan, number: str, timeout: float) -> None:
        """Dial a citizen through the trunk (callbacks): answers unless ``citizens_answer`` says no."""
        leg = self.new_channel(f"PJSIP/{self.trunk}", "from-trunk", "s", linkedid=chan.linkedid)
        self.emit(fr.newchannel(leg))
        leg.exten, leg.caller_num = number, number
        leg.connected_num, leg.connected_name = chan.caller_num, chan.caller_name
        leg.touch()
        self.emit(fr.newexten(leg, "AppDial", "(Outgoing Line)"))
        self.emit(fr.dial_begin(chan, leg, f"{number}@{self.trunk}"))
        dial = Dial(chan, leg, None, self.sched.now())
        chan.dialing = dial
        leg.peer, chan.peer = chan, leg
        self.set_state(leg, RINGING)
        self.emit(fr.dial_state(chan, leg, "RINGING"))
        dial.timeout = self.sched.call_later(
            timeout * self.time_scale, self._dial_fail, dial, "NOANSWER", 0
        )
        if self.citizens_answer(number):
            dial.answer = self.sched.call_later(0.005, self._dial_answer, dial)

    def _dial_fail(self, dial: Dial, status: str, cause: int) -> None:
        chan, leg = dial.caller, dial.callee
        if chan.dialing is not dial:
            return
        self._end_dial(dial)
        if status == "BUSY" and leg is not None and leg.alive:
            # The 486: HangupRequest of the leg, DialEnd, its Hangup, DIALSTATUS, then the device.
            self.emit(fr.hangup_request(leg, cause))
            self.emit(fr.dial_end(chan, leg, status))
            self._destroy(leg, cause, update=False)
            self.set_var(chan, "DIALSTATUS", status)
            self.update_device(leg.device)
        else:
            if leg is not None and leg.alive:
                self.emit(fr.dial_end(chan, leg, status))
            self.set_var(chan, "DIALSTATUS", status)
            if leg is not None and leg.alive:
                self._destroy(leg, cause)
        chan.peer = None
        if dial.on_result is not None:
            dial.on_result(status)
            return
        self.resume(chan)

    def _end_dial(self, dial: Dial) -> None:
        dial.caller.dialing = None
        for handle in (dial.timeout, dial.answer):
            if handle is not None:
                handle.cancel()

    def _dial_answer(self, dial: Dial) -> None:
        chan, leg = dial.caller, dial.callee
        if chan.dialing is not dial or leg is None:
            return
        self._end_dial(dial)
        leg.state = UP
        leg.touch()
        self.emit(fr.newstate(leg))
        if dial.on_result is not None:  # an originated leg: the dialplan takes it from here
            self.update_device(leg.device)
            dial.on_result("ANSWER")
            return
        self.set_var(chan, "DIALSTATUS", "ANSWER")
        self.set_var(chan, "DIALEDPEERNAME", leg.name)
        self.set_var(chan, "DIALEDPEERNUMBER", dial.phone.resource if dial.phone else leg.exten)
        leg.exten = ""
        leg.touch()
        self.emit(fr.dial_end(chan, leg, "ANSWER"))
        self.bridge(chan, leg)

    def bridge(self, chan: Chan, leg: Chan) -> None:
        if self.on_bridge is not None:
            self.on_bridge(chan, leg)
        bridge = Bridge(str(uuid.UUID(int=self.rng.getrandbits(128), version=4)))
        self.emit(fr.bridge_event("BridgeCreate", bridge.uniqueid, bridge.technology, 0))
        self.update_device(leg.device)
        self.emit(fr.newexten(leg, "AppDial", "(Outgoing Line)"))
        for c in (leg, chan):
            bridge.channels.append(c)
            c.bridge = bridge
            self.emit(
                fr.bridge_event(
                    "BridgeEnter", bridge.uniqueid, bridge.technology, len(bridge.channels), c
                )
            )
        call_id = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        for _ in range(3):
            self.set_var(chan, "BRIDGEPEER", leg.name)
            self.set_var(chan, "BRIDGEPVTCALLID", call_id)
            self.set_var(leg, "BRIDGEPEER", chan.name)
            self.set_var(leg, "BRIDGEPVTCALLID", f"1-{chan.ssrc % 10000}@127.0.0.1")
        bridge.technology = "native_rtp"
        if self.rtcp_interval:
            self.later(chan, self.rtcp_interval, self._rtcp, chan)
        script = chan.script
        if script is not None and script.talk_time is not None:
            self.later(chan, script.talk_time, self.hangup, chan, 16)

    def _rtcp(self, chan: Chan) -> None:
        if not chan.alive or chan.bridge is None or self.rtcp_interval is None:
            return
        chan.packets += int(self.rtcp_interval / self.time_scale * 50) if self.time_scale else 250
        self.emit(
            fr.rtcp_sent(chan, self.sched.now(), chan.packets, chan.ssrc, report=chan.packets < 300)
        )
        self.later(chan, self.rtcp_interval, self._rtcp, chan)

    # ------------------------------------------------------------ leaving

    def redirect(self, chan: Chan, context: str, exten: str, priority: int = 1) -> None:
        """AMI Redirect: stop what the channel does, continue at the new place."""
        caller = chan.peer
        dial = caller.dialing if caller is not None else None
        if caller is not None and dial is not None and dial.callee is chan:
            # The dialled leg taken away while it rings (redirect-errors.txt): the caller's
            # Dial returns CHANUNAVAIL with no DialEnd; the leg runs the new place.
            self._end_dial(dial)
            caller.peer = chan.peer = None
            chan.cancel_timers()
            self.set_var(caller, "DIALSTATUS", "CHANUNAVAIL")
            self.goto(chan, context, exten, priority)
            self.run(chan)
            self.resume(caller)
            return
        self._interrupt(chan)
        self.goto(chan, context, exten, priority)
        self.run(chan)

    def _interrupt(self, chan: Chan) -> None:
        chan.cancel_timers()
        if chan.moh:
            chan.moh = False
            self.emit(fr.moh_stop(chan))
        if chan.agi is not None:
            agi, chan.agi = chan.agi, None
            agi.interrupted()
        dial = chan.dialing
        if dial is not None:
            self._end_dial(dial)
            leg = dial.callee
            if leg is not None and leg.alive:
                self.emit(fr.dial_end(chan, leg, "CANCEL"))
                self._destroy(leg, 0)
            chan.peer = None

    def hangup(self, chan: Chan, cause: int = 16, request: bool = True) -> None:
        """The channel hangs up (``request``: its far end sent BYE, as a caller or an agent does)."""
        if not chan.alive:
            return
        bridge = chan.bridge
        if bridge is not None:
            self._hangup_bridged(chan, bridge, cause, request)
            return
        if request:
            self.emit(fr.hangup_request(chan, None if chan.moh else cause))
        if chan.agi is not None and getattr(chan.agi, "holds_channel", False):
            # As res_agi does: the script hears HANGUP; the channel ends when it closes the socket.
            chan.cancel_timers()
            chan.hangup_after_agi = cause
            chan.agi.hung_up()
            return
        self._interrupt(chan)
        if chan.peer is not None and chan.peer.dialing is not None:
            # A dialled leg hanging up while it rings: its caller's Dial fails.
            dial = chan.peer.dialing
            self._dial_fail(dial, "NOANSWER" if cause in (0, 16, 19) else "BUSY", cause)
            return
        self.emit(fr.soft_hangup_request(chan, 16))
        self._destroy(
            chan, 0 if chan.state == UP and chan.context == "waiting" else cause, qos=True
        )

    def soft_hangup(self, chan: Chan) -> None:
        """AMI Hangup action."""
        if not chan.alive:
            return
        if chan.bridge is not None:
            self._hangup_bridged(chan, chan.bridge, 16, request=False)
            return
        self._interrupt(chan)
        self.emit(fr.soft_hangup_request(chan, 16))
        self._destroy(chan, 0, qos=True)

    def _hangup_bridged(self, chan: Chan, bridge: Bridge, cause: int, request: bool) -> None:
        other = next((c for c in bridge.channels if c is not chan), None)
        chan.cancel_timers()
        if request:
            self.emit(fr.hangup_request(chan, cause))
        if other is not None:
            for a, b in ((chan, other), (other, chan)):
                for name, value in fr.RTP_QOS:
                    self.emit(fr.varset(a, name, value.format(ssrc=a.ssrc, tx=a.packets)))
                    self.emit(
                        fr.varset(b, name + "BRIDGED", value.format(ssrc=a.ssrc, tx=a.packets))
                    )
                break
            for c in (chan, other):
                self.set_var(c, "BRIDGEPEER", "")
                self.set_var(c, "BRIDGEPVTCALLID", "")
        remaining = list(bridge.channels)
        for c in [chan] + [c for c in remaining if c is not chan]:
            bridge.channels.remove(c)
            c.bridge = None
            self.emit(
                fr.bridge_event(
                    "BridgeLeave", bridge.uniqueid, bridge.technology, len(bridge.channels), c
                )
            )
        self.emit(fr.bridge_event("BridgeDestroy", bridge.uniqueid, bridge.technology, 0))
        for leg in (chan, other):
            if leg is not None and "DIALSTATUS" in leg.vars:
                self.set_var(leg, "DIALSTATUS", "ANSWER")
        self.emit(fr.soft_hangup_request(chan, cause))
        self._destroy(chan, cause, qos=False)
        if other is not None and other.alive:
            self._destroy(other, cause, qos=False)

    def _destroy(self, chan: Chan, cause: int, qos: bool = False, update: bool = True) -> None:
        if not chan.alive:
            return
        chan.cancel_timers()
        if qos and chan.state == UP:
            for frame in fr.rtp_qos(chan, chan.ssrc, chan.packets or 500):
                self.emit(frame)
        self._run_hangup_handlers(chan)
        chan.alive = False
        chan.hangup_cause = cause
        self.emit(fr.hangup(chan, cause))
        self.channels.pop(chan.name, None)
        self.by_uniqueid.pop(chan.uniqueid, None)
        self.by_device.get(chan.device, set()).discard(chan)
        if update:
            self.update_device(chan.device)
        if chan.agi is not None:
            agi, chan.agi = chan.agi, None
            agi.hung_up()
        if chan.on_end is not None:
            chan.on_end(chan)

    def _run_hangup_handlers(self, chan: Chan) -> None:
        """As Asterisk does once a channel hangs up: each pushed handler, last pushed first, to its Return."""
        while chan.hangup_handlers:
            where = [p.strip() for p in split_args(chan.hangup_handlers.pop())]
            context, exten = where[0], where[1] if len(where) > 1 else "s"
            priority = int(where[2]) if len(where) > 2 and where[2].isdigit() else 1
            for _ in range(50):
                step = self.dialplan.step(context, exten, priority)
                if step is None or step.app.lower() == "return":
                    break
                chan.context, chan.exten, chan.priority = context, exten, priority
                data = substitute(step.args, lambda n: self.var(chan, n))
                self.emit(fr.newexten(chan, step.app, data))
                if step.app.lower() in ("set", "noop"):
                    getattr(self, "app_" + step.app.lower())(chan, data)
                else:
                    log.warning("fake asterisk: %s not modelled in a hangup handler; skipped", step.app)
                priority += 1

    # ------------------------------------------------------------ originate

    def originate(
        self,
        endpoint: str,
        context: str,
        exten: str,
        priority: int,
        caller_id: tuple[str, str],
        variables: dict[str, str],
        timeout: float,
        uniqueid: str | None,
        on_result: Callable[[bool, Chan | None, int], None],
    ) -> None:
        """AMI Originate to an agent's phone; once answered it runs ``context,exten,priority``."""
        phone = self.phones.get(endpoint)
        if phone is None or not phone.registered:
            on_result(False, None, 0)  # at once, no channel (originate-failures.txt)
            return
        fake_caller = Chan(
            name="Originate", uniqueid="", linkedid="", device="", created=self.sched.now()
        )
        fake_caller.caller_num, fake_caller.caller_name = caller_id
        leg_holder: dict[str, Chan] = {}

        def result(status: str) -> None:
            leg = leg_holder["leg"]
            if status == "ANSWER":
                on_result(True, leg, 4)
                leg.vars.update(variables)
                self.goto(leg, context, exten, priority)
                self.run(leg)
            else:
                on_result(False, leg, 3 if status == "NOANSWER" else 0)  # a 486 gives 0, not 5

        leg = self._originate_leg(phone, fake_caller, uniqueid)
        leg_holder["leg"] = leg
        dial = Dial(fake_caller, leg, phone, self.sched.now(), on_result=result)
        fake_caller.dialing = dial
        if phone.mode == "busy" or self.device_states.get(phone.endpoint) in ("INUSE", "BUSY"):
            self.sched.call_later(0.001, self._originate_fail, dial, "BUSY", 17)
            return
        self.set_state(leg, RINGING)
        dial.timeout = self.sched.call_later(timeout, self._originate_fail, dial, "NOANSWER", 0)
        if phone.mode == "answer":
            dial.answer = self.sched.call_later(phone.answer_after, self._dial_answer, dial)

    def _originate_leg(self, phone: AgentPhone, caller: Chan, uniqueid: str | None) -> Chan:
        leg = self.new_channel(phone.endpoint, "from-agents", "s", uniqueid=uniqueid)
        leg.caller_num, leg.caller_name = phone.number, "<unknown>"
        leg.connected_num, leg.connected_name = caller.caller_num, caller.caller_name
        self.emit(fr.newchannel(leg))
        return leg

    def _originate_fail(self, dial: Dial, status: str, cause: int) -> None:
        """The agent's phone did not take the originate: the response first, then the leg's Hangup
        (Cause 19 after no answer; a 486: HangupRequest Cause 17 before the response)."""
        if dial.caller.dialing is not dial:
            return
        self._end_dial(dial)
        leg = dial.callee
        alive = leg is not None and leg.alive
        if status == "BUSY" and alive:
            self.emit(fr.hangup_request(leg, 17))  # type: ignore[arg-type]
        if dial.on_result is not None:
            dial.on_result(status)
        if alive:
            self._destroy(leg, 19 if status == "NOANSWER" else cause)  # type: ignore[arg-type]

    # ------------------------------------------------------------ views

    def duration(self, chan: Chan) -> str:
        seconds = int(self.sched.now() - chan.created)
        return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def strftime_now(fmt: str, now: float) -> str:
    """``${STRFTIME(,,fmt)}`` at ``now``: strftime plus Asterisk's ``%[n]q`` (fractions of a second)."""
    def fraction(m: re.Match[str]) -> str:
        digits = int(m.group(1) or 3)
        return str(int(now % 1 * 10**digits)).zfill(digits)

    fmt = re.sub(r"%(\d?)q", fraction, fmt)
    return time.strftime(fmt.replace("%s", str(int(now))), time.localtime(now))
