"""A restart with timers due during the outage: every offer they lead to is carried out.

The town hall runs in its own process on a fake Asterisk; two agents finish
their calls and go into wrap-up, two more callers queue, and the town hall
is killed (SIGKILL). Its wrap-ups end while it is down, and so would the ring
timers of the offers they lead to (the ring timeout is shorter than the
outage). At the restart the
recovered wrap-up timers fire at once and offer the waiting callers: each
offer must reach the PBX (a Redirect the fake Asterisk saw, the caller bridged
to the agent), and no agent may be paused ``no_answer`` for an offer it never
rang with.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from dispatcher import events as ev
from dispatcher.events import AgentState
from dispatcher.fake_asterisk import FakeAsterisk, wait_until
from dispatcher.fake_asterisk.pbx import AgentPhone
from dispatcher.store.audit import Audit
from dispatcher.store.crashtest import Child
from dispatcher.store.intake import publish
from dispatcher.store.keys import Keys, connect
from tests.townhall_child import kill_redis

SECRET = "restart-secret"
WRAP_UP = 2.0
RING = 3.0
"""Shorter than the outage: the offers made at the restart must still ring (the town hall's late timers)."""


async def _events(redis: object, keys: Keys, audit: Audit, seen: list[ev.Event]) -> list[ev.Event]:
    seen.extend(await audit.read(redis, keys))  # type: ignore[arg-type]
    return seen


async def test_wrap_ups_due_during_the_outage_lead_to_offers_carried_out(tmp_path: Path) -> None:
    phones = [AgentPhone("PJSIP/agent101", "101"), AgentPhone("PJSIP/agent102", "102")]
    async with FakeAsterisk(agents=phones, secrets={"guichet": SECRET}, agi_address=("127.0.0.1", 9)) as fake:
        hall = Child("tests.townhall_child", [
            "--data-dir", str(tmp_path / "data"), "--ami-port", str(fake.ami_port), "--ami-secret", SECRET,
            "--wrap-up", str(WRAP_UP), "--ring-timeout", str(RING),
        ])
        await hall.start(timeout=60)
        try:
            fake.agi_address = ("127.0.0.1", hall.ready[-1]["agi_port"])
            keys = Keys()
            redis = connect(hall.ready[-1]["redis_url"])
            audit, seen = Audit(), []
            await wait_until(lambda: fake.ami_clients == 1, timeout=20)
            await publish(redis, keys.intake, *(
                ev.AgentStatusSet(at=time.time(), agent_id=a, state=AgentState.AVAILABLE) for a in ("a101", "a102")))
            first = [fake.place_call(f"060000000{i}") for i in (1, 2)]
            await wait_until(lambda: all(fake.bridged_to(c) for c in first), timeout=20)
            assert fake.agent_hangup("101") and fake.agent_hangup("102")

            async def in_wrap_up() -> bool:
                events = await _events(redis, keys, audit, seen)
                wrapped = {e.agent_id for e in events if isinstance(e, ev.AgentStateChanged)
                           and e.state is AgentState.WRAP_UP}
                return wrapped == {"a101", "a102"}

            await _until(in_wrap_up, "both agents in wrap-up")
            second = [fake.place_call(f"061000000{i}") for i in (1, 2)]

            async def queued() -> bool:
                events = await _events(redis, keys, audit, seen)
                return sum(isinstance(e, ev.ContactQueued) for e in events) == 4

            await _until(queued, "the two new callers queued")
            assert not any(isinstance(e, ev.ContactOffered) for e in seen[-4:])
            redirects_before = len(fake.actions("Redirect"))
            hall.kill()
            await redis.aclose()
            await asyncio.sleep(WRAP_UP + 1.0)  # the wrap-ups end while the town hall is down

            await hall.start(timeout=60)
            fake.agi_address = ("127.0.0.1", hall.ready[-1]["agi_port"])
            redis = connect(hall.ready[-1]["redis_url"])
            await wait_until(lambda: all(fake.bridged_to(c) for c in second), timeout=20)
            async def answered() -> bool:
                events = await _events(redis, keys, audit, seen)
                return {c.uniqueid for c in second} <= {e.contact_id for e in events if isinstance(e, ev.OfferAnswered)}

            await _until(answered, "the offers answered")  # answered: no ring timer can pause them now
            await asyncio.sleep(RING + 0.5)  # a ring timer counted from the past would have fired by now
            events = await _events(redis, keys, audit, seen)
            redirected = {a["channel"][0] for a in fake.actions("Redirect")[redirects_before:]}
            assert {c.name for c in second} <= redirected
            assert {fake.bridged_to(c) for c in second} == {"PJSIP/agent101", "PJSIP/agent102"}
            paused = [e for e in events if isinstance(e, ev.AgentStateChanged) and e.state is AgentState.PAUSED]
            assert paused == []
            assert audit.violations() == dict.fromkeys(audit.violations(), 0)
            await redis.aclose()
        finally:
            hall.stop()
            kill_redis(tmp_path / "data")


async def _until(check: object, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():  # type: ignore[operator]
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
