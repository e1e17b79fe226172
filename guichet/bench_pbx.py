"""The fake Asterisk of the server benchmarks (kiosk, wallboard), run in a process of its own."""

from __future__ import annotations

import asyncio
from typing import Any

from dispatcher.fake_asterisk import FakeAsterisk
from dispatcher.fake_asterisk.pbx import AgentPhone


async def start_fake_asterisk(conn: Any, endpoints: list[str], secret: str) -> tuple[FakeAsterisk, Any]:
    """A fake Asterisk whose softphones on ``endpoints`` answer, and the parent's word on where to send calls.

    Sends the AMI port over ``conn`` (a ``multiprocessing`` pipe), then waits for the server's
    FastAGI port and the benchmark's own payload: returns the started PBX and that payload.
    """
    phones = [AgentPhone(e, e.rpartition("agent")[2]) for e in endpoints]
    fake = FakeAsterisk(agents=phones, secrets={"guichet": secret}, agi_address=("127.0.0.1", 9))
    await fake.start()
    conn.send(fake.ami_port)
    agi_port, payload = await asyncio.get_running_loop().run_in_executor(None, conn.recv)
    fake.agi_address = ("127.0.0.1", agi_port)
    return fake, payload
