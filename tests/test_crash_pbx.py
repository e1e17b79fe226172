"""Kill -9 the whole town hall, 10 times in a row, with callers in every state; compare with the PBX.

The town hall runs in its own process (``tests/townhall_child.py``: private
Redis, the SQL history on SQLite or PostgreSQL, IVR, AMI) on a fake Asterisk
whose ledger records what really happened to every call. Each round places
calls, lets some be answered (talking), some finish (agents in wrap-up), some
wait, then kills the town hall with SIGKILL; while it is down, a waiting
caller hangs up and the conversations go on (some end). After the last
restart every call must have exactly one outcome in the SQL history, the one
the PBX saw, with the right agent and the right wait (approximate only by
the outage it spans) and its end (a conversation over during the outage
ends when the PBX noted it); every agent routable again; one redis-server.
The next town hall process waits imported on standby (``Child(standby=True)``):
each restart is a new process, without the seconds of imports.
"""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

from dispatcher import events as ev
from dispatcher.events import AgentState
from dispatcher.fake_asterisk import FakeAsterisk, wait_until
from dispatcher.fake_asterisk.ledger import CallLedger
from dispatcher.fake_asterisk.pbx import AgentPhone
from dispatcher.history.writer import engine_for
from dispatcher.store.audit import compare_pbx
from dispatcher.store.crashtest import Child
from dispatcher.store.intake import publish
from dispatcher.store.keys import Keys, connect
from tests.townhall_child import kill_redis, redis_servers

SECRET = "crash-secret"
AGENTS = {"a101": "101", "a102": "102", "a104": "104"}
ROUNDS = 10


async def test_ten_kill9_of_the_town_hall_change_no_outcome(tmp_path: Path, database_url: str) -> None:
    rng = random.Random(3)
    data = tmp_path / "data"
    phones = [AgentPhone(f"PJSIP/agent{n}", n) for n in AGENTS.values()]
    async with FakeAsterisk(agents=phones, secrets={"guichet": SECRET}, agi_address=("127.0.0.1", 9)) as fake:
        ledger = CallLedger(fake)
        args = ["--data-dir", str(data), "--ami-port", str(fake.ami_port), "--ami-secret", SECRET,
                "--wrap-up", "0.5", "--ring-timeout", "60", "--database-url", database_url]
        hall = Child("tests.townhall_child", args, standby=True)
        outages: list[tuple[float, float]] = []
        states: dict[str, int] = {}

        async def up() -> None:
            await hall.start(timeout=90)
            fake.agi_address = ("127.0.0.1", hall.ready[-1]["agi_port"])
            await wait_until(lambda: fake.ami_clients == 1, timeout=30)

        await up()
        redis = connect(hall.ready[-1]["redis_url"])
        await publish(redis, Keys().intake, *(
            ev.AgentStatusSet(at=time.time(), agent_id=a, state=AgentState.AVAILABLE) for a in AGENTS))
        await redis.aclose()
        try:
            n = 0
            for _round in range(ROUNDS):
                for _ in range(5):
                    n += 1
                    fake.place_call(f"06{n:08d}", talk_time=rng.uniform(0.3, 2.0),
                                    patience=rng.choice([None, None, rng.uniform(0.5, 3.0)]))
                    await asyncio.sleep(rng.uniform(0.03, 0.15))
                await asyncio.sleep(rng.uniform(0.2, 0.6))
                for fate in ledger.fates():
                    key = "ended" if fate.ended_at else "talking" if fate.answered_at else "waiting" \
                        if fate.held_at else "in IVR"
                    states[key] = states.get(key, 0) + 1
                down = time.time()
                hall.kill()
                holding = fake.holding()
                if holding:
                    fake.hangup(holding[0])  # a caller hangs up during the outage
                await asyncio.sleep(rng.uniform(0.2, 0.6))
                await up()
                outages.append((down, time.time() + 1.0))
            deadline = time.monotonic() + 60
            while any(f.ended_at is None for f in ledger.fates()) and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            for fate in ledger.fates():
                if fate.ended_at is None:
                    fake.hangup(fate.uniqueid)
            engine = engine_for(database_url)
            agents = {f"PJSIP/agent{n}": a for a, n in AGENTS.items()}
            report: dict[str, object] = {}
            for _ in range(150):
                report = await compare_pbx(engine, ledger.fates(), agents, outages=outages, tolerance=1.0)
                if not report["still_open"] and not report["not_in_history"]:
                    break
                await asyncio.sleep(0.2)
            await engine.dispose()
            assert report["calls"] >= ROUNDS * 3, report
            counts = {k: v for k, v in report.items() if k not in ("calls", "unseen", "details")}
            assert counts == dict.fromkeys(counts, 0), report
            assert states.get("talking") and states.get("waiting"), states

            redis = connect(hall.ready[-1]["redis_url"])
            views = await redis.hgetall(Keys().agents)
            await redis.aclose()
            assert {v.decode().split('"state":"')[1].split('"')[0] for v in views.values()} <= {"available", "wrap_up"}
            assert len(redis_servers(data)) == 1
        finally:
            hall.stop()
            kill_redis(data)
