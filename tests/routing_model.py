"""A reference model of the routing rules, written from DESIGN.md and ``RoutingPolicy``'s
documentation alone, as the oracle of the routing core's property tests.

It shares no code with the core: it keeps its own plain picture of every contact
and agent, and reads the core's answer to each input event one decision at a time.
Each decision must be *justified*: either it is what the input calls for (in cause
order: a ringing contact ends before its agent changes state), or a timer of the
policy is due at exactly that instant, or it is an offer the rules allow (rule 1,
with rule 4's relaxed level). After each instant the model checks that nothing due
was left undone, that rule 2 holds over the instant's offers (no contact left
waiting that one of those agents could have taken is more urgent than the one it
got), and that no free agent is left beside a contact it could take.

Timer-driven decisions are expected at the instant the policy says, or, for a
contact that was not waiting then (ringing an agent), at the instant it waits again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dispatcher import events as ev
from dispatcher.events import AgentState, DeclineReason, Event, Outcome
from dispatcher.policy import RoutingPolicy
from skills.model import Catalogue, Channel, SkillMatrix

RINGS = frozenset({Channel.PHONE, Channel.CALLBACK})
"""Channels whose offers ring the agent's softphone (DESIGN.md: softphone status)."""
LIVE = frozenset({Channel.PHONE, Channel.COUNTER})
CAN_ASK = frozenset({AgentState.AVAILABLE, AgentState.PAUSED, AgentState.OFFLINE})
ANY = object()


class Violation(AssertionError):
    """The core broke a rule of the design."""


@dataclass
class Contact:
    cid: str
    channel: Channel
    process: str
    priority: int
    arrival: float
    order: int
    qualified: bool
    stint: float
    """When it was queued for its current process (the fallback counts from there)."""
    state: str = "new"
    agent: str | None = None
    since: float = 0.0
    """When it last started waiting."""
    relaxed: bool = False
    offered_at: float = 0.0
    site: str | None = None
    """The site a visitor waits in: only an agent at a counter of that site takes them."""


@dataclass
class Agent:
    aid: str
    skills: dict[str, int]
    channels: frozenset[Channel]
    state: AgentState = AgentState.OFFLINE
    reason: str | None = None
    contact: str | None = None
    endpoint_up: bool = True
    backoff_until: float | None = None
    wrap_until: float | None = None
    unpause_at: float | None = None
    pending: tuple[AgentState, str | None] | None = None
    site: str | None = None
    """The site of the counter the agent opened."""
    since: float = 0.0
    """When the agent's state last changed (a contact it serves cannot have ended before)."""


@dataclass
class Model:
    catalogue: Catalogue
    matrix: SkillMatrix
    policy: RoutingPolicy
    contacts: dict[str, Contact] = field(default_factory=dict)
    agents: dict[str, Agent] = field(default_factory=dict)
    outcomes: dict[str, list[Outcome]] = field(default_factory=dict)
    now: float = float("-inf")
    last_decision: float = float("-inf")
    arrivals: int = 0
    offers: int = 0
    rejected: int = 0
    timer_decisions: int = 0
    late: bool = False
    left: dict[str, tuple[float, bool]] = field(default_factory=dict)
    """An abandon's best evidence of when the caller left, clamped, and its flag."""
    """Reading an instant where every timer due fires at once, late (``late_timer_s``)."""

    def __post_init__(self) -> None:
        for p in self.matrix.agents.values():
            self.agents[p.agent_id] = Agent(p.agent_id, dict(p.skills), frozenset(p.channels))

    # ------------------------------------------------------------ the rules

    def code(self, process: str | None) -> str:
        return process if process in self.catalogue.processes else self.catalogue.triage

    def base(self, c: Contact) -> int:
        return self.catalogue.processes[c.process].min_level

    def relaxed_level(self, c: Contact) -> int:
        return min(self.policy.relaxed_level, self.base(c))

    def overflow(self, c: Contact) -> float | None:
        return self.catalogue.target(c.process, c.channel).overflow_after_s

    def fallback_group(self, c: Contact) -> str:
        group = self.catalogue.processes[c.process].fallback
        return group if group in self.catalogue.processes else c.process

    def relax_due(self, c: Contact) -> float | None:
        overflow = self.overflow(c)
        if c.relaxed or overflow is None or self.relaxed_level(c) >= self.base(c):
            return None
        return c.arrival + overflow

    def fallback_due(self, c: Contact) -> float | None:
        overflow, factor = self.overflow(c), self.policy.fallback_after_overflows
        if overflow is None or factor is None or self.fallback_group(c) == c.process:
            return None
        return c.stint + factor * overflow

    def expire_due(self, c: Contact) -> float | None:
        wait = self.policy.max_wait_s.get(c.channel)
        return None if wait is None else c.arrival + wait

    @staticmethod
    def when(due: float | None, c: Contact) -> float | None:
        """A contact's timer happens when due, or when it waits again if it was not waiting."""
        return None if due is None else max(due, c.since)

    def ring_due(self, c: Contact) -> float | None:
        timeout = self.policy.offer_timeout_s.get(c.channel)
        return None if timeout is None else c.offered_at + timeout

    def reachable(self, a: Agent, t: float) -> bool:
        return a.endpoint_up and (a.backoff_until is None or a.backoff_until <= t)

    def may_take(self, a: Agent, c: Contact, t: float) -> bool:
        """Rule 1 (and rule 4): channel, softphone, site, skill at the required or relaxed level."""
        if c.channel not in a.channels or (c.channel in RINGS and not self.reachable(a, t)):
            return False
        if c.site is not None and c.site != a.site:
            return False
        required = self.relaxed_level(c) if c.relaxed else self.base(c)
        return a.skills.get(c.process, 0) >= required

    def urgency(self, c: Contact, t: float) -> tuple[float, ...]:
        """Rule 2, smallest first: live, priority class, waited relative to the SLA, arrival order."""
        sla = self.catalogue.target(c.process, c.channel).sla_seconds
        return (c.channel not in LIVE, -c.priority, -((t - c.arrival) * (1.0 / sla)), c.arrival, c.order)

    def live(self) -> list[Contact]:
        return [c for c in self.contacts.values() if c.state != "ended"]

    def next_due(self) -> float | None:
        """When the next timer of the policy is due."""
        found: list[float] = []
        for c in self.live():
            if c.state == "waiting":
                for due in (self.relax_due(c), self.fallback_due(c), self.expire_due(c)):
                    if due is not None:
                        found.append(max(due, c.since))
            elif c.state == "offered":
                ring = self.ring_due(c)
                if ring is not None:
                    found.append(ring)
        for a in self.agents.values():
            for due in (a.wrap_until, a.unpause_at, a.backoff_until):
                if due is not None and due > self.now:
                    found.append(due)
        return min(found) if found else None

    # --------------------------------------------------- what an input calls for

    def release(self, a: Agent, served: bool) -> tuple[object, ...]:
        """The agent's state once its contact is gone: pending request, wrap-up, or free."""
        if a.pending is not None:
            return ("agent", a.aid, a.pending[0], a.pending[1])
        if served and (self.policy.wrap_up_s is None or self.policy.wrap_up_s > 0):
            return ("agent", a.aid, AgentState.WRAP_UP, None)
        return ("agent", a.aid, AgentState.AVAILABLE, None)

    def expected(self, e: Event, t: float) -> list[tuple[object, ...]] | None:
        """The decisions ``e`` itself calls for, in cause order; None: it must be rejected."""
        kind = type(e)
        if kind is ev.TimePassed:
            return []
        if kind is ev.ContactArrived:
            assert isinstance(e, ev.ContactArrived)
            if e.contact_id in self.contacts:
                return None
            arrival = e.arrived_at if e.arrived_at is not None and e.arrived_at < e.at else e.at
            priority = min(max(e.priority, 0), 99)
            code = self.code(e.process)
            self.arrivals += 1
            new = Contact(e.contact_id, e.channel, code, priority, arrival, self.arrivals, code == e.process, arrival)
            new.site = e.site
            return [("queued", new)]
        if kind is ev.AgentProfileChanged:
            assert isinstance(e, ev.AgentProfileChanged)
            if any(p not in self.catalogue.processes for p in e.skills):
                return None
            a = self.agents.get(e.agent_id)
            if a is None:
                a = self.agents[e.agent_id] = Agent(e.agent_id, dict(e.skills), frozenset(e.channels))
            else:
                a.skills, a.channels = dict(e.skills), frozenset(e.channels)
            a.site = e.site
            return []
        if kind is ev.EndpointChanged:
            assert isinstance(e, ev.EndpointChanged)
            a = self.agents.get(e.agent_id)
            if a is None:
                return None
            a.endpoint_up = e.reachable
            return []
        if kind is ev.AgentStatusSet:
            assert isinstance(e, ev.AgentStatusSet)
            return self._status(e)
        cid: str = e.contact_id  # type: ignore[attr-defined]
        c = self.contacts.get(cid)
        if c is None or c.state == "ended":
            return None
        a = self.agents[c.agent] if c.agent is not None else None
        if kind is ev.ContactQualified:
            assert isinstance(e, ev.ContactQualified)
            code = self.code(e.process)
            move = ("queued", cid, code, code == e.process)
            if c.state == "waiting":
                return [move]
            assert a is not None
            if c.state == "offered" and a.skills.get(code, 0) >= self.catalogue.processes[code].min_level:
                return [("requalified", cid, code, a.aid, code == e.process)]
            return [("requeued", cid, "requalified"), self.release(a, c.state == "in_service"), move]
        if kind is ev.ContactTakenOver:
            assert isinstance(e, ev.ContactTakenOver)
            b = self.agents.get(e.agent_id)
            if b is None:
                return None
            if c.state == "offered" and c.agent == b.aid:
                return [("agent", b.aid, AgentState.BUSY, None)]
            free = b.state is AgentState.AVAILABLE or (
                b.state is AgentState.PAUSED and b.reason == DeclineReason.NO_ANSWER.value and b.contact is None
            )
            if c.state != "waiting" or not free:
                return None
            c.agent, b.contact = b.aid, cid
            return [("agent", b.aid, AgentState.BUSY, None)]
        if kind is ev.ContactAbandoned:
            assert isinstance(e, ev.ContactAbandoned)
            if e.left_at is not None and c.state != "in_service":
                self.left[cid] = (min(max(e.left_at, c.arrival), t), e.approximate)
            elif c.state != "in_service":
                self.left[cid] = (t, e.approximate)
            if c.state == "in_service":  # served: it ended when the caller left, not before the agent took it
                assert a is not None
                left = t if e.left_at is None else min(max(e.left_at, a.since, c.arrival), t)
                self.left[cid] = (left, e.approximate)
                return [("ended", cid, Outcome.SERVED, a.aid), self.release(a, True)]
            if a is None:
                return [("ended", cid, Outcome.ABANDONED, None)]
            return [("ended", cid, Outcome.ABANDONED, a.aid), self.release(a, False)]
        if kind is ev.CallbackRequested:
            assert isinstance(e, ev.CallbackRequested)
            if c.state == "in_service" or e.callback_id in self.contacts:
                return None
            callback = Contact(
                e.callback_id, Channel.CALLBACK, c.process if c.qualified else self.catalogue.triage,
                c.priority, c.arrival, c.order, c.qualified, t,
            )
            ended: list[tuple[object, ...]] = [("ended", cid, Outcome.CALLBACK_SCHEDULED, c.agent)]
            if a is not None:
                ended.append(self.release(a, False))
            return [*ended, ("queued", callback)]
        if kind is ev.ContactCompleted:
            assert isinstance(e, ev.ContactCompleted)
            if a is None:
                return None
            return [("ended", cid, e.outcome, a.aid), self.release(a, True)]
        agent_id: str = e.agent_id  # type: ignore[attr-defined]
        if c.state != "offered" or c.agent != agent_id or a is None:
            return None
        if kind is ev.OfferAnswered:
            return [("agent", a.aid, AgentState.BUSY, None)]
        assert isinstance(e, ev.OfferDeclined)
        requeued = ("requeued", cid, e.reason.value)
        if e.reason is DeclineReason.BUSY:
            if self.policy.busy_backoff_s > 0:
                a.backoff_until = t + self.policy.busy_backoff_s
            return [requeued, self.release(a, False)]
        if e.reason is DeclineReason.UNAVAILABLE:
            a.endpoint_up = False
            return [requeued, self.release(a, False)]
        return [requeued, ("agent", a.aid, AgentState.PAUSED, e.reason.value, "after offer")]

    def _status(self, e: ev.AgentStatusSet) -> list[tuple[object, ...]] | None:
        a = self.agents.get(e.agent_id)
        if a is None or e.state not in CAN_ASK:
            return None
        want, state = e.state, a.state
        if state is AgentState.BUSY:
            a.pending = None if want is AgentState.AVAILABLE else (want, e.reason)
            return []
        if state is AgentState.RESERVED:
            if want is AgentState.AVAILABLE:
                return []
            return [("requeued", a.contact, f"agent_{want.value}"), ("agent", a.aid, want, e.reason)]
        if want is AgentState.AVAILABLE:
            return [] if state is AgentState.AVAILABLE else [("agent", a.aid, want, None)]
        if want is AgentState.PAUSED:
            return None if state is AgentState.OFFLINE else [("agent", a.aid, want, e.reason)]
        return [] if state is AgentState.OFFLINE else [("agent", a.aid, want, e.reason)]

    # ------------------------------------------------- reading the core's answer

    def step(self, e: Event, out: list[Event]) -> None:
        """Read the core's answer to one well-typed input event."""
        if type(e) is not ev.TimePassed:
            t = max(e.at, self.now)
            expected = self.expected(e, t)
            self.read(out, t, [("rejected",)] if expected is None else expected)
            return
        end, i = max(e.at, self.now), 0
        first, tolerance = self.next_due(), self.policy.late_timer_s
        if first is not None and tolerance is not None and end - first > tolerance:
            self.late = True  # told the time long after: everything due fires now
            try:
                self.read(out, end, [])
            finally:
                self.late = False
            self.now = end
            return
        while True:
            instants = [x for x in (self.next_due(), out[i].at if i < len(out) else None) if x is not None]
            if not instants or min(instants) > end:
                break
            t = min(instants)
            j = i
            while j < len(out) and out[j].at == t:
                j += 1
            self.read(out[i:j], t, [])
            i = j
        if i < len(out):
            raise Violation(f"decided past the time given: {out[i]}")
        self.now = end

    def read(self, out: list[Event], t: float, expected: list[tuple[object, ...]]) -> None:
        """Check and apply the decisions of one instant ``t``, then check the instant."""
        owed = list(expected)
        group: list[tuple[Contact, Agent]] = []
        reserving: tuple[str, str] | None = None
        for e in out:
            if e.at != t or e.at < self.last_decision:
                raise Violation(f"decision at {e.at}, the instant is {t} (last decision at {self.last_decision})")
            self.last_decision = e.at
            if reserving is not None:
                if not (isinstance(e, ev.AgentStateChanged) and (e.agent_id, e.contact_id) == reserving
                        and e.state is AgentState.RESERVED):
                    raise Violation(f"an offer not followed by its agent's reservation: {e}")
                self.agents[e.agent_id].state = AgentState.RESERVED
                self.agents[e.agent_id].contact = e.contact_id
                reserving = None
                continue
            if owed and self._owed(owed[0], e, t):
                owed.pop(0)
                continue
            if isinstance(e, ev.ContactOffered):
                group.append(self._offer(e, t))
                reserving = (e.agent_id, e.contact_id)
                continue
            follow = self._timer(e, t)
            owed[0:0] = follow
        if reserving is not None:
            raise Violation("an offer without its reservation")
        if owed:
            raise Violation(f"at {t}: missing {owed[0]}")
        self._check_instant(t, group)

    def _owed(self, want: tuple[object, ...], e: Event, t: float) -> bool:
        what = want[0]
        if what == "rejected":
            if not isinstance(e, ev.Rejected):
                return False
            self.rejected += 1
            return True
        if what == "queued":
            if not isinstance(e, ev.ContactQueued):
                return False
            if isinstance(want[1], Contact):
                c = want[1]
                if e.contact_id != c.cid:
                    return False
                self.contacts[c.cid] = c
                self.outcomes[c.cid] = []
            else:
                c = self.contacts[str(want[1])]
                if e.contact_id != c.cid:
                    return False
                c.process, c.qualified, c.stint = str(want[2]), bool(want[3]), t
            got = (e.process, e.channel, e.priority, e.arrived_at)
            if got != (c.process, c.channel, c.priority, c.arrival):
                raise Violation(f"{e} queues {got}, the rules say {(c.process, c.channel, c.priority, c.arrival)}")
            c.state, c.agent, c.since, c.relaxed = "waiting", None, t, False
            return True
        if what == "requeued":
            if not (isinstance(e, ev.ContactRequeued) and (e.contact_id, e.reason) == want[1:]):
                return False
            c = self.contacts[e.contact_id]
            c.state, c.agent, c.since = "waiting", None, t
            return True
        if what == "requalified":
            if not (isinstance(e, ev.ContactRequalified) and (e.contact_id, e.process, e.agent_id) == want[1:4]):
                return False
            c = self.contacts[e.contact_id]
            c.process, c.qualified, c.stint, c.relaxed = e.process, bool(want[4]), t, False
            return True
        if what == "ended":
            if not (isinstance(e, ev.ContactEnded) and e.contact_id == want[1]):
                return False
            if (e.outcome, e.agent_id) != want[2:]:
                raise Violation(f"{e}: the rules say {want}")
            self._end(e, t)
            return True
        if what == "agent":
            if not (isinstance(e, ev.AgentStateChanged) and e.agent_id == want[1]):
                return False
            if want[3] is not ANY and (e.state, e.reason) != (want[2], want[3]) or e.state is not want[2]:
                raise Violation(f"{e}: the rules say {want}")
            self._agent(e, t, after_offer=len(want) > 4)
            return True
        raise AssertionError(want)

    def _end(self, e: ev.ContactEnded, t: float) -> None:
        c = self.contacts[e.contact_id]
        if c.state == "ended":
            raise Violation(f"{c.cid} ends twice")
        left, approximate = self.left.pop(c.cid, (t, False))
        if e.waited != left - c.arrival or e.approximate is not approximate:
            raise Violation(f"{e}: waited should be {left - c.arrival} (approximate: {approximate})")
        c.state, c.agent = "ended", None
        self.outcomes[c.cid].append(e.outcome)

    def _agent(self, e: ev.AgentStateChanged, t: float, after_offer: bool = False) -> None:
        a = self.agents[e.agent_id]
        holds = e.state in (AgentState.RESERVED, AgentState.BUSY)
        if e.contact_id != (a.contact if holds else None):
            raise Violation(f"{e}: the agent holds {a.contact if holds else None}")
        a.state, a.reason, a.since = e.state, e.reason, t
        if not holds:
            a.contact = None
        a.pending = None
        a.wrap_until = a.unpause_at = None
        wrap = self.policy.wrap_up_s
        if e.state is AgentState.WRAP_UP and wrap is not None:
            a.wrap_until = t + wrap
        unpause = self.policy.no_answer_unpause_s
        if after_offer and e.reason == DeclineReason.NO_ANSWER.value and unpause is not None:
            a.unpause_at = t + unpause
        if e.state is AgentState.BUSY:
            c = self.contacts[a.contact or ""]
            c.state = "in_service"

    def _offer(self, e: ev.ContactOffered, t: float) -> tuple[Contact, Agent]:
        c, a = self.contacts.get(e.contact_id), self.agents.get(e.agent_id)
        if c is None or a is None or c.state != "waiting":
            raise Violation(f"{e}: the contact is not waiting")
        if a.state is not AgentState.AVAILABLE:
            raise Violation(f"{e}: the agent is {a.state.value}")
        if not self.may_take(a, c, t):
            raise Violation(f"{e}: the agent may not take it (skill, level, channel or softphone)")
        if (e.process, e.channel, e.level, e.waited) != (c.process, c.channel, a.skills[c.process], t - c.arrival):
            raise Violation(f"{e}: fields differ from the contact {c}")
        c.state, c.agent, c.offered_at = "offered", a.aid, t
        a.contact = c.cid
        self.offers += 1
        return c, a

    def _timer(self, e: Event, t: float) -> list[tuple[object, ...]]:
        """A decision no input calls for: a timer of the policy, due exactly now."""
        self.timer_decisions += 1
        if isinstance(e, ev.ContactRelaxed):
            c = self.contacts[e.contact_id]
            if c.state != "waiting" or not self.fires(self.when(self.relax_due(c), c), t) or self._expires(c, t):
                raise Violation(f"{e}: relaxation not due now for {c}")
            if e.min_level != self.relaxed_level(c):
                raise Violation(f"{e}: relaxed level should be {self.relaxed_level(c)}")
            c.relaxed = True
            return []
        if isinstance(e, ev.ContactEnded):
            c = self.contacts[e.contact_id]
            if e.outcome is not Outcome.EXPIRED or c.state != "waiting" or not self._expires(c, t):
                raise Violation(f"{e}: no expiry due now for {c}")
            if not self.fires(self.when(self.expire_due(c), c), t) or e.agent_id is not None:
                raise Violation(f"{e}: expiry should be at {self.when(self.expire_due(c), c)}")
            self._end(e, t)
            return []
        if isinstance(e, ev.ContactRequeued):
            c = self.contacts[e.contact_id]
            if e.reason == "fallback":
                if c.state != "waiting" or not self.fires(self.when(self.fallback_due(c), c), t) or self._expires(c, t):
                    raise Violation(f"{e}: no fallback due now for {c}")
                group = self.fallback_group(c)
                return [("queued", c.cid, group, True)]
            if e.reason == "no_answer" and c.state == "offered" and self.fires(self.ring_due(c), t):
                a = self.agents[c.agent or ""]
                c.state, c.agent, c.since = "waiting", None, t
                a.contact = None
                return [("agent", a.aid, AgentState.PAUSED, "no_answer", "after offer")]
            raise Violation(f"{e}: nothing calls for it")
        if isinstance(e, ev.AgentStateChanged) and e.state is AgentState.AVAILABLE:
            a = self.agents[e.agent_id]
            wrap_ends = a.state is AgentState.WRAP_UP and self.fires(a.wrap_until, t)
            unpause = a.state is AgentState.PAUSED and a.reason == "no_answer" and self.fires(a.unpause_at, t)
            if not (wrap_ends or unpause):
                raise Violation(f"{e}: no wrap-up or automatic unpause ends now")
            self._agent(e, t)
            return []
        raise Violation(f"{e}: nothing calls for it")

    def fires(self, due: float | None, t: float) -> bool:
        """A timer due at ``due`` fires at ``t``: exactly then, or now when the core is late."""
        return due is not None and (due == t or (self.late and due <= t))

    def _expires(self, c: Contact, t: float) -> bool:
        due = self.expire_due(c)
        return due is not None and due <= t

    def _check_instant(self, t: float, group: list[tuple[Contact, Agent]]) -> None:
        waiting = [c for c in self.live() if c.state == "waiting"]
        for c in waiting:
            for name, due in (("expiry", self.expire_due(c)), ("relaxation", self.relax_due(c)),
                              ("fallback", self.fallback_due(c))):
                if due is not None and due <= t:
                    raise Violation(f"at {t}: {name} of {c.cid} due at {due} did not happen")
        for c in self.live():
            ring = self.ring_due(c) if c.state == "offered" else None
            if ring is not None and ring <= t:
                raise Violation(f"at {t}: ring-no-answer of {c.cid} due at {ring} did not happen")
        for a in self.agents.values():
            if a.wrap_until is not None and a.wrap_until <= t:
                raise Violation(f"at {t}: wrap-up of {a.aid} due at {a.wrap_until} did not end")
            if a.unpause_at is not None and a.unpause_at <= t:
                raise Violation(f"at {t}: {a.aid} should be back from no_answer at {a.unpause_at}")
            if a.backoff_until is not None and a.backoff_until <= t:
                a.backoff_until = None
        # rule 2 over the instant's offers
        for c, a in group:
            mine = self.urgency(c, t)
            for d in waiting:
                if self.may_take(a, d, t) and self.urgency(d, t) < mine:
                    raise Violation(f"at {t}: {a.aid} got {c.cid} while {d.cid}, more urgent, waits")
        # work-conserving: no free agent beside a contact it may take
        for a in self.agents.values():
            if a.state is AgentState.AVAILABLE:
                for d in waiting:
                    if self.may_take(a, d, t):
                        raise Violation(f"at {t}: {a.aid} is free and {d.cid} waits for it")
        self.now = max(self.now, t)
