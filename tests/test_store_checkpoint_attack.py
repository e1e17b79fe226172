"""A checkpoint planted in Redis runs nothing: the dispatcher process refuses it and starts from the stream."""

from __future__ import annotations

import asyncio
import pickle
from pathlib import Path

from dispatcher import events as ev
from dispatcher.events import AgentState
from dispatcher.store.crashtest import Child
from dispatcher.store.intake import publish
from dispatcher.store.keys import Keys, connect
from dispatcher.store.redis_server import RedisServer
from skills.model import Channel


class _Shell:
    """What an attacker puts in a pickle: a command run at loading."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        import os

        return (os.system, (f"touch {self.marker}",))


async def _settled(redis: object, keys: Keys, last: str) -> None:
    for _ in range(500):
        if await redis.hget(keys.meta, "intake_applied") == last.encode():  # type: ignore[attr-defined]
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the dispatcher did not apply the intake")


async def test_planted_checkpoints_run_nothing_and_the_dispatcher_starts(
    redis_server: RedisServer, redis_prefix: str, tmp_path: Path
) -> None:
    keys = Keys(redis_prefix)
    redis = connect(redis_server.url)
    child = Child(
        "dispatcher.store.runtime",
        ["--redis-url", redis_server.url, "--prefix", keys.prefix, "--agents", "2", "--snapshot-every", "4"],
    )
    await child.start()
    try:
        inputs = [ev.AgentStatusSet(at=1.0, agent_id=a, state=AgentState.AVAILABLE) for a in ("a0000", "a0001")]
        inputs += [ev.ContactArrived(at=2.0 + i, contact_id=f"c{i}", channel=Channel.EMAIL, process="p00")
                   for i in range(10)]
        ids = await publish(redis, keys.intake, *inputs)
        await _settled(redis, keys, ids[-1])
        good = await redis.get(keys.snapshot)
        assert good is not None and good.startswith(b'{"format":"guichet-checkpoint"')
        child.kill()
        await child.start()
        assert child.ready[-1]["checkpoint"] == "restored"
        waiting = child.ready[-1]["waiting"]
        assert 8 <= waiting < 10  # one or two offered

        marker = tmp_path / "pwned"
        planted = [
            pickle.dumps(_Shell(marker)),
            b"0123456789abcdef\n" + pickle.dumps(_Shell(marker)),
            b"\x80\x04garbage\xff" * 100,
        ]
        for data in planted:
            child.kill()
            await redis.set(keys.snapshot, data)
            await child.start()
            ready = child.ready[-1]
            assert not marker.exists(), "loading the checkpoint ran a command"
            assert ready["checkpoint"] == "refused"
            assert ready["waiting"] == waiting and ready["diverged"] == 0 and ready["replayed"] == len(inputs)

        more = await publish(redis, keys.intake, ev.ContactArrived(at=30.0, contact_id="late", channel=Channel.EMAIL, process="p00"))
        await _settled(redis, keys, more[-1])
        child.kill()
        await child.start()
        assert child.ready[-1]["waiting"] == waiting + 1
    finally:
        child.stop()
        await redis.aclose()
