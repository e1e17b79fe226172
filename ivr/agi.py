"""FastAGI plumbing shared by the IVR and the agents' feature codes.

``IvrApplication`` and ``AgiRequest`` replace two pieces of panoramisk 1.4:
its ``Application.handler`` loops forever on a connection closed before the
``agi_*`` block ends, and its ``Request`` crashes on a closed socket or a
line that is not an AGI reply. ``AgiChannel`` is what a session talks
through: commands, prompts and keys, telling a hang-up from a missing sound
file as Asterisk 22 shows them (``tests/data/ami-transcripts/``):

- the caller hangs up: the command in progress answers ``200 result=-1``,
  then Asterisk sends a separate ``HANGUP`` line and keeps the socket open;
  later commands answer ``511 Command Not Permitted on a dead channel``;
- the sound file is missing: ``GET DATA`` answers ``200 result=-1`` at once,
  ``STREAM FILE`` ``200 result=-1 endpos=0``, and the channel is still up
  (``CHANNEL STATUS`` answers ``200 result=6``).

So a ``-1`` is followed by ``CHANNEL STATUS``: a hang-up shows as the
``HANGUP`` line or a 511 and ends the session; a live channel means the file
is missing: it is logged once per file and language, and the keys are read
with ``WAIT FOR DIGIT`` instead, so they still qualify the call.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import OrderedDict
from typing import Any

from panoramisk.fast_agi import Application, Request

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



class AgiChannel:
    """One FastAGI session's channel: commands, prompts, keys."""

    def __init__(self, request: AgiRequest, missing: MissingSounds, digit_timeout_ms: int) -> None:
        self.request = request
        self.missing = missing
        self.digit_timeout_ms = digit_timeout_ms
        self.language = request.headers.get("agi_language", "")
        self.uniqueid = request.headers.get("agi_uniqueid", "")

    async def cmd(self, command: str) -> dict[str, Any]:
        """Send one command; CallerGone after a hang-up, AgiFailure on an error reply."""
        reply = await self.request.send_command(command)
        error = reply.get("error")
        if error == "AGIResultHangup" or reply.get("status_code") == 511:
            raise CallerGone(reply.get("msg", "hung up"))
        if error is not None:
            raise AgiFailure(f"{command!r}: {error} {reply.get('msg', '')}".strip())
        return reply

    async def alive(self) -> bool:
        """True if the channel is still up (CallerGone if Asterisk says it hung up)."""
        reply = await self.cmd("CHANNEL STATUS")
        return reply.get("result") not in ("-1", "", None)

    async def _sound(self, command: str, sound: str) -> dict[str, Any] | None:
        """Run a command that plays ``sound``; None when the file is missing (the call goes on)."""
        reply = await self.cmd(command)
        if reply.get("result") != "-1":
            return reply
        if not await self.alive():
            raise CallerGone(f"{command!r} returned -1 and the channel is down")
        self.missing.report(sound, self.language, self.uniqueid)
        return None

    async def play(self, sound: str) -> None:
        """Play a sound file (a missing one is logged once and skipped)."""
        await self._sound(f'STREAM FILE {sound} ""', sound)

    async def ask(self, sound: str, maxdigits: int = 1) -> str:
        """Play a prompt and read up to ``maxdigits`` keys; "" when nothing was pressed."""
        reply = await self._sound(f"GET DATA {sound} {self.digit_timeout_ms} {maxdigits}", sound)
        if reply is not None:
            return reply.get("result") or ""
        keys = ""
        while len(keys) < maxdigits:
            got = await self.cmd(f"WAIT FOR DIGIT {self.digit_timeout_ms}")
            code = got.get("result") or "0"
            if code == "-1":
                if not await self.alive():
                    raise CallerGone("WAIT FOR DIGIT returned -1 and the channel is down")
                break
            if not code.isdigit() or code == "0":
                break
            key = chr(int(code))
            if key == "#":
                break
            keys += key
        return keys

    async def set_var(self, name: str, value: str) -> None:
        await self.cmd(f'SET VARIABLE {name} "{_quote(value)}"')

    async def set_language(self, language: str) -> None:
        """Play the following prompts in ``language`` (Asterisk's ``CHANNEL(language)``)."""
        if language != self.language:
            self.language = language
            await self.set_var("CHANNEL(language)", language)


class MissingSounds:
    """The sound files Asterisk said it does not have, each logged once."""

    def __init__(self) -> None:
        self.seen: set[tuple[str, str]] = set()

    def report(self, sound: str, language: str, uniqueid: str) -> None:
        key = (sound, language)
        if key in self.seen:
            return
        self.seen.add(key)
        log.warning(
            "IVR: Asterisk has no sound file %s for language %r (call %s goes on without it; "
            "install the prompts: docs/phone.md, 'guichet ivr prompts')",
            sound,
            language or "?",
            uniqueid,
        )


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')
