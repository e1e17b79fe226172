"""The routing core against a reference model of DESIGN.md's rules, over random days.

Hypothesis draws a byte string; it chooses a catalogue, a skill matrix, a policy
and a sequence of inputs (ties in time, instants exactly at a timer, late and
restored arrivals, re-qualification in every contact state, declines of every
reason, ill-typed records and events). Two routers get the inputs: one as they
come, one with a ``TimePassed`` at each input's time first, so that its answer
splits into instants; they must decide the same. After every event the model
(tests/routing_model.py) checks every decision and every instant, the router's
next timer is the one the policy says, a rejected input changed nothing, and
after draining every contact has exactly one outcome.

``GUICHET_PROPERTY_PROFILE=long`` runs 10,000 sequences of up to ~100 inputs instead of
2,000 of up to ~25.
"""

from __future__ import annotations

import math
import os
import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatcher import events as ev
from dispatcher.events import AgentState, DeclineReason, Event
from dispatcher.policy import RoutingPolicy, Strategy
from dispatcher.router import Router
from skills.model import AgentProfile, Catalogue, Channel, ChannelTarget, Process, SkillMatrix
from tests.routing_model import Model, Violation

PROFILE = os.environ.get("GUICHET_PROPERTY_PROFILE", "default")
EXAMPLES, DAY_BYTES = {"default": (2_000, 160), "long": (10_000, 600)}[PROFILE]
"""Sequences to run, and the most bytes one may use (about 6 bytes an input)."""
PROCESSES = ("passport", "creche", "voirie")
CHANNELS = (Channel.PHONE, Channel.PHONE, Channel.COUNTER, Channel.COUNTER, Channel.CALLBACK, Channel.EMAIL)
SITES = (None, None, "hdv", "annexe")
STATUS = (AgentState.AVAILABLE, AgentState.AVAILABLE, AgentState.PAUSED, AgentState.OFFLINE, AgentState.BUSY)
BAD_VALUES = ("2", "10", None, math.nan, math.inf, True, 3, {"passport": "3"}, ("fax",), "yes", "tired", -1)


T = TypeVar("T")


class Exhausted(Exception):
    """The byte string is used up: the day ends."""


@dataclass
class Picker:
    data: bytes
    i: int = 0

    def below(self, n: int) -> int:
        if self.i >= len(self.data):
            raise Exhausted
        self.i += 1
        return self.data[self.i - 1] % n

    def of(self, options: Sequence[T]) -> T:
        return options[self.below(len(options))]

    def chance(self, per_256: int) -> bool:
        return self.below(256) < per_256


def build(pick: Picker) -> tuple[Catalogue, SkillMatrix, RoutingPolicy]:
    processes = {}
    for code in ("triage", *PROCESSES):
        targets = {
            Channel.PHONE: ChannelTarget(240, float(pick.of((20, 30))), 0.8, pick.of((None, 30.0, 60.0))),
            Channel.COUNTER: ChannelTarget(600, 600, 0.8, pick.of((None, 120.0, 900.0))),
            Channel.CALLBACK: ChannelTarget(300, 48 * 3600, 0.9, pick.of((None, 300.0))),
            Channel.EMAIL: ChannelTarget(400, 72 * 3600, 0.9, pick.of((None, 600.0))),
        }
        min_level = int(pick.of((1, 2, 2, 3)))
        processes[code] = Process(code=code, label=code, domain="d", targets=targets, min_level=min_level)
    catalogue = Catalogue(processes=processes)
    agents = {}
    for n in range(2 + pick.below(4)):
        skills = {p: 1 + pick.below(3) for p in ("triage", *PROCESSES) if pick.chance(170)}
        channels = frozenset(c for c in (Channel.PHONE, Channel.COUNTER, Channel.CALLBACK, Channel.EMAIL) if pick.chance(150))
        agents[f"a{n}"] = AgentProfile(agent_id=f"a{n}", name=f"a{n}", skills=skills, channels=channels or frozenset({Channel.PHONE}))
    base = RoutingPolicy()
    policy = RoutingPolicy(
        strategy=pick.of(tuple(Strategy)),
        batch_assignment=pick.chance(128),
        relaxed_level=1 + pick.below(2),
        fallback_after_overflows=pick.of((None, 1.0, 2.0)),
        wrap_up_s=pick.of((0.0, None, 5.0, 10.0)),
        offer_timeout_s=base.offer_timeout_s | {
            Channel.PHONE: pick.of((10.0, 20.0)), Channel.COUNTER: pick.of((None, 40.0)),
        },
        max_wait_s=base.max_wait_s | {
            Channel.PHONE: pick.of((None, 90.0, 150.0)),
            Channel.COUNTER: pick.of((None, 60.0, 300.0)),
            Channel.EMAIL: pick.of((None, 200.0)),
        },
        busy_backoff_s=pick.of((0.0, 5.0, 30.0)),
        no_answer_unpause_s=pick.of((None, 15.0)),
        late_timer_s=pick.of((None, None, 1.0, 30.0)),
    )
    return catalogue, SkillMatrix(agents=agents), policy


@dataclass
class Script:
    """Turns bytes into inputs, aimed at what the model holds now."""

    pick: Picker
    model: Model
    now: float = 0.0
    made: int = 0

    def time(self) -> float:
        pick = self.pick
        due = self.model.next_due()
        how = pick.below(16)
        if how < 3 and due is not None:
            self.now = max(self.now, due)  # exactly at a timer
        elif how == 3 and due is not None:
            self.now = max(self.now, due - 0.5)
        elif how == 4:
            return self.now - 3.0  # a late input
        else:
            self.now += float(pick.of((0.0, 0.0, 0.0, 0.5, 1.0, 5.0, 10.0, 20.0, 60.0, 200.0)))
        return self.now

    def contact(self) -> str:
        ids = list(self.model.contacts)
        if not ids or self.pick.chance(12):
            return "ghost"
        return str(self.pick.of(ids))

    def agent(self) -> str:
        return str(self.pick.of([*self.model.agents, "nobody"] if self.pick.chance(10) else list(self.model.agents)))

    def burst(self) -> list[Event]:
        """Every offer answered, or every contact with an agent done, at one instant:
        the wrap-ups then end together and the freed agents are matched as a batch."""
        at = self.time()
        live = self.model.live()
        if self.pick.chance(128):
            return [ev.OfferAnswered(at=at, contact_id=c.cid, agent_id=c.agent or "") for c in live if c.state == "offered"]
        return [ev.ContactCompleted(at=at, contact_id=c.cid) for c in live if c.state in ("offered", "in_service")]

    def next(self) -> Event:
        pick, model = self.pick, self.model
        at = self.time()
        op = pick.below(24)
        if op < 6 or not model.contacts:
            self.made += 1
            restored = pick.chance(40)
            channel = pick.of(CHANNELS)
            return ev.ContactArrived(
                at=at,
                contact_id=f"c{self.made}" if not pick.chance(10) else self.contact(),
                channel=channel,
                site=pick.of(SITES) if channel is Channel.COUNTER else None,
                process=pick.of((*PROCESSES, "triage", None, "unknown")),
                priority=int(pick.of((0, 0, 0, 1, 5, 120, -1))),
                arrived_at=at - float(pick.of((10.0, 100.0, 1000.0))) if restored else None,
            )
        offered = [c for c in model.live() if c.state == "offered"]
        if op < 9 and offered:
            c = pick.of(offered)
            agent_id = c.agent or ""
            if op == 6:
                return ev.OfferAnswered(at=at, contact_id=c.cid, agent_id=agent_id)
            reason = pick.of(tuple(DeclineReason))
            return ev.OfferDeclined(at=at, contact_id=c.cid, agent_id=agent_id, reason=reason)
        if op < 11:
            state = pick.of(STATUS)
            return ev.AgentStatusSet(at=at, agent_id=self.agent(), state=state, reason=str(pick.of(("lunch", "x"))))
        if op == 11:
            if pick.chance(60):
                return ev.ContactTakenOver(at=at, contact_id=self.contact(), agent_id=self.agent())
            if pick.chance(80):
                left_at = at - float(pick.of((0.0, 4.0, 30.0, 1e6)))
                return ev.ContactAbandoned(at=at, contact_id=self.contact(), left_at=left_at, approximate=True)
            return ev.ContactAbandoned(at=at, contact_id=self.contact())
        if op == 12:
            serving = [c.cid for c in model.live() if c.state == "in_service"]
            cid = str(pick.of(serving)) if serving and pick.chance(200) else self.contact()
            return ev.ContactCompleted(at=at, contact_id=cid)
        if op == 13:
            self.made += 1
            return ev.CallbackRequested(at=at, contact_id=self.contact(), callback_id=f"c{self.made}")
        if op < 16:
            return ev.ContactQualified(at=at, contact_id=self.contact(), process=str(pick.of((*PROCESSES, "triage", "unknown"))))
        if op == 16:
            return ev.EndpointChanged(at=at, agent_id=self.agent(), reachable=pick.chance(160))
        if op == 17:
            skills = {p: 1 + pick.below(3) for p in (*PROCESSES, "triage") if pick.chance(128)}
            if pick.chance(20):
                skills["unknown"] = 2
            channels = tuple(c for c in (Channel.PHONE, Channel.COUNTER, Channel.CALLBACK, Channel.EMAIL) if pick.chance(128))
            agent_id = self.agent() if not pick.chance(20) else f"new{self.made}"
            return ev.AgentProfileChanged(
                at=at, agent_id=agent_id, skills=skills, channels=channels, site=pick.of(SITES)
            )
        return ev.TimePassed(at=at)

    def ill_typed(self, event: Event) -> tuple[dict[str, object], str, object]:
        """The event's record with one field holding a value of the wrong kind."""
        record = ev.to_record(event)
        name = str(self.pick.of(event.fields))
        what = dict(ev.SCHEMA[type(event)])[name]
        bad = [v for v in BAD_VALUES if not ev.fits(what, ev.decode_value(what, v))]
        value = self.pick.of(bad)
        record[name] = list(value) if isinstance(value, tuple) else value
        return record, name, value


def records(events: list[Event]) -> list[dict[str, object]]:
    return [ev.to_record(e) for e in events]


@dataclass
class Day:
    """Both routers and the model, fed the same inputs."""

    catalogue: Catalogue
    matrix: SkillMatrix
    policy: RoutingPolicy

    def __post_init__(self) -> None:
        self.plain = Router(self.catalogue, self.matrix, self.policy)
        self.split = Router(self.catalogue, self.matrix, self.policy)
        self.calm = Router(self.catalogue, self.matrix, self.policy)
        """Given a ``TimePassed`` wherever the others are given an input they reject."""
        self.model = Model(self.catalogue, self.matrix, self.policy)
        self.ill_typed = 0

    def feed(self, event: Event) -> None:
        assert ev.from_record(ev.to_record(event)) == event
        tick = ev.TimePassed(at=event.at)
        first = self.split.handle(tick)
        self.model.step(tick, first)
        assert records(self.calm.handle(tick)) == records(first)
        second = self.split.handle(event)
        self.model.step(event, second)
        assert records(self.plain.handle(event)) == records(first + second)
        self.compare_calm(event, second)
        self.check()

    def compare_calm(self, event: Event, second: list[Event]) -> None:
        """A rejected input changes nothing: its router decides as one given ``TimePassed``."""
        if any(isinstance(e, ev.Rejected) for e in second):
            calm = self.calm.handle(ev.TimePassed(at=event.at)) if ev.fits(ev.NUMBER, event.at) else []
            assert calm == [], calm
        else:
            assert records(self.calm.handle(event)) == records(second)

    def feed_ill_typed(self, event: Event, name: str, value: object) -> None:
        """An ill-typed event reaches the core (only a pure build lets one be made)."""
        at_ok = name != "at"
        first: list[Event] = []
        if at_ok:
            tick = ev.TimePassed(at=event.at)
            first = self.split.handle(tick)
            self.model.step(tick, first)
            assert records(self.calm.handle(tick)) == records(first)
        try:
            setattr(event, name, value)
            held = ev.fits(dict(ev.SCHEMA[type(event)])[name], getattr(event, name))
        except TypeError:  # compiled: the attribute refuses the value, the event cannot exist
            held = True
        if held:  # compiled: refused, or converted (True -> 1.0): no ill-typed event exists
            if not at_ok:
                return
            assert records(self.plain.handle(tick)) == records(first)
            self.check()
            return
        before = pickle.dumps(self.split)
        second = self.split.handle(event)
        assert [type(e) for e in second] == [ev.Rejected], second
        assert pickle.dumps(self.split) == before
        if at_ok:
            self.model.read(second, second[0].at, [("rejected",)])
        assert records(self.plain.handle(event)) == records(first + second)
        self.ill_typed += 1
        self.check()

    def check(self) -> None:
        model, router = self.model, self.split
        assert router.next_timer_at() == model.next_due(), (router.next_timer_at(), model.next_due())
        assert set(router.contacts) == {c.cid for c in model.live()}
        assert {k: a.state for k, a in router.agents.items()} == {k: a.state for k, a in model.agents.items()}

    def drain(self) -> None:
        """End every contact still open, then check each has exactly one outcome."""
        at = max(self.model.now, 0.0) + 1.0
        for c in list(self.model.live()):
            if c.state == "new" or c.state == "ended":
                continue
            if c.state == "offered":
                self.feed(ev.OfferAnswered(at=at, contact_id=c.cid, agent_id=c.agent or ""))
            if c.state == "in_service":
                self.feed(ev.ContactCompleted(at=at, contact_id=c.cid))
            elif c.state == "waiting":
                self.feed(ev.ContactAbandoned(at=at, contact_id=c.cid))
        for c in list(self.model.live()):  # offered again meanwhile, or a callback made
            if c.state == "offered":
                self.feed(ev.OfferAnswered(at=at, contact_id=c.cid, agent_id=c.agent or ""))
            self.feed(ev.ContactCompleted(at=at, contact_id=c.cid) if c.state != "waiting"
                      else ev.ContactAbandoned(at=at, contact_id=c.cid))
        assert not self.split.contacts and not self.model.live()
        assert all(len(found) == 1 for found in self.model.outcomes.values()), self.model.outcomes


def run_day(data: bytes) -> Day:
    pick = Picker(data)
    try:
        day = Day(*build(pick))
        script = Script(pick, day.model)
        for agent_id in list(day.model.agents):
            if pick.chance(200):
                day.feed(ev.AgentStatusSet(at=0.0, agent_id=agent_id, state=AgentState.AVAILABLE))
    except Exhausted:
        day = Day(*build(Picker(bytes(64))))
        day.drain()
        return day
    try:
        while True:
            if pick.chance(20):
                for event in script.burst():
                    day.feed(event)
                continue
            event = script.next()
            if pick.chance(14):
                record, name, value = script.ill_typed(event)
                try:
                    ev.from_record(record)
                except ValueError as exc:
                    assert f"field {name!r}" in str(exc), exc
                else:
                    raise AssertionError(f"{record} was accepted")
                day.feed_ill_typed(event, name, value)
            else:
                day.feed(event)
    except Exhausted:
        pass
    day.drain()
    return day


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.binary(min_size=24, max_size=DAY_BYTES))
def test_the_core_follows_the_reference_model(data: bytes) -> None:
    try:
        run_day(data)
    except Violation as exc:
        raise AssertionError(str(exc)) from None


def test_the_random_days_exercise_every_rule() -> None:
    """Guards the generator: over a few days, every kind of decision and check happens."""
    import random

    rng = random.Random(14)
    totals = {"offers": 0, "rejected": 0, "timer": 0, "ill_typed": 0}
    kinds: set[str] = set()
    for _ in range(60):
        day = run_day(bytes(rng.randrange(256) for _ in range(600)))
        totals["offers"] += day.model.offers
        totals["rejected"] += day.model.rejected
        totals["timer"] += day.model.timer_decisions
        totals["ill_typed"] += day.ill_typed
        kinds |= {o.value for found in day.model.outcomes.values() for o in found}
    assert all(n > 20 for n in totals.values()) or totals["ill_typed"] == 0, totals
    assert min(totals["offers"], totals["rejected"], totals["timer"]) > 50, totals
    assert kinds >= {"served", "abandoned", "callback_scheduled", "expired"}, kinds
