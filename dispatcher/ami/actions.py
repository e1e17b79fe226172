"""The AMI actions that carry out the phone decisions, and what their answers mean.

``ActionSender.send`` writes a ``Redirect``, ``Hangup`` or ``Originate`` of
``dispatcher.ami.calls`` on the link and, when Asterisk answers, hands the
answer back to the state machine (``PhoneCalls.redirect_failed``,
``PhoneCalls.originated``), whose steps go to ``on_steps``. An action whose
link dropped before the answer is left to the resynchronisation, which finds
where the channel really is.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

from dispatcher.ami.calls import PhoneCalls
from dispatcher.ami.model import Action, Hangup, Originate, Redirect, Step
from dispatcher.ami.protocol import AmiDisconnected, AmiManager
from dispatcher.ami.ratelog import RateLimitedLog

log = logging.getLogger(__name__)


class ActionSender:
    """Writes the machine's actions on the AMI link and feeds their answers back."""

    def __init__(
        self,
        manager: AmiManager,
        calls: PhoneCalls,
        clock: Callable[[], float],
        on_steps: Callable[[Sequence[Step]], None],
        *,
        callback_ring_s: float = 20.0,
        problems: RateLimitedLog | None = None,
    ) -> None:
        self.manager = manager
        self.calls = calls
        self.clock = clock
        self.on_steps = on_steps
        self.callback_ring_s = callback_ring_s
        self.problems = problems or RateLimitedLog(log)
        self.redirects = 0
        self.originates = 0
        self.on_redirect: Callable[[Redirect], None] | None = None
        """Called as each Redirect is written (the benchmark's latency probe)."""

    def send(self, action: Action) -> None:
        if isinstance(action, Redirect):
            self._redirect(action)
        elif isinstance(action, Originate):
            self._originate(action)
        elif isinstance(action, Hangup):
            log.warning("AMI: hanging up %s (its contact expired on the line)", action.channel)
            self.manager.send_action(
                {"Action": "Hangup", "Channel": action.channel}
            ).add_done_callback(_ignore)

    def _redirect(self, redirect: Redirect) -> None:
        future = self.manager.send_action(
            {
                "Action": "Redirect",
                "Channel": redirect.channel,
                "Context": redirect.context,
                "Exten": redirect.exten,
                "Priority": "1",
            }
        )
        self.redirects += 1
        if self.on_redirect is not None and redirect.agent_id is not None:
            self.on_redirect(redirect)
        future.add_done_callback(lambda f: self._redirect_done(f, redirect))

    def _redirect_done(self, future: asyncio.Future[Any], redirect: Redirect) -> None:
        if future.cancelled():
            return
        exc = future.exception()
        if isinstance(exc, AmiDisconnected):
            return  # the resynchronisation after reconnecting finds where the caller is
        response = None if exc is not None else future.result()
        if exc is None and getattr(response, "success", False):
            return
        message = str(exc or (response.get("Message") if response is not None else "?"))
        if message.startswith(("Channel does not exist", "No such channel")):
            log.info("AMI: Redirect of %s: the caller is gone (%s)", redirect.channel, message)
        else:
            self.problems.warning(
                "redirect_failed", "AMI: Redirect of %s failed: %s", redirect.channel, message
            )
        self.on_steps(self.calls.redirect_failed(redirect, message, self.clock()))

    def _originate(self, originate: Originate) -> None:
        self.originates += 1
        future = self.manager.send_action(
            {
                "Action": "Originate",
                "Channel": originate.endpoint,
                "Context": originate.context,
                "Exten": originate.number,
                "Priority": "1",
                "CallerID": f'"Rappel {originate.number}" <{originate.number}>',
                "Timeout": str(int(self.callback_ring_s * 1000)),
                "Async": "true",
                "ChannelId": originate.leg_id,
                "Variable": f"GUICHET_CONTACT={originate.contact_id}",
            }
        )
        future.add_done_callback(lambda f: self._originate_done(f, originate))

    def _originate_done(self, future: asyncio.Future[Any], originate: Originate) -> None:
        if future.cancelled():
            return
        exc = future.exception()
        if isinstance(exc, AmiDisconnected):
            return
        result = None if exc is not None else future.result()
        messages = result if isinstance(result, list) else [result]
        final = messages[-1] if messages else None
        ok = (
            final is not None
            and final.get("Response") == "Success"
            and final.get("Event") == "OriginateResponse"
        )
        reason = 0
        if final is not None:
            text = str(final.get("Reason", "0") or "0")
            reason = int(text) if text.isdigit() else 0
        if not ok:
            log.info(
                "AMI: callback %s: the phone of %s did not answer (Reason %d)",
                originate.contact_id,
                originate.agent_id,
                reason,
            )
        self.on_steps(self.calls.originated(originate, ok, reason, self.clock()))


def _ignore(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()
