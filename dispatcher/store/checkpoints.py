"""Checkpoints that do not hold routing: a costly one is written by a forked child.

A checkpoint is the router's whole state as JSON (``snapshot.take``): about
1 ms for a town hall's usual few dozen waiting contacts, but 150-190 ms with
10,000 waiting (a backlog of written requests, a bench), every 5,000 inputs,
during which no kiosk, display or call is answered. Once a checkpoint took
more than ``FORK_ABOVE_MS``, the next ones are taken as Redis takes its own
snapshots: ``fork()`` gives a child the state as it is at that instant
(copy-on-write), the child encodes it and writes it to a pipe, and routing
goes on after the fork itself (a few milliseconds). The store writes the
checkpoint with the batch it belongs to once the bytes are in.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable
from typing import NoReturn

FORK_ABOVE_MS = 5.0
"""A checkpoint that took longer than this is taken in a forked child the next time."""


class CheckpointFailed(RuntimeError):
    """The forked child could not write the checkpoint (the store writes the batch without it)."""


def _child(read_fd: int, write_fd: int, take: Callable[[], bytes]) -> NoReturn:
    """In the forked child: encode, write, exit; never return into the server's code."""
    code = 1
    try:
        os.close(read_fd)
        signal.set_wakeup_fd(-1)  # a signal to the child must not wake the server's loop
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_DFL)
        view = memoryview(take())
        while view:
            view = view[os.write(write_fd, view):]
        code = 0
    finally:
        os._exit(code)


def _collect(read_fd: int, pid: int) -> bytes:
    """Read the child's checkpoint to the end, then reap it."""
    chunks = []
    with os.fdopen(read_fd, "rb") as pipe:
        while chunk := pipe.read(1 << 20):
            chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise CheckpointFailed(f"checkpoint child exited with status {code}")
    return b"".join(chunks)


class Checkpointer:
    """Takes checkpoints in the server's process while they are cheap, in a forked child once costly."""

    def __init__(self, take: Callable[[], bytes], fork_above_ms: float = FORK_ABOVE_MS) -> None:
        self.take = take
        self.fork_above_ms = fork_above_ms
        self.took_ms: float | None = None
        """How long encoding the last checkpoint took, wherever it ran (None before the first)."""
        self.held_ms = 0.0
        """How long the last checkpoint held routing: the encoding, or only the fork."""
        self.forked = 0

    def begin(self) -> bytes | asyncio.Future[bytes]:
        """The checkpoint of the state now: its bytes, or the future bytes of a forked child."""
        started = time.perf_counter()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None or self.took_ms is None or self.took_ms <= self.fork_above_ms or not hasattr(os, "fork"):
            data = self.take()
            self.took_ms = self.held_ms = (time.perf_counter() - started) * 1000.0
            return data
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:
            _child(read_fd, write_fd, self.take)
        os.close(write_fd)
        self.held_ms = (time.perf_counter() - started) * 1000.0
        self.forked += 1
        future = loop.run_in_executor(None, _collect, read_fd, pid)

        def timed(done: asyncio.Future[bytes]) -> None:
            if not done.cancelled() and done.exception() is None:
                self.took_ms = (time.perf_counter() - started) * 1000.0

        future.add_done_callback(timed)
        return future
