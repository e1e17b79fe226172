"""AMI frames exactly as Asterisk 22 writes them (field order, Privilege, CRLF).

Each function returns the bytes of one frame, separator included, in the
layout of the captures in ``tests/data/ami-transcripts/``: the event line,
``Privilege``, the channel's 14 standard headers (``Dest``-prefixed for the
dialled leg), the bridge's 7 headers, then the event's own fields. A
channel's header block is cached on the channel until one of its fields
changes (``Chan.touch()``), which keeps the fake fast enough to feed the
AMI benchmark.
"""

from __future__ import annotations

from typing import Protocol

BANNER = b"Asterisk Call Manager/11.0.0\r\n"

STATE_DESC = {
    0: "Down",
    1: "Rsrvd",
    2: "OffHook",
    3: "Dialing",
    4: "Ring",
    5: "Ringing",
    6: "Up",
    7: "Busy",
}

CALL, DIALPLAN, AGI, DTMF, REPORTING, SYSTEM, SECURITY = (
    "call,all",
    "dialplan,all",
    "agi,all",
    "dtmf,all",
    "reporting,all",
    "system,all",
    "security,all",
)


class ChannelLike(Protocol):
    name: str
    state: int
    caller_num: str
    caller_name: str
    connected_num: str
    connected_name: str
    language: str
    context: str
    exten: str
    priority: int
    uniqueid: str
    linkedid: str
    block: str | None
    dest_block: str | None


def channel_block(c: ChannelLike) -> str:
    """The 14 channel headers, each line ended by CRLF (cached on the channel)."""
    block = c.block
    if block is None:
        block = c.block = (
            f"Channel: {c.name}\r\nChannelState: {c.state}\r\n"
            f"ChannelStateDesc: {STATE_DESC.get(c.state, 'Unknown')}\r\n"
            f"CallerIDNum: {c.caller_num}\r\nCallerIDName: {c.caller_name}\r\n"
            f"ConnectedLineNum: {c.connected_num}\r\nConnectedLineName: {c.connected_name}\r\n"
            f"Language: {c.language}\r\nAccountCode: \r\nContext: {c.context}\r\n"
            f"Exten: {c.exten}\r\nPriority: {c.priority}\r\n"
            f"Uniqueid: {c.uniqueid}\r\nLinkedid: {c.linkedid}\r\n"
        )
    return block


def dest_block(c: ChannelLike) -> str:
    """The dialled leg's headers, ``Dest``-prefixed (DialBegin, DialState, DialEnd)."""
    block = c.dest_block
    if block is None:
        block = c.dest_block = "".join(
            "Dest" + line + "\r\n" for line in channel_block(c).split("\r\n") if line
        )
    return block


def event(
    name: str, privilege: str | None, chan: ChannelLike | None = None, fields: str = ""
) -> bytes:
    """One event frame; ``fields`` are already-rendered ``Key: Value\\r\\n`` lines."""
    head = f"Event: {name}\r\n"
    if privilege is not None:
        head += f"Privilege: {privilege}\r\n"
    if chan is not None:
        head += channel_block(chan)
    return (head + fields + "\r\n").encode("utf-8")


# ------------------------------------------------------------------ channel events


def newchannel(c: ChannelLike) -> bytes:
    return event("Newchannel", CALL, c)


def newstate(c: ChannelLike) -> bytes:
    return event("Newstate", CALL, c)


def varset(c: ChannelLike, variable: str, value: str) -> bytes:
    return event("VarSet", DIALPLAN, c, f"Variable: {variable}\r\nValue: {value}\r\n")


def newexten(c: ChannelLike, app: str, data: str) -> bytes:
    return event(
        "Newexten",
        DIALPLAN,
        c,
        f"Extension: {c.exten}\r\nApplication: {app}\r\nAppData: {data}\r\n",
    )


def newcallerid(c: ChannelLike) -> bytes:
    return event(
        "NewCallerid", CALL, c, "CID-CallingPres: 0 (Presentation Allowed, Not Screened)\r\n"
    )


def newconnectedline(c: ChannelLike) -> bytes:
    return event("NewConnectedLine", CALL, c)


def device_state(device: str, state: str) -> bytes:
    return f"Event: DeviceStateChange\r\nPrivilege: call,all\r\nDevice: {device}\r\nState: {state}\r\n\r\n".encode(
        "utf-8"
    )


def agi_exec_start(c: ChannelLike, command_id: int, command: str) -> bytes:
    return event("AGIExecStart", AGI, c, f"CommandId: {command_id}\r\nCommand: {command}\r\n")


def agi_exec_end(
    c: ChannelLike, command_id: int, command: str, code: int = 200, result: str = "Success"
) -> bytes:
    return event(
        "AGIExecEnd",
        AGI,
        c,
        f"CommandId: {command_id}\r\nCommand: {command}\r\nResultCode: {code}\r\nResult: {result}\r\n",
    )


def dtmf_begin(c: ChannelLike, digit: str, direction: str = "Received") -> bytes:
    return event("DTMFBegin", DTMF, c, f"Digit: {digit}\r\nDirection: {direction}\r\n")


def dtmf_end(
    c: ChannelLike, digit: str, direction: str = "Received", duration_ms: int = 280
) -> bytes:
    return event(
        "DTMFEnd",
        DTMF,
        c,
        f"Digit: {digit}\r\nDurationMs: {duration_ms}\r\nDirection: {direction}\r\n",
    )


def moh_start(c: ChannelLike, klass: str = "default") -> bytes:
    return event("MusicOnHoldStart", CALL, c, f"Class: {klass}\r\n")


def moh_stop(c: ChannelLike) -> bytes:
    return event("MusicOnHoldStop", CALL, c)


def dial(name: str, caller: ChannelLike, dest: ChannelLike, tail: str) -> bytes:
    return (
        f"Event: {name}\r\nPrivilege: call,all\r\n"
        + channel_block(caller)
        + dest_block(dest)
        + tail
        + "\r\n"
    ).encode("utf-8")


def dial_begin(caller: ChannelLike, dest: ChannelLike, dial_string: str) -> bytes:
    return dial("DialBegin", caller, dest, f"DialString: {dial_string}\r\n")


def dial_state(caller: ChannelLike, dest: ChannelLike, status: str) -> bytes:
    return dial("DialState", caller, dest, f"DialStatus: {status}\r\n")


def dial_end(caller: ChannelLike, dest: ChannelLike, status: str) -> bytes:
    return dial("DialEnd", caller, dest, f"DialStatus: {status}\r\n")


def bridge_block(bridge_id: str, technology: str, count: int) -> str:
    return (
        f"BridgeUniqueid: {bridge_id}\r\nBridgeType: basic\r\nBridgeTechnology: {technology}\r\n"
        f"BridgeCreator: <unknown>\r\nBridgeName: <unknown>\r\nBridgeNumChannels: {count}\r\n"
        "BridgeVideoSourceMode: none\r\n"
    )


def bridge_event(
    name: str, bridge_id: str, technology: str, count: int, c: ChannelLike | None = None
) -> bytes:
    body = f"Event: {name}\r\nPrivilege: call,all\r\n" + bridge_block(bridge_id, technology, count)
    if c is not None:
        body += channel_block(c)
    return (body + "\r\n").encode("utf-8")


SIP_CAUSES = {17: 486, 19: 480}
"""Hangup causes that come from a phone's SIP answer, and that answer (``TechCause``)."""


def _tech(cause: int) -> str:
    tech = SIP_CAUSES.get(cause)
    return f"TechCause: {tech}\r\n" if tech is not None else ""


def hangup_request(c: ChannelLike, cause: int | None = None) -> bytes:
    fields = "" if cause is None else f"Cause: {cause}\r\n" + _tech(cause)
    return event("HangupRequest", CALL, c, fields)


def soft_hangup_request(c: ChannelLike, cause: int = 16) -> bytes:
    return event("SoftHangupRequest", CALL, c, f"Cause: {cause}\r\n")


CAUSE_TEXT = {
    0: "Unknown",
    16: "Normal Clearing",
    17: "User busy",
    18: "No user responding",
    19: "User alerting, no answer",
    20: "Subscriber absent",
    21: "Call Rejected",
}


def hangup(c: ChannelLike, cause: int) -> bytes:
    return event(
        "Hangup",
        CALL,
        c,
        f"Cause: {cause}\r\nCause-txt: {CAUSE_TEXT.get(cause, 'Unknown')}\r\n" + _tech(cause),
    )


def rtcp_sent(c: ChannelLike, ntp: float, packets: int, ssrc: int, report: bool = True) -> bytes:
    sender = (
        f"PT: 200(SR)\r\nReportCount: 1\r\nSentNTP: {ntp:.6f}\r\nSentRTP: {packets * 160}\r\n"
        f"SentPackets: {packets}\r\nSentOctets: {packets * 160}\r\n"
        if report
        else "PT: 201(RR)\r\nReportCount: 1\r\n"
    )
    return event(
        "RTCPSent",
        REPORTING,
        c,
        f"To: 127.0.0.1:7001\r\nFrom: 127.0.0.1:20691\r\nMES: 88.1\r\nSSRC: 0x{ssrc:08x}\r\n"
        + sender
        + "Report0SourceSSRC: 0x0e05384e\r\nReport0FractionLost: 0\r\nReport0CumulativeLost: 0\r\n"
        "Report0HighestSequence: 8049\r\nReport0SequenceNumberCycles: 0\r\nReport0IAJitter: 0\r\n"
        "Report0LSR: 0\r\nReport0DLSR: 0.0000\r\n",
    )


RTP_QOS = (
    (
        "RTPAUDIOQOS",
        "ssrc={ssrc};themssrc=235223118;lp=0;rxjitter=0.000000;rxcount=10;txjitter=0.000000;"
        "txcount={tx};rlp=0;rtt=0.000000;rxmes=0.000000;txmes=88.087887",
    ),
    (
        "RTPAUDIOQOSJITTER",
        "minrxjitter=000.000000;maxrxjitter=000.000000;avgrxjitter=000.000000;"
        "stdevrxjitter=000.000000;mintxjitter=000.000000;maxtxjitter=000.000000;"
        "avgtxjitter=000.000000;stdevtxjitter=000.000000;",
    ),
    (
        "RTPAUDIOQOSLOSS",
        "  minrxlost=000.000000;  maxrxlost=000.000000;  avgrxlost=000.000000;"
        "  stdevrxlost=000.000000;  mintxlost=000.000000;  maxtxlost=000.000000;"
        "  avgtxlost=000.000000;  stdevtxlost=000.000000;",
    ),
    (
        "RTPAUDIOQOSRTT",
        "     minrtt=000.000000;     maxrtt=000.000000;     avgrtt=000.000000;"
        "     stdevrtt=000.000000;",
    ),
    (
        "RTPAUDIOQOSMES",
        "   minrxmes=088.087887;   maxrxmes=088.087887;   avgrxmes=088.087887;"
        "   stdevrxmes=000.000000;   mintxmes=000.000000;   maxtxmes=000.000000;"
        "   avgtxmes=000.000000;   stdevtxmes=000.000000;",
    ),
)


def rtp_qos(c: ChannelLike, ssrc: int, tx: int, suffix: str = "") -> list[bytes]:
    """The RTP quality VarSets Asterisk writes when a media session ends."""
    return [varset(c, name + suffix, value.format(ssrc=ssrc, tx=tx)) for name, value in RTP_QOS]


# ------------------------------------------------------------------ responses and lists


def response(
    action_id: str | None, status: str = "Success", message: str | None = None, **more: object
) -> bytes:
    body = f"Response: {status}\r\n"
    if action_id is not None:
        body += f"ActionID: {action_id}\r\n"
    for key, value in more.items():
        body += f"{key}: {value}\r\n"
    if message is not None:
        body += f"Message: {message}\r\n"
    return (body + "\r\n").encode("utf-8")


def list_start(action_id: str | None, message: str) -> bytes:
    aid = f"ActionID: {action_id}\r\n" if action_id is not None else ""
    return f"Response: Success\r\n{aid}EventList: start\r\nMessage: {message}\r\n\r\n".encode(
        "utf-8"
    )


def list_complete(name: str, action_id: str | None, count: int) -> bytes:
    aid = f"ActionID: {action_id}\r\n" if action_id is not None else ""
    return f"Event: {name}\r\n{aid}EventList: Complete\r\nListItems: {count}\r\n\r\n".encode(
        "utf-8"
    )


def list_device_state(action_id: str | None, device: str, state: str) -> bytes:
    aid = f"ActionID: {action_id}\r\n" if action_id is not None else ""
    return f"Event: DeviceStateChange\r\n{aid}Device: {device}\r\nState: {state}\r\n\r\n".encode(
        "utf-8"
    )


def peer_status(endpoint: str, status: str) -> bytes:
    """``PeerStatus`` of a PJSIP endpoint (Reachable / Unreachable), as agent-unreachable-qualify.txt."""
    return event(
        "PeerStatus",
        SYSTEM,
        None,
        f"ChannelType: PJSIP\r\nPeer: {endpoint}\r\nPeerStatus: {status}\r\n",
    )


def contact_status(resource: str, port: int, status: str, rtt_usec: int = 0) -> bytes:
    """``ContactStatus`` of an agent's AOR (NonQualified, Reachable, Unreachable, Removed)."""
    return event(
        "ContactStatus",
        SYSTEM,
        None,
        f"URI: sip:{resource}@127.0.0.1:{port}\r\nContactStatus: {status}\r\n"
        f"AOR: {resource}\r\nEndpointName: {resource}\r\nRoundtripUsec: {rtt_usec}\r\n",
    )


def list_dialplan(
    action_id: str | None, context: str, exten: str, priority: int, app: str, data: str
) -> bytes:
    aid = f"ActionID: {action_id}\r\n" if action_id is not None else ""
    return (
        f"Event: ListDialplan\r\n{aid}Context: {context}\r\nExtension: {exten}\r\n"
        f"Priority: {priority}\r\nApplication: {app}\r\nAppData: {data}\r\n"
        "Registrar: pbx_config\r\n\r\n"
    ).encode("utf-8")


def show_dialplan_complete(
    action_id: str | None, items: int, extensions: int, contexts: int
) -> bytes:
    aid = f"ActionID: {action_id}\r\n" if action_id is not None else ""
    return (
        f"Event: ShowDialPlanComplete\r\n{aid}EventList: Complete\r\nListItems: {items}\r\n"
        f"ListExtensions: {extensions}\r\nListPriorities: {items}\r\nListContexts: {contexts}\r\n\r\n"
    ).encode("utf-8")


def core_show_channel(
    action_id: str | None, c: ChannelLike, app: str, app_data: str, duration: str, bridge_id: str
) -> bytes:
    aid = f"ActionID: {action_id}\r\n" if action_id is not None else ""
    return (
        f"Event: CoreShowChannel\r\n{aid}"
        + channel_block(c)
        + f"Application: {app}\r\nApplicationData: {app_data}\r\nDuration: {duration}\r\nBridgeId: {bridge_id}\r\n\r\n"
    ).encode("utf-8")


def fully_booted(uptime: int, booting: bool = False) -> bytes:
    """At Login (login.txt); ``booting``: at the end of the boot, fields in that order (shutdown-restart.txt)."""
    if booting:
        fields = f"Status: Fully Booted\r\nUptime: {uptime}\r\nLastReload: {uptime}\r\n"
    else:
        fields = f"Uptime: {uptime}\r\nLastReload: {uptime}\r\nStatus: Fully Booted\r\n"
    return event("FullyBooted", SYSTEM, None, fields)


def shutdown(restart: bool) -> bytes:
    return event(
        "Shutdown",
        SYSTEM,
        None,
        f"Shutdown: Cleanly\r\nRestart: {'True' if restart else 'False'}\r\n",
    )


def global_varset(variable: str, value: str) -> bytes:
    """A dialplan global set at boot: ``Channel: none``, ``Uniqueid: none``."""
    return event(
        "VarSet",
        DIALPLAN,
        None,
        f"Channel: none\r\nUniqueid: none\r\nVariable: {variable}\r\nValue: {value}\r\n",
    )


def successful_auth(account: str, session_id: str, local: str, remote: str, tv: str) -> bytes:
    return event(
        "SuccessfulAuth",
        SECURITY,
        None,
        f"EventTV: {tv}\r\nSeverity: Informational\r\nService: AMI\r\nEventVersion: 1\r\n"
        f"AccountID: {account}\r\nSessionID: {session_id}\r\nLocalAddress: IPV4/TCP/{local}\r\n"
        f"RemoteAddress: IPV4/TCP/{remote}\r\nUsingPassword: 0\r\nSessionTV: {tv}\r\n",
    )


def originate_response(
    action_id: str | None,
    ok: bool,
    channel: str,
    uniqueid: str,
    context: str,
    exten: str,
    reason: int,
) -> bytes:
    """As originate-callback.txt / originate-failures.txt: a failure names the dial string
    (``PJSIP/agent105``) and ``Uniqueid: <unknown>``."""
    aid = f"ActionID: {action_id}\r\n" if action_id is not None else ""
    return (
        f"Event: OriginateResponse\r\nPrivilege: call,all\r\n{aid}Response: {'Success' if ok else 'Failure'}\r\n"
        f"Channel: {channel}\r\nContext: {context}\r\nExten: {exten}\r\n"
        f"Reason: {reason}\r\nUniqueid: {uniqueid}\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\n\r\n"
    ).encode("utf-8")
