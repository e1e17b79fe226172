"""The AMI server of the fake Asterisk: banner, Login, actions, event stream.

Speaks as Asterisk 22 does in the captures: ``Asterisk Call Manager/11.0.0``,
``Response`` frames carrying the action's ``ActionID``, event lists
(``EventList: start`` ... ``<Name>Complete``), and events filtered by the
user's ``read`` classes and ``eventfilter`` lines of manager.conf; actions
refused without the right ``write`` class, as Asterisk does.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from dispatcher.fake_asterisk import frames as fr
from dispatcher.fake_asterisk.config_files import asterisk_config_dir
from dispatcher.fake_asterisk.pbx import PBX

log = logging.getLogger(__name__)

MANAGER_CONF = asterisk_config_dir() / "manager.conf"

ACTION_CLASSES: dict[str, frozenset[str] | None] = {
    "login": None,
    "logoff": None,
    "ping": None,
    "challenge": None,
    "events": None,
    "redirect": frozenset({"call"}),
    "hangup": frozenset({"system", "call"}),
    "originate": frozenset({"originate"}),
    "coreshowchannels": frozenset({"system", "reporting"}),
    "devicestatelist": frozenset({"call", "reporting"}),
    "showdialplan": frozenset({"config", "reporting"}),
    "getvar": frozenset({"call", "reporting"}),
    "setvar": frozenset({"call"}),
    "dbget": frozenset({"system", "reporting"}),
    "dbput": frozenset({"system"}),
    "dbdel": frozenset({"system"}),
    "dbdeltree": frozenset({"system"}),
    "command": frozenset({"command"}),
    "status": frozenset({"system", "call", "reporting"}),
    "queueadd": frozenset({"agent"}),
    "reload": frozenset({"system", "config"}),
}


@dataclass
class ManagerUser:
    """One ``[user]`` of manager.conf."""

    name: str
    secret: str
    read: frozenset[str] = frozenset({"all"})
    write: frozenset[str] = frozenset({"all"})
    filters: list[tuple[bool, re.Pattern[bytes]]] = field(default_factory=list)

    @property
    def everything(self) -> bool:
        """Reads every event unfiltered (read=all, no eventfilter)."""
        return "all" in self.read and not self.filters

    def may_read(self, privilege: bytes) -> bool:
        if "all" in self.read:
            return True
        return privilege.decode("ascii", "replace").split(",")[0] in self.read

    def may_write(self, action: str) -> bool:
        needed = ACTION_CLASSES.get(action, frozenset({"system"}))
        if needed is None:  # login, logoff, ping...: no class needed
            return True
        return "all" in self.write or bool(needed & self.write)

    def passes(self, frame: bytes) -> bool:
        """Asterisk's eventfilter: any include must match (if there are some), no exclude may."""
        if not self.filters:
            return True
        includes = [rx for keep, rx in self.filters if keep]
        if includes and not any(rx.search(frame) for rx in includes):
            return False
        return not any(rx.search(frame) for keep, rx in self.filters if not keep)


def users_from_manager_conf(
    secrets: dict[str, str], path: Path = MANAGER_CONF
) -> dict[str, ManagerUser]:
    """The users of manager.conf (read, write, eventfilter), with their secrets given here."""
    users: dict[str, ManagerUser] = {}
    section = None
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split(";", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line[1 : line.index("]")]
            if section != "general":
                users[section] = ManagerUser(section, secrets.get(section, ""))
            continue
        if section in (None, "general"):
            continue
        key, _, value = line.partition("=")
        key, value = key.strip().lower(), value.strip()
        user = users[section]
        if key == "read":
            user.read = frozenset(v.strip() for v in value.split(","))
        elif key == "write":
            user.write = frozenset(v.strip() for v in value.split(","))
        elif key == "eventfilter":
            keep = not value.startswith("!")
            user.filters.append((keep, re.compile(value.lstrip("!").encode("utf-8"))))
    return users


class AmiSession(asyncio.Protocol):
    """One manager connection."""

    def __init__(self, server: AmiServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.pending: list[bytes] = []
        self.user: ManagerUser | None = None
        self.events = True
        self.closed = False
        self.writable = asyncio.Event()
        self.writable.set()
        self.out: list[bytes] = []
        self.flush_scheduled = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's transports are not asyncio.Transport subclasses
        self.transport = transport
        if self.server.refusing:
            transport.abort()
            self.closed = True
            return
        self.server.sessions.add(self)
        transport.write(fr.BANNER)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.writable.set()
        self.server.sessions.discard(self)

    def pause_writing(self) -> None:
        self.writable.clear()

    def resume_writing(self) -> None:
        self.writable.set()

    def write(self, data: bytes) -> None:
        """Queue bytes for the client; they leave together at the end of this turn of the loop.

        Asterisk too writes a burst of events per system call, not one call per event.
        """
        if self.closed or self.transport is None:
            return
        self.out.append(data)
        if not self.flush_scheduled:
            self.flush_scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        self.flush_scheduled = False
        transport = self.transport
        if transport is not None and transport.is_closing():
            self.closed = True  # the client went away: write nothing more
        if self.out and not self.closed and transport is not None:
            data = b"".join(self.out)
            self.out.clear()
            transport.write(data)
        else:
            self.out.clear()

    def data_received(self, data: bytes) -> None:
        """Lines end with CRLF or LF; an empty line ends an action, as Asterisk reads them."""
        *complete, self.buffer = (self.buffer + data).split(b"\n")
        if len(self.buffer) > 65536:
            self.buffer = b""
        for raw in complete:
            line = raw.rstrip(b"\r")
            if line:
                self.pending.append(line)
                continue
            if not self.pending:
                continue
            headers: dict[str, list[str]] = {}
            for item in self.pending:
                key, sep, value = item.decode("utf-8", "replace").partition(":")
                if sep:
                    headers.setdefault(key.strip().lower(), []).append(value.strip())
            self.pending = []
            if headers and not self.closed:
                self.server.handle(self, headers)


class AmiServer:
    """Accepts manager connections and broadcasts the PBX's events to them."""

    def __init__(self, pbx: PBX, users: dict[str, ManagerUser]) -> None:
        self.pbx = pbx
        self.users = users
        self.sessions: set[AmiSession] = set()
        self.refusing = False
        self.server: asyncio.base_events.Server | None = None
        self.actions_seen: list[dict[str, list[str]]] = []
        self.booting = False
        """Just restarted: the next Login sees the end of the boot."""
        self.on_action: Callable[[str, dict[str, list[str]]], None] | None = None

    async def start(self, host: str, port: int) -> int:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(lambda: AmiSession(self), host, port)
        return self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self.cut()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def drained(self) -> None:
        """Wait while a manager client is slower than the events (its socket buffer is full)."""
        for session in list(self.sessions):
            if not session.writable.is_set():
                await session.writable.wait()
        await asyncio.sleep(0)

    def cut(self) -> None:
        """Drop every manager connection at once (as a network failure or a restart would)."""
        for session in list(self.sessions):
            session.closed = True
            session.out.clear()
            if session.transport is not None:
                session.transport.abort()
        self.sessions.clear()

    def shutdown(self) -> None:
        """``core restart now``, after Event: Shutdown: the manager sockets close."""
        for session in list(self.sessions):
            session.flush()
            if session.transport is not None:
                session.transport.close()
        self.sessions.clear()
        self.booting = True

    def broadcast(self, frame: bytes) -> None:
        if not self.sessions:
            return
        privilege = b"all"
        start = frame.find(b"\r\nPrivilege: ", 0, 60)
        if start >= 0:
            end = frame.find(b"\r\n", start + 2)
            privilege = frame[start + 13 : end]
        for session in self.sessions:
            user = session.user
            if user is None or not session.events:
                continue
            if user.everything or (user.may_read(privilege) and user.passes(frame)):
                session.write(frame)

    # ------------------------------------------------------------ actions

    def handle(self, session: AmiSession, headers: dict[str, list[str]]) -> None:
        get = lambda key, default="": headers.get(key, [default])[0]  # noqa: E731
        action = get("action").lower()
        action_id = headers.get("actionid", [None])[0]
        self.actions_seen.append(headers)
        if not action:
            session.write(fr.response(action_id, "Error", "Missing action in request"))
            return
        if action == "login":
            self._login(session, headers, action_id)
            return
        if session.user is None:
            session.write(fr.response(action_id, "Error", "Authentication Required"))
            return
        if not session.user.may_write(action):
            session.write(fr.response(action_id, "Error", "Permission denied"))
            return
        handler = getattr(self, "action_" + action, None)
        if handler is None:
            session.write(fr.response(action_id, "Error", "Invalid/unknown command"))
            return
        if self.on_action is not None:
            self.on_action(action, headers)
        handler(session, headers, action_id, get)

    def _login(
        self, session: AmiSession, headers: dict[str, list[str]], action_id: str | None
    ) -> None:
        name = headers.get("username", [""])[0]
        secret = headers.get("secret", [""])[0]
        user = self.users.get(name)
        if user is None or not user.secret or user.secret != secret:
            session.write(fr.response(action_id, "Error", "Authentication failed"))
            session.flush()
            if session.transport is not None:
                session.transport.close()
            return
        session.user = user
        events = headers.get("events", ["on"])[0].lower()
        session.events = events not in ("off", "no", "false", "0")
        session.write(fr.response(action_id, "Success", "Authentication accepted"))
        uptime = int(self.pbx.sched.now() - self.pbx.booted)
        booting = self.booting
        if not booting and session.events and user.may_read(b"system"):
            session.write(fr.fully_booted(uptime))
        if session.events and user.may_read(b"security") and session.transport is not None:
            local = "%s/%s" % session.transport.get_extra_info("sockname")[:2]
            remote = "%s/%s" % session.transport.get_extra_info("peername")[:2]
            tv = time.strftime("%Y-%m-%dT%H:%M:%S.000+0000", time.gmtime(self.pbx.sched.now()))
            session.write(fr.successful_auth(name, f"0x{id(session):x}", local, remote, tv))
        if booting:
            # Logged in while Asterisk still boots (shutdown-restart.txt): the dialplan's
            # globals are set on "Channel: none", then FullyBooted with Uptime 0.
            self.booting = False
            if session.events and user.may_read(b"dialplan"):
                for key, value in self.pbx.dialplan.globals.items():
                    session.write(fr.global_varset(key, value))
            if session.events and user.may_read(b"system"):
                session.write(fr.fully_booted(uptime, booting=True))

    def action_logoff(self, session, headers, action_id, get) -> None:  # type: ignore[no-untyped-def]
        session.write(fr.response(action_id, "Goodbye", "Thanks for all the fish."))
        session.flush()
        if session.transport is not None:
            session.transport.close()

    def action_ping(self, session, headers, action_id, get) -> None:  # type: ignore[no-untyped-def]
        session.write(
            fr.response(action_id, "Success", None, Ping="Pong", Timestamp=f"{time.time():.6f}")
        )

    def action_events(self, session, headers, action_id, get) -> None:  # type: ignore[no-untyped-def]
        mask = get("eventmask", "on").lower()
        session.events = mask not in ("off", "no", "false", "0")
        session.write(
            fr.response(action_id, "Success", None, Events="On" if session.events else "Off")
        )

    def _channel(self, session, name: str, action_id):  # type: ignore[no-untyped-def]
        chan = self.pbx.channels.get(name)
        if chan is None or not chan.alive:
            session.write(
                fr.response(
                    action_id, "Error", "No such channel" if name else "No channel specified"
                )
            )
            return None
        return chan

    def action_redirect(self, session, headers, action_id, get) -> None:  # type: ignore[no-untyped-def]
        """As redirect-errors.txt shows: a missing context or extension is accepted, then hangs up."""
        name = get("channel")
        chan = self.pbx.channels.get(name)
        if chan is None or not chan.alive:
            session.write(fr.response(action_id, "Error", f"Channel does not exist: {name}"))
            return
        context, exten, prio = get("context"), get("exten"), get("priority", "1")
        if not context:
            session.write(fr.response(action_id, "Error", "Context not specified"))
            return
        found = self.pbx.dialplan.find(context, exten)
        if prio.isdigit():
            number = int(prio)
        elif found is not None and prio in found.labels:
            number = found.labels[prio]
        else:
            session.write(fr.response(action_id, "Error", "Priority is invalid"))
            return
        session.write(fr.response(action_id, "Success", "Redirect successful"))
        self.pbx.redirect(chan, context, exten, number)

    def action_showdialplan(self, session, headers, action_id, get) -> None:  # type: ignore[no-untyped-def]
        """``ListDialplan`` items of a context (and extension, matched against its patterns)."""
        context, exten = get("context"), get("extension")
        plan = self.pbx.dialplan
        names = [context] if context else list(plan.contexts)
        if context and context not in plan.contexts:
            session.write(fr.response(action_id, "Error", f"Did not find context {context}"))
            return
        items = []
        for ctx in names:
            for ext in plan.contexts[ctx]:
                if exten and not ext.matches(exten):
                    continue
                for step in ext.steps.values():
                    items.append((ctx, ext.pattern, step))
        if exten and not items:
            session.write(
                fr.response(action_id, "Error", f"Did not find extension {exten}@{context}")
            )
            return
        session.write(fr.list_start(action_id, "DialPlan list will follow"))
        for ctx, pattern, step in items:
            session.write(
                fr.list_dialplan(action_id, ctx, pattern, step.priority, step.app, step.args)
            )
        extens = {(c, p) for c, p, _ in items}
        session.write(
            fr.show_dialplan_complete(
                action_id, len(items), len(extens), len({c for c, _ in extens})
            )
        )

    def action_hangup(self, session, headers, action_id, get) -> None:  # type: ignore[no-untyped-def]
        chan = self._channel(session, get("channel"), action_id)
        if chan is None:
            return
        session.write(fr.response(action_id, "Success", "Channel Hungup"))
        self.pbx.soft_hangup(chan)

    def action_getvar(self, session, headers, action_id, get) -> None:  # type: ignore[no-untyped-def]
        name = get("variable")
        chan_name = get("channel")
        if chan_name:
            chan = self._channel(session, chan_name, action_id)
            if chan is None:
                return
            value = self.pbx.var(chan, name)
        else:
            value = self.pbx.dialplan.globals.get(name)
        session.write(fr.response(action_id, "Success", None, Variable=name, Value=value or ""))

    def action_setvar(self, session, headers, action_id, get) -> None:  # type: ignore[no-untyped-def]
        chan = self._channel(session, get("channel"), action_id)
        if chan is None:
            return
        session.write(fr.response(action_id, "Success", "Variable Set"))
        self.pbx.set_var(chan, get("variable"), get("value"))

    def action_dbget(self, session, headers, action_id, get) -> None:  # type: ignore[no-untyped-def]
        family, key = get("family"), get("key")
        value = self.pbx.astdb.get(f"{family}/{key}")
        if not family or not key or value is None:
            session.write(fr.response(action_id, "Error", "Database entry not found"))
            return
        session.write(fr.list_start(action_id, "Result will follow"))
        aid = f"ActionID: {action_id}\r\n" if action_id is not None else ""
        session.write(fr.event("DBGetResponse", None, None, f"{aid}Family: {family}\r\nKey: {key}\r\nVal: {value}\r\n"))
        session.write(fr.list_complete("DBGetComplete", action_id, 1))

    def action_dbput(self, session, headers, action_id, get) -> None:  # type: ignore[no-untyped-def]
        self.pbx.astdb[f"{get('family')}/{get('key')}"] = get("val")
        session.write(fr.response(action_id, "Success", "Updated database successfully"))

    def action_dbdel(self, session, headers, action_id, get) -> None:  # type: ignore[no-untyped-def]
        if self.pbx.astdb.pop(f"{get('family')}/{get('key')}", None) is None:
            session.write(fr.response(action_id, "Error", "Database entry not found"))
        else:
            session.write(fr.response(action_id, "Success", "Key deleted successfully"))

    def action_dbdeltree(self, session, headers, action_id, get) -> None:  # type: ignore[no-untyped-def]
        prefix = "/".join(p for p in (get("family"), get("key")) if p) + "/"
        doomed = [k for k in self.pbx.astdb if k.startswith(prefix)]
        for k in doomed:
            del self.pbx.astdb[k]
        if doomed:
            session.write(fr.response(action_id, "Success", "Key tree deleted successfully"))
        else:
            session.write(fr.response(action_id, "Error", "Database entry not found"))

    def action_coreshowchannels(self, session, headers, action_id, get) -> None:  # type: ignore[no-untyped-def]
        chans = [c for c in self.pbx.channels.values() if c.alive]
        session.write(fr.list_start(action_id, "Channels will follow"))
        for c in chans:
            bridge = c.bridge.uniqueid if c.bridge is not None else ""
            session.write(
                fr.core_show_channel(action_id, c, c.app, c.app_data, self.pbx.duration(c), bridge)
            )
        session.write(fr.list_complete("CoreShowChannelsComplete", action_id, len(chans)))

    def action_devicestatelist(self, session, headers, action_id, get) -> None:  # type: ignore[no-untyped-def]
        states = dict(self.pbx.device_states)
        session.write(fr.list_start(action_id, "Device State Changes will follow"))
        for device, state in states.items():
            session.write(fr.list_device_state(action_id, device, state))
        session.write(fr.list_complete("DeviceStateListComplete", action_id, len(states)))

    def action_originate(self, session, headers, action_id, get) -> None:  # type: ignore[no-untyped-def]
        endpoint = get("channel")
        context, exten = get("context"), get("exten")
        prio = get("priority", "1")
        timeout_ms = get("timeout", "30000")
        caller_id = get("callerid")
        name, num = "", ""
        m = re.match(r'\s*"?([^"<]*)"?\s*<([^>]*)>', caller_id)
        if m:
            name, num = m.group(1).strip(), m.group(2).strip()
        else:
            num = caller_id
        variables = {}
        for item in headers.get("variable", []):
            for pair in item.split(","):
                k, _, v = pair.partition("=")
                if k:
                    variables[k.strip()] = v
        is_async = get("async", "false").lower() in ("true", "yes", "1")
        uniqueid = get("channelid") or None
        if self.pbx.dialplan.find(context, exten) is None:
            session.write(fr.response(action_id, "Error", "Extension does not exist."))
            return

        def done(ok: bool, chan, reason: int) -> None:  # type: ignore[no-untyped-def]
            if is_async:
                name = chan.name if ok and chan is not None else endpoint
                uid = chan.uniqueid if ok and chan is not None else "<unknown>"
                self.broadcast_to(
                    session,
                    fr.originate_response(action_id, ok, name, uid, context, exten, reason),
                )
            elif ok:
                session.write(fr.response(action_id, "Success", "Originate successfully queued"))
            else:
                session.write(fr.response(action_id, "Error", "Originate failed"))

        if is_async:
            session.write(fr.response(action_id, "Success", "Originate successfully queued"))
        timeout = (int(timeout_ms) if timeout_ms.isdigit() else 30000) / 1000 * self.pbx.time_scale
        self.pbx.originate(
            endpoint,
            context,
            exten,
            int(prio) if prio.isdigit() else 1,
            (num, name),
            variables,
            timeout,
            uniqueid,
            done,
        )

    def broadcast_to(self, session: AmiSession, frame: bytes) -> None:
        if not session.closed:
            session.write(frame)
