"""Agents change state from their softphone: feature codes dialled on the fake Asterisk, answered
by the FastAGI server over TCP, with the spoken confirmation; calls then reach them (or not)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from dispatcher import events as ev
from dispatcher.events import AgentState
from ivr.agent_session import agent_endpoints, endpoint_of
from ivr.feature_codes import AgentCodes, parse_agent_codes
from ivr.prompts import SOUNDS_DIR
from tests.ami_helpers import PhoneRig
from tests.test_ivr_sessions import agi_commands


def rig(**kwargs: object) -> PhoneRig:
    kwargs.setdefault("available", ())
    kwargs.setdefault("sounds_dir", SOUNDS_DIR)
    r = PhoneRig(ivr=True, record=True, **kwargs)  # type: ignore[arg-type]
    assert r.ivr is not None
    r.ivr.endpoints = dict(agent_endpoints(r.matrix))
    return r


def statuses(r: PhoneRig) -> list[ev.AgentStatusSet]:
    return [e for e in r.events(ev.AgentStatusSet)]  # type: ignore[misc]


async def dial(r: PhoneRig, number: str, code: str, dtmf: tuple[str, ...] = ()) -> list[str]:
    """The agent dials ``code``; the AGI commands Guichet answered with, once the call is over."""
    chan = r.fake.dial(number, code, dtmf)
    assert chan is not None
    await r.until(lambda: not chan.alive)
    return agi_commands(r, chan.uniqueid)


async def test_an_agent_dials_the_ready_code_and_gets_the_next_call() -> None:
    async with rig() as r:
        call = r.fake.place_call("0600000101", dtmf=["1", "1"])
        await r.until(lambda: r.fake.channel(call) is not None and r.fake.channel(call).moh)
        assert r.agent_state("a101") is AgentState.OFFLINE
        said = await dial(r, "101", "*21")
        assert 'STREAM FILE guichet/agent-pret ""' in said
        assert statuses(r)[-1].state is AgentState.AVAILABLE and statuses(r)[-1].agent_id == "a101"
        await r.until(lambda: r.fake.bridged_to(call) == "PJSIP/agent101")


async def test_pause_with_a_reason_then_back() -> None:
    async with rig() as r:
        await dial(r, "101", "*21")
        said = await dial(r, "101", "*222")  # lunch
        assert 'STREAM FILE guichet/agent-en-pause ""' in said
        assert r.agent_state("a101") is AgentState.PAUSED
        assert statuses(r)[-1].reason == "lunch"
        call = r.fake.place_call("0600000102", dtmf=["1", "1"])
        await r.until(lambda: r.fake.channel(call).moh)
        assert r.fake.bridged_to(call) is None and not r.events(ev.ContactOffered)
        await dial(r, "101", "*21")
        await r.until(lambda: r.fake.bridged_to(call) == "PJSIP/agent101")


async def test_the_pause_reason_can_be_asked_for() -> None:
    async with rig() as r:
        await dial(r, "102", "*21")
        said = await dial(r, "102", "*22", dtmf=("3",))
        assert "GET DATA guichet/agent-motif 5000 1" in said
        assert statuses(r)[-1].reason == "meeting" and r.agent_state("a102") is AgentState.PAUSED


async def test_a_no_answer_paused_agent_gets_back_with_the_ready_code() -> None:
    async with rig() as r:
        r.fake.phone("101").mode = "no_answer"
        await dial(r, "101", "*21")
        call = r.fake.place_call("0600000103", dtmf=["1", "1"])
        await r.until(lambda: r.agent_state("a101") is AgentState.PAUSED, timeout=10)
        assert [e.reason for e in r.events(ev.AgentStateChanged) if e.state is AgentState.PAUSED] == ["no_answer"]
        r.fake.phone("101").mode = "answer"
        await dial(r, "101", "*21")
        await r.until(lambda: r.fake.bridged_to(call) == "PJSIP/agent101", timeout=10)


async def test_log_out_and_unknown_codes() -> None:
    async with rig() as r:
        await dial(r, "103", "*21")
        said = await dial(r, "103", "*23")
        assert 'STREAM FILE guichet/agent-deconnecte ""' in said
        assert r.agent_state("a103") is AgentState.OFFLINE and statuses(r)[-1].reason == "logout"
        before = len(statuses(r))
        assert 'STREAM FILE guichet/agent-code-inconnu ""' in await dial(r, "103", "*99")
        assert 'STREAM FILE guichet/agent-refuse ""' in await dial(r, "103", "*229")  # no reason 9
        assert 'STREAM FILE guichet/agent-refuse ""' in await dial(r, "103", "*221")  # offline: cannot pause
        assert len(statuses(r)) == before + 1 and r.events(ev.Rejected)


async def test_a_phone_that_is_no_agents_is_refused() -> None:
    async with rig(agents=["101", "102", "103", "199"]) as r:
        said = await dial(r, "199", "*21")
        assert 'STREAM FILE guichet/agent-inconnu ""' in said
        assert statuses(r) == []


async def test_a_missing_confirmation_prompt_changes_the_state_all_the_same(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "ivr")
    async with rig(sounds_dir=tmp_path) as r:
        await dial(r, "101", "*21")
        await dial(r, "102", "*21")
        assert r.agent_state("a101") is AgentState.AVAILABLE and r.agent_state("a102") is AgentState.AVAILABLE
        missing = [m for m in caplog.messages if "guichet/agent-pret" in m]
        assert len(missing) == 1 and "'fr'" in missing[0]  # logged once


def test_codes_and_endpoints() -> None:
    codes = AgentCodes()
    assert codes.action("*21") == ("ready", "")
    assert codes.action("*224") == ("pause", "4") and codes.action("*22") == ("pause", "")
    assert codes.action("*23") == ("logout", "") and codes.action("*2x") is None
    assert endpoint_of("PJSIP/agent101-0000002a") == "PJSIP/agent101"
    problems: list[str] = []
    parse_agent_codes({"ready": "21", "pause": "*2", "logout": "*23", "pause_reasons": {"12": "x", "1": "no_answer"}}, problems)
    assert any("agents.ready" in p for p in problems)
    assert any("agents.logout" in p and "pause code" in p for p in problems)
    assert any("pause_reasons.12" in p for p in problems) and any("no_answer" in p for p in problems)


async def test_registering_makes_ready_only_when_the_site_asks() -> None:
    from dispatcher.fake_asterisk.pbx import AgentPhone
    from guichet.phone_watch import ReadyOnRegister

    phones = [AgentPhone(f"PJSIP/agent{n}", str(n), registered=False) for n in (101, 102, 103)]
    async with rig(agents=phones) as r:
        r.fake.set_registered("102", True)  # the site did not ask: nothing changes
        await r.until(
            lambda: any(e.agent_id == "a102" and e.reachable for e in r.events(ev.EndpointChanged))  # type: ignore[attr-defined]
        )
        await asyncio.sleep(0.1)
        assert r.agent_state("a102") is AgentState.OFFLINE
        r.dispatcher.add_sink(ReadyOnRegister(r.dispatcher).sink)
        r.fake.set_registered("101", True)
        await r.until(lambda: r.agent_state("a101") is AgentState.AVAILABLE)
        await dial(r, "101", "*23")  # logged out by hand: a new registration does not log in again
        r.fake.set_registered("101", False)
        r.fake.set_registered("101", True)
        await asyncio.sleep(0.2)
        assert r.agent_state("a101") is AgentState.OFFLINE
        await dial(r, "101", "*21")
        assert r.agent_state("a101") is AgentState.AVAILABLE


async def test_the_ready_code_ends_a_wrap_up_early() -> None:
    from dispatcher.policy import RoutingPolicy

    async with rig(policy=RoutingPolicy(wrap_up_s=600)) as r:
        await dial(r, "101", "*21")
        call = r.fake.place_call("0600000104", dtmf=["1", "1"], talk_time=0.2)
        await r.until(lambda: r.agent_state("a101") is AgentState.WRAP_UP, timeout=10)
        assert r.fake.channel(call) is None
        said = await dial(r, "101", "*21")
        assert 'STREAM FILE guichet/agent-pret ""' in said
        assert r.agent_state("a101") is AgentState.AVAILABLE
