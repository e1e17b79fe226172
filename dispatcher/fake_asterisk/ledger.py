"""The fake PBX's own ledger: what really happened to every call, from the events it emits.

``CallLedger(fake)`` taps the frames the PBX writes (the same ones AMI
clients get) and keeps, for every caller's channel (the trunk's), when it
came in, when it first went on hold in the waiting context, when and to
which agent it was bridged, and when it ended. It knows nothing of the
dispatcher: it is the outside world's account, which the restart and crash
tests compare with the SQL history (``dispatcher.store.audit.compare_pbx``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from dispatcher.fake_asterisk.server import FakeAsterisk


@dataclass
class CallFate:
    """One caller, as the PBX saw it."""

    uniqueid: str
    channel: str
    placed_at: float
    held_at: float | None = None
    """First MusicOnHoldStart: the caller waits for an agent."""
    answered_at: float | None = None
    agent_device: str | None = None
    """The agent endpoint it was first bridged with (``PJSIP/agent101``)."""
    ended_at: float | None = None

    @property
    def outcome(self) -> str:
        """``active``, ``served`` (bridged with an agent) or ``abandoned`` (hung up before)."""
        if self.ended_at is None:
            return "active"
        return "served" if self.answered_at is not None else "abandoned"

    @property
    def waited(self) -> float | None:
        """From going on hold to the agent's answer, or to the hang-up."""
        if self.held_at is None:
            return None
        end = self.answered_at if self.answered_at is not None else self.ended_at
        return None if end is None else end - self.held_at


def _fields(frame: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in frame.decode("utf-8", "replace").split("\r\n"):
        key, sep, value = line.partition(": ")
        if sep and key not in out:
            out[key] = value
    return out


class CallLedger:
    """Every caller's fate on one FakeAsterisk (attach after ``start``)."""

    def __init__(self, fake: FakeAsterisk, clock: Callable[[], float] = time.time) -> None:
        if fake.pbx is None:
            raise RuntimeError("start the FakeAsterisk before attaching a ledger")
        self.clock = clock
        self.trunk = f"PJSIP/{fake.pbx.trunk}-"
        self.calls: dict[str, CallFate] = {}
        self._bridges: dict[str, list[tuple[str, str]]] = {}
        pbx = fake.pbx
        emit = pbx.emit

        def tap(frame: bytes) -> None:
            self.see(frame)
            emit(frame)

        pbx.emit = tap

    def see(self, frame: bytes) -> None:
        """Account for one event frame."""
        if not frame.startswith(b"Event: "):
            return
        name = frame[7:frame.index(b"\r\n")].decode()
        if name not in ("Newchannel", "MusicOnHoldStart", "BridgeEnter", "Hangup"):
            return
        f = _fields(frame)
        uid, channel, now = f.get("Uniqueid", ""), f.get("Channel", ""), self.clock()
        if name == "Newchannel":
            if channel.startswith(self.trunk):
                self.calls[uid] = CallFate(uid, channel, now)
            return
        if name == "BridgeEnter":
            members = self._bridges.setdefault(f.get("BridgeUniqueid", ""), [])
            members.append((uid, channel))
            callers = [self.calls[u] for u, _c in members if u in self.calls]
            agents = [c for _u, c in members if not c.startswith(self.trunk)]
            for caller in callers:
                if caller.answered_at is None and agents:
                    caller.answered_at = now
                    caller.agent_device = agents[0].rpartition("-")[0]
            return
        fate = self.calls.get(uid)
        if fate is None:
            return
        if name == "MusicOnHoldStart" and fate.held_at is None:
            fate.held_at = now
        elif name == "Hangup":
            fate.ended_at = now

    def fates(self) -> list[CallFate]:
        """Every caller, in the order they called."""
        return list(self.calls.values())
