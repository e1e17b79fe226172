"""The one waiting queue, indexed per process and channel.

Contacts wait in *buckets*, one per (process, channel). A bucket keeps its
contacts in a heap ordered by priority class then arrival: all of them share
the same SLA target, so its head is the most urgent of the bucket (rule 2).
Contacts past their overflow delay are also in a second heap, read by
agents below the process's required level (rule 4). An agent who frees up
therefore looks only at one head per bucket it serves: a decision never scans
the whole queue.

Removal is lazy: a removed contact's entries are blanked and dropped when
they reach a head. Entries are ``[-priority, arrived_at, seq, push number,
contact]``; the push number keeps a requeued contact's new entry apart from
its blanked old one.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from dispatcher.state import LIVE_RANK, ContactRecord
from skills.model import Channel

ENDPOINT_CHANNELS = frozenset({Channel.PHONE, Channel.CALLBACK})
"""Channels whose offers ring the agent's softphone."""

_CONTACT = 4


@dataclass(frozen=True, slots=True)
class BucketRules:
    """What every contact of one process on one channel shares."""

    sla_seconds: float
    base_level: int
    relaxed_level: int
    overflow_after_s: float | None
    max_wait_s: float | None
    offer_timeout_s: float | None
    fallback: str


class Bucket:
    """The contacts waiting for one process on one channel."""

    __slots__ = (
        "process",
        "channel",
        "live",
        "needs_endpoint",
        "rules",
        "inv_sla",
        "base_level",
        "relaxed_level",
        "main",
        "relaxed",
        "count",
        "relaxed_count",
        "head",
        "free_main",
        "free_relaxed",
    )

    def __init__(self, process: str, channel: Channel, rules: BucketRules) -> None:
        self.process = process
        self.channel = channel
        self.live = channel.is_live
        self.needs_endpoint = channel in ENDPOINT_CHANNELS
        self.rules = rules
        self.inv_sla = 1.0 / rules.sla_seconds
        self.base_level = rules.base_level
        self.relaxed_level = rules.relaxed_level
        self.main: list[list[object]] = []
        self.relaxed: list[list[object]] = []
        self.count = 0
        self.relaxed_count = 0
        self.head: ContactRecord | None = None
        """The first contact of ``main`` once known; None when it must be looked up again."""
        self.free_main: list[tuple[object, ...]] = []
        """Free agents at or above the required level, best first (static strategies)."""
        self.free_relaxed: list[tuple[object, ...]] = []
        """Free agents at the relaxed level only, best first (static strategies)."""

    def first(self) -> ContactRecord:
        """The most urgent waiting contact (the bucket must not be empty)."""
        head = self.head
        if head is None:
            main = self.main
            while main[0][_CONTACT] is None:
                heapq.heappop(main)
            head = self.head = main[0][_CONTACT]  # type: ignore[assignment]
        return head  # type: ignore[return-value]

    def most_urgent(self, count: int) -> list[ContactRecord]:
        """Up to ``count`` waiting contacts, most urgent first."""
        found = heapq.nsmallest(count, (e for e in self.main if e[_CONTACT] is not None))
        return [e[_CONTACT] for e in found]  # type: ignore[misc]

    def waiting(self) -> list[ContactRecord]:
        """Every waiting contact of the bucket, in no particular order."""
        return [e[_CONTACT] for e in self.main if e[_CONTACT] is not None]  # type: ignore[misc]


def is_more_urgent(a: ContactRecord, b: ContactRecord, now: float) -> bool:
    """Rule 2: live before deferrable, priority class, waited/SLA, then arrival order."""
    if a.rank != b.rank:
        return a.rank > b.rank
    ra = (now - a.arrived_at) * a.inv_sla
    rb = (now - b.arrived_at) * b.inv_sla
    if ra != rb:
        return ra > rb
    return (a.arrived_at, a.seq) < (b.arrived_at, b.seq)


class WaitingQueue:
    """All waiting contacts, whatever their channel, in buckets per process and channel."""

    def __init__(self, rules_for: Callable[[str, Channel], BucketRules]) -> None:
        self.buckets: dict[tuple[str, Channel], Bucket] = {}
        self.contacts: dict[str, ContactRecord] = {}
        self._rules_for = rules_for
        self._pushes = 0

    def __len__(self) -> int:
        return len(self.contacts)

    def bucket(self, process: str, channel: Channel) -> Bucket:
        """The bucket of ``process`` on ``channel``, created on first use."""
        key = (process, channel)
        found = self.buckets.get(key)
        if found is None:
            found = self.buckets[key] = Bucket(process, channel, self._rules_for(process, channel))
        return found

    def push(self, contact: ContactRecord) -> None:
        """Add a waiting contact (its priority and arrival time decide its place)."""
        bucket = contact.bucket
        self._pushes += 1
        entry: list[object] = [-contact.priority, contact.arrived_at, contact.seq, self._pushes, contact]
        main = bucket.main
        heapq.heappush(main, entry)
        if main[0] is entry:
            bucket.head = contact
        bucket.count += 1
        contact.entry = entry
        self.contacts[contact.contact_id] = contact
        if contact.required_level < bucket.base_level:
            self._push_relaxed(bucket, contact)

    def mark_relaxed(self, contact: ContactRecord) -> None:
        """The contact now accepts lower levels: lower-level agents may see it."""
        if contact.entry is not None and contact.relaxed_entry is None:
            self._push_relaxed(contact.bucket, contact)

    def _push_relaxed(self, bucket: Bucket, contact: ContactRecord) -> None:
        self._pushes += 1
        entry: list[object] = [-contact.priority, contact.arrived_at, contact.seq, self._pushes, contact]
        heapq.heappush(bucket.relaxed, entry)
        bucket.relaxed_count += 1
        contact.relaxed_entry = entry

    def remove(self, contact: ContactRecord) -> None:
        """Take a contact out of the queue (offered, abandoned, moved)."""
        entry = contact.entry
        if entry is None:
            return
        entry[_CONTACT] = None
        contact.entry = None
        bucket = contact.bucket
        bucket.count -= 1
        if bucket.head is contact:
            bucket.head = None
        relaxed = contact.relaxed_entry
        if relaxed is not None:
            relaxed[_CONTACT] = None
            contact.relaxed_entry = None
            bucket.relaxed_count -= 1
        del self.contacts[contact.contact_id]

    def best_for(
        self, main: Sequence[Bucket], relaxed: Sequence[Bucket], now: float, reachable: bool
    ) -> ContactRecord | None:
        """The most urgent contact an agent may take now (rules 1, 2, 4).

        ``main`` lists the buckets where the agent's level meets the process's
        required level (any contact will do), ``relaxed`` those where it meets only
        the relaxed level (contacts past their overflow delay). Both list live
        buckets first: once a live contact is found, deferrable buckets cannot beat it.
        """
        best: ContactRecord | None = None
        best_rank = -1
        best_ratio = 0.0
        for bucket in main:
            if not bucket.count:
                continue
            if best_rank >= LIVE_RANK and not bucket.live:
                break
            if not reachable and bucket.needs_endpoint:
                continue
            contact = bucket.head or bucket.first()
            rank = contact.rank
            if rank < best_rank:
                continue
            ratio = (now - contact.arrived_at) * bucket.inv_sla
            if rank == best_rank and (
                ratio < best_ratio
                or (ratio == best_ratio and best is not None and _later(contact, best))
            ):
                continue
            best, best_rank, best_ratio = contact, rank, ratio
        for bucket in relaxed:
            if not bucket.relaxed_count:
                continue
            if best_rank >= LIVE_RANK and not bucket.live:
                break
            if not reachable and bucket.needs_endpoint:
                continue
            heap = bucket.relaxed
            while heap[0][_CONTACT] is None:
                heapq.heappop(heap)
            contact = heap[0][_CONTACT]  # type: ignore[assignment]
            rank = contact.rank
            if rank < best_rank:
                continue
            ratio = (now - contact.arrived_at) * bucket.inv_sla
            if rank == best_rank and (
                ratio < best_ratio
                or (ratio == best_ratio and best is not None and _later(contact, best))
            ):
                continue
            best, best_rank, best_ratio = contact, rank, ratio
        return best


def _later(a: ContactRecord, b: ContactRecord) -> bool:
    return (a.arrived_at, a.seq) > (b.arrived_at, b.seq)
