"""Checkpoints of the routing core: a Router's whole state as plain, versioned JSON.

A checkpoint is data, never code: reading one parses JSON, checks every
field's type against the tables below, and rebuilds a Router from the site's
own catalogue and policy through its records (contacts, agents, the queue's
buckets with their heaps, the free-agent index, the timers and the
counters). Nothing in the data names a class or a function, so a crafted
checkpoint can at worst be refused (``CheckpointError``); recovery then
replays the event stream instead.

Recovery replays the inputs logged after the checkpoint, so a restored
Router must decide exactly like the one the checkpoint was taken from: heap
entries keep their push numbers (a total order: the same head, the same
most urgent contacts whatever the layout), dicts their order, so ties break
the same way. Blanked queue entries and stale free-agent entries, which no
decision reads, are left out: a checkpoint holds what is live, not the
history of the heaps.
``tests/test_store_snapshot.py`` checks a restored router against its
uncrashed twin, and that the tables cover every attribute of the records.
"""

from __future__ import annotations

import heapq
import json
import math
from collections.abc import Callable, Iterable
from enum import Enum
from typing import Any

from dispatcher.events import AgentState, Outcome
from dispatcher.policy import RoutingPolicy
from dispatcher.router import Router
from dispatcher.state import AgentRecord, Bucket, ContactRecord, ContactState, new_agent_record, new_contact_record
from skills.model import Catalogue, Channel, SkillMatrix

FORMAT = "guichet-checkpoint"
VERSION = 1


class CheckpointError(ValueError):
    """The checkpoint cannot be used: not one, another version, or malformed (the message says where)."""


# ------------------------------------------------------------ field kinds

Decode = Callable[[Any, str], Any]


def _fail(where: str, what: str) -> CheckpointError:
    return CheckpointError(f"{where}: {what}")


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise _fail(where, "not a string")
    return value


def _int(value: Any, where: str) -> int:
    if type(value) is not int:
        raise _fail(where, "not an integer")
    return value


def _float(value: Any, where: str) -> float:
    if type(value) is int:
        return float(value)
    if type(value) is not float or math.isnan(value):
        raise _fail(where, "not a number")
    return value


def _bool(value: Any, where: str) -> bool:
    if type(value) is not bool:
        raise _fail(where, "not true or false")
    return value


def _optional(decode: Decode) -> Decode:
    def check(value: Any, where: str) -> Any:
        return None if value is None else decode(value, where)

    return check


def _enum(cls: type[Enum]) -> Decode:
    def check(value: Any, where: str) -> Any:
        try:
            return cls(value)
        except ValueError:
            raise _fail(where, f"{value!r} is not a valid {cls.__name__}") from None

    return check


def _skills(value: Any, where: str) -> dict[str, int]:
    if not isinstance(value, dict):
        raise _fail(where, "not an object")
    return {_str(k, where): _int(v, f"{where}.{k}") for k, v in value.items()}


def _channels(value: Any, where: str) -> frozenset[Channel]:
    return frozenset(_enum(Channel)(c, where) for c in _list(value, where))


def _pending(value: Any, where: str) -> tuple[AgentState, str | None] | None:
    if value is None:
        return None
    items = _list(value, where)
    if len(items) != 2:
        raise _fail(where, "not [state, reason]")
    return _enum(AgentState)(items[0], where), _optional(_str)(items[1], where)


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise _fail(where, "not a list")
    return value


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(where, "not an object")
    return value


_STR, _INT, _FLOAT, _BOOL = _str, _int, _float, _bool
_OPT_STR, _OPT_FLOAT = _optional(_str), _optional(_float)

CONTACT_FIELDS: dict[str, Decode] = {
    "contact_id": _STR,
    "channel": _enum(Channel),
    "process": _STR,
    "priority": _INT,
    "arrived_at": _FLOAT,
    "seq": _INT,
    "rank": _INT,
    "inv_sla": _FLOAT,
    "required_level": _INT,
    "relax_at": _OPT_FLOAT,
    "fallback_at": _OPT_FLOAT,
    "expire_at": _OPT_FLOAT,
    "qualified": _BOOL,
    "timer_at": _OPT_FLOAT,
    "timer_token": _INT,
    "deadline": _OPT_FLOAT,
    "ticket": _OPT_STR,
    "caller": _OPT_STR,
    "citizen_id": _OPT_STR,
    "site": _OPT_STR,
    "state": _enum(ContactState),
    "agent_id": _OPT_STR,
    "offers": _INT,
}
CONTACT_INIT = (
    "contact_id", "channel", "process", "priority", "arrived_at", "seq", "rank", "inv_sla",
    "required_level", "relax_at", "fallback_at", "expire_at", "qualified",
)
OPTIONAL_FIELDS = frozenset({"site"})
"""Fields a checkpoint of an earlier release of this version may lack (None then)."""
CONTACT_LINKS = frozenset({"bucket", "entry", "relaxed_entry"})
"""Written as references: the bucket's key, the push numbers of its heap entries."""

AGENT_FIELDS: dict[str, Decode] = {
    "agent_id": _STR,
    "seq": _INT,
    "skills": _skills,
    "channels": _channels,
    "site": _OPT_STR,
    "state": _enum(AgentState),
    "reason": _OPT_STR,
    "since": _FLOAT,
    "idle_since": _FLOAT,
    "reachable": _BOOL,
    "endpoint_up": _BOOL,
    "backoff_until": _OPT_FLOAT,
    "contact_id": _OPT_STR,
    "pending": _pending,
    "logged_in_at": _OPT_FLOAT,
    "busy_s": _FLOAT,
    "busy_since": _OPT_FLOAT,
    "indexed": _BOOL,
    "index_token": _INT,
    "wrap_token": _INT,
}
AGENT_LINKS = frozenset({"main_targets", "relaxed_targets"})
"""Derived from the skills and the catalogue (``AgentPool.build_targets``)."""

ROUTER_STATE = frozenset({
    "now", "_contact_seq", "contacts", "ended", "ended_before", "queue", "pool", "agents", "timers",
})
"""The Router's attributes a checkpoint carries; ``catalogue`` and ``policy`` are the site's own, and
``_freed`` and ``_fresh`` are empty between two ``handle`` calls."""
ROUTER_GIVEN = frozenset({"catalogue", "policy", "_freed", "_fresh"})


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, frozenset):
        return sorted(_plain(v) for v in value)
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


# ------------------------------------------------------------------ take


def _entry(entry: list[object]) -> list[Any]:
    contact = entry[4]
    return [*entry[:4], contact.contact_id if isinstance(contact, ContactRecord) else None]


def _free(entry: tuple[object, ...]) -> list[Any]:
    agent = entry[-1]
    assert isinstance(agent, AgentRecord)
    return [*entry[:-1], agent.agent_id]


def _live_free(entry: tuple[object, ...]) -> bool:
    agent = entry[-1]
    return isinstance(agent, AgentRecord) and agent.indexed and entry[-2] == agent.index_token


def _bucket(b: Bucket) -> dict[str, Any]:
    return {
        "process": b.process,
        "channel": b.channel.value,
        "count": b.count,
        "relaxed_count": b.relaxed_count,
        "head": b.head.contact_id if b.head is not None else None,
        "main": [_entry(e) for e in b.main if e[4] is not None],
        "relaxed": [_entry(e) for e in b.relaxed if e[4] is not None],
        "free_main": [_free(e) for e in b.free_main if _live_free(e)],
        "free_relaxed": [_free(e) for e in b.free_relaxed if _live_free(e)],
    }


def _contact(c: ContactRecord) -> dict[str, Any]:
    doc = {name: _plain(getattr(c, name)) for name in CONTACT_FIELDS}
    doc["entry"] = c.entry[3] if c.entry is not None else None
    doc["relaxed_entry"] = c.relaxed_entry[3] if c.relaxed_entry is not None else None
    return doc


def document(router: Router) -> dict[str, Any]:
    """The Router's state as plain data (call between two ``handle`` calls)."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "now": router.now if math.isfinite(router.now) else None,
        "contact_seq": router._contact_seq,
        "pushes": router.queue._pushes,
        "timer_order": router.timers._order,
        "timers": [list(t) for t in router.timers.heap],
        "ended": [[cid, outcome.value] for cid, outcome in router.ended.items()],
        "ended_before": [[cid, outcome.value] for cid, outcome in router.ended_before.items()],
        "buckets": [_bucket(b) for b in router.queue.buckets.values()],
        "contacts": [_contact(c) for c in router.contacts.values()],
        "queue": list(router.queue.contacts),
        "agents": [{name: _plain(getattr(a, name)) for name in AGENT_FIELDS} for a in router.agents.values()],
        "available": {p: list(free) for p, free in router.pool.available.items()},
    }


def take(router: Router) -> bytes:
    """The Router's state as JSON bytes (call between two ``handle`` calls)."""
    return json.dumps(document(router), separators=(",", ":"), allow_nan=False).encode()


# --------------------------------------------------------------- restore


def restore(
    data: bytes, catalogue: Catalogue, matrix: SkillMatrix, policy: RoutingPolicy | None = None
) -> Router:
    """The Router a ``take`` recorded, on this site's catalogue and policy.

    Raises CheckpointError (never anything else) for data that is not a valid
    checkpoint of this format version.
    """
    try:
        doc = json.loads(data)
    except (ValueError, TypeError, RecursionError) as exc:
        raise CheckpointError(f"not JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise CheckpointError("not a Guichet checkpoint")
    if doc.get("version") != VERSION:
        raise CheckpointError(f"checkpoint format version {doc.get('version')!r}, this release reads {VERSION}")
    try:
        return _Rebuild(doc, Router(catalogue, matrix, policy)).router
    except CheckpointError:
        raise
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, RecursionError) as exc:
        raise CheckpointError(f"inconsistent checkpoint: {type(exc).__name__}: {exc}") from None


def _field(raw: dict[str, Any], name: str) -> Any:
    """A record's field; a missing optional one is None (a missing other one raises KeyError)."""
    return raw.get(name) if name in OPTIONAL_FIELDS else raw[name]


class _Rebuild:
    """Fills a fresh Router with the state a checkpoint document holds, checking as it goes."""

    def __init__(self, doc: dict[str, Any], router: Router) -> None:
        self.doc = doc
        self.router = router
        self.entries: dict[int, list[object]] = {}
        self.relaxed_entries: dict[int, list[object]] = {}
        router.queue.buckets.clear()
        router.agents.clear()
        buckets = [_object(b, f"buckets[{i}]") for i, b in enumerate(_list(doc["buckets"], "buckets"))]
        for i, b in enumerate(buckets):
            channel = _enum(Channel)(b["channel"], f"buckets[{i}].channel")
            process = _str(b["process"], f"buckets[{i}].process")
            if process not in router.catalogue.processes:
                raise _fail(f"buckets[{i}]", f"process {process!r} is not in the catalogue")
            router.queue.bucket(process, channel)
        self.contacts()
        self.agents()
        for i, b in enumerate(buckets):
            self.heaps(b, f"buckets[{i}]")
        self.links()
        self.counters()

    def contacts(self) -> None:
        router = self.router
        for i, raw in enumerate(_list(self.doc["contacts"], "contacts")):
            where = f"contacts[{i}]"
            raw = _object(raw, where)
            unknown = set(raw) - set(CONTACT_FIELDS) - CONTACT_LINKS
            if unknown:
                raise _fail(where, f"unknown fields {sorted(unknown)}")
            values = {name: check(_field(raw, name), f"{where}.{name}") for name, check in CONTACT_FIELDS.items()}
            key = (values["process"], values["channel"])
            bucket = router.queue.buckets.get(key)
            if bucket is None:
                raise _fail(where, f"no bucket {key}")
            contact = new_contact_record(bucket=bucket, **{k: values[k] for k in CONTACT_INIT})
            for name, value in values.items():
                if name not in CONTACT_INIT:
                    setattr(contact, name, value)
            router.contacts[contact.contact_id] = contact

    def agents(self) -> None:
        router = self.router
        for i, raw in enumerate(_list(self.doc["agents"], "agents")):
            where = f"agents[{i}]"
            raw = _object(raw, where)
            unknown = set(raw) - set(AGENT_FIELDS)
            if unknown:
                raise _fail(where, f"unknown fields {sorted(unknown)}")
            values = {name: check(_field(raw, name), f"{where}.{name}") for name, check in AGENT_FIELDS.items()}
            agent = new_agent_record(values["agent_id"], values["seq"], values["skills"], values["channels"])
            for name, value in values.items():
                setattr(agent, name, value)
            router.pool.build_targets(agent)
            router.agents[agent.agent_id] = agent

    def _contact_ref(self, value: Any, where: str) -> ContactRecord | None:
        if value is None:
            return None
        found = self.router.contacts.get(_str(value, where))
        if found is None:
            raise _fail(where, f"unknown contact {value!r}")
        return found

    def _agent_ref(self, value: Any, where: str) -> AgentRecord:
        found = self.router.agents.get(_str(value, where))
        if found is None:
            raise _fail(where, f"unknown agent {value!r}")
        return found

    def _heap(self, raw: Any, where: str, into: dict[int, list[object]]) -> list[list[object]]:
        heap: list[list[object]] = []
        for i, e in enumerate(_list(raw, where)):
            at = f"{where}[{i}]"
            e = _list(e, at)
            if len(e) != 5:
                raise _fail(at, "not [-priority, arrived_at, seq, push, contact]")
            entry: list[object] = [
                _int(e[0], at), _float(e[1], at), _int(e[2], at), _int(e[3], at), self._contact_ref(e[4], at)
            ]
            if entry[3] in into:
                raise _fail(at, f"push number {entry[3]} twice")
            into[entry[3]] = entry  # type: ignore[index]
            heap.append(entry)
        heapq.heapify(heap)
        return heap

    def _free_heap(self, raw: Any, where: str) -> list[tuple[object, ...]]:
        heap: list[tuple[object, ...]] = []
        for i, e in enumerate(_list(raw, where)):
            at = f"{where}[{i}]"
            e = _list(e, at)
            if len(e) < 2:
                raise _fail(at, "not [key..., token, agent]")
            heap.append((*(_float_or_int(v, at) for v in e[:-1]), self._agent_ref(e[-1], at)))
        if len({h[:-1] for h in heap}) != len(heap):
            raise _fail(where, "two entries with the same key")
        heapq.heapify(heap)
        return heap

    def heaps(self, raw: dict[str, Any], where: str) -> None:
        bucket = self.router.queue.buckets[(raw["process"], Channel(raw["channel"]))]
        bucket.main = self._heap(raw["main"], f"{where}.main", self.entries)
        bucket.relaxed = self._heap(raw["relaxed"], f"{where}.relaxed", self.relaxed_entries)
        bucket.free_main = self._free_heap(raw["free_main"], f"{where}.free_main")
        bucket.free_relaxed = self._free_heap(raw["free_relaxed"], f"{where}.free_relaxed")
        bucket.count = _int(raw["count"], f"{where}.count")
        bucket.relaxed_count = _int(raw["relaxed_count"], f"{where}.relaxed_count")
        if bucket.count != sum(1 for e in bucket.main if e[4] is not None):
            raise _fail(where, "count does not match the heap")
        bucket.head = self._contact_ref(raw["head"], f"{where}.head")

    def links(self) -> None:
        router = self.router
        for i, raw in enumerate(self.doc["contacts"]):
            contact = router.contacts[raw["contact_id"]]
            for name, table in (("entry", self.entries), ("relaxed_entry", self.relaxed_entries)):
                push = _optional(_int)(raw.get(name), f"contacts[{i}].{name}")
                if push is None:
                    continue
                entry = table.get(push)
                if entry is None or entry[4] is not contact:
                    raise _fail(f"contacts[{i}].{name}", f"no heap entry {push} of this contact")
                setattr(contact, name, entry)
            if contact.agent_id is not None and contact.agent_id not in router.agents:
                raise _fail(f"contacts[{i}].agent_id", f"unknown agent {contact.agent_id!r}")
        for i, cid in enumerate(_list(self.doc["queue"], "queue")):
            queued = self._contact_ref(cid, f"queue[{i}]")
            if queued is None or queued.entry is None:
                raise _fail(f"queue[{i}]", f"{cid} is queued without a heap entry")
            router.queue.contacts[queued.contact_id] = queued
        for agent in router.agents.values():
            if agent.contact_id is not None and agent.contact_id not in router.contacts:
                raise _fail(f"agent {agent.agent_id}", f"holds unknown contact {agent.contact_id!r}")
        for process, ids in _object(self.doc["available"], "available").items():
            free = router.pool.available[_str(process, "available")] = {}
            for i, aid in enumerate(_list(ids, f"available.{process}")):
                agent = self._agent_ref(aid, f"available.{process}[{i}]")
                free[agent.agent_id] = agent

    def counters(self) -> None:
        router, doc = self.router, self.doc
        now = _optional(_float)(doc["now"], "now")
        router.now = float("-inf") if now is None else now
        router._contact_seq = _int(doc["contact_seq"], "contact_seq")
        router.queue._pushes = _int(doc["pushes"], "pushes")
        router.timers._order = _int(doc["timer_order"], "timer_order")
        timers: list[tuple[float, int, str, str, float]] = []
        for i, t in enumerate(_list(doc["timers"], "timers")):
            at = f"timers[{i}]"
            t = _list(t, at)
            if len(t) != 5:
                raise _fail(at, "not [at, order, kind, subject, token]")
            timers.append((_float(t[0], at), _int(t[1], at), _str(t[2], at), _str(t[3], at), _float_or_int(t[4], at)))
        if len({t[1] for t in timers}) != len(timers):
            raise _fail("timers", "two timers with the same order")
        _check_heap(timers, "timers")
        router.timers.heap = timers
        router.ended = _outcomes(doc["ended"], "ended")
        router.ended_before = _outcomes(doc["ended_before"], "ended_before")


def _outcomes(raw: Any, where: str) -> dict[str, Outcome]:
    ended: dict[str, Outcome] = {}
    for i, pair in enumerate(_list(raw, where)):
        pair = _list(pair, f"{where}[{i}]")
        if len(pair) != 2:
            raise _fail(f"{where}[{i}]", "not [contact, outcome]")
        ended[_str(pair[0], f"{where}[{i}]")] = _enum(Outcome)(pair[1], f"{where}[{i}]")
    return ended


def _float_or_int(value: Any, where: str) -> Any:
    if type(value) is int:
        return value
    return _float(value, where)


def _check_heap(heap: Iterable[Any], where: str) -> None:
    items = list(heap)
    for i in range(1, len(items)):
        if items[i][:4] < items[(i - 1) // 2][:4]:
            raise _fail(where, f"not a heap at {i}")
