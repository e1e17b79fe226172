"""Recovery after a crash: the last checkpoint plus the inputs logged after it.

The routing core is deterministic, so the input events of the stream are the
durable truth: a fresh Router restored from the checkpoint and fed the
inputs logged after it ends in the very state of the Router that crashed
(same queue order, same waited times, same agent states and timers). The
decisions it makes while replaying are compared with the logged ones; any
difference is counted in ``diverged`` (0 unless the catalogue, the matrix or
the code changed between the two runs).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from dispatcher import events as ev
from dispatcher.events import Event
from dispatcher.policy import RoutingPolicy
from dispatcher.router import Router
from dispatcher.store import snapshot
from dispatcher.store.keys import Keys, event_id, read_range, seq_of
from dispatcher.store.live import waiting_view
from skills.model import Catalogue, SkillMatrix

PAGE = 10_000

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Recovered:
    """The router as it was, and where the store and the intake resume."""

    router: Router
    next_seq: int
    intake_applied: str
    replayed: int
    diverged: int
    seconds: float
    checkpoint: str = "none"
    """``none`` (no checkpoint), ``restored``, or ``refused`` (bad or unknown: logged, stream replayed)."""

    def waiting_views(self) -> dict[str, str]:
        """The live view of every contact still known to the router (seeds the store)."""
        return {
            c.contact_id: waiting_view(
                ev.ContactQueued(
                    at=c.arrived_at,
                    contact_id=c.contact_id,
                    process=c.process,
                    channel=c.channel,
                    priority=c.priority,
                    arrived_at=c.arrived_at,
                )
            )
            for c in self.router.contacts.values()
        }


async def recover(
    redis: Redis,
    keys: Keys,
    catalogue: Catalogue,
    matrix: SkillMatrix,
    policy: RoutingPolicy | None = None,
) -> Recovered:
    """Rebuild the router from Redis (a new site gives a fresh router)."""
    started = time.perf_counter()
    raw_meta: Any = await redis.hgetall(keys.meta)
    meta = {k.decode(): v.decode() for k, v in raw_meta.items()}
    raw: Any = await redis.get(keys.snapshot)
    router, upto, used = Router(catalogue, matrix, policy), 0, "none"
    if raw is not None:
        try:
            router, upto, used = snapshot.restore(raw, catalogue, matrix, policy), int(meta["snapshot_upto"]), "restored"
        except (snapshot.CheckpointError, KeyError, ValueError) as exc:
            log.error("checkpoint refused, the state is rebuilt from the event stream: %s", exc)
            router, upto, used = Router(catalogue, matrix, policy), 0, "refused"
    last_seq = int(meta.get("last_seq", "0"))
    replayed = diverged = 0
    expected: list[Event] = []
    after = event_id(upto)
    while True:
        page = await read_range(redis, keys.events, after, PAGE)
        if upto == 0 and page and after == event_id(0) and seq_of(page[0][0]) > 1:
            log.error(
                "the event stream starts at event %d: what happened before it is not replayed", seq_of(page[0][0])
            )
        for stream_id, fields in page:
            try:
                event = ev.loads(fields.get(b"ev", b""))
            except (ValueError, TypeError, AttributeError) as exc:
                log.error("event %s of the stream skipped at recovery: %s", stream_id.decode(), exc)
                continue
            if event.is_input:
                diverged += len(expected)
                expected = router.handle(event)
                replayed += 1
            elif expected and ev.to_record(expected[0]) == ev.to_record(event):
                expected.pop(0)
            else:
                diverged += 1
        if len(page) < PAGE:
            break
        after = page[-1][0].decode()
    diverged += len(expected)
    return Recovered(
        router=router,
        next_seq=last_seq + 1,
        intake_applied=meta.get("intake_applied", "0-0"),
        replayed=replayed,
        diverged=diverged,
        seconds=time.perf_counter() - started,
        checkpoint=used,
    )
