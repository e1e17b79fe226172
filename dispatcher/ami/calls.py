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

import re
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from dispatcher import events as ev
from dispatcher.events import DeclineReason, Event, Outcome
from skills.model import Channel, SkillMatrix

Headers = Mapping[str, "str | list[str]"]

IVR, QUEUED, RINGING, TALKING = "ivr", "queued", "ringing", "talking"

DIAL_DECLINES = {
    "NOANSWER": DeclineReason.NO_ANSWER,
    "BUSY": DeclineReason.BUSY,
    "CHANUNAVAIL": DeclineReason.UNAVAILABLE,
    "CONGESTION": DeclineReason.UNAVAILABLE,
    "INVALIDARGS": DeclineReason.UNAVAILABLE,
}
"""Dial statuses that end an offer, and what the core is told (CANCEL: we or the caller stopped it)."""
IN_USE_STATES = frozenset({"INUSE", "BUSY", "RINGING", "RINGINUSE", "ONHOLD"})
UNREGISTERED_STATES = frozenset({"UNAVAILABLE", "INVALID"})
REGISTERED_STATUSES = frozenset({"Reachable", "NonQualified", "Created", "Updated"})
UNREGISTERED_STATUSES = frozenset({"Unreachable", "Removed"})
ORIGINATE_REASONS = {
    3: DeclineReason.NO_ANSWER,
    5: DeclineReason.BUSY,
    1: DeclineReason.UNAVAILABLE,
}
"""``OriginateResponse`` Reason codes: 3 no answer, 5 busy (Asterisk 22 says 0 for a 486: unavailable)."""
GONE_MESSAGES = ("Channel does not exist", "No such channel")
HUNG_UP_MEMORY = 4096
"""How many hung-up channels are remembered (a late VarSet of one must not make a ghost)."""


# ------------------------------------------------------------ actions (plain data)


@dataclass(frozen=True, slots=True)
class Redirect:
    """Send ``channel`` to ``context``/``exten``; ``agent_id``: the offer it carries out (None: back on hold)."""

    channel: str
    context: str
    exten: str
    contact_id: str
    agent_id: str | None


@dataclass(frozen=True, slots=True)
class Hangup:
    channel: str


@dataclass(frozen=True, slots=True)
class Originate:
    """Ring the agent's phone; once answered it dials ``number`` in the callback context."""

    leg_id: str
    endpoint: str
    context: str
    number: str
    contact_id: str
    agent_id: str


Action = Redirect | Hangup | Originate
Step = Event | Action


# ------------------------------------------------------------ what is followed


@dataclass(frozen=True, slots=True)
class AgentLine:
    """An agent's softphone: ``PJSIP/agent101`` is dialled as extension ``101`` of the agent context."""

    agent_id: str
    endpoint: str
    exten: str


def agent_lines(matrix: SkillMatrix) -> dict[str, AgentLine]:
    """The agents with a softphone endpoint, by endpoint."""
    lines: dict[str, AgentLine] = {}
    for profile in matrix.agents.values():
        if not profile.endpoint:
            continue
        resource = profile.endpoint.partition("/")[2] or profile.endpoint
        digits = re.search(r"(\d+)$", resource)
        exten = digits.group(1) if digits else resource
        lines[profile.endpoint] = AgentLine(profile.agent_id, profile.endpoint, exten)
    return lines


@dataclass(frozen=True, slots=True)
class Contexts:
    """The dialplan places Guichet sends channels to."""

    holding: str = "waiting"
    agent: str = "to-agent"
    callback: str = "callback"


@dataclass(slots=True, eq=False)
class PhoneCall:
    """One caller channel (or one callback's agent leg) as the machine follows it."""

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
    closed: bool = False
    """The contact reached its outcome; the channel may still be up (callback goodbye)."""
    callback_id: str | None = None
    """For a callback's agent leg: the callback contact's id."""
    citizen_answered: bool = False


@dataclass(slots=True)
class Phone:
    """What the last signals say of one agent's endpoint."""

    registered: bool | None = None
    in_use: bool = False
    told: bool | None = None
    """The reachability the core was last told (None: nothing yet)."""

    @property
    def reachable(self) -> bool | None:
        if self.registered is None:
            return None if not self.in_use else False
        return self.registered and not self.in_use


@dataclass(frozen=True, slots=True)
class LiveChannel:
    """One channel Asterisk still has (a ``CoreShowChannel`` item, with the IVR's variables)."""

    uniqueid: str
    channel: str
    context: str
    exten: str = ""
    application: str = ""
    bridge_id: str = ""
    linkedid: str = ""
    age_s: float = 0.0
    caller: str | None = None
    caller_name: str | None = None
    language: str | None = None
    process: str | None = None
    citizen_id: str | None = None

    @property
    def device(self) -> str:
        """``PJSIP/agent101`` for ``PJSIP/agent101-00000004``."""
        return self.channel.rpartition("-")[0] or self.channel


@dataclass(frozen=True, slots=True)
class CoreContact:
    """A contact the core holds open on the phone or callback channel."""

    contact_id: str
    channel: Channel
    state: str
    """``waiting``, ``offered`` or ``in_service`` (``dispatcher.state.ContactState`` values)."""
    agent_id: str | None = None


@dataclass(slots=True)
class Problems:
    """Counts of the frames skipped, by kind (the adapter logs them, rate-limited)."""

    counts: dict[str, int] = field(default_factory=dict)
    last: list[tuple[str, str]] = field(default_factory=list)

    def add(self, kind: str, detail: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        self.last.append((kind, detail))


class PhoneCalls:
    """The followed state of Asterisk's channels and the agents' phones."""

    def __init__(self, lines: Mapping[str, AgentLine], contexts: Contexts = Contexts()) -> None:
        self.lines = dict(lines)
        self.by_agent = {line.agent_id: line for line in self.lines.values()}
        self.by_resource = {line.endpoint.partition("/")[2]: line for line in self.lines.values()}
        self.contexts = contexts
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
        return [] if call is None else self._gone(call, at)

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
    ) -> list[Step]:
        """Make the followed state, and the core, match what Asterisk has now.

        ``core``: the phone and callback contacts the core holds open; ``channels``:
        every channel Asterisk has; ``devices``: the device states. Every channel is
        taken over (waiting, ringing an agent, talking to one), every contact
        Asterisk no longer has ends (at the best evidence of its hang-up: when the
        link was lost, else now), and the offers decided while away are carried out.
        """
        steps: list[Step] = []
        seen, self._seen = self._seen or set(), None
        for device, state in devices.items():
            if device in self.lines:
                steps += self._device_state({"Device": device, "State": state}, at)
        live = {c.uniqueid: c for c in channels}
        legs_of: dict[str, list[LiveChannel]] = {}
        bridged: dict[str, list[LiveChannel]] = {}
        for c in live.values():
            if c.device in self.lines:
                legs_of.setdefault(c.linkedid, []).append(c)
            if c.bridge_id:
                bridged.setdefault(c.bridge_id, []).append(c)
        gone_at = self.lost_at if self.lost_at is not None and self.lost_at <= at else at
        open_ids: set[str] = set()
        for contact in core:
            open_ids.add(contact.contact_id)
            if contact.contact_id in seen and contact.contact_id not in live:
                continue  # came after the snapshot: its own events tell
            if contact.channel is Channel.CALLBACK:
                steps += self._take_callback(contact, live, at, gone_at)
            else:
                steps += self._take_caller(
                    contact, live.get(contact.contact_id), legs_of, bridged, at, gone_at
                )
        # Followed calls the core does not hold any more: forget them.
        for call in list(self.calls.values()):
            key = call.callback_id or call.uniqueid
            if call.in_core and key not in open_ids:
                self._close(call)
        # Callers Asterisk holds that the core never got (their handoff was missed).
        for c in live.values():
            if (
                c.device in self.lines
                or c.uniqueid in self.calls
                or c.uniqueid in open_ids
                or c.uniqueid in self.hung_up
            ):
                continue
            if c.context == self.contexts.holding:
                call = PhoneCall(
                    uniqueid=c.uniqueid,
                    channel=c.channel,
                    caller=c.caller,
                    caller_name=c.caller_name,
                    language=c.language,
                    process=c.process,
                    citizen_id=c.citizen_id,
                )
                self.calls[c.uniqueid] = call
                steps += self._arrive(call, at, arrived_at=at - c.age_s)
        self.link_up = True
        self.lost_at = None
        steps += self._carry_out_deferred()
        return steps

    def _take_caller(
        self,
        contact: CoreContact,
        chan: LiveChannel | None,
        legs_of: Mapping[str, list[LiveChannel]],
        bridged: Mapping[str, list[LiveChannel]],
        at: float,
        gone_at: float,
    ) -> list[Step]:
        uid = contact.contact_id
        call = self.calls.get(uid)
        if chan is None:
            if call is not None:
                self._close(call)
            self._remember_hung_up(uid)
            event: Event
            if contact.state == "in_service":
                event = ev.ContactCompleted(at=gone_at, contact_id=uid)
            else:
                event = ev.ContactAbandoned(at=gone_at, contact_id=uid)
            return [event]
        if call is None:
            call = PhoneCall(
                uniqueid=uid,
                channel=chan.channel,
                caller=chan.caller,
                caller_name=chan.caller_name,
                language=chan.language,
                process=chan.process,
                citizen_id=chan.citizen_id,
            )
            self.calls[uid] = call
        call.in_core, call.closed, call.channel = True, False, chan.channel
        self.by_contact[uid] = call
        peer = (
            next((c for c in bridged.get(chan.bridge_id, ()) if c is not chan), None)
            if chan.bridge_id
            else None
        )
        with_agent = self.lines.get(peer.device) if peer is not None else None
        ringing = next(
            (leg for leg in legs_of.get(uid, ()) if not leg.bridge_id and leg.uniqueid != uid), None
        )
        ringing_line = self.lines.get(ringing.device) if ringing is not None else None
        if contact.state == "in_service":
            call.state, call.agent_id = TALKING, contact.agent_id
            return []
        if with_agent is not None and with_agent.agent_id != contact.agent_id:
            return self._taken_meanwhile(call, contact, with_agent, at)
        if contact.state == "offered" and contact.agent_id is not None:
            call.state, call.agent_id = RINGING, contact.agent_id
            if with_agent is not None and with_agent.agent_id == contact.agent_id:
                return self._answered(call, at)
            if ringing_line is not None and ringing_line.agent_id == contact.agent_id:
                call.redirected = call.dial_started = True  # its DialEnd will tell
                return []
            if (
                chan.context == self.contexts.agent
                and chan.exten == self.by_agent[contact.agent_id].exten
            ):
                call.redirected = True
                return []
            if call.redirected and call.dial_started:
                return self._dial_failed(call, "NOANSWER", at)  # rang and came back while away
            call.redirected = call.dial_started = False  # the Redirect never ran: sent below
            return []
        call.state, call.agent_id = QUEUED, None
        call.redirected = call.dial_started = False
        if ringing_line is not None or chan.context == self.contexts.agent:
            # The core took the offer back while away; Asterisk still rings that phone.
            return [Redirect(chan.channel, self.contexts.holding, "s", uid, None)]
        return []

    def _taken_meanwhile(
        self, call: PhoneCall, contact: CoreContact, line: AgentLine, at: float
    ) -> list[Step]:
        """Asterisk bridged the caller with ``line``'s agent after the core took that offer back.

        The core's ring timer fired while the link was down. The caller is never taken
        from the agent talking to them; the contact ends (served if the core still had
        it offered, else abandoned: the core has no word for a late answer) and its
        channel is no longer followed.
        """
        self.problems.add(
            "taken_meanwhile", f"{call.uniqueid} talks to {line.agent_id} (core: {contact.state})"
        )
        self._close(call)
        call.closed = True
        call.in_core = False
        self._remember_hung_up(call.uniqueid)
        if contact.state == "offered":
            return [ev.ContactCompleted(at=at, contact_id=call.uniqueid)]
        return [ev.ContactAbandoned(at=at, contact_id=call.uniqueid)]

    def _take_callback(
        self, contact: CoreContact, live: Mapping[str, LiveChannel], at: float, gone_at: float
    ) -> list[Step]:
        prefix = contact.contact_id + "."
        leg = next((c for uid, c in live.items() if uid.startswith(prefix)), None)
        call = self.by_contact.get(contact.contact_id)
        if leg is None:
            if call is not None:
                self._close(call)
            if contact.state == "in_service":
                return [ev.ContactCompleted(at=gone_at, contact_id=contact.contact_id)]
            if contact.state == "offered" and contact.agent_id is not None and call is None:
                line = self.by_agent.get(contact.agent_id)
                number = self.callback_numbers.get(contact.contact_id)
                if line is not None and number:
                    self.deferred.append(
                        ev.ContactOffered(
                            at=at,
                            contact_id=contact.contact_id,
                            agent_id=contact.agent_id,
                            process="",
                            channel=Channel.CALLBACK,
                            level=0,
                            waited=0.0,
                        )
                    )
                    return []
                return [
                    ev.OfferDeclined(
                        at=at,
                        contact_id=contact.contact_id,
                        agent_id=contact.agent_id,
                        reason=DeclineReason.UNAVAILABLE,
                    )
                ]
            return []
        if call is None:
            call = PhoneCall(
                uniqueid=leg.uniqueid,
                channel=leg.channel,
                callback_id=contact.contact_id,
                agent_id=contact.agent_id,
                in_core=True,
            )
            self.calls[leg.uniqueid] = call
            self.by_contact[contact.contact_id] = call
        if contact.state == "in_service":
            call.state = TALKING
            call.citizen_answered = call.citizen_answered or bool(leg.bridge_id)
            return []
        call.state = RINGING
        if leg.context == self.contexts.callback:
            return self._answered(call, at)
        return []

    def _carry_out_deferred(self) -> list[Step]:
        steps: list[Step] = []
        offers, self.deferred = self.deferred, []
        for offer in offers:
            steps += self._originate(offer)
        for call in list(self.by_contact.values()):
            if (
                call.state == RINGING
                and not call.redirected
                and call.callback_id is None
                and call.agent_id
            ):
                line = self.by_agent[call.agent_id]
                call.redirected = True
                steps.append(
                    Redirect(
                        call.channel, self.contexts.agent, line.exten, call.uniqueid, call.agent_id
                    )
                )
        return steps


_HANDLERS = {
    "VarSet": PhoneCalls._varset,
    "MusicOnHoldStart": PhoneCalls._moh_start,
    "DialBegin": PhoneCalls._dial_begin,
    "DialEnd": PhoneCalls._dial_end,
    "BridgeEnter": PhoneCalls._bridge_enter,
    "Hangup": PhoneCalls._hangup,
    "DeviceStateChange": PhoneCalls._device_state,
    "ContactStatus": PhoneCalls._contact_status,
    "PeerStatus": PhoneCalls._peer_status,
}
HANDLED_EVENTS = tuple(_HANDLERS)
"""The AMI events the machine reads; the socket skips every other one unparsed."""


def _text(value: object) -> str | None:
    if isinstance(value, list):
        value = value[-1] if value else None
    return value if isinstance(value, str) else None
