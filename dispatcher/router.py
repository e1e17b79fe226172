"""The routing core: one queue over all channels, one agent pool, rules 1-7.

Pure: no I/O, no clock of its own. ``Router.handle(event)`` applies one input
event at its time ``event.at`` and returns the decision events. Timers
(relaxation, ring-no-answer, wrap-up, expiry) fire when an event's time
passes them; ``next_timer_at()`` tells an adapter when to send ``TimePassed``.
The same inputs at the same times always give the same decisions.
"""

from __future__ import annotations

from typing import Final

from mypy_extensions import mypyc_attr

from dispatcher import events as ev
from dispatcher.batch import assign_batch
from dispatcher.events import AgentState, DeclineReason, Event, Outcome
from dispatcher.policy import RoutingPolicy
from dispatcher.pool import AgentPool
from dispatcher.state import (
    LIVE_RANK,
    MAX_PRIORITY,
    AgentRecord,
    BucketRules,
    ContactRecord,
    ContactState,
)
from dispatcher.timers import BACKOFF, CONTACT, OFFER, UNPAUSE, WRAP, Timer, TimerQueue
from dispatcher.waiting import WaitingQueue, urgency_key
from skills.model import AgentProfile, Catalogue, Channel, SkillMatrix

# Enum members as module constants: the hot path reads them many times per decision.
OFFLINE: Final = AgentState.OFFLINE
AVAILABLE: Final = AgentState.AVAILABLE
RESERVED: Final = AgentState.RESERVED
BUSY: Final = AgentState.BUSY
WRAP_UP: Final = AgentState.WRAP_UP
PAUSED: Final = AgentState.PAUSED
WORKING: Final = frozenset({RESERVED, BUSY, WRAP_UP})
WAITING: Final = ContactState.WAITING
OFFERED: Final = ContactState.OFFERED
IN_SERVICE: Final = ContactState.IN_SERVICE
ENDED: Final = ContactState.ENDED
NO_ANSWER: Final = DeclineReason.NO_ANSWER.value


@mypyc_attr(serializable=True, allow_interpreted_subclasses=True)
class Router:
    """The routing core. Feed it input events; it answers with decisions."""

    def __init__(
        self, catalogue: Catalogue, matrix: SkillMatrix, policy: RoutingPolicy | None = None
    ) -> None:
        self.catalogue = catalogue
        self.policy = policy or RoutingPolicy()
        self.queue = WaitingQueue(self._bucket_rules)
        self.contacts: dict[str, ContactRecord] = {}
        self.ended: dict[str, Outcome] = {}
        """Outcomes of the contacts ended lately (duplicate detection); see ``ended_before``."""
        self.ended_before: dict[str, Outcome] = {}
        """The generation of ended contacts before ``ended``: together at most ``ended_window``."""
        self.pool = AgentPool(catalogue, self.queue, self.policy.strategy)
        self.agents = self.pool.agents
        self.timers = TimerQueue()
        self.now = float("-inf")
        self._contact_seq = 0
        self._freed: list[AgentRecord] = []
        self._fresh: list[ContactRecord] = []
        for profile in matrix.agents.values():
            self.pool.add(profile.agent_id, profile.skills, profile.channels).site = profile.site

    # ------------------------------------------------------------ public

    def handle(self, event: Event | object) -> list[Event]:
        """Apply one input event at its time; return the decision events it caused.

        An input is applied whole or not at all: one that is not a well-typed input
        event (or that the core cannot apply) is answered ``Rejected`` and otherwise
        acts as ``TimePassed`` at its time. Nothing raises out of here, whatever it is given.
        """
        try:
            if not isinstance(event, Event) or type(event) not in ev.INPUT_TYPES:
                return self._refuse(event, "not an input event")
            problem = ev.problem(event)
            if problem is not None:
                return self._refuse(event, problem)
            return self._apply(event)
        except Exception as exc:  # noqa: BLE001  # a fault of the core itself: say it, keep routing
            return [
                ev.Rejected(
                    at=self.now if self.now > float("-inf") else 0.0,
                    input_kind=ev.kind_name(event),
                    subject="",
                    reason=f"internal error: {type(exc).__name__}: {exc}",
                )
            ]

    def _refuse(self, event: object, reason: str) -> list[Event]:
        """An input that cannot be applied: time passes to its time, if it has a valid one."""
        at = getattr(event, "at", None)
        out = self._apply(ev.TimePassed(at=float(at))) if ev.fits(ev.NUMBER, at) else []  # type: ignore[arg-type]
        subject = getattr(event, "contact_id", None) or getattr(event, "agent_id", None)
        out.append(
            ev.Rejected(
                at=self.now if self.now > float("-inf") else 0.0,
                input_kind=ev.kind_name(event),
                subject=subject if isinstance(subject, str) else "",
                reason=reason,
            )
        )
        return out

    def _apply(self, event: Event) -> list[Event]:
        """Apply a well-typed input event."""
        out: list[Event] = []
        now = event.at if event.at > self.now else self.now
        timers = self.timers.heap
        if timers and timers[0][0] <= now:
            self._fire_timers(now, out)
        self.now = now
        self._dispatch(event, now, out)
        timers = self.timers.heap
        if timers and timers[0][0] <= now:
            self._fire_timers(now, out)
        self._settle(now, out)
        return out

    def _dispatch(self, e: Event, now: float, out: list[Event]) -> None:
        """Apply one input event to its handler (the most frequent kinds first)."""
        if isinstance(e, ev.ContactArrived):
            self._on_arrived(e, now, out)
        elif isinstance(e, ev.OfferAnswered):
            self._on_answered(e, now, out)
        elif isinstance(e, ev.ContactCompleted):
            self._on_completed(e, now, out)
        elif isinstance(e, ev.TimePassed):
            self._on_time(e, now, out)
        elif isinstance(e, ev.ContactAbandoned):
            self._on_abandoned(e, now, out)
        elif isinstance(e, ev.AgentStatusSet):
            self._on_status(e, now, out)
        elif isinstance(e, ev.OfferDeclined):
            self._on_declined(e, now, out)
        elif isinstance(e, ev.ContactQualified):
            self._on_qualified(e, now, out)
        elif isinstance(e, ev.CallbackRequested):
            self._on_callback(e, now, out)
        elif isinstance(e, ev.AgentProfileChanged):
            self._on_profile(e, now, out)
        elif isinstance(e, ev.EndpointChanged):
            self._on_endpoint(e, now, out)
        elif isinstance(e, ev.ContactTakenOver):
            self._on_taken_over(e, now, out)
        elif isinstance(e, ev.ContactTransferred):
            self._on_transferred(e, now, out)

    def next_timer_at(self) -> float | None:
        """When the next timer is due (send ``TimePassed`` then), or None."""
        timers = self.timers
        while timers.heap and not self._timer_is_live(timers.heap[0]):
            timers.pop()
        return timers.due_at()

    def estimated_wait(self, process: str | None, channel: Channel, now: float) -> float:
        """Seconds a contact arriving now for ``process`` on ``channel`` would wait, roughly.

        The contacts already waiting there, plus this one, times the handling
        time, shared among the logged-in agents who can take them.
        """
        code = self._process_code(process)
        target = self.catalogue.target(code, channel)
        bucket = self.queue.buckets.get((code, channel))
        ahead = bucket.count if bucket else 0
        staffed, free_now = self.pool.staffed(code, channel)
        if staffed == 0:
            return float("inf")
        if free_now > ahead:
            return 0.0
        return (ahead + 1) * target.handling_time_s / staffed

    def position(self, contact_id: str) -> int | None:
        """1 for the next contact of its process and channel to be served, or None (a visitor
        counts only the contacts that its own site's agents may take)."""
        contact = self.queue.contacts.get(contact_id)
        if contact is None:
            return None
        site = contact.site
        mine = (-contact.priority, contact.arrived_at, contact.seq)
        ahead = 0
        for o in contact.bucket.waiting():
            if (site is None or o.site is None or o.site == site) and (-o.priority, o.arrived_at, o.seq) < mine:
                ahead += 1
        return ahead + 1

    # ----------------------------------------------------- input handlers

    def _on_arrived(self, e: ev.ContactArrived, now: float, out: list[Event]) -> None:
        if e.contact_id in self.contacts or self._was_ended(e.contact_id):
            out.append(self._rejected(e, e.contact_id, "contact already known"))
            return
        self._contact_seq += 1
        arrived_at = e.arrived_at if e.arrived_at is not None and e.arrived_at < e.at else e.at
        contact = self._new_contact(
            e.contact_id, e.channel, e.process, e.priority, arrived_at, self._contact_seq, arrived_at
        )
        contact.ticket, contact.caller, contact.citizen_id = e.ticket, e.caller, e.citizen_id
        contact.site = e.site
        if e.deadline is not None:
            contact.deadline = e.deadline
        self._enqueue(contact, now, out)

    def _on_qualified(self, e: ev.ContactQualified, now: float, out: list[Event]) -> None:
        contact = self._live_contact(e, e.contact_id, out)
        if contact is None:
            return
        if contact.state is not WAITING:
            agent = self.agents[contact.agent_id or ""]
            code = self._process_code(e.process)
            if contact.state is OFFERED and agent.skills.get(code, 0) >= self.catalogue.processes[code].min_level:
                self._set_process(contact, e.process, now)
                out.append(
                    ev.ContactRequalified(
                        at=now, contact_id=contact.contact_id, process=contact.process, agent_id=agent.agent_id
                    )
                )
                return
            served = contact.state is IN_SERVICE
            contact.state, contact.agent_id = WAITING, None
            out.append(ev.ContactRequeued(at=now, contact_id=contact.contact_id, reason="requalified"))
            self._release(agent, now, out, served=served)
        self._move(contact, e.process, now, out)

    def _on_transferred(self, e: ev.ContactTransferred, now: float, out: list[Event]) -> None:
        """Offer the contact to the named agent; its holder is released (wrap-up after a service)."""
        contact = self._live_contact(e, e.contact_id, out)
        if contact is None:
            return
        if contact.state is WAITING or contact.agent_id != e.agent_id:
            out.append(self._rejected(e, e.contact_id, f"contact is not with {e.agent_id}"))
            return
        target = self.agents.get(e.to_agent_id)
        if target is None or target is self.agents[e.agent_id]:
            out.append(self._rejected(e, e.to_agent_id, "no other agent of this id"))
            return
        level = self.pool.level_for(target, contact)
        if level is None:
            out.append(self._rejected(e, e.to_agent_id, "agent cannot take this contact now"))
            return
        holder = self.agents[e.agent_id]
        served = contact.state is IN_SERVICE
        self._offer(contact, target, level, now, out)
        self._release(holder, now, out, served=served)

    def _move(self, contact: ContactRecord, process: str | None, now: float, out: list[Event]) -> None:
        """Queue the contact for another process, keeping its arrival time and place.

        Its relaxation and expiry still count from its arrival; its fallback to the
        wider group counts from now, so that the move itself is never undone at once.
        """
        self.queue.remove(contact)
        self._set_process(contact, process, now)
        self._enqueue(contact, now, out)

    def _on_abandoned(self, e: ev.ContactAbandoned, now: float, out: list[Event]) -> None:
        contact = self._live_contact(e, e.contact_id, out)
        if contact is None:
            return
        if contact.state is IN_SERVICE:
            self._complete(contact, Outcome.SERVED, now, out, e.left_at, e.approximate)
            return
        agent_id = contact.agent_id
        left_at = e.left_at
        if left_at is not None:
            left_at = min(max(left_at, contact.arrived_at), now)
        self._end(contact, Outcome.ABANDONED, now, out, left_at, e.approximate)
        if agent_id is not None:
            self._release(self.agents[agent_id or ""], now, out, served=False)

    def _on_callback(self, e: ev.CallbackRequested, now: float, out: list[Event]) -> None:
        contact = self._live_contact(e, e.contact_id, out)
        if contact is None:
            return
        if contact.state is IN_SERVICE:
            out.append(self._rejected(e, e.contact_id, "contact is already with an agent"))
            return
        if e.callback_id in self.contacts or self._was_ended(e.callback_id):
            out.append(self._rejected(e, e.callback_id, "callback id already known"))
            return
        agent_id = contact.agent_id
        self._end(contact, Outcome.CALLBACK_SCHEDULED, now, out)
        if agent_id is not None:
            self._release(self.agents[agent_id], now, out, served=False)
        callback = self._new_contact(
            e.callback_id,
            Channel.CALLBACK,
            contact.process if contact.qualified else None,
            contact.priority,
            contact.arrived_at,
            contact.seq,
            now,
        )
        callback.caller = e.number or contact.caller
        callback.citizen_id = contact.citizen_id
        callback.deadline = now + self.policy.callback_deadline_s
        self._enqueue(callback, now, out)

    def _on_answered(self, e: ev.OfferAnswered, now: float, out: list[Event]) -> None:
        contact = self._offered_to(e, e.contact_id, e.agent_id, out)
        if contact is None:
            return
        contact.state = IN_SERVICE
        self.pool.set_state(self.agents[e.agent_id], BUSY, None, now, out, contact.contact_id)

    def _on_taken_over(self, e: ev.ContactTakenOver, now: float, out: list[Event]) -> None:
        """The PBX put the contact through to the agent itself: in service with them.

        Accepted for a contact offered to that agent (as an answer), or waiting while
        the agent is free or paused ``no_answer`` (the pause the answer disproves).
        """
        contact = self._live_contact(e, e.contact_id, out)
        if contact is None:
            return
        agent = self.agents.get(e.agent_id)
        if agent is None:
            out.append(self._rejected(e, e.contact_id, f"unknown agent {e.agent_id}"))
            return
        if contact.state is OFFERED and contact.agent_id == e.agent_id:
            contact.state = IN_SERVICE
            self.pool.set_state(agent, BUSY, None, now, out, contact.contact_id)
            return
        free = agent.state is AVAILABLE or (
            agent.state is PAUSED and agent.reason == NO_ANSWER and agent.contact_id is None
        )
        if contact.state is not WAITING or not free:
            out.append(self._rejected(e, e.contact_id, f"contact is not waiting for {e.agent_id}"))
            return
        self.queue.remove(contact)
        contact.state = IN_SERVICE
        contact.agent_id = agent.agent_id
        contact.timer_at = None
        self.pool.set_state(agent, BUSY, None, now, out, contact.contact_id)

    def _on_declined(self, e: ev.OfferDeclined, now: float, out: list[Event]) -> None:
        contact = self._offered_to(e, e.contact_id, e.agent_id, out)
        if contact is None:
            return
        agent = self.agents[e.agent_id]
        self._requeue(contact, e.reason.value, now, out)
        if e.reason is DeclineReason.BUSY:
            backoff = self.policy.busy_backoff_s
            if backoff > 0:
                agent.backoff_until = now + backoff
                self._schedule(now + backoff, BACKOFF, agent.agent_id, now + backoff)
            self._set_reachable(agent, agent.endpoint_up and agent.backoff_until is None)
            self._release(agent, now, out, served=False)
        elif e.reason is DeclineReason.UNAVAILABLE:
            agent.endpoint_up = False
            self._set_reachable(agent, False)
            self._release(agent, now, out, served=False)
        else:
            agent.contact_id = None
            self._pause_after_offer(agent, e.reason.value, now, out)

    def _on_completed(self, e: ev.ContactCompleted, now: float, out: list[Event]) -> None:
        contact = self._live_contact(e, e.contact_id, out)
        if contact is None:
            return
        if contact.state is WAITING:
            out.append(self._rejected(e, e.contact_id, "contact is not with an agent"))
            return
        self._complete(contact, e.outcome, now, out, e.left_at, e.approximate)

    def _on_status(self, e: ev.AgentStatusSet, now: float, out: list[Event]) -> None:
        agent = self.agents.get(e.agent_id)
        if agent is None:
            out.append(self._rejected(e, e.agent_id, "unknown agent"))
            return
        want = e.state
        if want not in (AVAILABLE, PAUSED, OFFLINE):
            out.append(self._rejected(e, e.agent_id, f"an agent cannot ask for {want.value}"))
            return
        state = agent.state
        if state is BUSY:
            if want is AVAILABLE:
                agent.pending = None
            else:
                agent.pending = (want, e.reason)
            return
        if state is RESERVED:
            if want is AVAILABLE:
                return
            contact = self.contacts[agent.contact_id or ""]
            self._requeue(contact, f"agent_{want.value}", now, out)
            agent.contact_id = None
        if want is AVAILABLE:
            if state is AVAILABLE:
                return
            if state is OFFLINE:
                agent.logged_in_at = now
                agent.busy_s = 0.0
            self._make_available(agent, now, out)
        elif want is PAUSED:
            if state is OFFLINE:
                out.append(self._rejected(e, e.agent_id, "agent is offline"))
                return
            self.pool.set_state(agent, PAUSED, e.reason, now, out)
        elif state is not OFFLINE:
            self.pool.set_state(agent, OFFLINE, e.reason, now, out)
            agent.logged_in_at = None

    def _on_profile(self, e: ev.AgentProfileChanged, now: float, out: list[Event]) -> None:
        agent = self.agents.get(e.agent_id)
        unknown = [p for p in e.skills if p not in self.catalogue.processes]
        if unknown:
            out.append(self._rejected(e, e.agent_id, f"unknown process {unknown[0]!r}"))
            return
        if agent is None:
            self.pool.add(e.agent_id, e.skills, frozenset(e.channels)).site = e.site
            return
        was_available = agent.state is AVAILABLE
        if was_available:
            self.pool.unindex(agent)
        agent.skills = dict(e.skills)
        agent.channels = frozenset(e.channels)
        agent.site = e.site
        self.pool.build_targets(agent)
        if was_available:
            self._freed.append(agent)

    def _on_endpoint(self, e: ev.EndpointChanged, now: float, out: list[Event]) -> None:
        agent = self.agents.get(e.agent_id)
        if agent is None:
            out.append(self._rejected(e, e.agent_id, "unknown agent"))
            return
        agent.endpoint_up = e.reachable
        if agent.backoff_until is None:
            self._set_reachable(agent, e.reachable)

    def _set_reachable(self, agent: AgentRecord, reachable: bool) -> None:
        """May the agent's softphone be rung; a free agent looks again at what it may take."""
        if agent.reachable == reachable:
            return
        agent.reachable = reachable
        if agent.state is AVAILABLE:
            self.pool.unindex(agent)
            self._freed.append(agent)

    def _on_time(self, e: ev.TimePassed, now: float, out: list[Event]) -> None:
        """Timers already fired before the handler ran."""

    # ------------------------------------------------------ the decisions

    def _settle(self, now: float, out: list[Event]) -> None:
        """Match what became free: freed agents take contacts, fresh contacts take agents."""
        freed = self._freed
        if freed:
            self._freed = []
            if len(freed) > 1:
                freed = [a for a in dict.fromkeys(freed) if a.state is AVAILABLE]
                if len(freed) > 1 and self.policy.batch_assignment:
                    self._assign_batch(freed, now, out)
            for agent in freed:
                if agent.state is not AVAILABLE:
                    continue
                contact = self._best_contact_for(agent, now)
                if contact is None:
                    self.pool.index(agent, now)
                else:
                    self._offer(contact, agent, agent.skills[contact.process], now, out)
        fresh = self._fresh
        if fresh:
            self._fresh = []
            if len(fresh) > 1:  # rule 2 over everything that became possible at once
                fresh.sort(key=lambda c: urgency_key(c, now))
            for contact in fresh:
                if contact.state is not WAITING:
                    continue
                found = self._best_agent_for(contact, now)
                if found is not None:
                    self._offer(contact, found[0], found[1], now, out)

    def _assign_batch(self, freed: list[AgentRecord], now: float, out: list[Event]) -> None:
        candidates = self._batch_candidates(freed)
        candidates.sort(key=lambda c: urgency_key(c, now))
        pairs = assign_batch(freed, candidates, self.pool.level_for, now)
        for agent, contact, level in pairs or ():
            self._offer(contact, agent, level, now, out)

    def _best_contact_for(self, agent: AgentRecord, now: float) -> ContactRecord | None:
        return self.queue.best_for(agent.main_targets, agent.relaxed_targets, now, agent.reachable, agent.site)

    def _best_agent_for(
        self, contact: ContactRecord, now: float
    ) -> tuple[AgentRecord, int] | None:
        return self.pool.best_free_for(contact, now)

    def _batch_candidates(self, agents: list[AgentRecord]) -> list[ContactRecord]:
        """Every contact an optimal batch may need: in each bucket the freed agents serve,
        as many of its most urgent contacts as agents look there, and as many of its most
        urgent relaxed ones as agents look there at the relaxed level only."""
        looking: dict[tuple[str, Channel], list[int]] = {}
        for agent in agents:
            for targets, relaxed in ((agent.main_targets, 0), (agent.relaxed_targets, 1)):
                for bucket in targets:
                    if bucket.count:
                        key = (bucket.process, bucket.channel)
                        counts = looking.get(key)
                        if counts is None:
                            counts = looking[key] = [0, 0]
                        counts[relaxed] += 1
        found: dict[str, ContactRecord] = {}
        for key, (main, relaxed) in looking.items():
            bucket = self.queue.buckets[key]
            if bucket.channel is Channel.COUNTER:  # visitors of other sites may come first: all of them
                for contact in bucket.waiting():
                    found[contact.contact_id] = contact
                continue
            for contact in bucket.most_urgent(main + relaxed):
                found[contact.contact_id] = contact
            if relaxed:
                for contact in bucket.most_urgent_relaxed(relaxed):
                    found[contact.contact_id] = contact
        return list(found.values())

    def _offer(
        self, contact: ContactRecord, agent: AgentRecord, level: int, now: float, out: list[Event]
    ) -> None:
        self.queue.remove(contact)
        if agent.state is AVAILABLE:
            self.pool.unindex(agent)
        contact.state = OFFERED
        contact.agent_id = agent.agent_id
        contact.offers += 1
        out.append(
            ev.ContactOffered(
                at=now,
                contact_id=contact.contact_id,
                agent_id=agent.agent_id,
                process=contact.process,
                channel=contact.channel,
                level=level,
                waited=now - contact.arrived_at,
            )
        )
        self.pool.set_state(agent, RESERVED, None, now, out, contact.contact_id)
        timeout = contact.bucket.rules.offer_timeout_s
        contact.timer_at = None
        if timeout is not None:
            self._schedule(now + timeout, OFFER, contact.contact_id, contact.offers)

    # ------------------------------------------------- contact lifecycle

    def _process_code(self, process: str | None) -> str:
        if process is None or process not in self.catalogue.processes:
            return self.catalogue.triage
        return process

    def _new_contact(
        self,
        contact_id: str,
        channel: Channel,
        process: str | None,
        priority: int,
        arrived_at: float,
        seq: int,
        since: float,
    ) -> ContactRecord:
        """A waiting contact; its fallback to the wider group counts from ``since``."""
        if not 0 <= priority <= MAX_PRIORITY:
            priority = 0 if priority < 0 else MAX_PRIORITY
        bucket = self.queue.bucket(self._process_code(process), channel)
        contact = ContactRecord(
            contact_id=contact_id,
            channel=channel,
            process=bucket.process,
            priority=priority,
            arrived_at=arrived_at,
            seq=seq,
            rank=0,
            inv_sla=bucket.inv_sla,
            required_level=bucket.base_level,
            relax_at=None,
            bucket=bucket,
        )
        self._set_process(contact, process, since)
        if not bucket.live:
            contact.deadline = arrived_at + bucket.rules.sla_seconds
        return contact

    def _set_process(self, contact: ContactRecord, process: str | None, since: float) -> None:
        """Put the contact under ``process`` (triage if unknown) with that process's timers.

        Relaxation and expiry count from the arrival, the fallback from ``since``.
        """
        code = self._process_code(process)
        bucket = self.queue.bucket(code, contact.channel)
        rules = bucket.rules
        contact.bucket = bucket
        contact.process = code
        contact.qualified = code == process
        contact.rank = (LIVE_RANK if bucket.live else 0) + contact.priority
        contact.inv_sla = bucket.inv_sla
        contact.required_level = rules.base_level
        arrived_at = contact.arrived_at
        overflow = rules.overflow_after_s
        contact.relax_at = None
        if overflow is not None and rules.relaxed_level < rules.base_level:
            contact.relax_at = arrived_at + overflow
        factor = self.policy.fallback_after_overflows
        contact.fallback_at = None
        if overflow is not None and factor is not None and code != rules.fallback:
            contact.fallback_at = since + factor * overflow
        max_wait = rules.max_wait_s
        contact.expire_at = arrived_at + max_wait if max_wait is not None else None

    def _bucket_rules(self, process: str, channel: Channel) -> BucketRules:
        target = self.catalogue.target(process, channel)
        base_level = self.catalogue.processes[process].min_level
        fallback = self.catalogue.processes[process].fallback
        return BucketRules(
            sla_seconds=target.sla_seconds,
            base_level=base_level,
            relaxed_level=min(self.policy.relaxed_level, base_level),
            overflow_after_s=target.overflow_after_s,
            max_wait_s=self.policy.max_wait_s.get(channel),
            offer_timeout_s=self.policy.offer_timeout_s.get(channel),
            fallback=fallback if fallback in self.catalogue.processes else process,
        )

    def _enqueue(self, contact: ContactRecord, now: float, out: list[Event]) -> None:
        self.contacts[contact.contact_id] = contact
        self.queue.push(contact)
        out.append(
            ev.ContactQueued(
                at=now,
                contact_id=contact.contact_id,
                process=contact.process,
                channel=contact.channel,
                priority=contact.priority,
                arrived_at=contact.arrived_at,
            )
        )
        self._wake(contact, now, out)

    def _requeue(self, contact: ContactRecord, reason: str, now: float, out: list[Event]) -> None:
        """Back to the queue with its original arrival time (rule 5)."""
        contact.state = WAITING
        contact.agent_id = None
        self.queue.push(contact)
        out.append(ev.ContactRequeued(at=now, contact_id=contact.contact_id, reason=reason))
        self._wake(contact, now, out)

    def _wake(self, contact: ContactRecord, now: float, out: list[Event]) -> None:
        """A contact (again) waiting: what fell due while it was not waiting happens now
        (expiry, relaxation (rule 4), then the wider group), then its next timer is armed.

        Only a waiting contact has a timer of its own: an offered one has its offer's,
        one with an agent none.
        """
        expire_at = contact.expire_at
        if expire_at is not None and expire_at <= now:
            self._end(contact, Outcome.EXPIRED, now, out)
            return
        if contact.relax_at is not None and contact.relax_at <= now:
            self._relax(contact, now, out)
        fallback_at = contact.fallback_at
        if fallback_at is not None and fallback_at <= now:
            out.append(ev.ContactRequeued(at=now, contact_id=contact.contact_id, reason="fallback"))
            self._move(contact, contact.bucket.rules.fallback, now, out)
            return
        due = contact.relax_at
        for at in (fallback_at, expire_at):
            if at is not None and (due is None or at < due):
                due = at
        contact.timer_at = due
        if due is not None:
            contact.timer_token += 1
            self._schedule(due, CONTACT, contact.contact_id, float(contact.timer_token))
        self._fresh.append(contact)

    def _relax(self, contact: ContactRecord, now: float, out: list[Event]) -> None:
        contact.required_level = contact.bucket.relaxed_level
        contact.relax_at = None
        out.append(
            ev.ContactRelaxed(at=now, contact_id=contact.contact_id, min_level=contact.required_level)
        )
        self.queue.mark_relaxed(contact)

    def _complete(
        self,
        contact: ContactRecord,
        outcome: Outcome,
        now: float,
        out: list[Event],
        left_at: float | None = None,
        approximate: bool = False,
    ) -> None:
        """The agent's contact ends; ``left_at``: when it really did (never before they took it)."""
        agent = self.agents[contact.agent_id or ""]
        if left_at is not None:
            left_at = min(max(left_at, agent.since, contact.arrived_at), now)
        self._end(contact, outcome, now, out, left_at, approximate)
        self._release(agent, now, out, served=True)

    def _end(
        self,
        contact: ContactRecord,
        outcome: Outcome,
        now: float,
        out: list[Event],
        left_at: float | None = None,
        approximate: bool = False,
    ) -> None:
        self.queue.remove(contact)
        contact.state = ENDED
        del self.contacts[contact.contact_id]
        ended = self.ended
        ended[contact.contact_id] = outcome
        if len(ended) * 2 >= self.policy.ended_window:
            self.ended_before = ended
            self.ended = {}
        out.append(
            ev.ContactEnded(
                at=now,
                contact_id=contact.contact_id,
                outcome=outcome,
                agent_id=contact.agent_id,
                waited=(now if left_at is None else left_at) - contact.arrived_at,
                approximate=approximate,
                ended_at=left_at if left_at is not None and left_at < now else None,
            )
        )

    # --------------------------------------------------- agent lifecycle

    def _release(self, agent: AgentRecord, now: float, out: list[Event], served: bool) -> None:
        """The agent's contact is gone: wrap-up after service, else straight back."""
        agent.contact_id = None
        if agent.pending is not None:
            state, reason = agent.pending
            agent.pending = None
            self.pool.set_state(agent, state, reason, now, out)
            if state is OFFLINE:
                agent.logged_in_at = None
            return
        if served and self.policy.wrap_up_s is not None and self.policy.wrap_up_s > 0:
            self.pool.set_state(agent, WRAP_UP, None, now, out)
            agent.wrap_token += 1
            self._schedule(now + self.policy.wrap_up_s, WRAP, agent.agent_id, agent.wrap_token)
        elif served and self.policy.wrap_up_s is None:
            self.pool.set_state(agent, WRAP_UP, None, now, out)
        else:
            self._make_available(agent, now, out)

    def _make_available(self, agent: AgentRecord, now: float, out: list[Event]) -> None:
        self.pool.set_state(agent, AVAILABLE, None, now, out)
        agent.idle_since = now
        self._freed.append(agent)

    def _pause_after_offer(self, agent: AgentRecord, reason: str, now: float, out: list[Event]) -> None:
        """The agent let an offer go: paused with the reason (rule 5), back by itself
        after ``no_answer_unpause_s`` when the policy says so."""
        self.pool.set_state(agent, PAUSED, reason, now, out)
        unpause = self.policy.no_answer_unpause_s
        if reason == NO_ANSWER and unpause is not None:
            self._schedule(now + unpause, UNPAUSE, agent.agent_id, now)

    # ------------------------------------------------------------ timers

    def _schedule(self, at: float, kind: str, subject: str, token: float) -> None:
        """Add a timer (never in the past); once stale timers far outnumber the live ones, drop them."""
        timers = self.timers
        timers.schedule(max(at, self.now), kind, subject, token)
        size = len(timers.heap)
        if size > 1024 and size > 4 * (len(self.contacts) + len(self.agents)):
            timers.keep([t for t in timers.heap if self._timer_is_live(t)])

    def _timer_is_live(self, timer: Timer) -> bool:
        _at, _seq, kind, subject, token = timer
        if kind == CONTACT or kind == OFFER:
            contact = self.contacts.get(subject)
            if contact is None:
                return False
            if kind == OFFER:
                return contact.state is OFFERED and contact.offers == token
            return contact.state is WAITING and contact.timer_at is not None and contact.timer_token == token
        agent = self.agents.get(subject)
        if agent is None:
            return False
        if kind == WRAP:
            return agent.state is WRAP_UP and agent.wrap_token == token
        if kind == BACKOFF:
            return agent.backoff_until == token
        return agent.state is PAUSED and agent.reason == NO_ANSWER and agent.since == token

    def _fire_timers(self, now: float, out: list[Event]) -> None:
        """Fire every timer due by ``now``, each batch at its own time, settling in between.

        When the first is later than ``late_timer_s`` (the core was told the time long
        after, as after a restart), all of them fire at ``now`` instead: what they decide,
        and the timers those decisions set, count from the time the core learnt.
        """
        timers = self.timers.heap
        late = self.policy.late_timer_s
        if late is not None:
            while timers and not self._timer_is_live(timers[0]):
                self.timers.pop()
                timers = self.timers.heap
            if timers and now - timers[0][0] > late:
                self.now = now
                while timers and timers[0][0] <= now:
                    timer = self.timers.pop()
                    if self._timer_is_live(timer):
                        self._fire(timer, now, out)
                    timers = self.timers.heap
                self._settle(now, out)
                return
        while timers and timers[0][0] <= now:
            at = timers[0][0]
            self.now = at
            while timers and timers[0][0] == at:
                timer = self.timers.pop()
                if self._timer_is_live(timer):
                    self._fire(timer, at, out)
                timers = self.timers.heap
            self._settle(at, out)
            timers = self.timers.heap

    def _fire(self, timer: Timer, at: float, out: list[Event]) -> None:
        kind, subject = timer[2], timer[3]
        if kind == CONTACT:
            self._wake(self.contacts[subject], at, out)
        elif kind == OFFER:
            contact = self.contacts[subject]
            agent = self.agents[contact.agent_id or ""]
            self._requeue(contact, NO_ANSWER, at, out)
            agent.contact_id = None
            self._pause_after_offer(agent, NO_ANSWER, at, out)
        elif kind == WRAP:
            self._make_available(self.agents[subject], at, out)
        elif kind == BACKOFF:
            agent = self.agents[subject]
            agent.backoff_until = None
            self._set_reachable(agent, agent.endpoint_up)
        else:
            self._make_available(self.agents[subject], at, out)

    # ----------------------------------------------------------- helpers

    def _live_contact(self, e: Event, contact_id: str, out: list[Event]) -> ContactRecord | None:
        contact = self.contacts.get(contact_id)
        if contact is None:
            reason = "contact already ended" if self._was_ended(contact_id) else "unknown contact"
            out.append(self._rejected(e, contact_id, reason))
        return contact

    def _offered_to(
        self, e: Event, contact_id: str, agent_id: str, out: list[Event]
    ) -> ContactRecord | None:
        contact = self._live_contact(e, contact_id, out)
        if contact is None:
            return None
        if contact.state is not OFFERED or contact.agent_id != agent_id:
            out.append(self._rejected(e, contact_id, f"contact is not offered to {agent_id}"))
            return None
        return contact

    def _was_ended(self, contact_id: str) -> bool:
        """Did a contact of this id end lately (within ``ended_window``)?"""
        return contact_id in self.ended or contact_id in self.ended_before

    def _rejected(self, e: Event, subject: str, reason: str) -> ev.Rejected:
        return ev.Rejected(at=self.now, input_kind=e.kind, subject=subject, reason=reason)


def profile_event(profile: AgentProfile, at: float) -> ev.AgentProfileChanged:
    """The event that gives an agent this profile."""
    return ev.AgentProfileChanged(
        at=at,
        agent_id=profile.agent_id,
        skills=dict(profile.skills),
        channels=tuple(sorted(profile.channels, key=lambda c: c.value)),
        site=profile.site,
    )

