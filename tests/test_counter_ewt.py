"""The per-contact estimated wait, by examples over the real routing core, and its benchmark."""

from __future__ import annotations

import json
import subprocess
import sys

from dispatcher import events as ev
from dispatcher.counter import ewt
from dispatcher.events import AgentState
from dispatcher.policy import RoutingPolicy
from dispatcher.router import Router
from skills.catalogue import default_catalogue
from skills.model import AgentProfile, Channel, SkillMatrix

CATALOGUE = default_catalogue()


def _router(agents: dict[str, tuple[dict[str, int], set[Channel]]]) -> tuple[Router, ewt.Recent]:
    matrix = SkillMatrix({a: AgentProfile(a, a, skills, frozenset(ch)) for a, (skills, ch) in agents.items()})
    router = Router(CATALOGUE, matrix, RoutingPolicy(wrap_up_s=0.0))
    recent = ewt.Recent()
    for agent in agents:
        recent.sink([*router.handle(ev.AgentStatusSet(at=0.0, agent_id=agent, state=AgentState.AVAILABLE))])
    return router, recent


def _arrive(router: Router, recent: ewt.Recent, cid: str, process: str, at: float, channel: Channel = Channel.COUNTER) -> list[ev.Event]:
    event = ev.ContactArrived(at=at, contact_id=cid, channel=channel, process=process)
    out = router.handle(event)
    recent.sink([event, *out])
    for d in out:
        if isinstance(d, ev.ContactOffered):
            answer = ev.OfferAnswered(at=at, contact_id=d.contact_id, agent_id=d.agent_id)
            recent.sink([answer, *router.handle(answer)])
    return out


def test_the_estimate_counts_only_the_contacts_competing_for_the_same_agents() -> None:
    handling = CATALOGUE.target("passport", Channel.COUNTER).handling_time_s
    router, recent = _router({"p1": ({"passport": 3}, {Channel.COUNTER}), "u1": ({"building_permit": 3}, {Channel.COUNTER})})
    _arrive(router, recent, "busy-p", "passport", 0.0)  # p1 busy from 0
    _arrive(router, recent, "busy-u", "building_permit", 0.0)
    for n in range(3):
        _arrive(router, recent, f"u{n}", "building_permit", 1.0 + n)  # another agent's queue
    _arrive(router, recent, "mine", "passport", 10.0)
    wait = ewt.contact_wait(router, "mine", 10.0, recent)  # the median of plays with drawn handling times
    assert wait is not None and abs(wait - (handling - 10.0)) < 0.35 * handling  # only p1's current visitor ahead
    _arrive(router, recent, "second", "passport", 11.0)
    later = ewt.contact_wait(router, "second", 11.0, recent)
    assert later is not None and abs(later - (2 * handling - 11.0)) < 0.5 * handling and later > wait + 0.5 * handling


def test_a_contact_offered_at_once_waits_nothing_and_one_nobody_can_take_is_unstaffed() -> None:
    router, recent = _router({"p1": ({"passport": 3}, {Channel.COUNTER})})
    _arrive(router, recent, "now", "passport", 0.0)
    assert ewt.contact_wait(router, "now", 0.0, recent) is None and ewt.arrival_wait(router, "now", 0.0, recent) == 0.0
    router.handle(ev.AgentStatusSet(at=1.0, agent_id="p1", state=AgentState.OFFLINE))  # once done
    _arrive(router, recent, "queued", "passport", 1.5)
    assert ewt.contact_wait(router, "queued", 1.5, recent) is not None  # p1 comes back after "now"
    router.handle(ev.ContactCompleted(at=1.8, contact_id="now"))
    router.handle(ev.ContactAbandoned(at=1.9, contact_id="queued"))
    assert router.agents["p1"].state is AgentState.OFFLINE
    _arrive(router, recent, "alone", "passport", 2.0)
    assert ewt.contact_wait(router, "alone", 2.0, recent) == ewt.UNSTAFFED


def test_recent_handling_times_replace_the_catalogue_target() -> None:
    router, recent = _router({"p1": ({"passport": 3}, {Channel.COUNTER})})
    target = CATALOGUE.target("passport", Channel.COUNTER).handling_time_s
    assert recent.mean(router, ("passport", Channel.COUNTER)) == target
    for _ in range(ewt.WINDOW):
        recent.add(("passport", Channel.COUNTER), 60.0)
    assert recent.mean(router, ("passport", Channel.COUNTER)) == 60.0


def test_bench_ewt_quick_prints_its_figures_last() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "guichet.cli", "bench", "ewt", "--quick"], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["benchmark"] == "ewt" and figures["contacts"] > 100
    assert 0 < figures["mae_share"] < figures["naive_mae_share"] and figures["ratio"] > 1
    assert figures["waiting"] >= 10_000 and 0 < figures["estimate_us_p50"] <= figures["estimate_us_p99"]


def test_the_rest_of_a_current_contact_is_drawn_given_the_time_it_has_lasted() -> None:
    import random

    rng = random.Random(1)
    assert abs(ewt._rest_mean(600.0, 0.5, 0.0) - 600.0) < 1e-6  # nothing spent yet: the mean
    shape = ewt._rest_shape(600.0, 0.5, 900.0)  # what a play draws each busy agent's rest from
    rests = [ewt._rest_from(rng, shape) for _ in range(4000)]
    assert min(rests) >= 0.0  # never before now
    expected = ewt._rest_mean(600.0, 0.5, 900.0)
    assert 0.0 < expected < 600.0 and abs(sum(rests) / len(rests) - expected) < 0.1 * expected
    assert ewt._rest_mean(600.0, 0.5, 1e6) > 0.0  # far past every plausible length: still a little


def test_a_contact_deep_in_a_long_queue_gets_its_bucket_pace_until_someone_logs_in() -> None:
    agents = {a: ({"appointment": 3}, {Channel.COUNTER}) for a in ("p1", "p2", "p3")}
    router, recent = _router(agents)
    recent.sink(router.handle(ev.AgentStatusSet(at=0.0, agent_id="p3", state=AgentState.OFFLINE)))
    for n in range(2 + ewt.STEPS + 5):
        _arrive(router, recent, f"v{n}", "appointment", float(n))
    last = f"v{1 + ewt.STEPS + 5}"
    mine = router.queue.contacts[last]
    assert recent.ahead(router, mine, 100.0) == (router.position(last) or 0) - 1 >= ewt.STEPS
    first = ewt.contact_wait(router, last, 100.0, recent)
    assert first is not None and (mine.bucket, mine.site) in recent.paces
    _arrive(router, recent, "later", "appointment", 101.0)
    pace = recent.paces[(mine.bucket, mine.site)][2]
    later = ewt.contact_wait(router, "later", 101.0, recent)  # no play: one more ahead at that pace
    assert later is not None and abs(later - (first + pace)) < 1e-6
    roster = recent.roster
    _arrive_events = router.handle(ev.AgentStatusSet(at=102.0, agent_id="p3", state=AgentState.AVAILABLE))
    recent.sink(_arrive_events)
    assert recent.roster > roster  # a third agent: the cached pace no longer counts
    again = ewt.contact_wait(router, "later", 102.0, recent)
    assert again is not None and again < 0.8 * later


def test_the_estimate_is_the_middle_of_the_plays() -> None:
    assert ewt.central([5.0]) == 5.0 and ewt.central([ewt.UNSTAFFED]) == ewt.UNSTAFFED
    assert ewt.central([float(x) for x in range(15)]) == 7.0  # the mean of the middle five
    assert ewt.central([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 100.0]) == 5.0
    assert ewt.central([1.0, 2.0, 3.0, ewt.UNSTAFFED, ewt.UNSTAFFED, ewt.UNSTAFFED]) == ewt.UNSTAFFED


def test_the_rank_in_the_sorted_entries_follows_arrivals_services_and_sites() -> None:
    router, recent = _router({"p1": ({"appointment": 3}, {Channel.COUNTER})})
    _arrive(router, recent, "busy", "appointment", 0.0)
    for n in range(6):
        event = ev.ContactArrived(at=1.0 + n, contact_id=f"v{n}", channel=Channel.COUNTER, process="appointment", site=("a", "b")[n % 2])
        recent.sink([event, *router.handle(event)])
    ranks = {f"v{n}": recent.ahead(router, router.queue.contacts[f"v{n}"], 10.0) for n in range(6)}
    assert ranks == {"v0": 0, "v1": 0, "v2": 1, "v3": 1, "v4": 2, "v5": 2}  # each site's own line
    recent.sink(router.handle(ev.ContactAbandoned(at=11.0, contact_id="v0")))
    assert recent.ahead(router, router.queue.contacts["v4"], 11.0) == 1
    priority = ev.ContactArrived(at=12.0, contact_id="vip", channel=Channel.COUNTER, process="appointment", priority=1, site="a")
    recent.sink([priority, *router.handle(priority)])
    assert recent.ahead(router, router.queue.contacts["vip"], 12.0) == 0
    assert recent.ahead(router, router.queue.contacts["v4"], 12.0) == 2
