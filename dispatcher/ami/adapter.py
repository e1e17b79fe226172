"""The AMI adapter: Asterisk's events in, the dispatcher's phone decisions out.

Four small parts, one idea each:

- the socket: ``protocol.AmiManager`` (panoramisk's Manager; frames cut as
  bytes, login timeout, reconnection with backoff);
- the followed state: ``calls.PhoneCalls``, a pure state machine (frames and
  the core's decisions in, core events and AMI actions out; no socket, no clock);
- the actions: ``actions.ActionSender`` (Redirect, Originate, Hangup and what
  their answers mean);
- the resynchronisation: ``resync`` (what Asterisk and the core hold after each
  login) and ``dialplan`` (the places Guichet sends channels to exist).

This class wires them: each frame goes to the machine with the time, each step
that comes out goes to the core (``dispatcher.submit``) or to the link. Frames
are handled as they are read: the translation, the core and the Redirect run
in one call, so nothing queues between "agent available and caller waiting"
and the action on the socket.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from dispatcher.ami import codec
from dispatcher.ami.actions import ActionSender
from dispatcher.ami.calls import HANDLED_EVENTS, PhoneCalls
from dispatcher.ami.dialplan import check_dialplan
from dispatcher.ami.events import KNOWN_EVENTS
from dispatcher.ami.model import Contexts, PhoneCall, Redirect, Step, agent_lines
from dispatcher.ami.protocol import AmiDisconnected, AmiManager
from dispatcher.ami.ratelog import RateLimitedLog
from dispatcher.ami.resync import ENDED_FAMILY, core_contacts, read_asterisk, read_ended
from dispatcher.events import Event
from dispatcher.service import Dispatcher
from skills.model import Channel, SkillMatrix

log = logging.getLogger(__name__)

PROBLEM_LINES = {
    "varset_without_uniqueid": "AMI: VarSet %s without a Uniqueid; skipped",
    "hangup_without_uniqueid": "AMI: Hangup of %s without a Uniqueid; skipped",
    "dial_to_another_phone": "AMI: %s, not the phone of the agent it was offered to; ignored",
    "offer_refused": "AMI: offer of %s cannot be carried out; declined",
    "taken_meanwhile": "AMI: caller %s since the core took the offer back; contact closed",
}


@dataclass(slots=True)
class AdapterStats:
    frames: int = 0
    core_events: int = 0
    resyncs: int = 0
    unknown_events: set[str] = field(default_factory=set)


class AmiAdapter:
    """Connects the dispatcher to Asterisk through panoramisk's Manager."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        matrix: SkillMatrix,
        *,
        host: str = "127.0.0.1",
        port: int = 5038,
        username: str = "guichet",
        secret: str = "",
        holding_context: str = "waiting",
        agent_context: str = "to-agent",
        callback_context: str = "callback",
        callback_ring_s: float = 20.0,
        reconnect_min: float = 0.5,
        reconnect_max: float = 30.0,
        ping_interval: float = 10.0,
        login_timeout: float = 10.0,
        log_interval: float = 60.0,
        manager: AmiManager | None = None,
    ) -> None:
        self.dispatcher = dispatcher
        self.clock: Callable[[], float] = dispatcher.clock
        self.calls = PhoneCalls(
            agent_lines(matrix), Contexts(holding_context, agent_context, callback_context)
        )
        self.stats = AdapterStats()
        self.problems = RateLimitedLog(log, log_interval)
        self.resyncing = False
        self.missing_places: list[str] = []
        """What the dialplan lacks of the places Guichet sends channels to (checked at each login)."""
        self.assign_latencies: list[float] | None = None
        """When a list: wall seconds from the start of handling the AMI frame that caused an offer
        to its Redirect written on the socket (the benchmark's measure)."""
        self.assign_cpu: list[float] = []
        """The same span in CPU time of this thread (what the dispatcher itself spent)."""
        self._frame_t0 = 0.0
        self._frame_cpu0 = 0.0
        self._in_frame = False
        self._waiters: dict[str, list[asyncio.Future[bool]]] = {}
        self._resync_task: asyncio.Task[None] | None = None
        self._seen_unknown: set[str] = set()
        self.manager = manager or AmiManager(
            host=host,
            port=port,
            username=username,
            secret=secret,
            events="on",
            reconnect_min=reconnect_min,
            reconnect_max=reconnect_max,
            ping_delay=ping_interval,
            ping_interval=ping_interval,
            login_timeout=login_timeout,
            log_interval=log_interval,
        )
        self.actions = ActionSender(
            self.manager,
            self.calls,
            self.clock,
            self._run,
            callback_ring_s=callback_ring_s,
            problems=self.problems,
        )
        self.actions.on_redirect = self._measure
        m = self.manager
        m.on_login = self._on_login
        m._on_lost = self._on_lost
        for name in HANDLED_EVENTS:
            must = b"\r\nVariable: GUICHET_" if name == "VarSet" else None
            m.register_fast(name, self._on_frame, must_contain=must)
        m.unknown_event = self._unknown_event
        dispatcher.add_sink(self._on_batch)

    @classmethod
    def from_settings(
        cls, settings: Any, dispatcher: Dispatcher, matrix: SkillMatrix, **kwargs: Any
    ) -> AmiAdapter:
        """Host, port and credentials from ``guichet.config.Settings`` (GUICHET_AMI_* variables)."""
        secret = settings.ami_secret.get_secret_value() if settings.ami_secret is not None else ""
        return cls(
            dispatcher,
            matrix,
            host=settings.ami_host,
            port=settings.ami_port,
            username=settings.ami_username,
            secret=secret,
            **kwargs,
        )

    # ------------------------------------------------------------ life

    @property
    def link_up(self) -> bool:
        """Logged in and resynchronised: offers are carried out at once."""
        return self.calls.link_up

    @link_up.setter
    def link_up(self, value: bool) -> None:
        self.calls.link_up = value

    async def start(self) -> None:
        """Connect (and keep reconnecting) to Asterisk."""
        self.manager.loop = asyncio.get_running_loop()
        self.manager.connect()

    async def stop(self) -> None:
        self.manager.close()
        self.calls.link_lost(self.clock())
        if self._resync_task is not None:
            self._resync_task.cancel()

    async def wait_contact(self, uniqueid: str, timeout: float = 2.0) -> bool:
        """Wait until the caller channel ``uniqueid`` is a contact in the core (the IVR's handoff)."""
        call = self.calls.calls.get(uniqueid)
        if call is not None and call.in_core:
            return True
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(uniqueid, []).append(future)
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            return False
        finally:
            waiters = self._waiters.get(uniqueid)
            if waiters and future in waiters:
                waiters.remove(future)
                if not waiters:
                    del self._waiters[uniqueid]

    def call_info(self, contact_id: str) -> PhoneCall | None:
        """What the phone channel knows of a contact (citizen, repeat caller, language) for the agent page."""
        return self.calls.by_contact.get(contact_id)

    # ------------------------------------------------------------ steps

    def _run(self, steps: Sequence[Step]) -> None:
        """Carry out the machine's steps in order: core events to the dispatcher, actions to the link."""
        for step in steps:
            if isinstance(step, Event):
                self.stats.core_events += 1
                self.dispatcher.submit(step)
                contact_id = getattr(step, "contact_id", None)
                if contact_id in self._waiters and step.kind == "contact_arrived":
                    for future in self._waiters.pop(contact_id, ()):
                        if not future.done():
                            future.set_result(True)
            else:
                self.actions.send(step)
        self._report_problems()

    def _on_frame(self, name: str, headers: codec.Headers) -> None:
        self.stats.frames += 1
        if self.assign_latencies is not None:
            self._frame_t0 = time.perf_counter()
            self._frame_cpu0 = time.thread_time()
        self._in_frame = True
        try:
            self._run(self.calls.frame(name, headers, self.clock()))
        finally:
            self._in_frame = False

    def _on_batch(self, batch: Sequence[Event]) -> None:
        steps = self.calls.decided(batch)
        if not steps:
            return
        actions = [s for s in steps if not isinstance(s, Event)]
        events = [s for s in steps if isinstance(s, Event)]
        if actions:
            self._run(actions)
        if events:
            # A sink must not submit while the dispatcher fans a batch out: next turn.
            asyncio.get_running_loop().call_soon(self._run, events)

    def _measure(self, redirect: Redirect) -> None:
        if self.assign_latencies is not None and self._in_frame:
            self.assign_latencies.append(time.perf_counter() - self._frame_t0)
            self.assign_cpu.append(time.thread_time() - self._frame_cpu0)

    def _report_problems(self) -> None:
        last = self.calls.problems.last
        if not last:
            return
        for kind, detail in last:
            self.problems.warning(kind, PROBLEM_LINES.get(kind, "AMI: %s"), detail)
        last.clear()

    def _unknown_event(self, name: str) -> None:
        if name not in KNOWN_EVENTS and name not in self._seen_unknown:
            self._seen_unknown.add(name)
            self.stats.unknown_events.add(name)
            log.info("AMI: event %r is not used by the dispatcher; skipped", name)

    # ------------------------------------------------------------ link and resync

    def _clear_ended(self) -> None:
        """Clear the dialplan's notes of hang-ups once read (the later ones come as events)."""
        future = self.manager.send_action({"Action": "DBDelTree", "Family": ENDED_FAMILY})

        def done(f: asyncio.Future[Any]) -> None:
            reply = None if f.cancelled() or f.exception() is not None else f.result()
            message = str(reply.get("Message") or "") if reply is not None and hasattr(reply, "get") else ""
            if "ermission" in message:
                self.problems.warning(
                    "astdb_refused",
                    "AMI: Asterisk refused DBDelTree %s (%s): give the AMI user write=system,"
                    " or its notes of hang-ups pile up",
                    ENDED_FAMILY,
                    message,
                )

        future.add_done_callback(done)

    def _on_lost(self, manager: AmiManager) -> None:
        if self.calls.link_up:
            # The manager logs the loss itself (an error line); this one says what follows.
            self.problems.info(
                "link_lost",
                "AMI: link lost with %d callers known; they are checked again after reconnecting",
                len(self.calls.by_contact),
            )
        self.calls.link_lost(self.clock())

    def _on_login(self, manager: AmiManager) -> None:
        self.calls.link_lost(self.clock())
        self.resyncing = True
        self._resync_task = asyncio.ensure_future(self._resync())

    async def _resync(self) -> None:
        """Make the machine's and the core's view match Asterisk's after (re)connecting."""
        self.stats.resyncs += 1
        try:
            self.missing_places, extens = await check_dialplan(self.manager, self.calls)
            self._run(self.calls.dialplan_checked(extens, self.clock()))
            self.calls.begin_resync()
            devices, channels = await read_asterisk(self.manager, self.calls)
            router = self.dispatcher.router
            live = {c.uniqueid for c in channels}
            ended = await read_ended(
                self.manager,
                [c.contact_id for c in core_contacts(router)
                 if c.channel is Channel.PHONE and c.contact_id not in live],
            )
            last_known = router.now if router.now > float("-inf") else None
            steps = self.calls.resync(
                core_contacts(router), channels, devices, self.clock(), last_known, ended
            )
            gone = self.calls.gone_while_away
            if gone:
                since = min(t for _, t in gone)
                self.problems.warning(
                    "gone_while_away",
                    "AMI: %d callers left while the dispatcher could not see them (after %s);"
                    " ended at an estimated time: %s",
                    len(gone),
                    time.strftime("%H:%M:%S", time.localtime(since)),
                    ", ".join(uid for uid, _ in gone[:10]) + (" ..." if len(gone) > 10 else ""),
                )
            log.info(
                "AMI: resynchronised: %d channels in Asterisk, %d callers followed,"
                " %d ended as the dialplan noted",
                len(channels),
                len(self.calls.by_contact),
                self.calls.ended_as_noted,
            )
            self._run(steps)
            self._clear_ended()
        except AmiDisconnected:
            return  # lost again: the next login resynchronises
        except Exception:
            # A bug here must not leave the link half-followed: drop it, the next login retries.
            self.problems.log(
                logging.ERROR,
                "resync_failed",
                "AMI: resynchronisation failed; dropping the link to retry",
                exc_info=True,
            )
            protocol = self.manager.protocol
            if protocol is not None and not protocol.closed:
                protocol.transport.abort()
        finally:
            self.resyncing = False
