"""``guichet bench soak``: 200,000 contacts through a running dispatcher; memory and checkpoints stay flat.

A dispatcher process (``python -m dispatcher.store.runtime``) and a history
writer process (SQLite) run on a private Redis; this process plays the
outside world through the intake stream, as the crash test does: contacts
arrive (written channels, so no ring timer), the agents answer each offer
at once and complete it. At most ``in_flight`` contacts are open at a time,
so what grows with the run is only what the server keeps of the past: the
memory of ended contacts, stale timers, the stream (trimmed behind the
checkpoint and the SQL history), buffers. Every tenth of the run it samples
the dispatcher's resident memory, the last checkpoint's duration and size,
and the history writer's lag; it also notes the duration of every checkpoint.

The baseline is the run's own start: ``start`` is the first sample with a
checkpoint taken (at 10 % of the full run the memory of ended contacts,
20,000 by default, is full), ``end`` the last one; the JSON carries their
ratios. One checkpoint's time is noisy, so ``checkpoint_ms_start`` /
``checkpoint_ms_end`` are medians of all the checkpoints at 10-30 % and in
the last 20 % of the run, with the least-squares slope over all of them. ``lost`` counts contacts published that did not
end exactly once (or were refused), ``duplicated`` entries or ends seen twice.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
from rich.console import Console
from rich.table import Table

from dispatcher import events as ev
from dispatcher.events import AgentState
from dispatcher.history.migrate import upgrade
from dispatcher.store.audit import Audit
from dispatcher.store.crashtest import Child
from dispatcher.store.intake import publish
from dispatcher.store.keys import Keys, connect
from dispatcher.store.redis_server import RedisServer
from skills.model import Channel

AGENTS = 200
PROCESSES = 8


async def _drive(
    redis_url: str, keys: Keys, total: int, in_flight: int, dispatcher: Child, writer: Child, console: Console
) -> dict[str, Any]:
    redis = connect(redis_url)
    rng = random.Random(7)
    processes = [f"p{i:02d}" for i in range(PROCESSES)]
    await publish(redis, keys.intake, *(
        ev.AgentStatusSet(at=time.time(), agent_id=f"a{i:04d}", state=AgentState.AVAILABLE) for i in range(AGENTS)))
    audit = Audit()
    proc = psutil.Process(dispatcher.process.pid if dispatcher.process else 0)
    published = 0
    samples: list[dict[str, Any]] = []
    checkpoints: list[tuple[int, float]] = []
    seen_upto: bytes | str | None = None
    next_sample = total // 10
    started = next_poll = time.perf_counter()
    while True:
        batch: list[ev.Event] = []
        open_now = published - len(audit.outcomes)
        if published < total and open_now < in_flight:
            n = min(in_flight - open_now, 2_000, total - published)
            now = time.time()
            batch += [
                ev.ContactArrived(at=now, contact_id=f"s{published + i:07d}", channel=Channel.EMAIL,
                                  process=rng.choice(processes))
                for i in range(n)
            ]
            published += n
        events = await audit.read(redis, keys, count=20_000)
        now = time.time()
        for e in events:
            if isinstance(e, ev.ContactOffered):
                batch.append(ev.OfferAnswered(at=now, contact_id=e.contact_id, agent_id=e.agent_id))
                batch.append(ev.ContactCompleted(at=now, contact_id=e.contact_id))
        if batch:
            await publish(redis, keys.intake, *batch)
        done = len(audit.outcomes)
        if time.perf_counter() >= next_poll:
            # Every checkpoint's timing (the meta holds the last one): a trend, not one sample.
            upto, ms = await redis.hmget(keys.meta, "snapshot_upto", "checkpoint_ms")
            if upto is not None and ms is not None and upto != seen_upto:
                seen_upto = upto
                checkpoints.append((done, float(ms)))
            next_poll = time.perf_counter() + 0.05
        if done >= next_sample or (published >= total and done >= total):
            samples.append(await _sample(redis, keys, proc, done, time.perf_counter() - started))
            next_sample += total // 10
            if published >= total and done >= total:
                break
        if not events and not batch:
            await asyncio.sleep(0.002)
    seconds = time.perf_counter() - started
    await redis.aclose()
    return {"samples": samples, "seconds": seconds, "audit": audit, "published": published,
            "checkpoints": checkpoints}


def checkpoint_trend(checkpoints: list[tuple[int, float]], total: int) -> dict[str, Any]:
    """Median checkpoint time early (10-30 % of the run) and late (the last 20 %), and the slope.

    One checkpoint's time wanders with the machine (2x between neighbours); the
    medians of many, and the least-squares slope over all of them (ms per
    100,000 contacts), say whether it grows.
    """
    early = sorted(ms for done, ms in checkpoints if 0.1 * total <= done < 0.3 * total)
    late = sorted(ms for done, ms in checkpoints if done >= 0.8 * total)
    slope = None
    if len(checkpoints) >= 3:
        n = len(checkpoints)
        mx = sum(d for d, _ in checkpoints) / n
        my = sum(m for _, m in checkpoints) / n
        var = sum((d - mx) ** 2 for d, _ in checkpoints)
        if var > 0:
            slope = sum((d - mx) * (m - my) for d, m in checkpoints) / var * 100_000
    start = statistics.median(early) if early else None
    end = statistics.median(late) if late else None
    return {
        "checkpoints": len(checkpoints),
        "checkpoint_ms_start": round(start, 2) if start is not None else None,
        "checkpoint_ms_end": round(end, 2) if end is not None else None,
        "checkpoint_ratio": round(end / start, 3) if start and end is not None else None,
        "checkpoint_samples_start": len(early),
        "checkpoint_samples_end": len(late),
        "checkpoint_slope_ms_per_100k": round(slope, 2) if slope is not None else None,
    }


async def _sample(redis: Any, keys: Keys, proc: psutil.Process, done: int, elapsed: float) -> dict[str, Any]:
    meta = {k.decode(): v.decode() for k, v in (await redis.hgetall(keys.meta)).items()}
    last = int(meta.get("last_seq", 0))
    return {
        "contacts": done,
        "seconds": elapsed,
        "rss_mb": proc.memory_info().rss / 2**20,
        "checkpoint_ms": float(meta.get("checkpoint_ms", "nan")),
        "checkpoint_kb": (await redis.strlen(keys.snapshot)) / 1024,
        "stream": await redis.xlen(keys.events),
        "history_lag": last - int(meta.get("history_seq", 0)),
    }


async def _run(console: Console, quick: bool) -> dict[str, Any]:
    total = 5_000 if quick else 200_000
    in_flight = 500
    with tempfile.TemporaryDirectory(prefix="guichet-soak-") as tmp:
        server = RedisServer(Path(tmp) / "redis")
        url = await asyncio.to_thread(server.start)
        database_url = f"sqlite+aiosqlite:///{Path(tmp) / 'history.sqlite'}"
        await asyncio.to_thread(upgrade, database_url)
        keys = Keys("soak")
        base = ["--redis-url", url, "--prefix", keys.prefix]
        dispatcher = Child("dispatcher.store.runtime", [
            *base, "--agents", str(AGENTS), "--processes", str(PROCESSES), "--wrap-up", "0",
            "--snapshot-every", "5000"])
        writer = Child("dispatcher.history.writer", [*base, "--database-url", database_url])
        try:
            await dispatcher.start(timeout=60)
            await writer.start(timeout=60)
            result = await _drive(url, keys, total, in_flight, dispatcher, writer, console)
        finally:
            dispatcher.stop()
            writer.stop()
            await asyncio.to_thread(server.stop)
    samples = result["samples"]
    audit: Audit = result["audit"]
    table = Table(title=f"Soak: {total:,} contacts through a running dispatcher ({AGENTS} agents, "
                        f"{in_flight} open at most), history on SQLite")
    for name in ("contacts", "s", "dispatcher RSS MB", "checkpoint ms", "checkpoint KB", "stream entries",
                 "history lag"):
        table.add_column(name, justify="right")
    for s in samples:
        table.add_row(f"{s['contacts']:,}", f"{s['seconds']:.1f}", f"{s['rss_mb']:.1f}", f"{s['checkpoint_ms']:.1f}",
                      f"{s['checkpoint_kb']:.0f}", f"{s['stream']:,}", f"{s['history_lag']:,}")
    console.print(table)
    trend = checkpoint_trend(result["checkpoints"], total)
    console.print(
        f"Checkpoints: {trend['checkpoints']} timed; median {trend['checkpoint_ms_start']} ms over "
        f"{trend['checkpoint_samples_start']} at 10-30 % of the run, {trend['checkpoint_ms_end']} ms over "
        f"{trend['checkpoint_samples_end']} in the last 20 %; least-squares slope "
        f"{trend['checkpoint_slope_ms_per_100k']} ms per 100,000 contacts."
    )
    timed = [s for s in samples if s["checkpoint_ms"] == s["checkpoint_ms"]]  # a checkpoint taken (not NaN)
    start, end = (timed[0], timed[-1]) if timed else (samples[0], samples[-1])
    ended = {c for c in audit.outcomes if c.startswith("s")}
    lost = result["published"] - len(ended) + audit.rejected_arrivals
    duplicated = audit.repeats + audit.double_ends + audit.double_applied
    return {
        "contacts": len(ended),
        "seconds": round(result["seconds"], 1),
        "contacts_per_s": round(len(ended) / result["seconds"]),
        "rss_mb_start": round(start["rss_mb"], 1),
        "rss_mb_end": round(end["rss_mb"], 1),
        "rss_ratio": round(end["rss_mb"] / start["rss_mb"], 3),
        **trend,
        "checkpoint_kb_start": round(start["checkpoint_kb"]),
        "checkpoint_kb_end": round(end["checkpoint_kb"]),
        "stream_entries_end": end["stream"],
        "history_lag_end": end["history_lag"],
        "lost": lost,
        "duplicated": duplicated,
        "violations": sum(audit.violations().values()),
    }


def run(console: Console, quick: bool) -> dict[str, Any]:
    """Run the soak (``quick``: 5,000 contacts)."""
    return asyncio.run(_run(console, quick))
