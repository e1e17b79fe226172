"""The phone side's state machine against the fake Asterisk's PBX, on a virtual clock, no socket.

``World`` runs the fake Asterisk's channel model (``PBX``, the project's
dialplan) and the real routing core, with ``PhoneCalls`` between them: every
AMI frame the PBX writes goes, in order and one at a time, to the machine
(unless the link is down: then it is lost), the machine's core events to the
core, the core's decisions back to the machine, its actions to the PBX. The
link can be cut and restored (a resynchronisation from the PBX's channels and
device states) and the dispatcher "killed" (a fresh machine; the core kept, as
the restart rebuilds it from its stream). Property tests drive it with random
operations; the example tests with scripted ones.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from dispatcher import events as ev
from dispatcher.ami import codec
from dispatcher.ami.calls import PhoneCalls
from dispatcher.ami.model import (
    EndedCall,
    Hangup,
    LiveChannel,
    Originate,
    Redirect,
    Step,
    agent_lines,
)
from dispatcher.ami.resync import core_contacts, duration
from dispatcher.events import AgentState, Event
from dispatcher.fake_asterisk import dialplan as dp
from dispatcher.fake_asterisk.pbx import PBX, AgentPhone, CallScript, Chan
from dispatcher.fake_asterisk.sim import VirtualClock
from dispatcher.policy import RoutingPolicy
from dispatcher.router import Router
from tests import factories as f
from tests.ami_helpers import phone_matrix


@dataclass
class World:
    agents: tuple[int, ...] = (101, 102, 103)
    policy: RoutingPolicy = field(default_factory=lambda: RoutingPolicy(wrap_up_s=0))

    def __post_init__(self) -> None:
        self.clock = VirtualClock()
        self.matrix = phone_matrix(self.agents)
        self.router = Router(f.catalogue(), self.matrix, self.policy)
        self.frames: deque[bytes] = deque()
        self.pbx = PBX(dp.load(), self.clock, self.frames.append, time_scale=1.0)
        self.pbx.wall = self.clock.now
        for n in self.agents:
            self.pbx.add_phone(AgentPhone(f"PJSIP/agent{n}", str(n)))
        self.machine = PhoneCalls(agent_lines(self.matrix))
        self.link = False
        self.later: deque[Event] = deque()
        self.core_log: list[Event] = []
        self.dials: list[tuple[float, str]] = []
        """(time, endpoint) of every DialBegin the PBX wrote."""
        self.callers: list[Chan] = []
        self.seen_bridged: set[str] = set()
        self.bridged: set[str] = set()
        """Every caller bridged with an agent, seen or not (the dialplan notes it at the hang-up)."""
        self.requeued_unseen: set[str] = set()
        """Contacts the core took back (its ring timer) while the link was down."""
        """Callers bridged with an agent while the dispatcher could see it (link up, or a resync)."""
        self.pbx.on_bridge = self._bridged
        self.restore()
        for n in self.agents:
            self.submit(
                ev.AgentStatusSet(at=self.now, agent_id=f"a{n}", state=AgentState.AVAILABLE)
            )
        self.pump()

    @property
    def now(self) -> float:
        return self.clock.now()

    # ------------------------------------------------------------ plumbing

    def submit(self, event: Event) -> None:
        decisions = self.router.handle(event)
        self.core_log += [event, *decisions]
        if not self.link:
            self.requeued_unseen |= {
                d.contact_id for d in decisions if isinstance(d, ev.ContactRequeued)
            }
        steps = self.machine.decided([event, *decisions])
        self.run([s for s in steps if not isinstance(s, Event)])
        self.later.extend(s for s in steps if isinstance(s, Event))

    def run(self, steps: Iterable[Step]) -> None:
        for step in steps:
            if isinstance(step, Event):
                self.submit(step)
            elif isinstance(step, Redirect):
                self._redirect(step)
            elif isinstance(step, Hangup):
                chan = self.pbx.channels.get(step.channel)
                if chan is not None:
                    self.pbx.soft_hangup(chan)
            elif isinstance(step, Originate):
                self.run(self.machine.originated(step, False, 0, self.now))

    def _bridged(self, chan: Chan, leg: Chan) -> None:
        self.bridged.add(chan.uniqueid)
        if self.link:
            self.seen_bridged.add(chan.uniqueid)

    def _redirect(self, redirect: Redirect) -> None:
        if not self.link:
            return  # written on a dead socket: lost
        chan = self.pbx.channels.get(redirect.channel)
        if chan is None or not chan.alive:
            message = f"Channel does not exist: {redirect.channel}"
            self.run(self.machine.redirect_failed(redirect, message, self.now))
            return
        self.pbx.redirect(chan, redirect.context, redirect.exten)

    def pump(self) -> None:
        """Deliver every frame written so far, then the deferred core events, until quiet."""
        while self.frames or self.later:
            if self.frames:
                frame = self.frames.popleft()
                if not self.link:
                    continue
                text = codec.decode(frame.rstrip(b"\r\n"))
                headers = codec.parse(text)
                name = str(headers.get("Event", ""))
                if name == "DialBegin":
                    self.dials.append((self.now, str(headers.get("DestChannel", ""))))
                self.run(self.machine.frame(name, headers, self.now))
            else:
                self.submit(self.later.popleft())

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass: the PBX's timers and the core's run in time order."""
        end = self.now + seconds
        while True:
            due = [t for t in (self.clock.next_at(), self.router.next_timer_at()) if t is not None]
            t = min(due) if due else None
            if t is None or t > end:
                break
            if self.clock.next_at() == t:
                self.clock.step()
            else:
                self.clock.t = max(self.clock.t, t)
                self.submit(ev.TimePassed(at=self.now))
            self.pump()
        self.clock.t = max(self.clock.t, end)
        self.submit(ev.TimePassed(at=self.now))
        self.pump()

    # ------------------------------------------------------------ operations

    def call(self, patience: float | None = None, talk: float | None = 5.0) -> Chan:
        chan = self.pbx.incoming(
            "0612345678", "Citoyen", "0100000000", CallScript([], patience, talk)
        )
        self.callers.append(chan)
        self.pump()
        return chan

    def hang_up(self, chan: Chan) -> None:
        self.pbx.hangup(chan, 16)
        self.pump()

    def cut(self) -> None:
        self.link = False
        self.machine.link_lost(self.now)

    def kill(self) -> None:
        """The dispatcher dies: a new machine knows nothing; the core is rebuilt as it was."""
        self.link = False
        self.machine = PhoneCalls(agent_lines(self.matrix))
        self.later.clear()

    def restore(self) -> None:
        """Log in again and resynchronise from what the PBX holds."""
        self.link = True
        self.frames.clear()
        self.machine.begin_resync()
        channels = [self.live(c) for c in self.pbx.channels.values() if c.alive]
        self.seen_bridged |= {c.uniqueid for c in channels if c.bridge_id}
        ended = {}
        for key, value in self.pbx.astdb.items():  # the dialplan's notes of hang-ups (DBGet)
            noted = EndedCall.parse(value)
            if key.startswith("guichet/") and noted is not None:
                ended[key.partition("/")[2]] = noted
        steps = self.machine.resync(
            core_contacts(self.router), channels, dict(self.pbx.device_states), self.now,
            None, ended,
        )
        self.pbx.astdb.clear()  # DBDelTree once read
        self.run(steps)
        self.pump()

    def live(self, c: Chan) -> LiveChannel:
        """The channel as CoreShowChannel (and Getvar) show it."""
        return LiveChannel(
            uniqueid=c.uniqueid,
            channel=c.name,
            context=c.context,
            exten=c.exten,
            application=c.app,
            bridge_id=c.bridge.uniqueid if c.bridge is not None else "",
            linkedid=c.linkedid,
            age_s=duration(self.pbx.duration(c)),
            caller=c.caller_num,
            process=c.vars.get("GUICHET_PROCESS") or None,
            citizen_id=c.vars.get("GUICHET_CITIZEN") or None,
        )

    # ------------------------------------------------------------ what it shows

    def outcomes(self) -> dict[str, str]:
        return {
            e.contact_id: e.outcome.value for e in self.core_log if isinstance(e, ev.ContactEnded)
        }

    def open_contacts(self) -> list[str]:
        return [c.contact_id for c in core_contacts(self.router)]

    def agent(self, n: int) -> object:
        return self.router.agents[f"a{n}"]

    def expected_reachable(self, n: int) -> bool:
        phone = self.pbx.phones[f"PJSIP/agent{n}"]
        return phone.registered and self.pbx.device_states[phone.endpoint] == "NOT_INUSE"
