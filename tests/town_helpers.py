"""The whole town hall in the test process: fake Asterisk over TCP, IVR, dispatcher, Redis, SQL, HTTP, pages."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from pydantic import SecretStr

from dispatcher.fake_asterisk import FakeAsterisk, wait_until
from dispatcher.fake_asterisk.pbx import AgentPhone
from dispatcher.people.roles import Role
from dispatcher.policy import RoutingPolicy
from guichet.config import Settings
from guichet.townhall import TownHall, run_town_hall
from ivr.menu import GENERALIST, Menu
from skills.catalogue import default_catalogue
from skills.matrix import default_matrix
from tests.pages_helpers import FAST, PASSWORD

SECRET = "town-secret"
AGENT = "a101"
ACCOUNTS = {"nathalie": (Role.AGENT, AGENT), "superviseur": (Role.SUPERVISOR, None), "borne": (Role.KIOSK, None),
            "ecran": (Role.DISPLAY, None), "planif": (Role.PLANNER, None)}


def keys_for(menu: Menu, process: str, prefix: tuple[str, ...] = ()) -> tuple[str, ...] | None:
    """The IVR keys that lead to ``process``."""
    for key, choice in menu.choices.items():
        if isinstance(choice, Menu):
            found = keys_for(choice, process, (*prefix, key))
            if found:
                return found
        elif choice == process and choice != GENERALIST:
            return (*prefix, key)
    return None


@contextlib.asynccontextmanager
async def town(data_dir: Path, citizens: Path | None = None) -> AsyncIterator[tuple[TownHall, FakeAsterisk]]:
    """Every part running, the people of ``ACCOUNTS`` able to log in with ``PASSWORD`` (``citizens``: the
    directory CSV of known callers)."""
    catalogue = default_catalogue()
    matrix = default_matrix(catalogue)
    phones = [AgentPhone(p.endpoint, p.endpoint.rpartition("agent")[2]) for p in matrix.agents.values() if p.endpoint]
    fake = FakeAsterisk(agents=phones, secrets={"guichet": SECRET}, agi_address=("127.0.0.1", 9))
    await fake.start()
    try:
        settings = Settings(data_dir=data_dir, ami_port=fake.ami_port, ami_secret=SecretStr(SECRET), agi_port=0,
                            http_port=0, citizens=citizens)
        async with run_town_hall(settings, catalogue, matrix, RoutingPolicy(wrap_up_s=1.0)) as hall:
            fake.agi_address = ("127.0.0.1", hall.ivr.port)
            await wait_until(lambda: hall.ami.link_up and not hall.ami.resyncing, timeout=10.0)
            hall.pages.accounts.hasher = FAST
            for username, (role, agent_id) in ACCOUNTS.items():
                await hall.pages.accounts.add(username, PASSWORD, role, agent_id=agent_id)
            yield hall, fake
    finally:
        await fake.stop()
