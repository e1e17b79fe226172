"""At each login: does Asterisk's dialplan have every place Guichet sends channels to?

Asterisk accepts a ``Redirect`` to a context or extension that does not exist
(``Response: Success``, ``Message: Redirect successful``) and then hangs the
caller up: a typo in the dialplan or in the skill matrix would cut every call.
``check_dialplan`` asks ``ShowDialPlan`` for the holding and callback contexts
and for each agent's extension in the agent context (Asterisk matches the
extension against the dialplan's patterns), names what is missing in one log
line, and tells the state machine not to route to a missing agent extension
(its offers are declined at once, the caller stays on hold for another agent).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from dispatcher.ami.calls import PhoneCalls
from dispatcher.ami.protocol import AmiManager

log = logging.getLogger(__name__)


async def has_place(manager: AmiManager, context: str, exten: str | None = None) -> bool:
    """True if ``context`` (and ``exten`` at priority 1, when given) is in the dialplan."""
    action = {"Action": "ShowDialPlan", "Context": context}
    if exten is not None:
        action["Extension"] = exten
    reply: Any = await manager.send_action(action)
    if not isinstance(reply, list):
        return False  # Response: Error, "Did not find context ..." / "Did not find extension ..."
    items = [m for m in reply if m.get("Event") == "ListDialplan"]
    if exten is None:
        return bool(items)
    return any(str(m.get("Priority", "")) == "1" for m in items)


async def check_dialplan(manager: AmiManager, calls: PhoneCalls) -> tuple[list[str], list[str]]:
    """The places missing from the dialplan (``exten@context`` or ``context``, logged),
    and the agent extensions among them."""
    contexts = calls.contexts
    wanted: list[tuple[str, str | None]] = [(contexts.holding, "s"), (contexts.callback, None)]
    lines = sorted(calls.lines.values(), key=lambda line: line.exten)
    wanted += [(contexts.agent, line.exten) for line in lines]
    found = await asyncio.gather(*(has_place(manager, ctx, exten) for ctx, exten in wanted))
    missing = [
        ctx if exten is None else f"{exten}@{ctx}"
        for (ctx, exten), ok in zip(wanted, found, strict=True)
        if not ok
    ]
    extens = [line.exten for line, ok in zip(lines, found[2:], strict=True) if not ok]
    if missing:
        log.error(
            "AMI: the dialplan lacks %s; Guichet will not send calls there (see docs/phone.md)",
            ", ".join(missing),
        )
    else:
        log.info("AMI: the dialplan has the holding, callback and %d agent extensions", len(lines))
    return missing, extens
