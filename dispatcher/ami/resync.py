"""The resynchronisation after each AMI login: read what Asterisk holds, hand it to the machine.

After a (re)connection, the dispatcher may have missed any event (the link
was down, or the dispatcher itself was killed and restarted from its stream).
``read_asterisk`` asks Asterisk for its device states (``DeviceStateList``),
its channels (``CoreShowChannels``: context, application, bridge and linked
channel of each) and, for the callers holding that the phone side does not
follow yet, the IVR's variables (``Getvar``); ``read_ended`` what the dialplan
noted of the callers that hung up meanwhile (AstDB, ``DBGet``: when, answered
or not); ``core_contacts`` lists the phone and callback contacts the core
holds open. ``PhoneCalls.resync`` then
takes over every channel and closes every contact Asterisk no longer has.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterable
from typing import Any

from dispatcher.ami.calls import PhoneCalls
from dispatcher.ami.model import CoreContact, EndedCall, LiveChannel
from dispatcher.ami.protocol import AmiManager
from skills.model import Channel

IVR_VARIABLES = ("GUICHET_PROCESS", "GUICHET_CITIZEN")
ENDED_FAMILY = "guichet"
"""The AstDB family where the dialplan notes each caller's hang-up (``[guichet-ended]``)."""


async def read_asterisk(
    manager: AmiManager, calls: PhoneCalls
) -> tuple[dict[str, str], list[LiveChannel]]:
    """Asterisk's device states and channels now (raises ``AmiDisconnected`` if the link drops)."""
    devices: dict[str, str] = {}
    for item in items(
        await manager.send_action({"Action": "DeviceStateList"}), "DeviceStateChange"
    ):
        device, state = item.get("Device"), item.get("State")
        if isinstance(device, str) and isinstance(state, str):
            devices[device] = state
    channels: list[LiveChannel] = []
    for item in items(await manager.send_action({"Action": "CoreShowChannels"}), "CoreShowChannel"):
        chan = live_channel(item)
        if chan is not None:
            channels.append(chan)
    # The IVR's variables of the callers holding that are not followed yet, all asked at once
    # (one round trip, not two per caller: the link stays blind for less time).
    unknown = [
        i
        for i, chan in enumerate(channels)
        if chan.context == calls.contexts.holding
        and chan.uniqueid not in calls.calls
        and chan.device not in calls.lines
    ]
    replies = await asyncio.gather(
        *(
            manager.send_action(
                {"Action": "Getvar", "Channel": channels[i].channel, "Variable": name}
            )
            for i in unknown
            for name in IVR_VARIABLES
        )
    )
    for n, i in enumerate(unknown):
        process, citizen = (
            str(reply.get("Value") or "") if getattr(reply, "success", False) else ""
            for reply in replies[2 * n : 2 * n + 2]
        )
        channels[i] = dataclasses.replace(
            channels[i], process=process.strip() or None, citizen_id=citizen or None
        )
    return devices, channels


async def read_ended(manager: AmiManager, uniqueids: Iterable[str]) -> dict[str, EndedCall]:
    """What the dialplan noted of these callers' hang-ups (AstDB ``guichet/<uniqueid>``), all asked at once."""
    uids = list(uniqueids)
    replies = await asyncio.gather(
        *(manager.send_action({"Action": "DBGet", "Family": ENDED_FAMILY, "Key": uid}) for uid in uids)
    )
    out: dict[str, EndedCall] = {}
    for uid, reply in zip(uids, replies, strict=True):
        for item in items(reply, "DBGetResponse"):
            ended = EndedCall.parse(str(item.get("Val") or ""))
            if ended is not None:
                out[uid] = ended
    return out


def live_channel(item: Any) -> LiveChannel | None:
    """A ``CoreShowChannel`` item as a ``LiveChannel`` (None without a Uniqueid)."""
    uid = item.get("Uniqueid")
    if not uid:
        return None
    return LiveChannel(
        uniqueid=str(uid),
        channel=str(item.get("Channel") or ""),
        context=str(item.get("Context") or ""),
        exten=str(item.get("Exten") or ""),
        application=str(item.get("Application") or ""),
        bridge_id=str(item.get("BridgeId") or ""),
        linkedid=str(item.get("Linkedid") or uid),
        age_s=duration(str(item.get("Duration") or "")),
        caller=_known(item.get("CallerIDNum")),
        caller_name=_known(item.get("CallerIDName")),
        language=_known(item.get("Language")),
    )


def core_contacts(router: Any) -> list[CoreContact]:
    """The phone and callback contacts the core holds open (``dispatcher.router.Router``)."""
    out = []
    for record in router.contacts.values():
        if record.channel not in (Channel.PHONE, Channel.CALLBACK):
            continue
        state = getattr(record.state, "value", str(record.state))
        if state == "ended":
            continue
        out.append(CoreContact(record.contact_id, record.channel, state, record.agent_id))
    return out


def items(messages: Any, event: str) -> Iterable[Any]:
    """The items called ``event`` of an event list answer."""
    if not isinstance(messages, list):
        return []
    return [m for m in messages if m.get("Event") == event]


def duration(text: str) -> float:
    """Seconds of an ``HH:MM:SS`` duration (0 if unreadable)."""
    try:
        h, m, s = (int(x) for x in text.split(":"))
    except ValueError:
        return 0.0
    return float(h * 3600 + m * 60 + s)


def _known(value: Any) -> str | None:
    return None if value in (None, "", "<unknown>") else str(value)
