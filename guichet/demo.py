"""``guichet demo``: the embedded town hall, for a newcomer to see every part work.

A simulated Asterisk (real AMI and FastAGI over TCP on 127.0.0.1) receives
calls from citizens who press keys in the IVR, wait with music, hang up when
their patience runs out, and talk with the agent whose softphone the
dispatcher rings. Visitors take their tickets at a kiosk of the town hall
through the real kiosk API (HTTP, a device token); desk agents acknowledge
the visitor the dispatcher pushes to them, recall, serve or mark a no-show
through the desk API, and the calls appear on a waiting-room display (a
WebSocket client of the display API) shown beside the board.
All of it goes through the real server (``guichet.townhall``): the private
Redis, the recovered dispatcher, the routing core, the SQL history. Time is
compressed: a talk lasts seconds, not minutes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import random
import secrets
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from pydantic import SecretStr
from rich.console import Console, Group
from rich.live import Live
from rich.logging import RichHandler
from rich.table import Table

from dispatcher import events as ev
from dispatcher.counter.sites import CounterRules, Sites, default_sites
from dispatcher.events import AgentState, Event
from dispatcher.fake_asterisk import FakeAsterisk, wait_until
from dispatcher.fake_asterisk.pbx import AgentPhone
from dispatcher.i18n import msg
from dispatcher.people.roles import Role
from dispatcher.policy import RoutingPolicy
from guichet.config import Settings
from guichet.townhall import TownHall, run, run_town_hall
from ivr.menu import GENERALIST, Menu
from skills.catalogue import default_catalogue
from skills.matrix import default_matrix
from skills.model import Catalogue, Channel, SkillMatrix

FIRST_NAMES = ("Hélène", "Gaëlle", "Jérôme", "Zoé", "Noël", "Anaïs", "François", "Chloé", "Raphaël", "Inès")
DEMO_CITIZENS = tuple(f"06{(12_345_678 + 7_919 * i) % 10**8:08d}" for i in range(60))
"""The demo's callers: a town small enough that people call again (the agent page shows their history)."""
COUNTER_PROCESSES = ("passport", "id_card", "id_collection", "birth_certificate", "electoral_roll", "school_enrolment")


@dataclass(frozen=True)
class DemoPlan:
    """How busy the simulated town hall is."""

    seconds: float | None = 40.0
    """None: until Ctrl-C (``stop``)."""
    calls_per_minute: float = 90.0
    visitors_per_minute: float = 30.0
    talk_s: tuple[float, float] = (3.0, 9.0)
    desk_s: tuple[float, float] = (4.0, 12.0)
    patience_s: float = 25.0
    no_show: float = 0.05
    callback_share: float = 0.3
    """Callers offered a callback (long wait) who take it."""
    break_every_s: float = 20.0
    """Every so often an agent takes a short break (simulated people)."""
    seed: int = 1


@dataclass
class DemoTally:
    """What the simulated citizens did."""

    calls: int = 0
    visitors: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    offers: Counter[str] = field(default_factory=Counter)
    rona: int = 0
    tickets: list[str] = field(default_factory=list)
    displayed: list[dict[str, Any]] = field(default_factory=list)
    refused: int = 0


KIOSK = "hdv-borne-1"
DISPLAY = "hdv-ecran-1"
DEMO_RULES = CounterRules(recalls=1, no_show_after_s=1.5, agent_away_after_s=20.0)
"""Counter rules in compressed time: one recall over 1.5 s before a no-show."""


def demo_tokens(sites: Sites, matrix: SkillMatrix) -> dict[str, str]:
    """A fresh token for every kiosk, display and agent of the demo (never written anywhere)."""
    subjects = [*matrix.agents, *(d for s in sites.sites.values() for d in (*s.kiosks, *s.displays))]
    return {subject: secrets.token_urlsafe(18) for subject in subjects}


def menu_paths(menu: Menu, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], str]]:
    """Every key sequence of the IVR menu with the process it leads to."""
    found: list[tuple[tuple[str, ...], str]] = []
    for key, choice in menu.choices.items():
        if isinstance(choice, Menu):
            found.extend(menu_paths(choice, (*prefix, key)))
        elif choice != GENERALIST:
            found.append(((*prefix, key), choice))
    return found


class Relay:
    """A sink attached before the town hall decides anything; it keeps the batches until its
    ``target`` (the simulated citizens, made once the hall runs) is set, then forwards them."""

    def __init__(self) -> None:
        self.kept: list[Sequence[Event]] = []
        self._target: Callable[[Sequence[Event]], None] | None = None

    @property
    def target(self) -> Callable[[Sequence[Event]], None] | None:
        return self._target

    @target.setter
    def target(self, target: Callable[[Sequence[Event]], None]) -> None:
        self._target = target
        for batch in self.kept:
            target(batch)
        self.kept.clear()

    def sink(self, batch: Sequence[Event]) -> None:
        if self._target is None:
            self.kept.append(batch)
        else:
            self._target(batch)


class SimulatedCitizens:
    """Callers and visitors arriving at random, and the desk agents' clicks, through the APIs."""

    def __init__(
        self, hall: TownHall, fake: FakeAsterisk, plan: DemoPlan, http: aiohttp.ClientSession, tokens: dict[str, str],
        relay: Relay,
    ) -> None:
        self.hall = hall
        self.fake = fake
        self.plan = plan
        self.http = http
        self.tokens = tokens
        self.rng = random.Random(plan.seed)
        self.choices = random.Random(plan.seed + 1)
        """The callers' and agents' choices: a stream of their own, the arrivals stay as they were."""
        self.paths = menu_paths(hall.ivr.config.menu)
        self.tally = DemoTally()
        self.loop = asyncio.get_running_loop()
        self.tasks: set[asyncio.Task[None]] = set()
        self.finished = False
        relay.target = self.on_events

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        if self.finished:  # a late timer after the demo's end: nobody is left at the desks
            work.close()
            return
        task = self.loop.create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def on_events(self, batch: Sequence[Event]) -> None:
        """Desk agents acknowledge their visitor; a paused agent (ring-no-answer) comes back later."""
        for e in batch:
            if isinstance(e, ev.ContactOffered):
                self.tally.offers[e.channel.value] += 1
                if e.channel is Channel.COUNTER:
                    self.loop.call_later(1.0, self.at_desk, e.agent_id)
                elif not e.channel.is_live:
                    self.loop.call_later(0.5, self.deferred_work, e.contact_id, e.agent_id)
            elif isinstance(e, ev.ContactEnded):
                self.tally.outcomes[e.outcome.value] += 1
            elif isinstance(e, ev.AgentStateChanged) and e.state is AgentState.PAUSED and e.reason == "no_answer":
                self.tally.rona += 1
                self.loop.call_later(8.0, self.submit, ev.AgentStatusSet, {"agent_id": e.agent_id, "state": AgentState.AVAILABLE})

    def submit(self, kind: Any, fields: dict[str, Any]) -> None:
        self.hall.dispatcher.submit(kind(at=self.hall.dispatcher.clock(), **fields))

    async def api(self, who: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        async with self.http.post(f"{self.hall.http.url}/api/v1/{path}", json=body, headers=headers) as r:
            return r.status, await r.json()

    def at_desk(self, agent_id: str) -> None:
        self.spawn(self.visitor_at_desk(agent_id))

    async def visitor_at_desk(self, agent_id: str) -> None:
        """The agent takes the visitor pushed to them (called on the display), then serves them."""
        status, _desk = await self.api(agent_id, "desk/answer")
        if status != 200:
            return
        if self.rng.random() < self.plan.no_show:
            await asyncio.sleep(0.5)
            await self.api(agent_id, "desk/recall")
            await asyncio.sleep(DEMO_RULES.no_show_after_s)
            await self.api(agent_id, "desk/no-show")
            return
        await asyncio.sleep(self.rng.uniform(*self.plan.desk_s))
        await self.api(agent_id, "desk/done")

    async def watch_display(self) -> None:
        """The waiting-room screen of the town hall: every call, as a display receives it."""
        url = f"{self.hall.http.url}/api/v1/display/ws?token={self.tokens[DISPLAY]}"
        async with self.http.ws_connect(url) as ws:
            async for msg in ws:
                frame = json.loads(msg.data)
                if frame.get("type") == "call":
                    self.tally.displayed.append(frame["call"])

    def deferred_work(self, contact_id: str, agent_id: str) -> None:
        """A callback or written request offered to an agent: taken, then done a little later."""
        self.submit(ev.OfferAnswered, {"contact_id": contact_id, "agent_id": agent_id})
        self.loop.call_later(self.choices.uniform(*self.plan.talk_s), self.submit, ev.ContactCompleted, {"contact_id": contact_id})

    def agent_break(self) -> None:
        """One available agent goes on a short break, and comes back."""
        router = self.hall.dispatcher.router
        free = [a for a, r in router.agents.items() if r.state is AgentState.AVAILABLE]
        if free:
            agent_id = self.choices.choice(sorted(free))
            self.submit(ev.AgentStatusSet, {"agent_id": agent_id, "state": AgentState.PAUSED, "reason": "break"})
            self.loop.call_later(10.0, self.submit, ev.AgentStatusSet, {"agent_id": agent_id, "state": AgentState.AVAILABLE})

    def call(self) -> None:
        """A citizen phones: keys for a process (or none: the generalist route), then waits."""
        self.tally.calls += 1
        roll = self.rng.random()
        if roll < 0.06:
            keys: tuple[str, ...] = ("",)
        elif roll < 0.10:
            keys = ("8", "8", "8")
        else:
            keys = self.rng.choice(self.paths)[0]
        number = DEMO_CITIZENS[self.rng.randrange(10**8) % len(DEMO_CITIZENS)]
        wait_choice = "1" if self.choices.random() < self.plan.callback_share else "2"
        self.fake.place_call(
            number,
            self.rng.choice(FIRST_NAMES),
            dtmf=[*keys, wait_choice],
            patience=self.rng.expovariate(1.0 / self.plan.patience_s),
            talk_time=self.rng.uniform(*self.plan.talk_s),
        )

    def visit(self) -> None:
        """A visitor takes a ticket at the kiosk (sometimes with a priority class)."""
        self.tally.visitors += 1
        body: dict[str, Any] = {"process": self.rng.choice(COUNTER_PROCESSES)}
        if self.rng.random() < 0.1:
            body["priority_class"] = self.rng.choice(("disability", "pregnancy", "elderly", "small_child"))
        self.spawn(self.take_ticket(body))

    async def take_ticket(self, body: dict[str, Any]) -> None:
        status, ticket = await self.api(KIOSK, "kiosk/tickets", body)
        if status == 201:
            self.tally.tickets.append(ticket["ticket"])
        else:
            self.tally.refused += 1

    async def run(self, seconds: float | None, stop: asyncio.Event | None = None) -> None:
        """Citizens arrive as two Poisson streams for ``seconds`` (None: until ``stop``)."""
        stop = stop or asyncio.Event()
        end = time.monotonic() + seconds if seconds is not None else float("inf")
        next_call = time.monotonic() + self.rng.expovariate(self.plan.calls_per_minute / 60.0)
        next_visit = time.monotonic() + self.rng.expovariate(self.plan.visitors_per_minute / 60.0)
        next_break = time.monotonic() + self.plan.break_every_s
        while (now := time.monotonic()) < end and not stop.is_set():
            if now >= next_call:
                self.call()
                next_call += self.rng.expovariate(self.plan.calls_per_minute / 60.0)
            if now >= next_visit:
                self.visit()
                next_visit += self.rng.expovariate(self.plan.visitors_per_minute / 60.0)
            if now >= next_break:
                self.agent_break()
                next_break += self.plan.break_every_s
            wake = min(next_call, next_visit, next_break, end, now + 0.5) - time.monotonic()
            await asyncio.sleep(max(0.0, wake))


def board(hall: TownHall, tally: DemoTally, elapsed: float) -> Group:
    """The live view: waiting per channel, agents by state, the day's figures so far."""
    router = hall.dispatcher.router
    waiting = Counter(c.channel.value for c in router.queue.contacts.values())
    states = Counter(a.state.value for a in router.agents.values())
    rows = hall.stats.rows(time.time(), by=())
    total = rows[0] if rows else None
    head = Table(title=msg("Guichet — simulated town hall, {seconds} s").format(seconds=f"{elapsed:4.0f}"),
                 expand=True)
    for name in (msg("calls"), msg("visitors"), msg("waiting (phone/counter)"),
                 msg("agents available/busy/wrap-up/paused")):
        head.add_column(name, justify="right")
    head.add_row(
        str(tally.calls),
        str(tally.visitors),
        f"{waiting.get('phone', 0)} / {waiting.get('counter', 0)}",
        f"{states.get('available', 0)} / {states.get('reserved', 0) + states.get('busy', 0)}"
        f" / {states.get('wrap_up', 0)} / {states.get('paused', 0)}",
    )
    figures = Table(expand=True)
    for name in (msg("offered"), msg("answered"), msg("abandoned"), msg("service level"), msg("pick-up rate"),
                 msg("ASA"), msg("ring-no-answer")):
        figures.add_column(name, justify="right")
    if total is not None:
        figures.add_row(
            str(total.offered),
            str(total.answered),
            str(total.abandoned),
            _pct(total.service_level),
            _pct(total.pickup_rate),
            "-" if total.asa_s is None else f"{total.asa_s:.1f} s",
            str(tally.rona),
        )
    screen = Table(title=msg("Waiting room — screen hdv-ecran-1 (last calls)"), expand=True)
    for name in (msg("call"), msg("announcement")):
        screen.add_column(name)
    for call in list(reversed(tally.displayed))[:6]:
        screen.add_row(call["text"], call["speech"])
    return Group(head, figures, screen)


DEMO_PEOPLE: dict[str, tuple[Role, str | None]] = {
    "superviseur": (Role.SUPERVISOR, None),
    "planificateur": (Role.PLANNER, None),
    "borne": (Role.KIOSK, None),
    "ecran": (Role.DISPLAY, None),
    "agent-a101": (Role.AGENT, "a101"),
}
"""The demo's logins (fresh random passwords each run, printed at start)."""


async def demo_logins(hall: TownHall) -> dict[str, str]:
    """Create (or reset) the demo accounts; username -> password."""
    from dispatcher.people.accounts import AccountError

    logins: dict[str, str] = {}
    accounts = hall.pages.accounts
    for username, (role, agent_id) in DEMO_PEOPLE.items():
        if agent_id is not None and agent_id not in hall.matrix.agents:
            continue
        password = secrets.token_urlsafe(9)
        try:
            await accounts.add(username, password, role, agent_id=agent_id, actor="demo")
        except AccountError:
            await accounts.set_password(username, password, actor="demo")
            await accounts.set_active(username, True, actor="demo")
        logins[username] = password
    return logins


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


async def run_demo(
    plan: DemoPlan,
    data_dir: Path,
    console: Console,
    catalogue: Catalogue | None = None,
    matrix: SkillMatrix | None = None,
    http_port: int = 0,
    stop: asyncio.Event | None = None,
    announce: Callable[[str, dict[str, str]], None] | None = None,
) -> tuple[DemoTally, str]:
    """Run the embedded town hall for ``plan.seconds`` (None: until ``stop``); returns the tally and the history URL.

    ``announce(url, logins)`` is called first, once the pages answer.
    """
    catalogue = catalogue or default_catalogue()
    matrix = matrix or default_matrix(catalogue)
    secret = secrets.token_urlsafe(16)
    sites = dataclasses.replace(default_sites(catalogue), rules=DEMO_RULES)
    tokens = demo_tokens(sites, matrix)
    endpoints = [p.endpoint for p in matrix.agents.values() if p.endpoint]
    # the fourth softphone never picks up: the demo shows ring-no-answer (rule 5)
    phones = [
        AgentPhone(endpoint, endpoint.rpartition("agent")[2], mode="no_answer" if i == 3 else "answer")
        for i, endpoint in enumerate(endpoints)
    ]
    fake = FakeAsterisk(agents=phones, secrets={"guichet": secret}, agi_address=("127.0.0.1", 9))
    await fake.start()
    data_dir.mkdir(parents=True, exist_ok=True)
    directory = data_dir / "demo-citizens.csv"
    directory.write_text("number,citizen_id,name,language\n" + "".join(
        f"{number},demo-{i:02d},{FIRST_NAMES[i % len(FIRST_NAMES)]},fr\n" for i, number in enumerate(DEMO_CITIZENS)
    ), encoding="utf-8")
    settings = Settings(
        data_dir=data_dir, ami_port=fake.ami_port, ami_secret=SecretStr(secret), agi_port=0, http_port=http_port,
        device_tokens=SecretStr(",".join(f"{k}={v}" for k, v in tokens.items())), citizens=directory,
    )
    policy = RoutingPolicy(wrap_up_s=1.5)
    try:
        relay = Relay()
        async with run_town_hall(settings, catalogue, matrix, policy, sites=sites, sinks=[relay.sink]) as hall:
            fake.agi_address = ("127.0.0.1", hall.ivr.port)
            await wait_until(lambda: hall.ami.link_up and not hall.ami.resyncing, timeout=10.0)
            logins = await demo_logins(hall)
            if announce is not None:
                announce(hall.http.url, logins)
            for agent_id in matrix.agents:
                hall.dispatcher.submit(
                    ev.AgentStatusSet(at=hall.dispatcher.clock(), agent_id=agent_id, state=AgentState.AVAILABLE)
                )
            console.print(
                msg("Waiting-room display (a browser): {url}/display (login ecran), "
                    "or a device: {url}/api/v1/display/events?token={token}").format(
                    url=hall.http.url, token=tokens[DISPLAY]),
                soft_wrap=True,
            )
            async with aiohttp.ClientSession() as http:
                citizens = SimulatedCitizens(hall, fake, plan, http, tokens, relay)
                screen = asyncio.create_task(citizens.watch_display())
                started = time.monotonic()
                arrivals = asyncio.create_task(citizens.run(plan.seconds, stop))
                with Live(board(hall, citizens.tally, 0.0), console=console, refresh_per_second=4) as live:
                    while not arrivals.done():
                        await asyncio.sleep(0.5)
                        live.update(board(hall, citizens.tally, time.monotonic() - started))
                await arrivals
                citizens.finished = True
                await asyncio.gather(*list(citizens.tasks), return_exceptions=True)
                screen.cancel()
                await asyncio.gather(screen, return_exceptions=True)
            return citizens.tally, hall.database_url
    finally:
        await fake.stop()


def announce_to(console: Console) -> Callable[[str, dict[str, str]], None]:
    """Print the wallboard's address and the demo logins, before anything else moves."""

    def announce(url: str, logins: dict[str, str]) -> None:
        console.print(msg("[bold]Wallboard: {url}/wallboard[/bold]  (log in at {url}/login)").format(url=url),
                      soft_wrap=True)
        for username, password in logins.items():
            role, _agent = DEMO_PEOPLE[username]
            console.print(msg("  {role} login [bold]{username}[/bold]  password [bold]{password}[/bold]").format(
                role=f"{role.value:<11}", username=username, password=password), soft_wrap=True)
        console.print(msg("  pages: {url}/agent  {url}/kiosk  {url}/display  {url}/planner  {url}/track  "
                          "{url}/metrics").format(url=url), soft_wrap=True)

    return announce


def main(plan: DemoPlan, data_dir: Path | None, console: Console, http_port: int = 8080) -> None:
    """Run the demo until Ctrl-C (or ``plan.seconds``), then print the day's statistics from the SQL history, and where it is."""
    import signal

    from dispatcher.history.cli import show_stats

    where = data_dir or Path(tempfile.mkdtemp(prefix="guichet-demo-"))
    logging.basicConfig(level=logging.WARNING, handlers=[RichHandler(console=console, show_path=False)], force=True)

    async def _run() -> tuple[DemoTally, str]:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        port = http_port if http_port and _port_free(http_port) else 0
        return await run_demo(plan, where, console, http_port=port, stop=stop, announce=announce_to(console))

    tally, database_url = run(_run())
    console.print()
    console.print(
        msg("Guichet demo stopped cleanly. {calls} calls and {visitors} visitors; offers by channel: "
            "{offers}; outcomes: {outcomes}; ring-no-answer: {rona}. Redis and SQLite under {where}. "
            "{tickets} tickets from the kiosk API, {displayed} calls on the display.").format(
            calls=tally.calls, visitors=tally.visitors, offers=dict(tally.offers), outcomes=dict(tally.outcomes),
            rona=tally.rona, where=where, tickets=len(tally.tickets), displayed=len(tally.displayed))
    )
    # 40 s of compressed time are not a day: per-agent-per-day figures are left out.
    show_stats(None, None, "process,channel", None, database_url, "Europe/Paris", per_day_figures=False)
    console.print(
        msg("The demo's history is kept in {where}; read it again with: "
            "guichet stats --database-url '{url}' (or GUICHET_DATA_DIR={where} guichet stats)").format(
            where=where, url=database_url),
        highlight=False,
        soft_wrap=True,
    )


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
