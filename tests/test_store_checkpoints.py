"""Checkpoints taken by a forked child: the state at the fork, whatever the server does after."""

from __future__ import annotations

import json

import pytest

from dispatcher.store.checkpoints import Checkpointer, CheckpointFailed


async def test_a_costly_checkpoint_is_the_state_at_the_fork_while_the_server_goes_on() -> None:
    state = {"waiting": list(range(1000))}
    checkpoints = Checkpointer(lambda: json.dumps(state).encode(), fork_above_ms=-1.0)
    first = checkpoints.begin()  # the first one is always taken in-process: its cost is not known yet
    assert isinstance(first, bytes) and checkpoints.forked == 0
    pending = checkpoints.begin()
    assert not isinstance(pending, bytes) and checkpoints.forked == 1
    state["waiting"].clear()  # the server goes on deciding before the child is done
    assert json.loads(await pending) == {"waiting": list(range(1000))}
    assert checkpoints.took_ms is not None and checkpoints.held_ms < checkpoints.took_ms


async def test_a_child_that_fails_is_reported_and_the_next_checkpoint_is_taken() -> None:
    calls = {"n": 0}

    def take() -> bytes:
        calls["n"] += 1
        if calls["n"] == 2:
            raise MemoryError("no room for the checkpoint")
        return b"{}"

    checkpoints = Checkpointer(take, fork_above_ms=-1.0)
    assert checkpoints.begin() == b"{}"
    calls["n"] = 1  # the child sees this count: its take() is the failing second one
    with pytest.raises(CheckpointFailed, match="status 1"):
        await checkpoints.begin()  # type: ignore[misc]
    calls["n"] = 2
    assert await checkpoints.begin() == b"{}"  # type: ignore[misc]


def test_without_a_running_loop_the_checkpoint_is_taken_in_process() -> None:
    checkpoints = Checkpointer(lambda: b"{}", fork_above_ms=-1.0)
    assert checkpoints.begin() == b"{}" and checkpoints.begin() == b"{}"
    assert checkpoints.forked == 0
