"""The phone desk as docs/phone.md sets it up, driven only from outside: ``guichet serve`` in its
own process on the fake Asterisk (real AMI and FastAGI sockets), agents using their softphone's
feature codes, a supervisor's ``guichet agents``, the planner's ``guichet stats``."""

from __future__ import annotations

import asyncio
import csv
import os
import signal
import sys
from pathlib import Path


from dispatcher.fake_asterisk import FakeAsterisk, wait_until
from dispatcher.store.redis_server import free_port
from ivr.prompts import SOUNDS_DIR

SECRET = "desk-secret"
PHONES = ["101", "102", "104", "105"]


def _env(tmp_path: Path, ami_port: int, agi_port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUICHET_") and k not in ("REDIS_URL", "DATABASE_URL")}
    env.update(
        GUICHET_DATA_DIR=str(tmp_path / "data"), GUICHET_AMI_PORT=str(ami_port), GUICHET_AMI_SECRET=SECRET,
        GUICHET_AGI_PORT=str(agi_port), GUICHET_HTTP_PORT="0", GUICHET_LANG="en", GUICHET_SOUNDS_DIR=str(SOUNDS_DIR),
    )
    return env


async def guichet(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "guichet.cli", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def agent_row(listing: str, agent: str) -> str:
    return next(line for line in listing.splitlines() if f" {agent} " in line)


class Serve:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.proc: asyncio.subprocess.Process | None = None
        self.err: list[str] = []

    async def start(self, fake: FakeAsterisk) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "guichet.cli", "serve", env=self.env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        assert self.proc.stdout is not None and self.proc.stderr is not None
        banner = (await asyncio.wait_for(self.proc.stdout.readline(), 60)).decode()
        assert "Guichet serving" in banner, banner
        self._reader = asyncio.create_task(self._read_err())
        await wait_until(lambda: fake.ami_clients == 1, timeout=15)
        await wait_until(lambda: any("logged in and resynchronised" in line for line in self.err), timeout=15)

    async def _read_err(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        while line := await self.proc.stderr.readline():
            self.err.append(line.decode().rstrip())

    async def stop(self) -> str:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        assert self.proc.stdout is not None
        out = (await asyncio.wait_for(self.proc.stdout.read(), 60)).decode()
        await asyncio.wait_for(self.proc.wait(), 60)
        await self._reader
        assert self.proc.returncode == 0, "\n".join(self.err)
        return out


async def test_an_agent_who_dials_the_ready_code_is_offered_the_next_call(tmp_path: Path) -> None:
    agi_port = free_port()
    async with FakeAsterisk(
        agents=PHONES, secrets={"guichet": SECRET}, agi_address=("127.0.0.1", agi_port), sounds_dir=SOUNDS_DIR,
        time_scale=0.02, record=True,
    ) as fake:
        env = _env(tmp_path, fake.ami_port, agi_port)
        serve = Serve(env)
        await serve.start(fake)
        log = "\n".join(serve.err)
        assert "FastAGI IVR listening" in log and "AMI: connected" in log and "all 52 prompts found" in log
        assert "AMI protocol version: '11.0.0'" in log
        assert "Traceback" not in log

        code, listing, _ = await guichet(env, "agents", "list")
        assert code == 0 and "offline" in agent_row(listing, "a101")

        # A citizen calls about a passport (1 then 1); nobody is ready: music.
        call = fake.place_call("0612345678", "Hélène Dupont", dtmf=["1", "1"], talk_time=0.5)
        await wait_until(lambda: fake.channel(call) is not None and fake.channel(call).moh, timeout=15)
        assert fake.bridged_to(call) is None

        # Nathalie dials *21 on her softphone: she hears "vous êtes prêt", then the call rings her.
        chan = fake.dial("101", "*21")
        assert chan is not None
        await wait_until(lambda: fake.bridged_to(call) == "PJSIP/agent101", timeout=15)
        heard = [f for f in fake.frames if b"guichet/agent-pret" in f and chan.uniqueid.encode() in f]
        assert heard
        await wait_until(lambda: fake.channel(call) is None, timeout=15)  # served, hung up
        log = "\n".join(serve.err)
        assert "handed over, process passport" in log and "agent a101 ready by feature code *21" in log

        # The supervisor pauses her for lunch, then she comes back from her phone.
        code, out, err = await guichet(env, "agents", "pause", "a101", "lunch")
        assert code == 0 and "a101: paused (lunch)" in out, err
        code, listing, _ = await guichet(env, "agents", "list")
        assert "paused" in agent_row(listing, "a101") and "lunch" in agent_row(listing, "a101")
        code, out, err = await guichet(env, "agents", "pause", "a103", "lunch")
        assert code == 2 and "refused: agent is offline" in err

        # The state survives a restart of the server.
        await serve.stop()
        serve = Serve(env)
        await serve.start(fake)
        code, listing, _ = await guichet(env, "agents", "list")
        assert "paused" in agent_row(listing, "a101") and "lunch" in agent_row(listing, "a101")
        second = fake.place_call("0698765432", "Paul", dtmf=["1", "1"], talk_time=0.5)
        await wait_until(lambda: fake.channel(second) is not None and fake.channel(second).moh, timeout=15)
        fake.dial("101", "*21")
        await wait_until(lambda: fake.bridged_to(second) == "PJSIP/agent101", timeout=15)
        await wait_until(lambda: fake.channel(second) is None, timeout=15)
        await serve.stop()

    # The history: two phone calls offered and answered, the wait being until answered.
    code, out, err = await guichet(env, "stats", "--by", "channel", "--csv", str(tmp_path / "stats.csv"))
    assert code == 0, err
    rows = list(csv.DictReader((tmp_path / "stats.csv").open(encoding="utf-8")))
    phone = next(r for r in rows if r.get("channel") == "phone")
    assert int(float(phone["offered"])) == 2 and int(float(phone["answered"])) == 2, phone
