"""The FastAGI IVR with the fake Asterisk calling it over TCP, as Asterisk's AGI() does."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import pytest

from dispatcher import events as ev
from dispatcher.events import Outcome
from dispatcher.fake_asterisk.agi import AgiCommands
from ivr.citizens import CallLog, Citizen, StaticDirectory, directory_of, normalize_number
from ivr.menu import load_menu
from skills.catalogue import default_catalogue
from skills.model import Channel
from tests.ami_helpers import PhoneRig

HELENE = ("0612345678", "cit-42", "Hélène Dupont")


def agi_commands(rig: PhoneRig, uniqueid: str) -> list[str]:
    """The AGI commands the IVR sent for one call (from the fake's AGIExecStart frames)."""
    out = []
    for frame in rig.fake.frames:
        if (
            frame.startswith(b"Event: AGIExecStart\r\n")
            and f"Uniqueid: {uniqueid}\r\n".encode() in frame
        ):
            text = frame.decode()
            out.append(text.split("\r\nCommand: ")[1].split("\r\n")[0])
    return out


def rig(**kwargs: object) -> PhoneRig:
    kwargs.setdefault("available", ())
    return PhoneRig(ivr=True, record=True, **kwargs)  # type: ignore[arg-type]


async def queued(r: PhoneRig, call: object) -> ev.ContactArrived:
    uid = call.uniqueid  # type: ignore[attr-defined]
    await r.until(lambda: any(e.contact_id == uid for e in r.events(ev.ContactArrived)))
    return next(e for e in r.events(ev.ContactArrived) if e.contact_id == uid)  # type: ignore[return-value]


async def test_invalid_key_replays_the_menu_then_the_choice_counts() -> None:
    async with rig() as r:
        call = r.fake.place_call("0600000001", dtmf=["8", "1", "1"])
        arrived = await queued(r, call)
        assert arrived.process == "passport"
        commands = agi_commands(r, call.uniqueid)
        assert 'STREAM FILE guichet/choix-invalide ""' in commands
        assert (
            commands.count("GET DATA guichet/menu-principal 5000 1") == 1
        )  # after "8" (type-ahead)


async def test_too_many_invalid_keys_go_to_the_generalist_route() -> None:
    async with rig() as r:
        call = r.fake.place_call("0600000002", dtmf=["8", "8", "8"])
        arrived = await queued(r, call)
        assert arrived.process is None
        assert r.router.contacts[call.uniqueid].process == "triage"
        assert 'SET VARIABLE GUICHET_PROCESS ""' in agi_commands(r, call.uniqueid)


async def test_no_key_at_all_goes_to_the_generalist_route() -> None:
    async with rig() as r:
        call = r.fake.place_call("0600000003", dtmf=[])
        arrived = await queued(r, call)
        assert arrived.process is None
        await r.until(lambda: r.fake.channel(call).moh)  # then on hold with music


async def test_english_on_request() -> None:
    async with rig() as r:
        call = r.fake.place_call("0600000004", dtmf=["9", "1", "2"])
        arrived = await queued(r, call)
        assert arrived.process == "id_card"
        commands = agi_commands(r, call.uniqueid)
        assert commands[:2] == ["ANSWER", 'SET VARIABLE CHANNEL(language) "fr"']
        assert 'SET VARIABLE CHANNEL(language) "en"' in commands
        assert r.fake.channel(call).language == "en"
        assert r.adapter.call_info(call.uniqueid).language == "en"


async def test_known_citizen_and_repeat_caller_are_flagged() -> None:
    async with rig(directory=directory_of([HELENE])) as r:
        first = r.fake.place_call("+33 6 12 34 56 78", "Hélène Dupont", dtmf=["1", "1"])
        arrived = await queued(r, first)
        assert arrived.citizen_id == "cit-42"
        assert not r.adapter.call_info(first.uniqueid).repeat
        r.fake.hangup(first)
        second = r.fake.place_call("0612345678", "Hélène Dupont", dtmf=["1", "1"])
        arrived = await queued(r, second)
        assert arrived.citizen_id == "cit-42"
        info = r.adapter.call_info(second.uniqueid)
        assert info.repeat and info.citizen_id == "cit-42"
        stranger = r.fake.place_call("0799999999", "Gaëlle", dtmf=["1", "1"])
        arrived = await queued(r, stranger)
        assert arrived.citizen_id is None and not r.adapter.call_info(stranger.uniqueid).repeat


async def test_the_wait_is_announced_and_a_callback_keeps_the_place() -> None:
    config = dataclasses.replace(load_menu(catalogue=default_catalogue()), callback_above_s=60)
    async with rig(available=("a101",), ivr_config=config) as r:
        busy = r.fake.place_call("0600000010", dtmf=["1", "1"])
        await r.until(lambda: r.fake.bridged_to(busy))  # the only agent is now taken
        call = r.fake.place_call(
            "0611111111", "Gaëlle", dtmf=["1", "1", "1"]
        )  # ... then "1": call me back
        await r.until(lambda: call.uniqueid in r.ended())
        ended = r.ended()[call.uniqueid]
        assert ended.outcome is Outcome.CALLBACK_SCHEDULED
        await r.until(lambda: r.fake.channel(call) is None)  # the IVR said goodbye and hung up
        commands = agi_commands(r, call.uniqueid)
        assert any(c.startswith("SAY NUMBER ") for c in commands)  # "environ 4 minutes"
        assert commands[-3:] == [
            'SET VARIABLE GUICHET_CALLBACK "0611111111"',
            'STREAM FILE guichet/rappel-confirme ""',
            "HANGUP",
        ], commands
        callback = r.router.contacts[f"cb-{call.uniqueid}"]
        assert callback.channel is Channel.CALLBACK and callback.caller == "0611111111"
        phone_arrival = next(
            e for e in r.events(ev.ContactQueued) if e.contact_id == call.uniqueid
        ).arrived_at
        assert callback.arrived_at == phone_arrival  # the caller's place is kept
        assert not [e for e in r.events(ev.ContactAbandoned) if e.contact_id == call.uniqueid]


async def test_a_short_wait_offers_no_callback() -> None:
    async with rig(available=("a101",)) as r:
        call = r.fake.place_call("0600000011", dtmf=["1", "1"])
        await r.until(lambda: r.fake.bridged_to(call))
        commands = agi_commands(r, call.uniqueid)
        assert not any("proposition-rappel" in c for c in commands)


def _garbled(junk: str, times: int) -> object:
    """Asterisk's AGI replies preceded by lines that are not AGI replies."""
    original = AgiCommands.execute

    def execute(agi: AgiCommands, line: str) -> str:
        return junk * times + original(agi, line)

    return execute


@pytest.mark.parametrize(
    "junk, times, process",
    [
        ("garbage \x00\xff line\n", 1, "passport"),  # skipped: the menus go on
        ("Invalid\n", 50, None),  # the IVR gives up: generalist route, still queued
    ],
)
async def test_garbage_on_the_agi_socket_loses_no_caller(
    monkeypatch: pytest.MonkeyPatch, junk: str, times: int, process: str | None
) -> None:
    monkeypatch.setattr(AgiCommands, "execute", _garbled(junk, times))
    async with rig() as r:
        call = r.fake.place_call("0600000020", dtmf=["1", "1"])
        arrived = await queued(r, call)
        assert arrived.process == process
        await r.until(lambda: r.fake.channel(call).moh)


@pytest.mark.parametrize(
    "payload",
    [
        b"",  # connects and closes
        b"agi_network: yes\nagi_channel: PJSIP/x",  # a block cut short (panoramisk would spin forever)
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # a TLS hello
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",  # a browser
        b"agi_network: yes\nagi_network_script: nothing-here\n\n",
    ],
)
async def test_garbage_connections_to_the_ivr_port(payload: bytes) -> None:
    async with rig(available=("a101",)) as r:
        assert r.ivr is not None
        reader, writer = await asyncio.open_connection("127.0.0.1", r.ivr.port)
        writer.write(payload)
        await writer.drain()
        writer.write_eof()
        await asyncio.wait_for(reader.read(), 12)  # the IVR closes its side
        writer.close()
        call = r.fake.place_call("0600000021", dtmf=["1", "1"])  # and still serves callers
        await r.until(lambda: r.fake.bridged_to(call))
        assert r.ivr.app is not None and r.ivr.app.rejected == (1 if payload else 1)


async def test_the_caller_hangs_up_in_the_menus() -> None:
    async with rig(time_scale=0.1) as r:
        call = r.fake.place_call("0600000030", dtmf=["1"])  # then silence in the sub-menu
        await r.until(lambda: r.ivr.active == 1)
        r.fake.hangup(call)
        await r.until(lambda: r.ivr.active == 0)
        assert call.uniqueid not in r.router.contacts and call.uniqueid not in r.ended()


async def test_hundreds_of_callers_in_the_menus_at_once_do_not_block_the_dispatcher() -> None:
    async with rig(available=()) as r:
        lags: list[float] = []

        async def probe() -> None:
            while True:
                t = time.perf_counter()
                await asyncio.sleep(0.005)
                lags.append(time.perf_counter() - t - 0.005)

        task = asyncio.create_task(probe())
        calls = [r.fake.place_call(f"06{i:08d}", dtmf=[str(1 + i % 2), "1"]) for i in range(200)]
        await r.until(
            lambda: len(r.events(ev.ContactArrived)) == 200 and r.ivr.completed == 200, timeout=30
        )
        task.cancel()
        processes = {e.contact_id: e.process for e in r.events(ev.ContactArrived)}
        assert all(
            processes[c.uniqueid] == ("passport" if i % 2 == 0 else "electoral_roll")
            for i, c in enumerate(calls)
        )
        assert r.ivr.completed == 200
        lags.sort()
        assert lags[len(lags) // 2] < 0.05  # the loop keeps turning while 200 sessions run


def test_caller_ids_are_normalised_and_hidden_ones_ignored() -> None:
    assert normalize_number("+33 6 12.34.56.78") == "0612345678"
    assert normalize_number("0033612345678") == "0612345678"
    assert normalize_number("anonymous") is None and normalize_number("") is None
    directory = StaticDirectory({"+33612345678": Citizen("c1")})
    assert directory.lookup("06 12 34 56 78") == Citizen("c1")


def test_the_call_log_keeps_no_number_and_forgets() -> None:
    log = CallLog(retention_days=10)
    log.record("0612345678", now=0.0)
    assert log.seen_within("0612345678", days=7, now=6 * 86400)
    assert not log.seen_within("0612345678", days=7, now=8 * 86400)
    assert b"0612345678" not in repr(log._calls).encode()
    assert not log.seen_within("0612345678", days=30, now=11 * 86400)  # purged after retention
    assert len(log) == 0


async def test_the_ivr_needs_no_agent_state_to_hand_over(monkeypatch: pytest.MonkeyPatch) -> None:
    """A queue with nobody staffed: "no agent" is said, and the caller still holds their place."""
    async with rig(available=()) as r:
        call = r.fake.place_call("0600000040", dtmf=["1", "1"])
        await queued(r, call)
        await r.until(lambda: r.fake.channel(call).moh)
        assert 'STREAM FILE guichet/aucun-conseiller ""' in agi_commands(r, call.uniqueid)
        r.make_available("a101")
        await r.until(lambda: r.fake.bridged_to(call))


async def test_a_contact_wait_estimate_replaces_the_rough_one() -> None:
    async with rig(available=()) as r:  # the router alone would say "no agent"
        assert r.ivr is not None
        asked: list[str] = []
        r.ivr.estimate = lambda contact_id: asked.append(contact_id) or 600.0
        call = r.fake.place_call("0600000050", dtmf=["1", "1", "2"])
        await r.until(lambda: 'SAY NUMBER 10 ""' in agi_commands(r, call.uniqueid), timeout=10)
        assert asked == [call.uniqueid]
