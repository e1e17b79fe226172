"""The one waiting queue, indexed per process and channel.

Contacts wait in *buckets*, one per (process, channel). A bucket keeps its
contacts in a heap ordered by priority class then arrival: all of them share
the same SLA target, so its head is the most urgent of the bucket (rule 2).
Contacts past their overflow delay are also in a second heap, read by
agents below the process's required level (rule 4). An agent who frees up
therefore looks only at one head per bucket it serves: a decision never scans
the whole queue.

Removal is lazy: a removed contact's entries are blanked and dropped when
they reach a head, or all at once when they outnumber the waiting contacts. Entries are ``[-priority, arrived_at, seq, push number,
contact]``; the push number keeps a requeued contact's new entry apart from
its blanked old one.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence

from mypy_extensions import mypyc_attr

from dispatcher.state import ENTRY_CONTACT, LIVE_RANK, Bucket, BucketRules, ContactRecord
from skills.model import Channel


def is_more_urgent(a: ContactRecord, b: ContactRecord, now: float) -> bool:
    """Rule 2: live before deferrable, priority class, waited/SLA, then arrival order."""
    if a.rank != b.rank:
        return a.rank > b.rank
    ra = (now - a.arrived_at) * a.inv_sla
    rb = (now - b.arrived_at) * b.inv_sla
    if ra != rb:
        return ra > rb
    return (a.arrived_at, a.seq) < (b.arrived_at, b.seq)


def urgency_key(contact: ContactRecord, now: float) -> tuple[float, float, float, int]:
    """Rule 2 as a sort key, most urgent first (the order ``is_more_urgent`` says)."""
    return (-contact.rank, -((now - contact.arrived_at) * contact.inv_sla), contact.arrived_at, contact.seq)


@mypyc_attr(serializable=True)
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
        entry[ENTRY_CONTACT] = None
        contact.entry = None
        bucket = contact.bucket
        bucket.count -= 1
        if bucket.head is contact:
            bucket.head = None
        relaxed = contact.relaxed_entry
        if relaxed is not None:
            relaxed[ENTRY_CONTACT] = None
            contact.relaxed_entry = None
            bucket.relaxed_count -= 1
        del self.contacts[contact.contact_id]
        if len(bucket.main) > 2 * bucket.count + 32:
            bucket.main = _compact(bucket.main)
        if len(bucket.relaxed) > 2 * bucket.relaxed_count + 32:
            bucket.relaxed = _compact(bucket.relaxed)

    def best_for(
        self,
        main: Sequence[Bucket],
        relaxed: Sequence[Bucket],
        now: float,
        reachable: bool,
        site: str | None = None,
    ) -> ContactRecord | None:
        """The most urgent contact an agent may take now (rules 1, 2, 4).

        ``main`` lists the buckets where the agent's level meets the process's
        required level (any contact will do), ``relaxed`` those where it meets only
        the relaxed level (contacts past their overflow delay). Both list live
        buckets first: once a live contact is found, deferrable buckets cannot beat it.
        ``site`` is the agent's counter site: a head waiting in another site is
        passed over for the bucket's first contact the agent may take.
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
            if contact.site is not None and contact.site != site:
                found = _first_of_site(bucket.main, site)
                if found is None:
                    continue
                contact = found
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
            while heap[0][ENTRY_CONTACT] is None:
                heapq.heappop(heap)
            contact = heap[0][ENTRY_CONTACT]  # type: ignore[assignment]
            if contact.site is not None and contact.site != site:
                found = _first_of_site(heap, site)
                if found is None:
                    continue
                contact = found
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


def _first_of_site(heap: list[list[object]], site: str | None) -> ContactRecord | None:
    """The first contact of the heap that an agent of ``site`` may take (a scan)."""
    best: list[object] | None = None
    for entry in heap:
        contact: ContactRecord | None = entry[ENTRY_CONTACT]  # type: ignore[assignment]
        if contact is None or (contact.site is not None and contact.site != site):
            continue
        if best is None or entry[:ENTRY_CONTACT] < best[:ENTRY_CONTACT]:  # type: ignore[operator]
            best = entry
    return None if best is None else best[ENTRY_CONTACT]  # type: ignore[return-value]


def _compact(heap: list[list[object]]) -> list[list[object]]:
    """The heap without its blanked entries (removed contacts): memory stays bounded."""
    kept = [e for e in heap if e[ENTRY_CONTACT] is not None]
    heapq.heapify(kept)
    return kept


def _later(a: ContactRecord, b: ContactRecord) -> bool:
    return (a.arrived_at, a.seq) > (b.arrived_at, b.seq)
