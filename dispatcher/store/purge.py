"""Retention in Redis: the streams' entries older than the retention period go (CNIL).

The event stream carries callers' numbers and citizen ids (``ContactArrived``,
``CallbackRequested``); the store already trims it behind the checkpoint and
the SQL history, so past the retention period only entries that neither
holds yet can remain. ``purge_streams`` removes every entry older than the
cutoff that the checkpoint and the history both cover, says how many carried
personal data, and how many it had to keep (not yet in SQL: the writer is
behind; they go at the next purge, and their data in SQL with them).
Applied intake entries older than the cutoff go too.

Trimming a stream only flags entries deleted inside its nodes: their bytes,
numbers included, stay in memory and in the files. So the purge rebuilds
each stream from the entries that stay (one Lua script, atomic against the
dispatcher's writes; the streams are short, the store trims them
continuously), then rewrites the append-only file, so the removed entries
leave the disk as well.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from dispatcher.store.keys import Keys, event_id, read_range, seq_of

PERSONAL_FIELDS = ("caller", "citizen_id", "number")

_REBUILD = """
local entries = redis.call('XRANGE', KEYS[1], ARGV[1], '+')
redis.call('DEL', KEYS[2])
for _, entry in ipairs(entries) do
  redis.call('XADD', KEYS[2], entry[1], unpack(entry[2]))
end
if #entries > 0 then
  redis.call('RENAME', KEYS[2], KEYS[1])
else
  redis.call('DEL', KEYS[1])
end
return #entries
"""
"""Keep the entries of stream KEYS[1] from id ARGV[1] on, in a new stream (the old nodes' bytes go)."""
PAGE = 5_000


@dataclass(frozen=True, slots=True)
class StreamPurge:
    """What the purge removed from (or, in a dry run, would remove from) the Redis streams."""

    events: int
    """Event entries older than the cutoff removed."""
    personal: int
    """Of those, entries that carried a caller's number or a citizen id."""
    kept: int
    """Entries older than the cutoff with personal data kept: not yet in the SQL history or the checkpoint."""
    intake: int
    """Applied intake entries older than the cutoff removed."""


def _personal(line: bytes) -> bool:
    try:
        record = json.loads(line)
    except ValueError:
        return False
    return isinstance(record, dict) and any(record.get(f) for f in PERSONAL_FIELDS)


def _at(line: bytes) -> float | None:
    try:
        at = json.loads(line).get("at")
    except (ValueError, AttributeError):
        return None
    return float(at) if isinstance(at, (int, float)) else None


async def purge_streams(redis: Redis, keys: Keys, cutoff: float, dry_run: bool = False) -> StreamPurge:
    """Remove the stream entries older than ``cutoff`` (seconds since the epoch) that recovery no longer needs."""
    meta: Any = await redis.hgetall(keys.meta)
    meta = {k.decode(): v.decode() for k, v in meta.items()}
    covered = min(int(meta.get("snapshot_upto", 0)), int(meta.get("history_seq", 0)))
    old_last = 0
    removable = personal = kept = 0
    after: str | None = None
    done = False
    while not done:
        page = await read_range(redis, keys.events, after, PAGE)
        for stream_id, fields in page:
            line = fields.get(b"ev", b"")
            at = _at(line)
            if at is None or at >= cutoff:
                done = True
                break
            seq = seq_of(stream_id)
            old_last = seq
            if seq <= covered:
                removable += 1
                personal += _personal(line)
            elif _personal(line):
                kept += 1
        if len(page) < PAGE:
            break
        after = page[-1][0].decode()
    floor = min(old_last, covered)
    intake = 0
    applied = meta.get("intake_applied")
    if applied:
        limit = min(_id_tuple(applied), (int(cutoff * 1000), 0))
        entries = await read_range(redis, keys.intake, None, None)
        # the last applied entry stays: it marks where the intake resumes
        intake = sum(1 for i, _f in entries if _id_tuple(i.decode()) < limit)
    if not dry_run:
        if floor > 0:
            await _rebuild(redis, keys.events, event_id(floor + 1))
        if intake:
            ms, seq = min(_id_tuple(applied or "0-0"), (int(cutoff * 1000), 0))
            await _rebuild(redis, keys.intake, f"{ms}-{seq}")
        if removable or intake:
            try:
                await redis.execute_command("BGREWRITEAOF")
            except ResponseError:
                pass  # a rewrite already running, or no AOF (a server configured without it)
    return StreamPurge(events=removable, personal=personal, kept=kept, intake=intake)


async def _rebuild(redis: Redis, key: str, from_id: str) -> None:
    await redis.eval(_REBUILD, 2, key, f"{key}:purging", from_id)  # type: ignore[misc]


def _id_tuple(stream_id: str) -> tuple[int, int]:
    ms, _, seq = stream_id.partition("-")
    return int(ms), int(seq or 0)
