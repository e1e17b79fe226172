"""What the adapter checks of Asterisk at each login, and an Asterisk that restarts under it.

Over real sockets with the fake Asterisk: a dialplan that lacks a place
Guichet sends channels to is named at login and never routed to (Asterisk
would accept the Redirect and hang the caller up, redirect-errors.txt); a
``core restart now`` (shutdown-restart.txt) ends the callers it hung up, and
the adapter reconnects, resynchronises and routes the next caller.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from dispatcher import events as ev
from dispatcher.events import Outcome
from tests.ami_helpers import PhoneRig

PLAN_WITHOUT_102_AND_CALLBACK = """
[globals]
GUICHET_AGI=agi://127.0.0.1:4573/ivr
RING_TIMEOUT=15

[from-trunk]
exten => _X.,1,Answer()
 same => n,AGI(${GUICHET_AGI})
 same => n,Goto(waiting,s,1)

[waiting]
exten => s,1,MusicOnHold(default)
 same => n,Goto(waiting,s,1)

[to-agent]
exten => 101,1,Dial(PJSIP/agent${EXTEN},${RING_TIMEOUT})
 same => n,Set(GUICHET_DIALSTATUS=${DIALSTATUS})
 same => n,Goto(waiting,s,1)
"""


async def test_missing_places_are_named_and_never_routed_to(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    plan = tmp_path / "extensions.conf"
    plan.write_text(PLAN_WITHOUT_102_AND_CALLBACK, encoding="utf-8")
    async with PhoneRig(available=("a102", "a101"), dialplan=plan) as rig:
        assert rig.adapter is not None
        assert rig.adapter.missing_places == ["callback", "102@to-agent", "103@to-agent"]
        (line,) = [r.getMessage() for r in caplog.records if "dialplan lacks" in r.getMessage()]
        assert "callback" in line and "102@to-agent" in line
        assert not rig.router.agents["a102"].reachable
        call = rig.fake.place_call("0612345678")
        await rig.until(lambda: rig.fake.bridged_to(call) == "PJSIP/agent101")
        redirects = [a["exten"][0] for a in rig.fake.actions("Redirect")]
        assert "102" not in redirects
        assert [e for e in rig.events(ev.ContactOffered) if e.agent_id == "a102"] == []


async def test_a_complete_dialplan_has_nothing_missing() -> None:
    async with PhoneRig(available=()) as rig:
        assert rig.adapter is not None
        assert rig.adapter.missing_places == []
        asked = [
            (a["context"][0], a.get("extension", [""])[0]) for a in rig.fake.actions("ShowDialPlan")
        ]
        # Three actions whatever the number of agents: each extension is matched here.
        assert sorted(asked) == [("callback", ""), ("to-agent", ""), ("waiting", "s")]


async def test_an_asterisk_restart_ends_its_callers_then_routing_goes_on() -> None:
    async with PhoneRig(available=(), record=True) as rig:
        adapter = rig.adapter
        assert adapter is not None
        calls = [rig.fake.place_call(f"061234567{i}") for i in range(2)]
        await rig.until(lambda: len(rig.events(ev.ContactQueued)) == 2)
        logins = rig.fake.actions("Login")
        await rig.fake.restart(down_s=0.4)
        await rig.until(lambda: all(c.uniqueid in rig.ended() for c in calls))
        assert {rig.ended()[c.uniqueid].outcome for c in calls} == {Outcome.ABANDONED}
        await rig.until(lambda: len(rig.fake.actions("Login")) > len(logins), timeout=5.0)
        await rig.synced()
        frames = [f for f in rig.fake.frames if f.startswith(b"Event: Shutdown")]
        assert frames and b"Restart: True" in frames[0]
        rig.make_available("a101")
        call = rig.fake.place_call("0612345679")
        await rig.until(lambda: rig.fake.bridged_to(call) == "PJSIP/agent101")
