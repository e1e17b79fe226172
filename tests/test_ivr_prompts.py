"""Spoken prompts: a missing one is not a hang-up (the keys still qualify the call), a hang-up
during GET DATA is; the prompts ship for every sound the menus name, and are remade from the
menu's texts by ``guichet ivr prompts`` (espeak-ng, sox) byte for byte."""

from __future__ import annotations

import asyncio
import filecmp
import json
import logging
import os
import shutil
import signal
import sys
import wave
from pathlib import Path

import pytest

from dispatcher import events as ev
from dispatcher.fake_asterisk import FakeAsterisk, wait_until
from dispatcher.store.redis_server import free_port
from ivr.menu import load_menu
from ivr.prompts import SOUNDS_DIR, missing
from tests.ami_helpers import PhoneRig
from tests.test_ivr_sessions import agi_commands


def rig(**kwargs: object) -> PhoneRig:
    kwargs.setdefault("available", ())
    return PhoneRig(ivr=True, record=True, **kwargs)  # type: ignore[arg-type]


async def arrived(r: PhoneRig, uniqueid: str) -> ev.ContactArrived:
    await r.until(lambda: any(e.contact_id == uniqueid for e in r.events(ev.ContactArrived)))
    return next(e for e in r.events(ev.ContactArrived) if e.contact_id == uniqueid)  # type: ignore[return-value]


async def test_missing_prompts_are_logged_once_and_the_keys_still_qualify(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "ivr")
    partial = tmp_path / "sounds"
    shutil.copytree(SOUNDS_DIR, partial)
    for language in ("fr", "en"):  # Asterisk falls back to English: remove both
        (partial / language / "guichet" / "menu-principal.wav").unlink()
        (partial / language / "guichet" / "menu-etat-civil.wav").unlink()
    async with rig(sounds_dir=partial) as r:
        calls = [r.fake.place_call(f"060000020{i}", dtmf=["", "1", "1"]) for i in range(2)]
        for call in calls:
            assert (await arrived(r, call.uniqueid)).process == "passport"
            commands = agi_commands(r, call.uniqueid)
            assert "GET DATA guichet/menu-principal 5000 1" in commands
            assert "CHANNEL STATUS" in commands and "WAIT FOR DIGIT 5000" in commands
            await r.until(lambda: r.fake.channel(call) is not None and r.fake.channel(call).moh)
    logged = [m for m in caplog.messages if "no sound file" in m]
    assert len([m for m in logged if "guichet/menu-principal " in m]) == 1
    assert len([m for m in logged if "guichet/menu-etat-civil " in m]) == 1
    assert len(logged) == 2


async def test_a_hangup_during_get_data_ends_the_session(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, "ivr")
    async with rig(time_scale=0.1, sounds_dir=SOUNDS_DIR) as r:
        call = r.fake.place_call("0600000210", dtmf=[])  # listens to the welcome, presses nothing
        await r.until(lambda: any(c.startswith("GET DATA guichet/bienvenue") for c in agi_commands(r, call.uniqueid)))
        r.fake.hangup(call)
        await r.until(lambda: r.ivr is not None and r.ivr.active == 0)
        await r.until(lambda: r.fake.channel(call) is None)
        commands = agi_commands(r, call.uniqueid)
        assert "WAIT FOR DIGIT 5000" not in commands  # not taken for a missing prompt
        assert call.uniqueid not in r.router.contacts and not r.events(ev.ContactArrived)
    assert not [m for m in caplog.messages if "no sound file" in m]


def test_the_shipped_prompts_cover_every_sound_and_play_natively() -> None:
    config = load_menu()
    assert missing(config, SOUNDS_DIR) == []
    assert set(config.languages) == {"fr", "en"}
    for sound, languages in config.sounds().items():
        for language in languages:
            with wave.open(str(SOUNDS_DIR / language / f"{sound}.wav")) as w:
                assert (w.getframerate(), w.getsampwidth(), w.getnchannels()) == (8000, 2, 1)
                assert 0.3 < w.getnframes() / 8000 < 40


async def _guichet(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "guichet.cli", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 300)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_guichet_ivr_prompts_remakes_the_shipped_files(tmp_path: Path) -> None:
    code, out, err = await _guichet("ivr", "prompts", "--out", str(tmp_path))
    assert code == 0, err
    assert "52 prompts" in out
    compared = filecmp.dircmp(SOUNDS_DIR, tmp_path)
    made = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.wav"))
    shipped = sorted(p.relative_to(SOUNDS_DIR) for p in SOUNDS_DIR.rglob("*.wav"))
    assert made == shipped
    _, mismatch, errors = filecmp.cmpfiles(SOUNDS_DIR, tmp_path, [str(p) for p in shipped], shallow=False)
    assert mismatch == [] and errors == [], compared


async def test_check_then_install_into_a_sounds_directory(tmp_path: Path) -> None:
    code, out, _ = await _guichet("ivr", "check", str(tmp_path))
    assert code == 1 and f"missing: {tmp_path}/fr/guichet/bienvenue.wav" in out
    code, out, err = await _guichet("ivr", "install", str(tmp_path))
    assert code == 0 and "52 prompts installed" in out, err
    code, out, _ = await _guichet("ivr", "check", str(tmp_path))
    assert code == 0 and "every prompt" in out


async def test_serve_names_the_missing_prompts_and_logs_as_json(tmp_path: Path) -> None:
    sounds = tmp_path / "sounds"
    shutil.copytree(SOUNDS_DIR, sounds)
    (sounds / "en" / "guichet" / "menu-voirie.wav").unlink()
    agi_port = free_port()
    async with FakeAsterisk(agents=["101"], secrets={"guichet": "s"}, agi_address=("127.0.0.1", agi_port)) as fake:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GUICHET_") and k not in ("REDIS_URL", "DATABASE_URL")}
        env.update(
            GUICHET_DATA_DIR=str(tmp_path / "data"), GUICHET_AGI_PORT=str(agi_port), GUICHET_HTTP_PORT="0", GUICHET_SOUNDS_DIR=str(sounds),
            GUICHET_AMI_PORT=str(fake.ami_port), GUICHET_AMI_SECRET="s", GUICHET_LOG_FORMAT="json",
            GUICHET_LANG="en",
        )
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "guichet.cli", "serve", "--log-level", "debug", env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        assert proc.stdout is not None and proc.stderr is not None
        assert "Guichet serving" in (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
        records: list[dict[str, str]] = []

        async def read() -> None:
            assert proc.stderr is not None
            while line := await proc.stderr.readline():
                records.append(json.loads(line))  # every line is one JSON object

        reader = asyncio.create_task(read())
        call = fake.place_call("0600000220", dtmf=["1", "1"])
        await wait_until(lambda: any("handed over" in r["message"] for r in records), timeout=20)
        await wait_until(lambda: any(r["logger"] == "guichet.decisions" and "contact_queued" in r["message"] for r in records), timeout=20)
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.stdout.read(), 60)
        await asyncio.wait_for(proc.wait(), 60)
        await reader
        assert proc.returncode == 0
        assert fake.channel(call) is not None
    messages = [r["message"] for r in records]
    named = [m for m in messages if m.startswith("prompt missing:")]
    assert named == [f"prompt missing: {sounds}/en/guichet/menu-voirie.wav (install them: docs/phone.md)"]
    assert all(r["level"] in ("DEBUG", "INFO", "WARNING") for r in records)
    assert any(r["level"] == "DEBUG" and r["logger"] == "guichet.decisions" for r in records)
    assert "0600000220" not in json.dumps(records)  # no caller's number in the logs
