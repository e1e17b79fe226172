"""The Asterisk side of FastAGI: the ``agi_*`` block, then command / ``200 result=`` lines.

``AgiCommands`` executes one AGI command on a fake channel the way Asterisk
does (the AMI ``AGIExecStart``/``AGIExecEnd`` events, the DTMF the caller
presses, the ``VarSet`` of ``SET VARIABLE``) and returns the reply line.
``FastAgiSession`` runs it over TCP against an AGI server (the project's
``ivr/``); ``ScriptedAgi`` runs a fixed list of commands without a socket, at
scheduled times, for the benchmark.

As in the captures (``fastagi-missing-prompt.txt``,
``fastagi-hangup-during-get-data.txt``): a sound file that is not in the
PBX's sounds (``SoundLibrary``) makes ``GET DATA`` answer ``200 result=-1`` at
once and ``STREAM FILE`` ``200 result=-1 endpos=0``, the channel staying up;
a caller hanging up during a command makes it answer ``200 result=-1``, then
a separate ``HANGUP`` line follows 44 ms later, the socket stays open, the
commands Asterisk allows on a dead channel (``GET VARIABLE``, ``SET
VARIABLE``, ``NOOP``, ``VERBOSE``...) still answer and the others get
``511``; the channel ends (AMI ``Hangup``) when the script closes the socket.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from urllib.parse import urlsplit

from dispatcher.fake_asterisk import frames as fr
from dispatcher.fake_asterisk.dialplan import substitute
from dispatcher.fake_asterisk.pbx import PBX, UP, Chan

log = logging.getLogger(__name__)

DEAD = "511 Command Not Permitted on a dead channel or intercept routine\n"
MAX_LINE = 8192
HANGUP_LINE_DELAY = 0.044
"""Seconds between the ``200 result=-1`` of the interrupted command and the ``HANGUP`` line (capture)."""
DEAD_ALLOWED = frozenset(
    {"GET VARIABLE", "GET FULL", "SET VARIABLE", "NOOP", "VERBOSE", "EXEC", "DATABASE GET", "DATABASE PUT",
     "DATABASE DEL", "DATABASE DELTREE", "ASYNCAGI BREAK", "SPEECH DESTROY", "SPEECH UNLOAD"}
)
"""Commands res_agi runs on a dead channel (its command table's ``dead`` flag); the others get 511."""
def _head(words: Sequence[str]) -> str:
    return " ".join(w.upper() for w in words[:2])


def env_block(chan: Chan, url: str, script: str) -> bytes:
    """The ``agi_*`` lines Asterisk sends first, as in the capture, ended by an empty line."""
    pairs = [
        ("agi_network", "yes"),
        ("agi_network_script", script),
        ("agi_request", url),
        ("agi_channel", chan.name),
        ("agi_language", chan.language),
        ("agi_type", "PJSIP"),
        ("agi_uniqueid", chan.uniqueid),
        ("agi_version", "22.10.1"),
        ("agi_callerid", chan.caller_num),
        ("agi_calleridname", chan.caller_name),
        ("agi_callingpres", "0"),
        ("agi_callingani2", "0"),
        ("agi_callington", "0"),
        ("agi_callingtns", "0"),
        ("agi_dnid", chan.exten),
        ("agi_rdnis", "unknown"),
        ("agi_context", chan.context),
        ("agi_extension", chan.exten),
        ("agi_priority", str(chan.priority)),
        ("agi_enhanced", "0.0"),
        ("agi_accountcode", ""),
        ("agi_threadid", "139747889706688"),
    ]
    return ("".join(f"{k}: {v}\n" for k, v in pairs) + "\n").encode("utf-8")


_WORD = re.compile(r'"((?:[^"\\]|\\.)*)"|(\S+)')


def split_command(line: str) -> list[str] | None:
    """An AGI command's words, double quotes grouping (as res_agi parses them); None if a quote is open."""
    if line.count('"') - line.count('\\"') * 1 < 0 or (line.count('"') - line.count('\\"')) % 2:
        return None
    return [
        quoted.replace('\\"', '"') if bare == "" else bare for quoted, bare in _WORD.findall(line)
    ]


class AgiCommands:
    """Executes AGI commands on one channel (shared by the socket and scripted runners)."""

    def __init__(self, pbx: PBX, chan: Chan) -> None:
        self.pbx = pbx
        self.chan = chan
        self.dead = False

    def execute(self, line: str) -> str:
        """Run one command line; the reply line (with its newline)."""
        chan, pbx = self.chan, self.pbx
        words = split_command(line)
        dead = self.dead or not chan.alive
        if dead and (words is None or not chan.alive):
            return DEAD
        if words is None:
            return "520 Invalid command syntax.  Proper usage not available.\n"
        if not words:
            return "510 Invalid or unknown command\n"
        command_id = pbx.rng.getrandbits(31)
        pbx.emit(fr.agi_exec_start(chan, command_id, line))
        if dead:
            # A hung-up channel that the script still holds: res_agi runs only what its table allows.
            allowed = _head(words) in DEAD_ALLOWED
            reply = self._run_dead(words) if allowed else DEAD
            result = "Success" if allowed else "Command not permitted on a dead channel or intercept routine"
            pbx.emit(fr.agi_exec_end(chan, command_id, line, int(reply[:3]), result))
            return reply
        reply = self._run([w for w in words], line)
        code = int(reply[:3]) if reply[:3].isdigit() else 510
        pbx.emit(
            fr.agi_exec_end(
                chan, command_id, line, code, "Success" if code == 200 else reply[4:].strip()
            )
        )
        if words[0].upper() == "HANGUP" and chan.alive:
            self.dead = True
            pbx.soft_hangup(chan)
        return reply

    def _run_dead(self, words: list[str]) -> str:
        """A command Asterisk allows on a hung-up channel: variables still answer."""
        head = _head(words)
        if head == "GET VARIABLE" and len(words) >= 3:
            value = self.pbx.var(self.chan, words[2])
            return "200 result=0\n" if value is None else f"200 result=1 ({value})\n"
        if head == "SET VARIABLE" and len(words) >= 4:
            self.chan.vars[words[2]] = words[3]
            return "200 result=1\n"
        if head == "VERBOSE":
            return "200 result=1\n"
        return "200 result=0\n"

    def _has_sound(self, name: str) -> bool:
        return self.pbx.sounds.has(name, self.chan.language)

    def _run(self, words: list[str], line: str) -> str:
        chan, pbx = self.chan, self.pbx
        upper = [w.upper() for w in words[:3]]
        head = " ".join(upper[:2])
        if upper[0] == "ANSWER":
            pbx.set_state(chan, UP)
            return "200 result=0\n"
        if upper[0] == "HANGUP":
            return "200 result=1\n"
        if upper[0] == "NOOP":
            return "200 result=0\n"
        if upper[0] == "VERBOSE":
            return "200 result=1\n"
        if upper[0] == "EXEC":
            return "200 result=0\n"
        if head == "GET DATA" and len(words) >= 3 and not self._has_sound(words[2]):
            return "200 result=-1\n"
        if head in ("STREAM FILE", "CONTROL STREAM") and len(words) >= 3 and not self._has_sound(words[2]):
            return "200 result=-1 endpos=0\n"
        if head == "GET DATA" and len(words) >= 3:
            maxdigits = int(words[4]) if len(words) > 4 and words[4].isdigit() else 1024
            keys = self._keys()
            digits = keys.replace("#", "")[:maxdigits]
            for d in digits:
                pbx.emit(fr.dtmf_begin(chan, d))
                pbx.emit(fr.dtmf_end(chan, d))
            if not keys:
                return "200 result= (timeout)\n"
            return f"200 result={digits}\n"
        if head == "WAIT FOR" and len(words) >= 4 and upper[2] == "DIGIT":
            key = self._key()
            if not key:
                return "200 result=0\n"
            pbx.emit(fr.dtmf_begin(chan, key))
            pbx.emit(fr.dtmf_end(chan, key))
            return f"200 result={ord(key)}\n"
        if head in ("STREAM FILE", "CONTROL STREAM") and len(words) >= 3:
            pbx.set_var(chan, "PLAYBACKSTATUS", "SUCCESS")
            return f"200 result=0 endpos={pbx.sounds.endpos(words[2], chan.language)}\n"
        if upper[0] == "SAY" and len(words) >= 3:
            return "200 result=0\n"
        if head == "SET VARIABLE" and len(words) >= 4:
            pbx.set_var(chan, words[2], words[3])
            return "200 result=1\n"
        if head == "SET MUSIC":
            return "200 result=0\n"
        if head == "GET VARIABLE" and len(words) >= 3:
            value = pbx.var(chan, words[2])
            return "200 result=0\n" if value is None else f"200 result=1 ({value})\n"
        if head == "GET FULL" and len(words) >= 4:
            return f"200 result=1 ({substitute(words[3], lambda n: pbx.var(chan, n))})\n"
        if head == "CHANNEL STATUS":
            return f"200 result={chan.state}\n"
        return "510 Invalid or unknown command\n"

    def duration(self, line: str) -> float:
        """How long Asterisk takes over a command (prompts play, GET DATA waits for keys), scaled."""
        upper = line.upper()
        scale = self.pbx.time_scale
        words = line.split()
        if (
            upper.startswith(("GET DATA", "STREAM FILE", "CONTROL STREAM"))
            and len(words) > 2
            and not self._has_sound(words[2])
        ):
            return 0.0
        if upper.startswith("WAIT FOR DIGIT"):
            script = self.chan.script
            if script is not None and script.dtmf and script.dtmf[0]:
                return 0.2 * scale
            timeout = int(words[3]) / 1000 if len(words) > 3 and words[3].lstrip("-").isdigit() else 5.0
            return max(0.0, timeout) * scale
        if upper.startswith("GET DATA"):
            script = self.chan.script
            if script is not None and script.dtmf and script.dtmf[0]:
                return 0.5 * scale  # a key pressed during the prompt
            words = line.split()
            timeout = int(words[3]) / 1000 if len(words) > 3 and words[3].isdigit() else 5.0
            return (1.0 + timeout) * scale
        if upper.startswith(("STREAM FILE", "SAY ", "CONTROL STREAM")):
            return 1.0 * scale
        return 0.0

    def _keys(self) -> str:
        script = self.chan.script
        if script is None or not script.dtmf:
            return ""
        return script.dtmf.pop(0)

    def _key(self) -> str:
        """One key of the caller's next entry (WAIT FOR DIGIT reads them one at a time)."""
        script = self.chan.script
        if script is None or not script.dtmf:
            return ""
        head = script.dtmf[0]
        if len(head) <= 1:
            script.dtmf.pop(0)
            return head
        script.dtmf[0] = head[1:]
        return head[0]


class FastAgiSession(AgiCommands):
    """AGI(agi://host:port/script) over TCP, as Asterisk's res_agi does it."""

    holds_channel = True
    """A caller hanging up stays a channel until the script closes the socket (``PBX.hangup``)."""

    def __init__(
        self, pbx: PBX, chan: Chan, url: str, address: tuple[str, int] | None = None
    ) -> None:
        super().__init__(pbx, chan)
        self.url = url
        parts = urlsplit(url)
        self.script = parts.path.lstrip("/")
        self.address = address or (parts.hostname or "127.0.0.1", parts.port or 4573)
        self.writer: asyncio.StreamWriter | None = None
        self.detached = False
        self.task: asyncio.Task[None] | None = None
        self._hangup = asyncio.Event()
        self._in_command = False

    def start(self) -> None:
        self.chan.agi = self
        self.task = asyncio.get_running_loop().create_task(self._run_session())

    async def _run_session(self) -> None:
        status = "SUCCESS"
        try:
            reader, writer = await asyncio.open_connection(*self.address, limit=MAX_LINE)
        except OSError as exc:
            log.warning("fake asterisk: FastAGI %s unreachable: %s", self.url, exc)
            self._finish("FAILURE")
            return
        self.writer = writer
        try:
            writer.write(env_block(self.chan, self.url, self.script))
            await writer.drain()
            while True:
                try:
                    raw = await reader.readline()
                except (ValueError, asyncio.LimitOverrunError):
                    raw = b"\n"
                    await reader.read(MAX_LINE)
                if not raw:
                    break
                line = raw.decode("utf-8", "replace").strip()
                if not line:
                    continue
                if self.detached and self.dead:
                    break
                pause = 0.0 if self.dead else self.duration(line)
                if pause and await self._interrupted_by_hangup(pause):
                    writer.write(b"200 result=-1\n")
                    await writer.drain()
                    await asyncio.sleep(HANGUP_LINE_DELAY)
                    self._send_hangup()
                    continue
                if self.detached and self.dead:
                    break
                writer.write(self.execute(line).encode("utf-8"))
                await writer.drain()
        except (ConnectionError, OSError):
            status = "HANGUP" if self.dead else "FAILURE"
        finally:
            writer.close()
        if self.dead and status == "SUCCESS":
            status = "HANGUP"
        self._finish(status)

    async def _interrupted_by_hangup(self, pause: float) -> bool:
        """Play/wait for ``pause`` seconds; True if the caller hung up meanwhile."""
        self._in_command = True
        try:
            async with asyncio.timeout(pause):
                await self._hangup.wait()
            return True
        except TimeoutError:
            return False
        finally:
            self._in_command = False

    def _finish(self, status: str) -> None:
        if self.detached:
            return
        self.detached = True
        if self.chan.agi is self:
            self.pbx.agi_done(self.chan, status)

    def _send_hangup(self) -> None:
        self.dead = True
        if self.writer is not None and not self.writer.is_closing():
            self.writer.write(b"HANGUP\n")

    def interrupted(self) -> None:
        """The channel was redirected: the script hears HANGUP; the dialplan goes on elsewhere."""
        self.detached = True
        self._send_hangup()
        if self.writer is not None:
            self.writer.close()

    def hung_up(self) -> None:
        """The caller hung up: the command in progress answers -1 then HANGUP follows; the socket stays open."""
        if self._hangup.is_set():
            return
        self._hangup.set()
        if self._in_command:
            self.dead = True
        else:
            self._send_hangup()


class ScriptedAgi(AgiCommands):
    """A fixed list of AGI commands, one every ``step`` seconds (the benchmark's IVR)."""

    def __init__(self, pbx: PBX, chan: Chan, commands: Sequence[str], step: float) -> None:
        super().__init__(pbx, chan)
        self.commands = list(commands)
        self.step = step
        self.done = False

    def start(self) -> None:
        self.chan.agi = self
        self.pbx.later(self.chan, self.step, self._next)

    def _next(self) -> None:
        if self.done or not self.chan.alive:
            return
        if not self.commands:
            self.done = True
            self.pbx.agi_done(self.chan, "SUCCESS")
            return
        self.execute(self.commands.pop(0))
        if self.chan.alive and not self.dead:
            self.pbx.later(self.chan, self.step, self._next)

    def interrupted(self) -> None:
        self.done = True

    def hung_up(self) -> None:
        self.done = True
