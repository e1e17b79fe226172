"""The AMI adapter: Asterisk's events in, the dispatcher's phone decisions out.

Inputs (AMI event -> core event, all stamped with the dispatcher's clock):

- ``VarSet GUICHET_PROCESS`` (set by the IVR when it hands the call to the
  queue; empty value: the generalist route) -> ``ContactArrived`` (channel
  phone, ``contact_id`` = the caller channel's Uniqueid, ``caller`` =
  CallerIDNum, ``citizen_id`` from an earlier ``GUICHET_CITIZEN``), or
  ``ContactQualified`` when the contact was already queued;
- ``MusicOnHoldStart`` in the holding context for a channel not queued yet
  (the IVR failed or was skipped) -> ``ContactArrived`` unqualified;
- ``DialEnd`` of an offered caller: ``ANSWER`` -> ``OfferAnswered``;
  ``NOANSWER`` / ``BUSY`` / ``CHANUNAVAIL`` / ``CONGESTION`` -> ``OfferDeclined``
  (``GUICHET_DIALSTATUS`` covers a Dial that created no channel at all);
  ``BridgeEnter`` of the caller also means answered;
- ``Hangup`` of a queued or ringing caller -> ``ContactAbandoned``; of a
  caller talking to an agent -> ``ContactCompleted``;
- ``DeviceStateChange`` of an agent's endpoint -> ``EndpointChanged``
  (NOT_INUSE: reachable; UNAVAILABLE, INUSE, BUSY, RINGING...: not).

Decisions (the dispatcher's sink): ``ContactOffered`` of a phone contact ->
AMI ``Redirect`` of the holding caller to ``to-agent``/agent number; of a
callback -> ``Originate`` (the agent's phone first, then the citizen);
``ContactRequeued`` of a caller still ringing an agent (the core's
ring-no-answer timer fired first) -> ``Redirect`` back to ``waiting``.

When the AMI link drops, panoramisk's Manager reconnects (with backoff, see
``protocol.AmiManager``); after each login the adapter resynchronises from
``DeviceStateList`` and ``CoreShowChannels``: callers still holding keep
their place and arrival time (nothing is sent for them), callers gone meanwhile
end (abandoned, or completed if they were talking), callers who arrived
during the outage are queued with their arrival time from the channel's age,
and offers decided while the link was down are carried out then.

Frames are handled synchronously as they are read: the translation, the
core and the resulting Redirect run in one call, so nothing queues between
"agent available and caller waiting" and the action on the socket.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from dispatcher import events as ev
from dispatcher.ami import codec
from dispatcher.ami.protocol import AmiDisconnected, AmiManager
from dispatcher.events import DeclineReason, Event, Outcome
from skills.model import Channel, SkillMatrix

log = logging.getLogger(__name__)

# The event names the adapter reads; every other one is skipped unparsed.
HANDLED_EVENTS = (
    "VarSet",
    "MusicOnHoldStart",
    "DialBegin",
    "DialEnd",
    "BridgeEnter",
    "Hangup",
    "DeviceStateChange",
)
# Asterisk events the adapter knowingly ignores (their information is carried by
# the handled ones, or is of no use to routing). An event in neither list is
# logged once, then skipped.
IGNORED_EVENTS = frozenset(
    {
        "FullyBooted",
        "SuccessfulAuth",
        "Newchannel",
        "Newstate",
        "Newexten",
        "NewCallerid",
        "NewConnectedLine",
        "NewAccountCode",
        "DialState",
        "BridgeCreate",
        "BridgeLeave",
        "BridgeDestroy",
        "BridgeMerge",
        "BridgeInfoChannel",
        "BridgeInfoComplete",
        "MusicOnHoldStop",
        "HangupRequest",
        "SoftHangupRequest",
        "AGIExecStart",
        "AGIExecEnd",
        "AsyncAGIStart",
        "AsyncAGIExec",
        "AsyncAGIEnd",
        "DTMFBegin",
        "DTMFEnd",
        "RTCPSent",
        "RTCPReceived",
        "QueueMemberStatus",
        "QueueCallerJoin",
        "QueueCallerLeave",
        "QueueCallerAbandon",
        "QueueMemberAdded",
        "QueueMemberRemoved",
        "QueueMemberPause",
        "AgentCalled",
        "AgentConnect",
        "AgentComplete",
        "AgentRingNoAnswer",
        "AgentDump",
        "CoreShowChannel",
        "CoreShowChannelsComplete",
        "DeviceStateListComplete",
        "OriginateResponse",
        "PeerStatus",
        "ContactStatus",
        "Registry",
        "Reload",
        "Shutdown",
        "ChallengeSent",
        "InvalidPassword",
        "InvalidAccountID",
        "RequestBadFormat",
        "ChallengeResponseFailed",
        "LocalBridge",
        "LocalOptimizationBegin",
        "LocalOptimizationEnd",
        "Cdr",
        "Cel",
        "UserEvent",
        "Hold",
        "Unhold",
        "BlindTransfer",
        "AttendedTransfer",
        "ChanSpyStart",
        "ChanSpyStop",
        "ExtensionStatus",
        "PresenceStateChange",
        "MessageWaiting",
        "Pickup",
        "LogChannel",
        "ConfbridgeJoin",
        "ConfbridgeLeave",
        "MixMonitorStart",
        "MixMonitorStop",
    }
)
KNOWN_EVENTS = IGNORED_EVENTS | frozenset(HANDLED_EVENTS)

DIAL_DECLINES = {
    "NOANSWER": DeclineReason.NO_ANSWER,
    "BUSY": DeclineReason.BUSY,
    "CHANUNAVAIL": DeclineReason.UNAVAILABLE,
    "CONGESTION": DeclineReason.UNAVAILABLE,
    "INVALIDARGS": DeclineReason.UNAVAILABLE,
}
REACHABLE = {"NOT_INUSE": True, "UNKNOWN": None}
"""Device states and whether an agent can be rung; any other state: not reachable."""
ORIGINATE_REASONS = {3: DeclineReason.NO_ANSWER, 5: DeclineReason.BUSY}

IVR, QUEUED, RINGING, TALKING = "ivr", "queued", "ringing", "talking"


@dataclass(slots=True, eq=False)
class PhoneCall:
    """The adapter's view of one caller channel (or one callback's agent leg)."""

    uniqueid: str
    channel: str
    caller: str | None = None
    caller_name: str | None = None
    process: str | None = None
    citizen_id: str | None = None
    repeat: bool = False
    language: str | None = None
    in_core: bool = False
    state: str = IVR
    agent_id: str | None = None
    redirected: bool = False
    """The Redirect of the current offer was written (False: decided while the link was down)."""
    dial_started: bool = False
    """DialBegin seen for the current offer."""
    closed: bool = False
    """The contact reached its outcome; the channel may still be up (callback goodbye)."""
    last_seq: int = 0
    callback_id: str | None = None
    """For a callback's agent leg: the callback contact's id."""
    citizen_answered: bool = False


@dataclass(slots=True)
class AgentLine:
    agent_id: str
    endpoint: str
    exten: str


@dataclass(slots=True)
class AdapterStats:
    frames: int = 0
    core_events: int = 0
    redirects: int = 0
    originates: int = 0
    resyncs: int = 0
    unknown_events: set[str] = field(default_factory=set)


def agent_lines(matrix: SkillMatrix) -> dict[str, AgentLine]:
    """Agents with a softphone: ``PJSIP/agent101`` is dialled as extension ``101`` of ``to-agent``."""
    lines: dict[str, AgentLine] = {}
    for profile in matrix.agents.values():
        if not profile.endpoint:
            continue
        resource = profile.endpoint.partition("/")[2] or profile.endpoint
        digits = re.search(r"(\d+)$", resource)
        exten = digits.group(1) if digits else resource
        lines[profile.endpoint] = AgentLine(profile.agent_id, profile.endpoint, exten)
    return lines


class AmiAdapter:
    """Connects the dispatcher to Asterisk through panoramisk's Manager."""

    def __init__(
        self,
        dispatcher: Any,
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
        manager: AmiManager | None = None,
    ) -> None:
        self.dispatcher = dispatcher
        self.clock: Callable[[], float] = dispatcher.clock
        self.lines = agent_lines(matrix)
        self.by_agent = {line.agent_id: line for line in self.lines.values()}
        self.holding_context = holding_context
        self.agent_context = agent_context
        self.callback_context = callback_context
        self.callback_ring_s = callback_ring_s
        self.calls: dict[str, PhoneCall] = {}
        self.by_contact: dict[str, PhoneCall] = {}
        self.reachable: dict[str, bool] = {}
        self.stats = AdapterStats()
        self.seq = 0
        self.link_up = False
        self.resyncing = False
        self.deferred_offers: list[ev.ContactOffered] = []
        self.callback_numbers: dict[str, str] = {}
        self.unsure: set[str] = set()
        """Channels alive at a resynchronisation that the core did not have (events maybe missed)."""
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
        )
        m = self.manager
        m.on_login = self._on_login
        m._on_lost = self._on_lost
        m.register_fast("VarSet", self._on_varset, must_contain=b"\r\nVariable: GUICHET_")
        m.register_fast("MusicOnHoldStart", self._on_moh_start)
        m.register_fast("DialBegin", self._on_dial_begin)
        m.register_fast("DialEnd", self._on_dial_end)
        m.register_fast("BridgeEnter", self._on_bridge_enter)
        m.register_fast("Hangup", self._on_hangup)
        m.register_fast("DeviceStateChange", self._on_device_state)
        m.unknown_event = self._unknown_event
        dispatcher.add_sink(self._on_batch)

    @classmethod
    def from_settings(
        cls, settings: Any, dispatcher: Any, matrix: SkillMatrix, **kwargs: Any
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

    async def start(self) -> None:
        """Connect (and keep reconnecting) to Asterisk."""
        self.manager.loop = asyncio.get_running_loop()
        self.manager.connect()

    async def stop(self) -> None:
        self.manager.close()
        self.link_up = False
        if self._resync_task is not None:
            self._resync_task.cancel()

    async def wait_contact(self, uniqueid: str, timeout: float = 2.0) -> bool:
        """Wait until the caller channel ``uniqueid`` is a contact in the core (the IVR's handoff)."""
        call = self.calls.get(uniqueid)
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
        return self.by_contact.get(contact_id)

    # ------------------------------------------------------------ to the core

    def _submit(self, event: Event) -> list[Event]:
        self.stats.core_events += 1
        return self.dispatcher.submit(event)

    def _track(self, headers: codec.Headers) -> PhoneCall | None:
        uid = headers.get("Uniqueid")
        if not isinstance(uid, str) or not uid:
            return None
        self.seq += 1
        call = self.calls.get(uid)
        if call is not None:
            call.last_seq = self.seq
        return call

    def _new_call(self, headers: codec.Headers) -> PhoneCall:
        uid = str(headers["Uniqueid"])
        call = PhoneCall(
            uniqueid=uid,
            channel=str(headers.get("Channel", "")),
            caller=_text(headers.get("CallerIDNum")),
            caller_name=_text(headers.get("CallerIDName")),
            language=_text(headers.get("Language")),
            last_seq=self.seq,
        )
        self.calls[uid] = call
        return call

    def _arrive(self, call: PhoneCall, arrived_at: float | None = None) -> None:
        if call.closed:
            return
        call.in_core = True
        call.state = QUEUED
        self.by_contact[call.uniqueid] = call
        self._submit(
            ev.ContactArrived(
                at=self.clock(),
                contact_id=call.uniqueid,
                channel=Channel.PHONE,
                process=call.process,
                caller=call.caller,
                citizen_id=call.citizen_id,
                arrived_at=arrived_at,
            )
        )
        self.unsure.discard(call.uniqueid)
        for future in self._waiters.pop(call.uniqueid, ()):
            if not future.done():
                future.set_result(True)

    def _close(self, call: PhoneCall) -> None:
        self.calls.pop(call.uniqueid, None)
        self.unsure.discard(call.uniqueid)
        self.by_contact.pop(call.callback_id or call.uniqueid, None)

    # ------------------------------------------------------------ AMI events

    def _begin(self) -> None:
        self.stats.frames += 1
        if self.assign_latencies is not None:
            self._frame_t0 = time.perf_counter()
            self._frame_cpu0 = time.thread_time()
        self._in_frame = True

    def _on_varset(self, name: str, h: codec.Headers) -> None:
        self._begin()
        try:
            variable = h.get("Variable")
            value = _text(h.get("Value")) or ""
            call = self._track(h)
            if call is None:
                if variable not in (
                    "GUICHET_PROCESS",
                    "GUICHET_CITIZEN",
                    "GUICHET_REPEAT",
                    "GUICHET_LANG",
                ):
                    return
                call = self._new_call(h)
            if variable == "GUICHET_PROCESS":
                process = value.strip() or None
                if not call.in_core:
                    call.process = process
                    self._arrive(call)
                elif process is not None and process != call.process:
                    call.process = process
                    self._submit(
                        ev.ContactQualified(
                            at=self.clock(), contact_id=call.uniqueid, process=process
                        )
                    )
            elif variable == "GUICHET_CITIZEN":
                call.citizen_id = value or None
            elif variable == "GUICHET_REPEAT":
                call.repeat = value not in ("", "0")
            elif variable == "GUICHET_LANG":
                call.language = value or call.language
            elif variable == "GUICHET_DIALSTATUS" and self._dialled_exten(call, h):
                self._dial_failed(call, value)
        finally:
            self._in_frame = False

    def _on_moh_start(self, name: str, h: codec.Headers) -> None:
        self._begin()
        try:
            if h.get("Context") != self.holding_context:
                return
            call = self._track(h)
            if call is None:
                call = self._new_call(h)
            if not call.in_core:
                if call.uniqueid in self.unsure and self.link_up:
                    self._adopt_later(call)  # seen before an outage: read what we may have missed
                else:
                    self._arrive(call)
            elif call.state == RINGING and call.dial_started:
                # Back on hold without a DialEnd we could read: the attempt failed.
                self._dial_failed(call, "NOANSWER")
        finally:
            self._in_frame = False

    def _on_dial_begin(self, name: str, h: codec.Headers) -> None:
        self._begin()
        try:
            call = self._track(h)
            if (
                call is not None
                and call.state == RINGING
                and call.callback_id is None
                and self._dialled_agent(call, h)
            ):
                call.dial_started = True
        finally:
            self._in_frame = False

    def _on_dial_end(self, name: str, h: codec.Headers) -> None:
        self._begin()
        try:
            call = self._track(h)
            if call is None:
                return
            status = _text(h.get("DialStatus")) or ""
            if call.callback_id is not None:  # the agent's leg of a callback dialling the citizen
                call.citizen_answered = call.citizen_answered or status == "ANSWER"
                return
            if call.state != RINGING or not self._dialled_agent(call, h):
                return
            if status == "ANSWER":
                self._answered(call)
            else:
                self._dial_failed(call, status)
        finally:
            self._in_frame = False

    def _on_bridge_enter(self, name: str, h: codec.Headers) -> None:
        self._begin()
        try:
            call = self._track(h)
            if call is not None and call.state == RINGING and call.callback_id is None:
                self._answered(call)
        finally:
            self._in_frame = False

    def _on_hangup(self, name: str, h: codec.Headers) -> None:
        self._begin()
        try:
            call = self._track(h)
            if call is not None:
                self._gone(call)
        finally:
            self._in_frame = False

    def _on_device_state(self, name: str, h: codec.Headers) -> None:
        self._begin()
        try:
            device = h.get("Device")
            line = self.lines.get(device) if isinstance(device, str) else None
            if line is not None:
                self._device(line, _text(h.get("State")) or "")
        finally:
            self._in_frame = False

    def _unknown_event(self, name: str) -> None:
        if name not in KNOWN_EVENTS and name not in self._seen_unknown:
            self._seen_unknown.add(name)
            self.stats.unknown_events.add(name)
            log.info("AMI: event %r is not used by the dispatcher; skipped", name)

    # ------------------------------------------------------------ translations

    def _dialled_exten(self, call: PhoneCall, h: codec.Headers) -> bool:
        """True if a frame of the agent context is about the extension of the current offer.

        The status of a failed Dial can arrive after the core has already offered the
        caller to the next agent: it must not decline that new offer.
        """
        line = self.by_agent.get(call.agent_id or "")
        return line is not None and _text(h.get("Exten")) == line.exten

    def _dialled_agent(self, call: PhoneCall, h: codec.Headers) -> bool:
        """True if a Dial event's destination is the phone of the agent the call is offered to."""
        dest = _text(h.get("DestChannel")) or ""
        line = self.by_agent.get(call.agent_id or "")
        if line is not None and dest.rpartition("-")[0] == line.endpoint:
            return True
        log.warning(
            "AMI: %s dials %s, not the phone of %s it was offered to; ignored",
            call.channel,
            dest,
            call.agent_id,
        )
        return False

    def _answered(self, call: PhoneCall) -> None:
        call.state = TALKING
        if call.agent_id is not None:
            self._submit(
                ev.OfferAnswered(at=self.clock(), contact_id=call.uniqueid, agent_id=call.agent_id)
            )

    def _dial_failed(self, call: PhoneCall, status: str) -> None:
        if call.state != RINGING or call.agent_id is None:
            return
        reason = DIAL_DECLINES.get(status)
        if reason is None:  # CANCEL: we or the caller stopped it; the Hangup or the requeue tells
            return
        agent_id = call.agent_id
        call.state = QUEUED
        call.dial_started = False
        call.agent_id = None
        if reason is not DeclineReason.NO_ANSWER:
            # The core now holds the agent unreachable: let the next device state through.
            line = self.by_agent.get(agent_id)
            if line is not None:
                self.reachable.pop(line.endpoint, None)
        self._decline(call.uniqueid, agent_id, reason)

    def _gone(self, call: PhoneCall, at: float | None = None) -> None:
        """The channel hung up: the contact ends (or a callback leg finishes)."""
        self._close(call)
        now = self.clock() if at is None else at
        if call.callback_id is not None:
            if call.state == TALKING:
                outcome = Outcome.SERVED if call.citizen_answered else Outcome.ABANDONED
                self._submit(
                    ev.ContactCompleted(at=now, contact_id=call.callback_id, outcome=outcome)
                )
            elif call.state == RINGING and call.agent_id is not None:
                self._decline(call.callback_id, call.agent_id, DeclineReason.NO_ANSWER, now)
            return
        if not call.in_core:
            return
        call.in_core = False
        if call.state == TALKING:
            self._submit(ev.ContactCompleted(at=now, contact_id=call.uniqueid))
        else:
            self._submit(ev.ContactAbandoned(at=now, contact_id=call.uniqueid))

    def _device(self, line: AgentLine, state: str) -> None:
        reachable = REACHABLE.get(state, False)
        if reachable is None or self.reachable.get(line.endpoint) is reachable:
            return
        self.reachable[line.endpoint] = reachable
        self._submit(
            ev.EndpointChanged(at=self.clock(), agent_id=line.agent_id, reachable=reachable)
        )

    # ------------------------------------------------------------ decisions

    def _on_batch(self, batch: list[Event]) -> None:
        first = batch[0]
        if type(first) is ev.CallbackRequested:
            call = self.by_contact.get(first.contact_id)
            number = first.number or (call.caller if call is not None else None)
            if number:
                self.callback_numbers[first.callback_id] = number
        elif (
            type(first) is ev.ContactArrived and first.channel is Channel.CALLBACK and first.caller
        ):
            self.callback_numbers[first.contact_id] = first.caller
        for event in batch[1:]:
            kind = type(event)
            if kind is ev.ContactOffered:
                self._offered(event)  # type: ignore[arg-type]
            elif kind is ev.ContactRequeued:
                self._requeued(event)  # type: ignore[arg-type]
            elif kind is ev.ContactEnded:
                self._ended(event)  # type: ignore[arg-type]

    def _offered(self, offer: ev.ContactOffered) -> None:
        if offer.channel is Channel.CALLBACK:
            self._originate(offer)
            return
        if offer.channel is not Channel.PHONE:
            return
        call = self.by_contact.get(offer.contact_id)
        line = self.by_agent.get(offer.agent_id)
        if call is None or call.callback_id is not None:
            self._refuse(offer, "no such caller on the phone channel")
            return
        if line is None:
            self._refuse(offer, "the agent has no softphone endpoint")
            return
        call.state = RINGING
        call.agent_id = offer.agent_id
        call.redirected = call.dial_started = False
        if not self.link_up or self.resyncing:
            return  # carried out when the resynchronisation ends
        self._redirect(call, self.agent_context, line.exten, offer.agent_id)

    def _refuse(self, offer: ev.ContactOffered, why: str) -> None:
        """An offer the phone channel cannot carry out goes back (from a sink: on the next turn)."""
        log.error(
            "AMI: offer of %s to %s cannot be carried out: %s",
            offer.contact_id,
            offer.agent_id,
            why,
        )
        asyncio.get_running_loop().call_soon(
            self._decline, offer.contact_id, offer.agent_id, DeclineReason.UNAVAILABLE
        )

    def _decline(
        self, contact_id: str, agent_id: str, reason: DeclineReason, at: float | None = None
    ) -> None:
        self._submit(
            ev.OfferDeclined(
                at=self.clock() if at is None else at,
                contact_id=contact_id,
                agent_id=agent_id,
                reason=reason,
            )
        )

    def _redirect(self, call: PhoneCall, context: str, exten: str, agent_id: str | None) -> None:
        """AMI Redirect of the caller; ``agent_id``: the offer it carries out (None: back on hold)."""
        if agent_id is not None:
            call.redirected = True
        future = self.manager.send_action(
            {
                "Action": "Redirect",
                "Channel": call.channel,
                "Context": context,
                "Exten": exten,
                "Priority": "1",
            }
        )
        self.stats.redirects += 1
        if agent_id is not None and self.assign_latencies is not None and self._in_frame:
            self.assign_latencies.append(time.perf_counter() - self._frame_t0)
            self.assign_cpu.append(time.thread_time() - self._frame_cpu0)
        future.add_done_callback(lambda f: self._redirect_done(f, call, agent_id))

    def _redirect_done(
        self, future: asyncio.Future[Any], call: PhoneCall, agent_id: str | None
    ) -> None:
        if future.cancelled():
            return
        exc = future.exception()
        if isinstance(exc, AmiDisconnected):
            return  # the resynchronisation after reconnecting finds where the caller is
        response = None if exc is not None else future.result()
        if exc is None and getattr(response, "success", False):
            return
        message = str(exc or (response.get("Message") if response is not None else "?"))
        if message.startswith(("Channel does not exist", "No such channel")):
            # The caller hung up meanwhile: their Hangup ends the contact (not the agent's fault).
            log.info("AMI: Redirect of %s: the caller is gone", call.channel)
            return
        log.warning("AMI: Redirect of %s failed: %s", call.channel, message)
        if (
            agent_id is not None
            and call.state == RINGING
            and call.agent_id == agent_id
            and not call.dial_started
        ):
            call.state = QUEUED
            call.agent_id = None
            self._decline(call.uniqueid, agent_id, DeclineReason.UNAVAILABLE)

    def _requeued(self, event: ev.ContactRequeued) -> None:
        call = self.by_contact.get(event.contact_id)
        if call is None or call.state != RINGING:
            return
        # The core took the offer back by itself (ring-no-answer timer, agent paused):
        # bring the caller back on hold if Asterisk is still ringing the agent.
        redirected = call.redirected
        call.state = QUEUED
        call.agent_id = None
        call.redirected = call.dial_started = False
        if call.callback_id is not None or not redirected:
            return
        if self.link_up:
            self._redirect(call, self.holding_context, "s", None)

    def _ended(self, event: ev.ContactEnded) -> None:
        self.callback_numbers.pop(event.contact_id, None)
        call = self.by_contact.get(event.contact_id)
        if call is None:
            return
        if (
            event.outcome is Outcome.EXPIRED
            and call.callback_id is None
            and call.in_core
            and self.link_up
        ):
            log.warning("AMI: contact %s expired while on the line; hanging up", event.contact_id)
            self.manager.send_action(
                {"Action": "Hangup", "Channel": call.channel}
            ).add_done_callback(_ignore)
        call.in_core = False
        call.closed = True
        self.by_contact.pop(event.contact_id, None)

    def _originate(self, offer: ev.ContactOffered) -> None:
        line = self.by_agent.get(offer.agent_id)
        number = self.callback_numbers.get(offer.contact_id)
        if line is None or not number:
            self._refuse(offer, "callback without an agent endpoint or a number to call")
            return
        if not self.link_up:
            self.deferred_offers.append(offer)
            return
        self.stats.originates += 1
        leg_id = f"{offer.contact_id}.{self.stats.originates}"
        call = PhoneCall(
            uniqueid=leg_id,
            channel=line.endpoint,
            caller=number,
            state=RINGING,
            agent_id=offer.agent_id,
            callback_id=offer.contact_id,
            in_core=True,
        )
        self.calls[leg_id] = call
        self.by_contact[offer.contact_id] = call
        future = self.manager.send_action(
            {
                "Action": "Originate",
                "Channel": line.endpoint,
                "Context": self.callback_context,
                "Exten": number,
                "Priority": "1",
                "CallerID": f'"Rappel {number}" <{number}>',
                "Timeout": str(int(self.callback_ring_s * 1000)),
                "Async": "true",
                "ChannelId": leg_id,
                "Variable": f"GUICHET_CONTACT={offer.contact_id}",
            }
        )
        future.add_done_callback(lambda f: self._originate_done(f, call))

    def _originate_done(self, future: asyncio.Future[Any], call: PhoneCall) -> None:
        if future.cancelled() or call.state != RINGING or call.agent_id is None:
            return
        exc = future.exception()
        if isinstance(exc, AmiDisconnected):
            return
        result = None if exc is not None else future.result()
        messages = result if isinstance(result, list) else [result]
        final = messages[-1] if messages else None
        ok = (
            final is not None
            and final.get("Response") == "Success"
            and final.get("Event") == "OriginateResponse"
        )
        contact_id = call.callback_id or ""
        if ok:
            call.state = TALKING
            self._submit(
                ev.OfferAnswered(at=self.clock(), contact_id=contact_id, agent_id=call.agent_id)
            )
            return
        reason_code = int(final.get("Reason", "0") or 0) if final is not None else 0
        agent_id = call.agent_id
        self._close(call)
        self._decline(
            contact_id, agent_id, ORIGINATE_REASONS.get(reason_code, DeclineReason.UNAVAILABLE)
        )

    # ------------------------------------------------------------ link and resync

    def _on_lost(self, manager: AmiManager) -> None:
        if self.link_up:
            log.warning(
                "AMI: link lost with %d callers known; they are checked again after reconnecting",
                len(self.by_contact),
            )
        self.link_up = False

    def _on_login(self, manager: AmiManager) -> None:
        self.link_up = True
        self.resyncing = True
        self._resync_task = asyncio.ensure_future(self._resync())

    async def _resync(self) -> None:
        """Make the adapter's and the core's view match Asterisk's after (re)connecting."""
        self.stats.resyncs += 1
        start_seq = self.seq
        try:
            devices = await self.manager.send_action({"Action": "DeviceStateList"})
            for item in _items(devices, "DeviceStateChange"):
                line = self.lines.get(item.get("Device"))
                if line is not None:
                    self._device(line, item.get("State", ""))
            listing = await self.manager.send_action({"Action": "CoreShowChannels"})
            live = {item.get("Uniqueid"): item for item in _items(listing, "CoreShowChannel")}
            now = self.clock()
            for uid, call in list(self.calls.items()):
                item = live.get(uid)
                if item is None:
                    if call.last_seq <= start_seq:
                        self._gone(call, now)
                    continue
                self._reconcile(call, item)
            for uid, item in live.items():
                known = self.calls.get(uid)
                if known is not None and (
                    known.in_core or known.closed or known.callback_id is not None
                ):
                    continue
                # A caller the core does not have: its events may have been missed.
                self.unsure.add(uid)
                if item.get("Context") == self.holding_context:
                    if known is not None:
                        call = known
                    else:
                        call = self._new_call(
                            {
                                "Uniqueid": uid,
                                "Channel": item.get("Channel", ""),
                                "CallerIDNum": item.get("CallerIDNum", ""),
                                "CallerIDName": item.get("CallerIDName", ""),
                                "Language": item.get("Language", ""),
                            }
                        )
                    await self._adopt(call, self.clock() - _duration(item.get("Duration", "")))
        except AmiDisconnected:
            return  # lost again: the next login resynchronises
        except Exception:
            log.exception("AMI: resynchronisation failed")
        finally:
            self.resyncing = False
        if self.link_up:
            self._replay_deferred()

    def _reconcile(self, call: PhoneCall, item: Any) -> None:
        """A caller the adapter knows, still there: catch up with what happened meanwhile."""
        if call.callback_id is not None or not call.in_core or call.state != RINGING:
            return
        context = item.get("Context")
        if item.get("BridgeId"):
            self._answered(call)
        elif context == self.holding_context and call.dial_started:
            self._dial_failed(call, "NOANSWER")
        elif context != self.agent_context:
            call.redirected = False  # the Redirect never ran: sent again below

    async def _adopt(self, call: PhoneCall, arrived_at: float | None = None) -> None:
        """Queue a caller whose handoff may have been missed while the link was down.

        The IVR's variables are read back from the channel (``Getvar``); a caller
        who hangs up meanwhile is left alone (its Hangup closed it).
        """
        values = {}
        for name in ("GUICHET_PROCESS", "GUICHET_CITIZEN"):
            reply = await self.manager.send_action(
                {"Action": "Getvar", "Channel": call.channel, "Variable": name}
            )
            values[name] = (reply.get("Value") or "") if getattr(reply, "success", False) else ""
        if self.calls.get(call.uniqueid) is not call or call.in_core or call.closed:
            return
        call.process = values["GUICHET_PROCESS"].strip() or call.process
        call.citizen_id = values["GUICHET_CITIZEN"] or call.citizen_id
        self.unsure.discard(call.uniqueid)
        self._arrive(call, arrived_at=arrived_at)

    def _adopt_later(self, call: PhoneCall) -> None:
        task = asyncio.ensure_future(self._adopt(call))
        task.add_done_callback(_ignore)

    def _replay_deferred(self) -> None:
        """Carry out the offers decided while the link was down or resynchronising."""
        offers, self.deferred_offers = self.deferred_offers, []
        for offer in offers:
            self._originate(offer)
        for call in list(self.by_contact.values()):
            if (
                call.state == RINGING
                and not call.redirected
                and call.callback_id is None
                and call.agent_id
            ):
                line = self.by_agent[call.agent_id]
                self._redirect(call, self.agent_context, line.exten, call.agent_id)


def _text(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[-1] if value else None
    return value


def _items(messages: Any, event: str) -> Iterable[Any]:
    if not isinstance(messages, list):
        return []
    return [m for m in messages if m.get("Event") == event]


def _duration(text: str) -> float:
    """Seconds of an ``HH:MM:SS`` duration (0 if unreadable)."""
    try:
        h, m, s = (int(x) for x in text.split(":"))
    except ValueError:
        return 0.0
    return float(h * 3600 + m * 60 + s)


def _ignore(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()
