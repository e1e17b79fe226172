"""The live pages' broadcast: one snapshot per burst for every open screen, none for nobody."""

from __future__ import annotations

import json

from dispatcher.pages.live import Broadcast


def _data(payload: bytes) -> dict[str, object]:
    line = next(part for part in payload.decode().split("\n") if part.startswith("data: "))
    return json.loads(line.removeprefix("data: "))  # type: ignore[no-any-return]


def test_no_snapshot_is_built_while_no_screen_is_open_and_a_new_screen_gets_a_fresh_one() -> None:
    builds: list[int] = []
    waiting = {"n": 0}

    def build() -> dict[str, object]:
        builds.append(1)
        return {"waiting": waiting["n"]}

    broadcast = Broadcast("test", build, clock=lambda: 100.0)
    for n in range(5):  # events while nobody watches (a kiosk rush at 07:55)
        waiting["n"] = n
        broadcast.poke()
        broadcast.publish()
    assert builds == [] and broadcast.latest is None

    screen = broadcast.subscribe()
    assert len(builds) == 1
    assert screen.pending is not None and _data(screen.pending)["waiting"] == 4  # the state now, not a stale one

    waiting["n"] = 7
    broadcast.poke()
    broadcast.publish()
    assert len(builds) == 2
    assert screen.pending is not None and _data(screen.pending)["waiting"] == 7
    assert _data(screen.pending)["first_event_at"] == 100.0

    broadcast.unsubscribe(screen)
    broadcast.publish()
    assert len(builds) == 2
