"""The one waiting queue, indexed per process and channel.

Contacts wait in *buckets*, one per (process, channel), each holding one heap
per priority class ordered by arrival. Within a heap the head is at once the
most urgent (same SLA target, so the longest wait relative to it) and the most
relaxed (the overflow delay counts from arrival), so an agent who frees up
looks only at the heads of the buckets it serves: a decision never scans the
whole queue. Removal is lazy: a removed contact's heap entry is blanked and
dropped when it reaches the head. Entries are ``[arrived_at, seq, push
number, contact]``: the push number keeps a requeued contact's new entry
apart from its blanked old one.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator

from dispatcher.state import ContactRecord
from skills.model import Channel

ENDPOINT_CHANNELS = frozenset({Channel.PHONE, Channel.CALLBACK})
"""Channels whose offers ring the agent's softphone."""


class Bucket:
    """The contacts waiting for one process on one channel."""

    __slots__ = ("process", "channel", "needs_endpoint", "heaps", "count")

    def __init__(self, process: str, channel: Channel) -> None:
        self.process = process
        self.channel = channel
        self.needs_endpoint = channel in ENDPOINT_CHANNELS
        self.heaps: dict[int, list[list[object]]] = {}
        self.count = 0

    def heads(self) -> Iterator[ContactRecord]:
        """The first waiting contact of each priority class."""
        for heap in self.heaps.values():
            while heap and heap[0][3] is None:
                heapq.heappop(heap)
            if heap:
                head = heap[0][3]
                assert isinstance(head, ContactRecord)
                yield head

    def oldest(self, priority: int, count: int) -> list[ContactRecord]:
        """Up to ``count`` waiting contacts of one priority class, oldest first."""
        heap = self.heaps.get(priority, [])
        found = heapq.nsmallest(count, (e for e in heap if e[3] is not None))
        return [e[3] for e in found]  # type: ignore[misc]


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

    def __init__(self) -> None:
        self.buckets: dict[tuple[str, Channel], Bucket] = {}
        self.contacts: dict[str, ContactRecord] = {}
        self._pushes = 0

    def __len__(self) -> int:
        return len(self.contacts)

    def bucket(self, process: str, channel: Channel) -> Bucket:
        """The bucket of ``process`` on ``channel``, created on first use."""
        key = (process, channel)
        found = self.buckets.get(key)
        if found is None:
            found = self.buckets[key] = Bucket(process, channel)
        return found

    def push(self, contact: ContactRecord) -> None:
        """Add a waiting contact (its arrival time decides its place)."""
        bucket = self.bucket(contact.process, contact.channel)
        self._pushes += 1
        entry: list[object] = [contact.arrived_at, contact.seq, self._pushes, contact]
        heap = bucket.heaps.get(contact.priority)
        if heap is None:
            heap = bucket.heaps[contact.priority] = []
        heapq.heappush(heap, entry)
        bucket.count += 1
        contact.entry = entry
        self.contacts[contact.contact_id] = contact

    def remove(self, contact: ContactRecord) -> None:
        """Take a contact out of the queue (offered, abandoned, moved)."""
        entry = contact.entry
        if entry is None:
            return
        entry[3] = None
        contact.entry = None
        self.buckets[(contact.process, contact.channel)].count -= 1
        del self.contacts[contact.contact_id]

    def best_for(
        self, targets: Iterable[tuple[Bucket, int]], now: float, reachable: bool
    ) -> ContactRecord | None:
        """The most urgent contact an agent with these targets may take now (rules 1, 2, 4)."""
        best: ContactRecord | None = None
        best_rank = 0
        best_ratio = 0.0
        pop = heapq.heappop
        for bucket, level in targets:
            if not bucket.count or (bucket.needs_endpoint and not reachable):
                continue
            for heap in bucket.heaps.values():
                while heap and heap[0][3] is None:
                    pop(heap)
                if not heap:
                    continue
                contact: ContactRecord = heap[0][3]  # type: ignore[assignment]
                if level < contact.required_level:
                    continue
                rank = contact.rank
                ratio = (now - contact.arrived_at) * contact.inv_sla
                if best is not None:
                    if rank < best_rank:
                        continue
                    if rank == best_rank:
                        if ratio < best_ratio:
                            continue
                        if ratio == best_ratio and (contact.arrived_at, contact.seq) > (
                            best.arrived_at,
                            best.seq,
                        ):
                            continue
                best, best_rank, best_ratio = contact, rank, ratio
        return best
