"""The FastAGI IVR: qualifies a call, announces the wait, offers a callback, hands over.

Asterisk runs ``AGI(agi://<dispatcher>:4573/ivr)`` for every incoming call
(``asterisk-config/extensions.conf``). One coroutine per call, on
panoramisk's FastAGI ``Application``, so hundreds of callers can be in the
menus at once without holding up the dispatcher. A session:

1. answers, sets French (the first language of the menu file);
2. recognises the caller id: a known citizen (``GUICHET_CITIZEN``), a repeat
   caller within N days (``GUICHET_REPEAT``, flagged for the agent);
3. welcome, with a key for English; the domain menu then the process menu
   by DTMF; an invalid key says so and replays the menu (``retries``
   times), no key at all goes to the generalist route;
4. hands the call to the queue by setting ``GUICHET_PROCESS`` (empty for the
   generalist route): the AMI adapter sees the VarSet and queues the caller;
5. announces the estimated wait; above ``callback_above_s`` offers a
   callback that keeps the caller's place (``CallbackRequested``), then says
   goodbye and hangs up; otherwise returns, and the dialplan puts the caller
   on hold with music.

Anything odd on the socket (a caller hanging up, Asterisk redirecting the
call to an agent, a line that is not an AGI reply) ends the session
quietly: the dialplan goes on to the holding context and the AMI adapter
queues the caller there, so no caller is ever lost by the IVR.

panoramisk 1.4's ``Application.handler`` loops forever on a connection
closed before the ``agi_*`` block ends, and its ``Request`` crashes on a
closed socket or a non-AGI line; ``IvrApplication`` and ``AgiRequest``
replace those two pieces.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
from collections import OrderedDict
from typing import Any

from panoramisk.fast_agi import Application, Request

from dispatcher import events as ev
from dispatcher.events import Outcome
from ivr.citizens import CallLog, CitizenDirectory, StaticDirectory, normalize_number
from ivr.menu import GENERALIST, IvrConfig, Menu, load_menu
from skills.model import Channel

log = logging.getLogger(__name__)

MAX_ENV_LINES = 128
MAX_LINE = 8192
ENV_TIMEOUT_S = 10.0
MAX_GARBAGE_LINES = 20
_REPLY = re.compile(r"^(\d{3})([ -])(.*)$")
_RESULT = re.compile(r"result=(\S*)(?:\s+\((.*)\))?")


class CallerGone(Exception):
    """The channel hung up or was taken elsewhere (Redirect): stop talking to it."""


class AgiFailure(Exception):
    """Asterisk answered a command with an error, or the socket spoke nonsense."""


class AgiRequest(Request):
    """panoramisk's ``Request`` that survives a closed socket and lines that are not replies."""

    reply_timeout = 120.0

    async def send_command(self, command: str) -> dict[str, Any]:
        """Send one command; the parsed reply (``status_code``, ``result``, ``data``) or an ``error``."""
        self.writer.write((command + "\n").encode(self.encoding))
        try:
            await self.writer.drain()
            return await asyncio.wait_for(self._reply(), self.reply_timeout)
        except (ConnectionError, OSError):
            return {"error": "AGIResultHangup", "msg": "connection lost"}
        except TimeoutError:
            return {"error": "AGITimeout", "msg": f"no reply to {command!r}"}

    async def _reply(self) -> dict[str, Any]:
        garbage = 0
        while True:
            line = await self._line()
            if line is None or line == "HANGUP":
                return {"error": "AGIResultHangup", "msg": "hung up"}
            m = _REPLY.match(line)
            if m is None:
                garbage += 1
                log.warning("IVR: not an AGI reply, skipped: %r", line[:200])
                if garbage >= MAX_GARBAGE_LINES:
                    return {
                        "error": "AGIUnknownError",
                        "msg": "too many lines that are not AGI replies",
                    }
                continue
            code, sep, rest = int(m.group(1)), m.group(2), m.group(3)
            if code == 100:
                continue
            if sep == "-":  # multi-line (520 usage): read to its last line
                while True:
                    more = await self._line()
                    if more is None or more.startswith(f"{code} "):
                        break
                return {"error": "AGIUsageError", "status_code": code, "msg": rest}
            if code != 200:
                return {"error": "AGIError", "status_code": code, "msg": rest}
            r = _RESULT.search(rest)
            result, data = (r.group(1), r.group(2)) if r else ("", None)
            return {"status_code": 200, "result": result, "data": data, "line": line}

    async def _line(self) -> str | None:
        try:
            raw = await self.reader.readline()
        except (ValueError, asyncio.LimitOverrunError):
            await self.reader.read(MAX_LINE)
            return "<overlong line>"
        except (ConnectionError, OSError):
            return None
        if not raw:
            return None
        return raw.decode(self.encoding, "replace").strip()


class IvrApplication(Application):
    """panoramisk's FastAGI ``Application`` with a bounded, timed read of the ``agi_*`` block."""

    def __init__(self, default_encoding: str = "utf-8") -> None:
        super().__init__(default_encoding=default_encoding, loop=asyncio.get_running_loop())
        self.sessions = 0
        self.rejected = 0
        self.open_writers: set[asyncio.StreamWriter] = set()

    def close_sessions(self) -> None:
        """Close every open FastAGI connection (at server stop: Asterisk goes on in its dialplan)."""
        for writer in list(self.open_writers):
            writer.close()

    async def handler(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.open_writers.add(writer)
        try:
            await self._serve(reader, writer)
        finally:
            self.open_writers.discard(writer)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        try:
            headers = await asyncio.wait_for(self._environment(reader), ENV_TIMEOUT_S)
        except (
            TimeoutError,
            ValueError,
            ConnectionError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
        ) as exc:
            self.rejected += 1
            log.warning(
                "IVR: connection from %r without a valid agi_ block (%s); closed",
                peer,
                exc or type(exc).__name__,
            )
            writer.close()
            return
        script = headers.get("agi_network_script", "")
        route = self._route.get(script)
        if route is None:
            self.rejected += 1
            log.error("IVR: no route for FastAGI script %r from %r", script, peer)
            writer.close()
            return
        self.sessions += 1
        request = AgiRequest(
            app=self, headers=headers, reader=reader, writer=writer, encoding=self.default_encoding
        )
        try:
            await route(request)
        except Exception:
            log.exception("IVR: session %s failed", headers.get("agi_uniqueid"))
        finally:
            writer.close()

    async def _environment(self, reader: asyncio.StreamReader) -> OrderedDict[str, str]:
        headers: OrderedDict[str, str] = OrderedDict()
        for _ in range(MAX_ENV_LINES):
            raw = await reader.readline()
            if not raw:
                raise ConnectionError("closed before the end of the agi_ block")
            line = raw.decode(self.default_encoding, "replace").rstrip("\r\n")
            if not line:
                if not headers:
                    raise ValueError("empty agi_ block")
                return headers
            key, sep, value = line.partition(": ")
            if not sep and line.endswith(":"):
                key, sep, value = line[:-1], ":", ""
            if not sep or not key.startswith("agi_"):
                raise ValueError(f"not an agi_ line: {line[:80]!r}")
            headers[key] = value
        raise ValueError("agi_ block too long")


class IvrServer:
    """The FastAGI server of the phone channel."""

    def __init__(
        self,
        dispatcher: Any,
        config: IvrConfig | None = None,
        *,
        phone: Any = None,
        directory: CitizenDirectory | None = None,
        call_log: CallLog | None = None,
        host: str = "127.0.0.1",
        port: int = 4573,
        handoff_timeout: float = 2.0,
    ) -> None:
        self.dispatcher = dispatcher
        self.config = config or load_menu(catalogue=getattr(dispatcher.router, "catalogue", None))
        self.phone = phone
        self.directory = directory or StaticDirectory()
        self.call_log = call_log or CallLog()
        self.host, self.port = host, port
        self.handoff_timeout = handoff_timeout
        self.app: IvrApplication | None = None
        self.server: asyncio.base_events.Server | None = None
        self.active = 0
        self.completed = 0

    async def start(self) -> int:
        """Listen; returns the port (useful with port 0)."""
        self.app = IvrApplication()
        self.app.add_route("ivr", self.handle)
        self.server = await asyncio.start_server(
            self.app.handler, self.host, self.port, limit=MAX_LINE
        )
        self.port = self.server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        """Stop listening and close the sessions still open (Python 3.12+'s wait_closed waits for them)."""
        if self.server is not None:
            self.server.close()
            if self.app is not None:
                self.app.close_sessions()
            await self.server.wait_closed()

    async def handle(self, request: AgiRequest) -> None:
        self.active += 1
        try:
            await IvrSession(self, request).run()
        finally:
            self.active -= 1
            self.completed += 1


class IvrSession:
    """One caller in the menus."""

    def __init__(self, server: IvrServer, request: AgiRequest) -> None:
        self.server = server
        self.config = server.config
        self.request = request
        self.headers = request.headers
        self.uniqueid = self.headers.get("agi_uniqueid", "")
        self.number = normalize_number(self.headers.get("agi_callerid"))
        self.language = self.config.language

    # ------------------------------------------------------------ AGI commands

    async def cmd(self, command: str) -> dict[str, Any]:
        reply = await self.request.send_command(command)
        error = reply.get("error")
        if error == "AGIResultHangup" or reply.get("status_code") == 511:
            raise CallerGone(reply.get("msg", "hung up"))
        if error is not None:
            raise AgiFailure(f"{command!r}: {error} {reply.get('msg', '')}".strip())
        if reply.get("result") == "-1":
            raise CallerGone(f"{command!r} returned -1")
        return reply

    async def play(self, name: str) -> None:
        await self.cmd(f'STREAM FILE {self.config.prompt(name, self.language)} ""')

    async def ask(self, sound: str, maxdigits: int = 1) -> str:
        """Play a prompt and read up to ``maxdigits`` keys; "" when nothing was pressed."""
        reply = await self.cmd(f"GET DATA {sound} {self.config.digit_timeout_ms} {maxdigits}")
        return reply.get("result") or ""

    async def set_var(self, name: str, value: str) -> None:
        await self.cmd(f'SET VARIABLE {name} "{_quote(value)}"')

    # ------------------------------------------------------------ the call

    async def run(self) -> None:
        try:
            await self._run()
        except CallerGone as why:
            log.debug("IVR %s: caller gone (%s)", self.uniqueid, why)
        except AgiFailure as exc:
            log.warning(
                "IVR %s: AGI failure, the caller goes on hold unqualified: %s", self.uniqueid, exc
            )

    async def _run(self) -> None:
        config, server = self.config, self.server
        clock = server.dispatcher.clock
        await self.cmd("ANSWER")
        await self.set_var("CHANNEL(language)", self.language)
        citizen = server.directory.lookup(self.number) if self.number else None
        repeat = False
        if self.number:
            now = clock()
            repeat = server.call_log.seen_within(self.number, config.repeat_caller_days, now)
            server.call_log.record(self.number, now)
        if citizen is not None and citizen.language in config.languages:
            await self._language(citizen.language)
        key = await self.ask(config.prompt("welcome", self.language))
        if key in config.language_keys:
            await self._language(config.language_keys[key])
            key = ""
        process = await self._menu(config.menu, first_key=key)
        if citizen is not None:
            await self.set_var("GUICHET_CITIZEN", citizen.citizen_id)
        if repeat:
            await self.set_var("GUICHET_REPEAT", "1")
        await self.set_var("GUICHET_LANG", self.language)
        if process is None:
            await self.play("generalist")
        router = server.dispatcher.router
        wait = router.estimated_wait(process, Channel.PHONE, clock())
        # The handoff: the AMI adapter queues the caller on this VarSet.
        await self.set_var("GUICHET_PROCESS", process or "")
        queued = True
        if server.phone is not None:
            queued = await server.phone.wait_contact(self.uniqueid, server.handoff_timeout)
        if config.announce_wait:
            await self._announce(wait)
        above = config.callback_above_s
        if above is not None and wait > above and queued and self.number:
            if (
                await self.ask(config.prompt("callback_offer", self.language))
                == config.callback_key
            ):
                if await self._callback():
                    return
        await self.play("hold")

    async def _language(self, language: str) -> None:
        if language != self.language:
            self.language = language
            await self.set_var("CHANNEL(language)", language)

    async def _menu(self, menu: Menu, first_key: str = "") -> str | None:
        """Walk the DTMF tree; the process code, or None for the generalist route."""
        retries = self.config.retries
        key = first_key
        invalid = 0
        while True:
            if not key:
                key = await self.ask(menu.prompt.file(self.language))
            if not key:
                return None  # nobody pressed anything: the generalist route
            choice = menu.choices.get(key)
            if choice is None:
                invalid += 1
                if invalid > retries:
                    return None
                await self.play("invalid")
                key = ""
                continue
            if isinstance(choice, Menu):
                return await self._menu(choice)
            return None if choice == GENERALIST else choice

    async def _announce(self, wait: float) -> None:
        if math.isinf(wait):
            await self.play("no_agent")
        elif wait < 60:
            await self.play("wait_short")
        else:
            await self.play("wait_intro")
            await self.cmd(f'SAY NUMBER {math.ceil(wait / 60)} ""')
            await self.play("minutes")

    async def _callback(self) -> bool:
        """Ask the dispatcher for a callback keeping the caller's place; True once scheduled."""
        dispatcher = self.server.dispatcher
        decisions = dispatcher.submit(
            ev.CallbackRequested(
                at=dispatcher.clock(),
                contact_id=self.uniqueid,
                callback_id=f"cb-{self.uniqueid}",
                number=self.number,
            )
        )
        scheduled = any(
            isinstance(d, ev.ContactEnded)
            and d.contact_id == self.uniqueid
            and d.outcome is Outcome.CALLBACK_SCHEDULED
            for d in decisions
        )
        if not scheduled:
            log.info("IVR %s: callback refused by the dispatcher: %s", self.uniqueid, decisions)
            return False
        await self.set_var("GUICHET_CALLBACK", self.number or "")
        await self.play("callback_confirmed")
        await self.cmd("HANGUP")
        return True


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')
