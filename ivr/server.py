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

A prompt Asterisk does not have is not a hang-up: the session goes on and
the keys are still read (``ivr.agi.AgiChannel``). The same server answers the
agents' feature codes (script ``agent``, ``ivr.agent_session``).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Mapping
from typing import Any

from dispatcher import events as ev
from dispatcher.events import Outcome
from ivr.agent_session import AgentCodeSession
from ivr.agi import MAX_LINE, AgiChannel, AgiFailure, AgiRequest, CallerGone, IvrApplication, MissingSounds
from ivr.citizens import CallLog, CitizenDirectory, StaticDirectory, normalize_number
from ivr.menu import GENERALIST, IvrConfig, Menu, load_menu
from skills.model import Channel

log = logging.getLogger(__name__)

__all__ = ["AgiRequest", "IvrApplication", "IvrServer", "IvrSession"]


class IvrServer:
    """The FastAGI server of the phone channel: callers (script ``ivr``) and agents' codes (``agent``).

    ``endpoints`` maps an agent's softphone (``PJSIP/agent101``) to the agent id: who may
    dial the feature codes.
    """

    def __init__(
        self,
        dispatcher: Any,
        config: IvrConfig | None = None,
        *,
        phone: Any = None,
        directory: CitizenDirectory | None = None,
        call_log: CallLog | None = None,
        endpoints: Mapping[str, str] | None = None,
        host: str = "127.0.0.1",
        port: int = 4573,
        handoff_timeout: float = 2.0,
    ) -> None:
        self.dispatcher = dispatcher
        self.config = config or load_menu(catalogue=getattr(dispatcher.router, "catalogue", None))
        self.phone = phone
        self.directory = directory or StaticDirectory()
        self.call_log = call_log or CallLog()
        self.endpoints = dict(endpoints or {})
        self.host, self.port = host, port
        self.handoff_timeout = handoff_timeout
        self.missing = MissingSounds()
        self.estimate: Callable[[str], float | None] | None = None
        """The wait of a queued caller by contact id (seconds; inf: nobody staffed; None: no
        estimate), set by the town hall; unset, the router's rough ``estimated_wait``."""
        self.app: IvrApplication | None = None
        self.server: asyncio.base_events.Server | None = None
        self.active = 0
        self.completed = 0

    async def start(self) -> int:
        """Listen; returns the port (useful with port 0)."""
        self.app = IvrApplication()
        self.app.add_route("ivr", self.handle)
        self.app.add_route("agent", self.handle_agent)
        self.server = await asyncio.start_server(
            self.app.handler, self.host, self.port, limit=MAX_LINE
        )
        self.port = self.server.sockets[0].getsockname()[1]
        log.info("FastAGI IVR listening on %s:%d", self.host, self.port)
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

    async def handle_agent(self, request: AgiRequest) -> None:
        """A feature code dialled from a softphone."""
        await AgentCodeSession(self, request).run()


class IvrSession(AgiChannel):
    """One caller in the menus."""

    def __init__(self, server: IvrServer, request: AgiRequest) -> None:
        super().__init__(request, server.missing, server.config.digit_timeout_ms)
        self.server = server
        self.config = server.config
        self.headers = request.headers
        self.number = normalize_number(self.headers.get("agi_callerid"))

    async def play_prompt(self, name: str) -> None:
        await self.play(self.config.prompt(name, self.language))

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
        self.language = ""
        await self.set_language(config.language)
        citizen = server.directory.lookup(self.number) if self.number else None
        repeat = False
        if self.number:
            now = clock()
            repeat = server.call_log.seen_within(self.number, config.repeat_caller_days, now)
            server.call_log.record(self.number, now)
        if citizen is not None and citizen.language in config.languages:
            await self.set_language(citizen.language)
        key = await self.ask(config.prompt("welcome", self.language))
        if key in config.language_keys:
            await self.set_language(config.language_keys[key])
            key = ""
        process = await self._menu(config.menu, first_key=key)
        if citizen is not None:
            await self.set_var("GUICHET_CITIZEN", citizen.citizen_id)
        if repeat:
            await self.set_var("GUICHET_REPEAT", "1")
        await self.set_var("GUICHET_LANG", self.language)
        if process is None:
            await self.play_prompt("generalist")
        router = server.dispatcher.router
        wait = router.estimated_wait(process, Channel.PHONE, clock())
        # The handoff: the AMI adapter queues the caller on this VarSet.
        await self.set_var("GUICHET_PROCESS", process or "")
        log.info("IVR %s: handed over, process %s, language %s", self.uniqueid, process or "(generalist)", self.language)
        queued = True
        if server.phone is not None:
            queued = await server.phone.wait_contact(self.uniqueid, server.handoff_timeout)
        if queued and server.estimate is not None:
            estimate = server.estimate(self.uniqueid)
            wait = wait if estimate is None else estimate
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
        await self.play_prompt("hold")

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
                await self.play_prompt("invalid")
                key = ""
                continue
            if isinstance(choice, Menu):
                return await self._menu(choice)
            return None if choice == GENERALIST else choice

    async def _announce(self, wait: float) -> None:
        if math.isinf(wait):
            await self.play_prompt("no_agent")
        elif wait < 60:
            await self.play_prompt("wait_short")
        else:
            await self.play_prompt("wait_intro")
            await self.cmd(f'SAY NUMBER {math.ceil(wait / 60)} ""')
            await self.play_prompt("minutes")

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
        await self.play_prompt("callback_confirmed")
        await self.cmd("HANGUP")
        return True
