"""The takeover after a (re)connection: every channel Asterisk has, every contact the core holds.

Pure, like the state machine it belongs to (``calls.PhoneCalls.resync`` calls
``resync`` here): the reader (``dispatcher.ami.resync``) hands in Asterisk's channels
and device states and the core's open contacts; out come the core events and
AMI actions that make the three agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from dispatcher import events as ev
from dispatcher.ami.model import (
    QUEUED,
    RINGING,
    TALKING,
    AgentLine,
    CoreContact,
    EndedCall,
    LiveChannel,
    PhoneCall,
    Redirect,
    Step,
)
from dispatcher.events import DeclineReason
from skills.model import Channel

if TYPE_CHECKING:
    from dispatcher.ami.calls import PhoneCalls


def resync(
    calls: PhoneCalls,
    core: Iterable[CoreContact],
    channels: Iterable[LiveChannel],
    devices: Mapping[str, str],
    at: float,
    last_known: float | None = None,
    ended: Mapping[str, EndedCall] | None = None,
) -> list[Step]:
    """Make the followed state, and the core, match what Asterisk has now.

    ``core``: the phone and callback contacts the core holds open; ``channels``:
    every channel Asterisk has; ``devices``: the device states; ``ended``: what
    the dialplan noted of the callers that hung up meanwhile. Every channel is
    taken over (waiting, ringing an agent, talking to one), every contact
    Asterisk no longer has ends: as the dialplan noted it (served if an agent
    had answered, at the time it hung up), else approximately
    (``gone_while_away`` keeps the best evidence of its hang-up: when the link
    was lost, else ``last_known``, the core's last event after a restart), and
    the offers decided while away are carried out.
    """
    ended = ended or {}
    steps: list[Step] = []
    seen, calls._seen = calls._seen or set(), None
    late, calls.hung_up_in_resync = calls.hung_up_in_resync, {}
    calls.gone_while_away = []
    calls.ended_as_noted = 0
    for device, state in devices.items():
        if device in calls.lines:
            steps += calls._device_state({"Device": device, "State": state}, at)
    live = {c.uniqueid: c for c in channels}
    for uid in live:
        if uid in calls.hung_up and uid not in late:
            late[uid] = at  # in the snapshot, its Hangup read since (not followed yet: no time kept)
    legs_of: dict[str, list[LiveChannel]] = {}
    bridged: dict[str, list[LiveChannel]] = {}
    for c in live.values():
        if c.device in calls.lines:
            legs_of.setdefault(c.linkedid, []).append(c)
        if c.bridge_id:
            bridged.setdefault(c.bridge_id, []).append(c)
    evidence = calls.lost_at if calls.lost_at is not None else last_known
    gone_at = evidence if evidence is not None and evidence <= at else at
    open_ids: set[str] = set()
    for contact in core:
        uid = contact.contact_id
        open_ids.add(uid)
        if uid in late:
            # Hung up while the snapshot was read: it tells whether an agent had answered.
            chan = live.pop(uid, None)
            peer = next((c for c in bridged.get(chan.bridge_id, ()) if c is not chan), None) \
                if chan is not None and chan.bridge_id else None
            line = calls.lines.get(peer.device) if peer is not None else None
            noted = ended.get(uid) or EndedCall(
                late[uid], line is not None, line.endpoint.partition("/")[2] if line else ""
            )
            steps += _take_caller(calls, contact, None, legs_of, bridged, at, gone_at, noted)
            continue
        if uid in seen and uid not in live:
            continue  # came after the snapshot: its own events tell
        if contact.channel is Channel.CALLBACK:
            steps += _take_callback(calls, contact, live, at, gone_at)
        else:
            steps += _take_caller(
                calls, contact, live.get(uid), legs_of, bridged, at, gone_at, ended.get(uid)
            )
    # Followed calls the core does not hold any more: forget them.
    for call in list(calls.calls.values()):
        key = call.callback_id or call.uniqueid
        if call.in_core and key not in open_ids:
            calls._close(call)
    # Callers Asterisk holds that the core never got (their handoff was missed).
    for c in live.values():
        if (
            c.device in calls.lines
            or c.uniqueid in calls.calls
            or c.uniqueid in open_ids
            or c.uniqueid in calls.hung_up
        ):
            continue
        if c.context == calls.contexts.holding:
            call = PhoneCall(
                uniqueid=c.uniqueid,
                channel=c.channel,
                caller=c.caller,
                caller_name=c.caller_name,
                language=c.language,
                process=c.process,
                citizen_id=c.citizen_id,
            )
            calls.calls[c.uniqueid] = call
            steps += calls._arrive(call, at, arrived_at=at - c.age_s)
    calls.link_up = True
    calls.lost_at = None
    steps += _carry_out_deferred(calls)
    return steps


def _take_caller(
    calls: PhoneCalls,
    contact: CoreContact,
    chan: LiveChannel | None,
    legs_of: Mapping[str, list[LiveChannel]],
    bridged: Mapping[str, list[LiveChannel]],
    at: float,
    gone_at: float,
    noted: EndedCall | None = None,
) -> list[Step]:
    uid = contact.contact_id
    call = calls.calls.get(uid)
    if chan is None:
        if call is not None:
            calls._close(call)
        calls._remember_hung_up(uid)
        return _gone(calls, contact, noted, at, gone_at)
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
        calls.calls[uid] = call
    call.in_core, call.closed, call.channel = True, False, chan.channel
    calls.by_contact[uid] = call
    peer = (
        next((c for c in bridged.get(chan.bridge_id, ()) if c is not chan), None)
        if chan.bridge_id
        else None
    )
    with_agent = calls.lines.get(peer.device) if peer is not None else None
    ringing = next(
        (leg for leg in legs_of.get(uid, ()) if not leg.bridge_id and leg.uniqueid != uid), None
    )
    ringing_line = calls.lines.get(ringing.device) if ringing is not None else None
    if contact.state == "in_service":
        call.state, call.agent_id = TALKING, contact.agent_id
        return []
    if with_agent is not None and with_agent.agent_id != contact.agent_id:
        return _taken_meanwhile(calls, call, contact, with_agent, at)
    if contact.state == "offered" and contact.agent_id is not None:
        call.state, call.agent_id = RINGING, contact.agent_id
        if with_agent is not None and with_agent.agent_id == contact.agent_id:
            # Answered while away; the core's overdue ring timer may fire first: a takeover
            # holds either way (an answer, or in service with the agent it paused).
            call.state = TALKING
            return [ev.ContactTakenOver(at=at, contact_id=uid, agent_id=contact.agent_id)]
        if ringing_line is not None and ringing_line.agent_id == contact.agent_id:
            call.redirected = call.dial_started = True  # its DialEnd will tell
            return []
        if (
            chan.context == calls.contexts.agent
            and chan.exten == calls.by_agent[contact.agent_id].exten
        ):
            call.redirected = True
            return []
        if call.redirected and call.dial_started:
            return calls._dial_failed(call, "NOANSWER", at)  # rang and came back while away
        call.redirected = call.dial_started = False  # the Redirect never ran: sent below
        return []
    call.state, call.agent_id = QUEUED, None
    call.redirected = call.dial_started = False
    if ringing_line is not None or chan.context == calls.contexts.agent:
        # The core took the offer back while away; Asterisk still rings that phone.
        return [Redirect(chan.channel, calls.contexts.holding, "s", uid, None)]
    return []


def _gone(
    calls: PhoneCalls, contact: CoreContact, noted: EndedCall | None, at: float, gone_at: float
) -> list[Step]:
    """A caller Asterisk no longer has: the contact ends as the dialplan noted it, else approximately."""
    uid = contact.contact_id
    if noted is None:
        calls.gone_while_away.append((uid, gone_at))
        if contact.state == "in_service":
            return [ev.ContactCompleted(at=at, contact_id=uid, left_at=gone_at, approximate=True)]
        return [ev.ContactAbandoned(at=at, contact_id=uid, left_at=gone_at, approximate=True)]
    calls.ended_as_noted += 1
    left_at = min(noted.at, at)
    if contact.state == "in_service":
        return [ev.ContactCompleted(at=at, contact_id=uid, left_at=left_at)]
    line = calls.by_resource.get(noted.peer) if noted.answered else None
    if line is None:
        return [ev.ContactAbandoned(at=at, contact_id=uid, left_at=left_at)]
    # Answered and over while away: served by that agent (a takeover holds even if the core's
    # overdue ring timer fires first); the core learns both now, so the history's answer and
    # end times are estimates. Abandoned in service is completed, served; if the takeover is
    # refused, the contact still ends.
    calls.gone_while_away.append((uid, left_at))
    return [
        ev.ContactTakenOver(at=at, contact_id=uid, agent_id=line.agent_id),
        ev.ContactAbandoned(at=at, contact_id=uid, left_at=left_at, approximate=True),
    ]


def _taken_meanwhile(
    calls: PhoneCalls, call: PhoneCall, contact: CoreContact, line: AgentLine, at: float
) -> list[Step]:
    """Asterisk bridged the caller with ``line``'s agent while the core did not see it.

    The core's ring timer fired while the link was down and took the offer back (or
    offered the caller to someone else). The caller is never taken from the agent
    talking to them: a waiting contact is taken over by that agent (``ContactTakenOver``,
    in service, served when they hang up) and followed as talking; one the core still
    offers to another agent ends served, and its channel is no longer followed.
    """
    if contact.state == "waiting":
        call.state, call.agent_id = TALKING, line.agent_id
        call.redirected = call.dial_started = True
        return [ev.ContactTakenOver(at=at, contact_id=call.uniqueid, agent_id=line.agent_id)]
    calls.problems.add(
        "taken_meanwhile", f"{call.uniqueid} talks to {line.agent_id} (core: {contact.state})"
    )
    calls._close(call)
    call.closed = True
    call.in_core = False
    calls._remember_hung_up(call.uniqueid)
    if contact.state == "offered":
        return [ev.ContactCompleted(at=at, contact_id=call.uniqueid)]
    return [ev.ContactAbandoned(at=at, contact_id=call.uniqueid)]


def _take_callback(
    calls: PhoneCalls,
    contact: CoreContact,
    live: Mapping[str, LiveChannel],
    at: float,
    gone_at: float,
) -> list[Step]:
    prefix = contact.contact_id + "."
    leg = next((c for uid, c in live.items() if uid.startswith(prefix)), None)
    call = calls.by_contact.get(contact.contact_id)
    if leg is None:
        if call is not None:
            calls._close(call)
        if contact.state == "in_service":
            calls.gone_while_away.append((contact.contact_id, gone_at))
            return [
                ev.ContactCompleted(
                    at=at, contact_id=contact.contact_id, left_at=gone_at, approximate=True
                )
            ]
        if contact.state == "offered" and contact.agent_id is not None and call is None:
            line = calls.by_agent.get(contact.agent_id)
            number = calls.callback_numbers.get(contact.contact_id)
            if line is not None and number:
                calls.deferred.append(
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
        calls.calls[leg.uniqueid] = call
        calls.by_contact[contact.contact_id] = call
    if contact.state == "in_service":
        call.state = TALKING
        call.citizen_answered = call.citizen_answered or bool(leg.bridge_id)
        return []
    call.state = RINGING
    if leg.context == calls.contexts.callback:
        return calls._answered(call, at)
    return []


def _carry_out_deferred(calls: PhoneCalls) -> list[Step]:
    steps: list[Step] = []
    offers, calls.deferred = calls.deferred, []
    for offer in offers:
        steps += calls._originate(offer)
    for call in list(calls.by_contact.values()):
        if (
            call.state == RINGING
            and not call.redirected
            and call.callback_id is None
            and call.agent_id
        ):
            line = calls.by_agent[call.agent_id]
            call.redirected = True
            steps.append(
                Redirect(
                    call.channel, calls.contexts.agent, line.exten, call.uniqueid, call.agent_id
                )
            )
    return steps
