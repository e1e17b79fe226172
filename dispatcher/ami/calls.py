"""The phone side's pure state machine: Asterisk's frames in, core events and AMI actions out.

``PhoneCalls`` follows Asterisk's caller channels and agents' phones as the
AMI shows them and says what they mean to the routing core. It has no
socket and no clock: every method takes the time ``at`` and returns *steps*,
core input events (``dispatcher.events``) and AMI actions (``Redirect``,
``Hangup``, ``Originate`` below) in the order they must happen. The adapter
(``dispatcher.ami.adapter``) submits the events, the action sender
(``dispatcher.ami.actions``) writes the actions and brings their answers back
(``redirect_failed``, ``originated``), and the resynchronisation
(``dispatcher.ami.resync``) hands in what Asterisk and the core hold after a
(re)connection (``resync``).

Frames read (see each handler):

- ``VarSet GUICHET_PROCESS`` (the IVR's handoff; empty: generalist) ->
  ``ContactArrived`` (or ``ContactQualified`` for a contact already queued);
  ``GUICHET_CITIZEN`` / ``GUICHET_REPEAT`` / ``GUICHET_LANG`` are kept for the agent page;
- ``MusicOnHoldStart`` in the holding context of a channel not queued yet
  (the IVR failed or was skipped) -> ``ContactArrived`` unqualified;
- ``DialEnd`` / ``GUICHET_DIALSTATUS`` of an offered caller: ``ANSWER`` ->
  ``OfferAnswered``, ``NOANSWER`` / ``BUSY`` / ``CHANUNAVAIL`` / ``CONGESTION``
  -> ``OfferDeclined`` with that reason; ``BridgeEnter`` also means answered;
- ``Hangup`` of a queued or ringing caller -> ``ContactAbandoned``; of a caller
  with an agent -> ``ContactCompleted``;
- ``DeviceStateChange``, ``ContactStatus`` and ``PeerStatus`` of an agent's
  endpoint -> ``EndpointChanged`` when the phone's reachability changes: the
  LATEST of these signals says whether the phone is registered (after an
  Asterisk restart a phone can go Unreachable with a ContactStatus alone), the
  last device state whether it is in use.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping

from dispatcher import events as ev
from dispatcher.ami import takeover
from dispatcher.ami.model import (
    DIAL_DECLINES,
    GONE_MESSAGES,
    HUNG_UP_MEMORY,
    IN_USE_STATES,
    ORIGINATE_REASONS,
    QUEUED,
    REGISTERED_STATUSES,
    RINGING,
    TALKING,
    UNREGISTERED_STATES,
    UNREGISTERED_STATUSES,
    AgentLine,
    Contexts,
    CoreContact,
    EndedCall,
    Hangup,
    Headers,
    LiveChannel,
    Originate,
    Phone,
    PhoneCall,
    Problems,
    Redirect,
    Step,
)
from dispatcher.ami.model import text as _text
from dispatcher.events import DeclineReason, Event, Outcome
from skills.model import Channel


class PhoneCalls:
    """The followed state of Asterisk's channels and the agents' phones."""

    def __init__(self, lines: Mapping[str, AgentLine], contexts: Contexts | None = None) -> None:
        self.lines = dict(lines)
        self.by_agent = {line.agent_id: line for line in self.lines.values()}
        self.by_resource = {line.endpoint.partition("/")[2]: line for line in self.lines.values()}
        self.contexts = contexts or Contexts()
        self.calls: dict[str, PhoneCall] = {}
        self.by_contact: dict[str, PhoneCall] = {}
        self.phones: dict[str, Phone] = {}
        self.hung_up: OrderedDict[str, None] = OrderedDict()
        self.callback_numbers: dict[str, str] = {}
        self.deferred: list[ev.ContactOffered] = []
        self.link_up = False
        self.lost_at: float | None = None
        """When the link was last seen down (the best evidence of a hang-up during the outage)."""
        self.originates = 0
        self.refused: set[str] = set()
        """Agent extensions the dialplan lacks: never Redirected to (``dialplan_checked``)."""
        self.problems = Problems()
        self.gone_while_away: list[tuple[str, float]] = []
        """Contacts the last resynchronisation ended at an estimated time, with that time."""
        self.ended_as_noted = 0
        self.hung_up_in_resync: dict[str, float] = {}
        """Callers not known to talk who hung up while a resynchronisation read Asterisk: when."""
        """Contacts the last resynchronisation ended as the dialplan noted their hang-up (AstDB)."""
        self._seen: set[str] | None = None
        """Channels with events since the resynchronisation began (its snapshot may predate them)."""

    # ------------------------------------------------------------ frames

    def frame(self, name: str, h: Headers, at: float) -> list[Step]:
        """One AMI event: the steps it causes (empty for most)."""
        handler = _HANDLERS.get(name)
        if handler is None:
            return []
        if self._seen is not None:
            uid = _text(h.get("Uniqueid"))
            if uid:
                self._seen.add(uid)
        return handler(self, h, at)

    def _varset(self, h: Headers, at: float) -> list[Step]:
        variable = _text(h.get("Variable")) or ""
        if not variable.startswith("GUICHET_"):
            return []
        uid = _text(h.get("Uniqueid"))
        if not uid:
            self.problems.add("varset_without_uniqueid", variable)
            return []
        if uid in self.hung_up:
            return []
        value = _text(h.get("Value")) or ""
        call = self.calls.get(uid)
        if call is None:
            if variable not in (
                "GUICHET_PROCESS",
                "GUICHET_CITIZEN",
                "GUICHET_REPEAT",
                "GUICHET_LANG",
            ):
                return []
            call = self._new_call(h, uid)
        if variable == "GUICHET_PROCESS":
            process = value.strip() or None
            if not call.in_core:
                call.process = process
                return self._arrive(call, at)
            if process is not None and process != call.process:
                call.process = process
                return [ev.ContactQualified(at=at, contact_id=call.uniqueid, process=process)]
        elif variable == "GUICHET_CITIZEN":
            call.citizen_id = value or None
        elif variable == "GUICHET_REPEAT":
            call.repeat = value not in ("", "0")
        elif variable == "GUICHET_LANG":
            call.language = value or call.language
        elif variable == "GUICHET_DIALSTATUS" and self._current_exten(call, h):
            return self._dial_failed(call, value, at)
        return []

    def _moh_start(self, h: Headers, at: float) -> list[Step]:
        if _text(h.get("Context")) != self.contexts.holding:
            return []
        uid = _text(h.get("Uniqueid"))
        if not uid or uid in self.hung_up:
            return []
        call = self.calls.get(uid)
        if call is None:
            if self.device_of(_text(h.get("Channel")) or "") in self.lines:
                return []  # an agent's leg sent on hold (a Redirect of the ringing leg)
            call = self._new_call(h, uid)
        if not call.in_core and not call.closed:
            return self._arrive(call, at)
        if call.state == RINGING and call.dial_started:
            # Back on hold without a DialEnd we could read: the attempt failed.
            return self._dial_failed(call, "NOANSWER", at)
        return []

    def _dial_begin(self, h: Headers, at: float) -> list[Step]:
        call = self.calls.get(_text(h.get("Uniqueid")) or "")
        if call is None or call.state != RINGING:
            return []
        if call.callback_id is not None:
            # The agent's leg of a callback dials the citizen: the agent answered.
            return self._answered(call, at)
        if self._dials_offered_agent(call, h):
            call.dial_started = True
        return []

    def _dial_end(self, h: Headers, at: float) -> list[Step]:
        call = self.calls.get(_text(h.get("Uniqueid")) or "")
        if call is None:
            return []
        status = _text(h.get("DialStatus")) or ""
        if call.callback_id is not None:
            call.citizen_answered = call.citizen_answered or status == "ANSWER"
            return []
        if call.state != RINGING or not self._dials_offered_agent(call, h):
            return []
        if status == "ANSWER":
            return self._answered(call, at)
        return self._dial_failed(call, status, at)

    def _bridge_enter(self, h: Headers, at: float) -> list[Step]:
        call = self.calls.get(_text(h.get("Uniqueid")) or "")
        if call is not None and call.state == RINGING and call.callback_id is None:
            return self._answered(call, at)
        return []

    def _hangup(self, h: Headers, at: float) -> list[Step]:
        uid = _text(h.get("Uniqueid"))
        if not uid:
            self.problems.add("hangup_without_uniqueid", _text(h.get("Channel")) or "")
            return []
        self._remember_hung_up(uid)
        call = self.calls.get(uid)
        if call is None:
            return []
        if (
            self._seen is not None
            and call.in_core
            and call.callback_id is None
            and call.state != TALKING
        ):
            # A resynchronisation is reading Asterisk: its snapshot may show this caller
            # bridged with an agent (answered while the link was down); it decides.
            self.hung_up_in_resync[uid] = at
            return []
        return self._gone(call, at)

    def _hangup_request(self, h: Headers, at: float) -> list[Step]:
        call = self.calls.get(_text(h.get("Uniqueid")) or "")
        if call is not None and call.callback_id is not None and _text(h.get("Cause")) == "17":
            call.rejected_busy = True  # its OriginateResponse says Reason 0, not 5
        return []

    def _device_state(self, h: Headers, at: float) -> list[Step]:
        line = self.lines.get(_text(h.get("Device")) or "")
        if line is None:
            return []
        state = _text(h.get("State")) or ""
        phone = self.phones.setdefault(line.endpoint, Phone())
        if state in UNREGISTERED_STATES:
            phone.registered, phone.in_use = False, False
        elif state == "UNKNOWN":
            return []
        else:
            phone.registered = True
            phone.in_use = state in IN_USE_STATES
        return self._tell(line, phone, at)

    def _contact_status(self, h: Headers, at: float) -> list[Step]:
        line = self.by_resource.get(_text(h.get("EndpointName")) or _text(h.get("AOR")) or "")
        return [] if line is None else self._registration(line, _text(h.get("ContactStatus")), at)

    def _peer_status(self, h: Headers, at: float) -> list[Step]:
        line = self.lines.get(_text(h.get("Peer")) or "")
        return [] if line is None else self._registration(line, _text(h.get("PeerStatus")), at)

    def _registration(self, line: AgentLine, status: str | None, at: float) -> list[Step]:
        phone = self.phones.setdefault(line.endpoint, Phone())
        if status in REGISTERED_STATUSES:
            phone.registered = True
        elif status in UNREGISTERED_STATUSES:
            phone.registered, phone.in_use = False, False
        else:
            return []
        return self._tell(line, phone, at)

    def _tell(self, line: AgentLine, phone: Phone, at: float) -> list[Step]:
        reachable = False if line.exten in self.refused else phone.reachable
        if reachable is None or phone.told is reachable:
            return []
        phone.told = reachable
        return [ev.EndpointChanged(at=at, agent_id=line.agent_id, reachable=reachable)]

    # ------------------------------------------------------------ calls

    def _new_call(self, h: Headers, uid: str) -> PhoneCall:
        call = PhoneCall(
            uniqueid=uid,
            channel=_text(h.get("Channel")) or "",
            caller=_text(h.get("CallerIDNum")),
            caller_name=_text(h.get("CallerIDName")),
            language=_text(h.get("Language")),
        )
        self.calls[uid] = call
        return call

    def _arrive(self, call: PhoneCall, at: float, arrived_at: float | None = None) -> list[Step]:
        if call.closed or call.in_core:
            return []
        call.in_core = True
        call.state = QUEUED
        self.by_contact[call.uniqueid] = call
        return [
            ev.ContactArrived(
                at=at,
                contact_id=call.uniqueid,
                channel=Channel.PHONE,
                process=call.process,
                caller=call.caller,
                citizen_id=call.citizen_id,
                arrived_at=arrived_at,
            )
        ]

    def _close(self, call: PhoneCall) -> None:
        self.calls.pop(call.uniqueid, None)
        self.by_contact.pop(call.callback_id or call.uniqueid, None)

    def _remember_hung_up(self, uid: str) -> None:
        self.hung_up[uid] = None
        if len(self.hung_up) > HUNG_UP_MEMORY:
            self.hung_up.popitem(last=False)

    def _current_exten(self, call: PhoneCall, h: Headers) -> bool:
        """True if a frame of the agent context is about the extension of the current offer.

        The status of a failed Dial can arrive after the core has already offered the
        caller to the next agent: it must not decline that new offer.
        """
        line = self.by_agent.get(call.agent_id or "")
        return line is not None and _text(h.get("Exten")) == line.exten

    def _dials_offered_agent(self, call: PhoneCall, h: Headers) -> bool:
        line = self.by_agent.get(call.agent_id or "")
        dest = _text(h.get("DestChannel")) or ""
        if line is not None and dest.rpartition("-")[0] == line.endpoint:
            return True
        self.problems.add("dial_to_another_phone", f"{call.channel} dials {dest}")
        return False

    def _answered(self, call: PhoneCall, at: float) -> list[Step]:
        call.state = TALKING
        agent_id = call.agent_id
        if agent_id is None:
            return []
        return [
            ev.OfferAnswered(at=at, contact_id=call.callback_id or call.uniqueid, agent_id=agent_id)
        ]

    def _dial_failed(self, call: PhoneCall, status: str, at: float) -> list[Step]:
        if call.state != RINGING or call.agent_id is None:
            return []
        reason = DIAL_DECLINES.get(status)
        if reason is None:
            return []
        agent_id = call.agent_id
        call.state = QUEUED
        call.dial_started = call.redirected = False
        call.agent_id = None
        line = self.by_agent.get(agent_id)
        if line is not None and reason is DeclineReason.UNAVAILABLE:
            # The core holds this phone unreachable now: the next signal must get through.
            self.phones.setdefault(line.endpoint, Phone()).told = False
        return [ev.OfferDeclined(at=at, contact_id=call.uniqueid, agent_id=agent_id, reason=reason)]

    def _gone(self, call: PhoneCall, at: float) -> list[Step]:
        """The channel hung up: the contact ends (or a callback leg finishes)."""
        self._close(call)
        if call.callback_id is not None:
            if call.state == TALKING:
                outcome = Outcome.SERVED if call.citizen_answered else Outcome.ABANDONED
                return [ev.ContactCompleted(at=at, contact_id=call.callback_id, outcome=outcome)]
            if call.state == RINGING and call.agent_id is not None:
                return [
                    ev.OfferDeclined(
                        at=at,
                        contact_id=call.callback_id,
                        agent_id=call.agent_id,
                        reason=DeclineReason.NO_ANSWER,
                    )
                ]
            return []
        if not call.in_core:
            return []
        call.in_core = False
        call.closed = True
        if call.state == TALKING:
            return [ev.ContactCompleted(at=at, contact_id=call.uniqueid)]
        return [ev.ContactAbandoned(at=at, contact_id=call.uniqueid)]

    def device_of(self, channel: str) -> str:
        return channel.rpartition("-")[0] or channel

    # ------------------------------------------------------------ the core's decisions

    def decided(self, batch: Iterable[Event]) -> list[Step]:
        """The core's ``[input, *decisions]``: the AMI actions that carry them out."""
        steps: list[Step] = []
        for event in batch:
            kind = type(event)
            if kind is ev.ContactOffered:
                steps += self._offered(event)  # type: ignore[arg-type]
            elif kind is ev.ContactRequeued:
                steps += self._requeued(event)  # type: ignore[arg-type]
            elif kind is ev.ContactEnded:
                steps += self._ended(event)  # type: ignore[arg-type]
            elif kind is ev.CallbackRequested:
                self._callback_requested(event)  # type: ignore[arg-type]
            elif kind is ev.ContactArrived:
                arrived: ev.ContactArrived = event  # type: ignore[assignment]
                if arrived.channel is Channel.CALLBACK and arrived.caller:
                    self.callback_numbers[arrived.contact_id] = arrived.caller
        return steps

    def _callback_requested(self, event: ev.CallbackRequested) -> None:
        call = self.by_contact.get(event.contact_id)
        number = event.number or (call.caller if call is not None else None)
        if number:
            self.callback_numbers[event.callback_id] = number

    def _offered(self, offer: ev.ContactOffered) -> list[Step]:
        if offer.channel is Channel.CALLBACK:
            return self._originate(offer)
        if offer.channel is not Channel.PHONE:
            return []
        call = self.by_contact.get(offer.contact_id)
        line = self.by_agent.get(offer.agent_id)
        if call is None or call.callback_id is not None:
            return self._refuse(offer, "no such caller on the phone channel")
        if line is None:
            return self._refuse(offer, "the agent has no softphone endpoint")
        if line.exten in self.refused:
            return self._refuse(offer, f"extension {line.exten} is missing from the dialplan")
        call.state = RINGING
        call.agent_id = offer.agent_id
        call.redirected = call.dial_started = False
        if not self.link_up:
            return []  # carried out after the resynchronisation
        call.redirected = True
        return [
            Redirect(call.channel, self.contexts.agent, line.exten, call.uniqueid, offer.agent_id)
        ]

    def _refuse(self, offer: ev.ContactOffered, why: str) -> list[Step]:
        self.problems.add("offer_refused", f"{offer.contact_id} to {offer.agent_id}: {why}")
        return [
            ev.OfferDeclined(
                at=offer.at,
                contact_id=offer.contact_id,
                agent_id=offer.agent_id,
                reason=DeclineReason.UNAVAILABLE,
            )
        ]

    def _requeued(self, event: ev.ContactRequeued) -> list[Step]:
        call = self.by_contact.get(event.contact_id)
        if call is None or call.state != RINGING:
            return []
        # The core took the offer back by itself (its ring timer, the agent paused):
        # bring the caller back on hold if Asterisk is ringing the agent.
        redirected = call.redirected
        call.state = QUEUED
        call.agent_id = None
        call.redirected = call.dial_started = False
        if call.callback_id is not None or not redirected or not self.link_up:
            return []
        return [Redirect(call.channel, self.contexts.holding, "s", call.uniqueid, None)]

    def _ended(self, event: ev.ContactEnded) -> list[Step]:
        self.callback_numbers.pop(event.contact_id, None)
        call = self.by_contact.pop(event.contact_id, None)
        if call is None:
            return []
        steps: list[Step] = []
        if (
            event.outcome is Outcome.EXPIRED
            and call.callback_id is None
            and call.in_core
            and self.link_up
        ):
            steps.append(Hangup(call.channel))
        call.in_core = False
        call.closed = True
        return steps

    def _originate(self, offer: ev.ContactOffered) -> list[Step]:
        line = self.by_agent.get(offer.agent_id)
        number = self.callback_numbers.get(offer.contact_id)
        if line is None or not number:
            return self._refuse(offer, "callback without an agent endpoint or a number to call")
        if not self.link_up:
            self.deferred.append(offer)
            return []
        self.originates += 1
        leg_id = f"{offer.contact_id}.{self.originates}"
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
        return [
            Originate(
                leg_id,
                line.endpoint,
                self.contexts.callback,
                number,
                offer.contact_id,
                offer.agent_id,
            )
        ]

    # ------------------------------------------------------------ answers to actions

    def redirect_failed(self, redirect: Redirect, message: str, at: float) -> list[Step]:
        """Asterisk refused a Redirect (``message``: its ``Message``)."""
        call = self.calls.get(redirect.contact_id)
        if call is None or call.closed:
            return []
        if message.startswith(GONE_MESSAGES):
            # The caller is gone (hung up, or lost while we were away): the contact ends;
            # the agent was not at fault.
            self._remember_hung_up(call.uniqueid)
            return self._gone(call, at)
        if (
            redirect.agent_id is not None
            and call.state == RINGING
            and call.agent_id == redirect.agent_id
            and not call.dial_started
        ):
            call.state = QUEUED
            call.agent_id = None
            call.redirected = False
            return [
                ev.OfferDeclined(
                    at=at,
                    contact_id=call.uniqueid,
                    agent_id=redirect.agent_id,
                    reason=DeclineReason.UNAVAILABLE,
                )
            ]
        return []

    def originated(self, originate: Originate, ok: bool, reason: int, at: float) -> list[Step]:
        """The ``OriginateResponse`` of a callback's agent leg."""
        call = self.calls.get(originate.leg_id)
        if call is None or call.state != RINGING or call.agent_id is None:
            return []
        if ok:
            return self._answered(call, at)
        agent_id = call.agent_id
        self._close(call)
        decline = ORIGINATE_REASONS.get(reason, DeclineReason.UNAVAILABLE)
        if call.rejected_busy:
            decline = DeclineReason.BUSY
        return [
            ev.OfferDeclined(
                at=at, contact_id=originate.contact_id, agent_id=agent_id, reason=decline
            )
        ]

    # ------------------------------------------------------------ the link

    def link_lost(self, at: float) -> None:
        if self.link_up:
            self.lost_at = at
        self.link_up = False

    def dialplan_checked(self, missing_extens: Iterable[str], at: float) -> list[Step]:
        """The agent extensions the dialplan lacks: those agents are unreachable for calls.

        A Redirect there would be accepted and the caller hung up (redirect-errors.txt);
        an offer that slips through is declined, never Redirected.
        """
        self.refused = set(missing_extens)
        steps: list[Step] = []
        for line in self.lines.values():
            steps += self._tell(line, self.phones.setdefault(line.endpoint, Phone()), at)
        return steps

    def begin_resync(self) -> None:
        """The resynchronisation starts reading Asterisk: note the channels heard of meanwhile."""
        self._seen = set()

    def resync(
        self,
        core: Iterable[CoreContact],
        channels: Iterable[LiveChannel],
        devices: Mapping[str, str],
        at: float,
        last_known: float | None = None,
        ended: Mapping[str, EndedCall] | None = None,
    ) -> list[Step]:
        """Make the followed state, and the core, match what Asterisk has now (``takeover.resync``)."""
        return takeover.resync(self, core, channels, devices, at, last_known, ended)


_HANDLERS = {
    "VarSet": PhoneCalls._varset,
    "MusicOnHoldStart": PhoneCalls._moh_start,
    "DialBegin": PhoneCalls._dial_begin,
    "DialEnd": PhoneCalls._dial_end,
    "BridgeEnter": PhoneCalls._bridge_enter,
    "Hangup": PhoneCalls._hangup,
    "HangupRequest": PhoneCalls._hangup_request,
    "DeviceStateChange": PhoneCalls._device_state,
    "ContactStatus": PhoneCalls._contact_status,
    "PeerStatus": PhoneCalls._peer_status,
}
HANDLED_EVENTS = tuple(_HANDLERS)
"""The AMI events the machine reads; the socket skips every other one unparsed."""
