"""``guichet bench ami`` in small: the simulated town hall, the adapter, and AMI disconnects.

The figures are the benchmark's business (it prints them); here only what
must hold at any speed: every caller accounted for, once, across disconnects.
"""

from __future__ import annotations

from dispatcher.fake_asterisk import FakeAsterisk
from dispatcher.fake_asterisk.ami import ManagerUser
from dispatcher.fake_asterisk.sim import CallTraffic, VirtualClock, run_virtual
from guichet import bench_ami as bench


async def test_callers_survive_disconnects_without_loss_or_duplicate() -> None:
    scale = bench.Scale(seconds=3.0, rate=40.0, agents=60)
    result = await bench._run_sim(scale, scale.seconds, cuts=6, speed=4.0, record=None)
    assert result["cuts"] == 6
    assert result["resyncs"] == 7  # the first login, then one per reconnection
    assert (result["lost"], result["duplicated"], result["unseen"]) == (0, 0, 0)
    assert result["calls"] > 60
    assert set(result["outcomes"]) <= {"served", "abandoned"}


async def test_the_simulation_runs_the_dialplan_on_a_virtual_clock() -> None:
    clock = VirtualClock()
    fake = FakeAsterisk(
        agents=["1000"], users={"b": ManagerUser("b", "s")}, scheduler=clock, time_scale=1.0
    )
    await fake.start()
    try:
        traffic = CallTraffic(fake.pbx, rate=5.0, processes=["passport"], patience=(20.0, 20.0))
        traffic.start()
        await run_virtual(clock, 10.0)
        traffic.stop()
        await run_virtual(clock, 100.0, stop_when=lambda: traffic.active == 0)
        # Nobody redirects them: every caller waits with music, then gives up after 20 s.
        assert traffic.fates and all(f.outcome == "abandoned" for f in traffic.fates.values())
        assert all(abs(f.ended_at - f.placed_at - 20.0 - 3.2) < 1.0 for f in traffic.fates.values())
        assert clock.elapsed < 40.0
    finally:
        await fake.stop()
