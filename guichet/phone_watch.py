"""Two small watchers ``guichet serve`` runs beside the phone adapters.

``ReadyOnRegister`` (setting ``GUICHET_READY_ON_REGISTER``, default off): an
offline agent whose softphone becomes reachable (it registers, or answers
qualify again) is made ready, unless the agent logged out themselves (``*23``
or ``guichet agents logout``): they come back with ``*21``. Off, a phone that
registers changes nothing: agents become ready by ``*21`` (or ``guichet agents
ready``). The reason of the last log-out is part of the routing state, so this
holds across restarts.

``AmiWatch`` logs the AMI link as it goes: connected (logged in and
resynchronised) with the number of agents' phones reachable, lost, not
answering yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

from dispatcher import events as ev
from dispatcher.events import AgentState, Event
from ivr.feature_codes import LOGOUT_REASON

log = logging.getLogger("guichet.phone")

REGISTERED_REASON = "registered"
"""The reason of an ``AgentStatusSet`` made by ``ReadyOnRegister``."""


class ReadyOnRegister:
    """Dispatcher sink: an offline agent whose softphone comes up becomes ready (see the module)."""

    def __init__(self, dispatcher: Any) -> None:
        self.dispatcher = dispatcher
        self.made_ready = 0

    def sink(self, batch: Sequence[Event]) -> None:
        event = batch[0]
        if not isinstance(event, ev.EndpointChanged) or not event.reachable:
            return
        agent = self.dispatcher.router.agents.get(event.agent_id)
        if agent is None or agent.state is not AgentState.OFFLINE or agent.reason == LOGOUT_REASON:
            return
        # Not from inside the sink: the dispatcher is still fanning this batch out.
        asyncio.get_running_loop().call_soon(self._ready, event.agent_id)

    def _ready(self, agent_id: str) -> None:
        agent = self.dispatcher.router.agents.get(agent_id)
        if agent is None or agent.state is not AgentState.OFFLINE or agent.reason == LOGOUT_REASON:
            return
        self.made_ready += 1
        log.info("agent %s ready: softphone registered (GUICHET_READY_ON_REGISTER)", agent_id)
        self.dispatcher.submit(
            ev.AgentStatusSet(
                at=self.dispatcher.clock(), agent_id=agent_id, state=AgentState.AVAILABLE, reason=REGISTERED_REASON
            )
        )


class AmiWatch:
    """Logs the AMI link's transitions (polls the adapter's public state)."""

    def __init__(self, adapter: Any, where: str, every: float = 0.1) -> None:
        self.adapter = adapter
        self.where = where
        self.every = every
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="guichet-ami-watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        up = False
        loop = asyncio.get_running_loop()
        waiting_since, warned = loop.time(), False
        while True:
            now_up = bool(self.adapter.link_up)
            if now_up and not up:
                phones = getattr(getattr(self.adapter, "calls", None), "phones", {})
                reachable = sum(1 for p in phones.values() if getattr(p, "reachable", False))
                log.info(
                    "AMI: connected to %s, logged in and resynchronised; %d agents' phones reachable",
                    self.where,
                    reachable,
                )
            if up and not now_up:
                log.warning("AMI: link to %s lost; reconnecting (calls go on inside Asterisk)", self.where)
                waiting_since, warned = loop.time(), False
            if not now_up and not warned and loop.time() - waiting_since > 5.0:
                warned = True
                log.warning("AMI: no answer from Asterisk at %s yet; still trying", self.where)
            up = now_up
            await asyncio.sleep(self.every)
