"""A feature code dialled from an agent's softphone, answered over FastAGI.

Asterisk's ``[from-agents]`` runs ``AGI(agi://<dispatcher>:4573/agent)`` for
every ``*`` code. The agent is known by the softphone the call comes from
(``agi_channel`` ``PJSIP/agent101-0000002a`` is endpoint ``PJSIP/agent101``,
matched against the skill matrix's ``endpoint`` column); a phone that is no
agent's is told so and nothing changes. The code becomes ``AgentStatusSet``
(ready, paused with a reason, offline), the core's answer is spoken back in
a few words, and the session ends (the dialplan hangs up).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

from dispatcher import events as ev
from dispatcher.events import AgentState
from ivr.agi import AgiChannel, AgiFailure, AgiRequest, CallerGone
from ivr.feature_codes import LOGOUT, LOGOUT_REASON, READY
from skills.model import SkillMatrix

if TYPE_CHECKING:
    from ivr.server import IvrServer

log = logging.getLogger(__name__)


def agent_endpoints(matrix: SkillMatrix) -> Mapping[str, str]:
    """Softphone endpoint -> agent id, from the skill matrix's ``endpoint`` column."""
    return {p.endpoint: p.agent_id for p in matrix.agents.values() if p.endpoint}


def endpoint_of(channel: str) -> str:
    """The endpoint of a channel name: ``PJSIP/agent101-0000002a`` -> ``PJSIP/agent101``."""
    head, sep, tail = channel.rpartition("-")
    return head if sep and tail and all(c in "0123456789abcdef" for c in tail.lower()) else channel


class AgentCodeSession(AgiChannel):
    """One feature code: who dialled it, what it asks, the core's answer spoken back."""

    def __init__(self, server: IvrServer, request: AgiRequest) -> None:
        super().__init__(request, server.missing, server.config.digit_timeout_ms)
        self.server = server
        self.config = server.config
        self.codes = server.config.agents
        headers = request.headers
        self.endpoint = endpoint_of(headers.get("agi_channel", ""))
        self.dialled = headers.get("agi_arg_1") or headers.get("agi_extension", "")

    async def run(self) -> None:
        try:
            await self._run()
        except CallerGone as why:
            log.debug("feature code %s from %s: hung up (%s)", self.dialled, self.endpoint, why)
        except AgiFailure as exc:
            log.warning("feature code %s from %s: AGI failure: %s", self.dialled, self.endpoint, exc)

    async def say(self, name: str) -> None:
        await self.play(self.config.prompt(name, self.language))

    async def _run(self) -> None:
        await self.cmd("ANSWER")
        language = self.language if self.language in self.config.languages else self.config.language
        self.language = ""
        await self.set_language(language)
        agent_id = self.server.endpoints.get(self.endpoint)
        if agent_id is None:
            log.warning("feature code %s refused: %s is no agent's softphone", self.dialled, self.endpoint)
            await self.say("agent_unknown")
            return
        action = self.codes.action(self.dialled)
        if action is None:
            log.info("feature code %s from %s (%s): unknown code", self.dialled, self.endpoint, agent_id)
            await self.say("agent_bad_code")
            return
        what, digits = action
        if what == READY:
            await self._set(agent_id, AgentState.AVAILABLE, None)
        elif what == LOGOUT:
            await self._set(agent_id, AgentState.OFFLINE, LOGOUT_REASON)
        else:
            reason = await self._reason(digits)
            if reason is None:
                log.info("feature code %s from %s (%s): no valid pause reason", self.dialled, self.endpoint, agent_id)
                await self.say("agent_refused")
                return
            await self._set(agent_id, AgentState.PAUSED, reason)

    async def _reason(self, digits: str) -> str | None:
        """The pause reason of the digit dialled after the code, or asked for (``retries`` times)."""
        reasons = self.codes.pause_reasons
        if digits:
            return reasons.get(digits)
        for _ in range(self.config.retries + 1):
            key = await self.ask(self.config.prompt("agent_reason", self.language))
            if key in reasons:
                return reasons[key]
            if not key:
                return None
        return None

    async def _set(self, agent_id: str, state: AgentState, reason: str | None) -> None:
        dispatcher = self.server.dispatcher
        decisions = dispatcher.submit(
            ev.AgentStatusSet(at=dispatcher.clock(), agent_id=agent_id, state=state, reason=reason)
        )
        refused = next((d for d in decisions if isinstance(d, ev.Rejected)), None)
        if refused is not None:
            log.info("feature code %s: %s may not be %s: %s", self.dialled, agent_id, state.value, refused.reason)
            await self.say("agent_refused")
            return
        agent = dispatcher.router.agents.get(agent_id)
        now = agent.state.value if agent is not None else state.value
        log.info(
            "agent %s %s by feature code %s from %s (now %s)",
            agent_id,
            {AgentState.AVAILABLE: "ready", AgentState.PAUSED: f"paused ({reason})"}.get(state, "logged out"),
            self.dialled,
            self.endpoint,
            now,
        )
        await self.say(
            {AgentState.AVAILABLE: "agent_ready", AgentState.PAUSED: "agent_paused"}.get(state, "agent_logged_out")
        )
