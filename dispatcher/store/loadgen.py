"""A synthetic town hall and its citizens and agents, for crash tests and benchmarks.

``town`` builds a catalogue and a skill matrix; ``Load`` plays the outside
world: citizens arrive (some hang up while waiting, some ask for a
callback), agents log in, answer their offers (or let them ring), finish
their contacts and come back from pauses. It reacts to the decisions it is
shown and hands out the input events due at a given time, so the same model
drives a Router in virtual time (tests) or a separate dispatcher process
through the intake stream in real time (crash test, benchmark).
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field

from dispatcher import events as ev
from dispatcher.events import AgentState, DeclineReason, Event
from skills.model import (
    AgentProfile,
    Catalogue,
    Channel,
    Process,
    SkillMatrix,
    usual_targets,
)

CHANNELS = (Channel.PHONE, Channel.COUNTER, Channel.EMAIL)


def town(agents: int, processes: int = 8) -> tuple[Catalogue, SkillMatrix]:
    """A catalogue of ``processes`` processes plus triage, and ``agents`` agents with 3 skills each."""
    targets = usual_targets()
    codes = ["triage"] + [f"p{i:02d}" for i in range(processes)]
    catalogue = Catalogue(
        processes={c: Process(code=c, label=c, domain="d", targets=targets) for c in codes}
    )
    profiles = {}
    for i in range(agents):
        skills = {"triage": 2, codes[1 + i % processes]: 3, codes[1 + (i + 3) % processes]: 2}
        skills[codes[1 + (i + 5) % processes]] = 1 + i % 3
        channels = frozenset(CHANNELS if i % 2 else (Channel.PHONE, Channel.CALLBACK, Channel.EMAIL))
        profiles[f"a{i:04d}"] = AgentProfile(f"a{i:04d}", f"Agent {i}", skills, channels)
    return catalogue, SkillMatrix(agents=profiles)


@dataclass
class Load:
    """The outside world of a front desk, as a source of input events.

    ``rate`` arrivals per second; each caller hangs up after a random patience
    with probability ``abandon_share``; agents answer in 1-4 s (or let a phone
    ring out with probability ``no_answer_share``) and handle for
    ``handle_s`` on average.
    """

    agent_ids: list[str]
    processes: list[str]
    rate: float = 5.0
    seed: int = 1
    handle_s: float = 20.0
    abandon_share: float = 0.2
    callback_share: float = 0.05
    no_answer_share: float = 0.05
    arriving: bool = True
    contacts: int = 0
    rng: random.Random = field(init=False)
    _due: list[tuple[float, int, Event]] = field(default_factory=list, init=False)
    _n: int = field(default=0, init=False)
    _next_arrival: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def _at(self, at: float, event: Event) -> None:
        self._n += 1
        heapq.heappush(self._due, (at, self._n, event))

    def login(self, now: float) -> list[Event]:
        """Every agent sets themselves available."""
        return [ev.AgentStatusSet(at=now, agent_id=a, state=AgentState.AVAILABLE) for a in self.agent_ids]

    def arrival(self, now: float) -> ev.ContactArrived:
        """One new contact, with its possible hang-up or callback request scheduled."""
        self.contacts += 1
        cid = f"c{self.seed}-{self.contacts:07d}"
        channel = self.rng.choice(CHANNELS)
        process = self.rng.choice(self.processes) if self.rng.random() < 0.9 else None
        if channel.is_live and self.rng.random() < self.abandon_share:
            self._at(now + self.rng.uniform(2, 120), ev.ContactAbandoned(at=0, contact_id=cid))
        elif channel is Channel.PHONE and self.rng.random() < self.callback_share:
            callback = ev.CallbackRequested(at=0, contact_id=cid, callback_id=f"{cid}-cb")
            self._at(now + self.rng.uniform(5, 60), callback)
        return ev.ContactArrived(
            at=now, contact_id=cid, channel=channel, process=process, priority=int(self.rng.random() < 0.05)
        )

    def observe(self, decisions: list[Event], now: float) -> None:
        """React to the dispatcher's decisions (answer offers, finish contacts, end pauses)."""
        for d in decisions:
            if isinstance(d, ev.ContactOffered):
                if d.channel is Channel.PHONE and self.rng.random() < self.no_answer_share:
                    continue
                if self.rng.random() < 0.02:
                    declined = ev.OfferDeclined(
                        at=0, contact_id=d.contact_id, agent_id=d.agent_id, reason=DeclineReason.REJECTED
                    )
                    self._at(now + self.rng.uniform(1, 4), declined)
                    continue
                answered = ev.OfferAnswered(at=0, contact_id=d.contact_id, agent_id=d.agent_id)
                self._at(now + self.rng.uniform(1, 4), answered)
            elif isinstance(d, ev.AgentStateChanged):
                if d.state is AgentState.BUSY and d.contact_id is not None:
                    done = ev.ContactCompleted(at=0, contact_id=d.contact_id)
                    self._at(now + self.rng.expovariate(1 / self.handle_s), done)
                elif d.state is AgentState.PAUSED:
                    back = ev.AgentStatusSet(at=0, agent_id=d.agent_id, state=AgentState.AVAILABLE)
                    self._at(now + self.rng.uniform(2, 10), back)

    def due(self, now: float) -> list[Event]:
        """The input events due by ``now``, each stamped with its own time, in time order."""
        if self._next_arrival is None:
            self._next_arrival = now
        while self.arriving and self._next_arrival <= now:
            self._at(self._next_arrival, self.arrival(self._next_arrival))
            self._next_arrival += self.rng.expovariate(self.rate)
        out: list[Event] = []
        while self._due and self._due[0][0] <= now:
            at, _n, event = heapq.heappop(self._due)
            out.append(event if event.at == at else _restamp(event, at))
        return out

    def next_at(self) -> float | None:
        """When the next input is due (None if nothing is scheduled and arrivals stopped)."""
        times = [self._due[0][0]] if self._due else []
        if self.arriving and self._next_arrival is not None:
            times.append(self._next_arrival)
        return min(times) if times else None


def _restamp(event: Event, at: float) -> Event:
    record = ev.to_record(event)
    record["at"] = at
    return ev.from_record(record)
