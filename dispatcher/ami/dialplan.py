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
import re
from typing import Any

from dispatcher.ami.calls import PhoneCalls
from dispatcher.ami.protocol import AmiManager

log = logging.getLogger(__name__)


async def listed(manager: AmiManager, context: str, exten: str | None = None) -> list[Any] | None:
    """The ``ListDialplan`` items of ``context`` (and ``exten``), None if Asterisk has none."""
    action = {"Action": "ShowDialPlan", "Context": context}
    if exten is not None:
        action["Extension"] = exten
    reply: Any = await manager.send_action(action)
    if not isinstance(reply, list):
        return None  # Response: Error, "Did not find context ..." / "Did not find extension ..."
    return [m for m in reply if m.get("Event") == "ListDialplan"]


def pattern_matches(pattern: str, exten: str) -> bool:
    """Asterisk's extension match: a name, or ``_`` then X Z N [..] . ! and literal characters."""
    if not pattern.startswith("_"):
        return pattern == exten
    out = []
    i, body = 0, pattern[1:]
    while i < len(body):
        ch = body[i]
        if ch in "Xx":
            out.append("[0-9]")
        elif ch in "Zz":
            out.append("[1-9]")
        elif ch in "Nn":
            out.append("[2-9]")
        elif ch == ".":
            out.append(".+")
        elif ch == "!":
            out.append(".*")
        elif ch == "[":
            end = body.find("]", i)
            if end < 0:
                return False
            out.append("[" + re.escape(body[i + 1 : end]).replace("\\-", "-") + "]")
            i = end
        else:
            out.append(re.escape(ch))
        i += 1
    return re.fullmatch("".join(out), exten) is not None


def _has(items: list[Any] | None, exten: str) -> bool:
    """Some item is ``exten``'s priority 1 (a hint alone is not a place to send a call)."""
    return bool(items) and any(
        str(m.get("Priority", "")) == "1" and pattern_matches(str(m.get("Extension", "")), exten)
        for m in items or ()
    )


async def check_dialplan(manager: AmiManager, calls: PhoneCalls) -> tuple[list[str], list[str]]:
    """The places missing from the dialplan (``exten@context`` or ``context``, logged),
    and the agent extensions among them.

    Three ``ShowDialPlan`` actions whatever the number of agents: the agent context is
    listed once and each agent's extension matched here against its patterns; only an
    extension that matches none is asked on its own (it may come from an included context).
    """
    contexts = calls.contexts
    holding, callback, agents = await asyncio.gather(
        listed(manager, contexts.holding, "s"),
        listed(manager, contexts.callback),
        listed(manager, contexts.agent),
    )
    missing = [] if _has(holding, "s") else [f"s@{contexts.holding}"]
    if not callback:
        missing.append(contexts.callback)
    lines = sorted(calls.lines.values(), key=lambda line: line.exten)
    unsure = [line for line in lines if not _has(agents, line.exten)]
    if agents is not None and unsure:
        found = await asyncio.gather(
            *(listed(manager, contexts.agent, line.exten) for line in unsure)
        )
        unsure = [
            line for line, items in zip(unsure, found, strict=True) if not _has(items, line.exten)
        ]
    extens = [line.exten for line in unsure]
    missing += [f"{exten}@{contexts.agent}" for exten in extens]
    if missing:
        log.error(
            "AMI: the dialplan lacks %s; Guichet will not send calls there (see docs/phone.md)",
            ", ".join(missing),
        )
    else:
        log.info("AMI: the dialplan has the holding, callback and %d agent extensions", len(lines))
    return missing, extens
