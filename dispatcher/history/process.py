"""The history writer in a process of its own, beside the server.

The writer folds pages of events and writes them to SQL: in the server's
process that work, and the database driver's thread, took a fifth of the CPU
and stalled the event loop that answers kiosks, displays and the PBX. As a
child process (``python -m dispatcher.history.writer``) it runs on another
core. It reads the same Redis stream from its progress mark in SQL, so
nothing changes for exactly-once: a stop, a crash or a restart of either
process loses nothing.

The child's standard input is a pipe from the server: closed when the server
stops or dies (kill -9 included), which stops the child cleanly (it writes
what the stream holds, then exits). It runs in a session of its own, so a
Ctrl-C at the terminal reaches the server only, which stops it after the
last events are in the stream. If it exits on its own, it is started again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import subprocess
import sys

from dispatcher.observe import logs

log = logging.getLogger(__name__)

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0
"""A clean stop writes what the stream holds; past this, the child is killed (its rows wait for the next start)."""
RESTART_S = (0.5, 10.0)
"""Backoff before starting a child that exited on its own: first, most."""


class HistoryProcess:
    """Runs and supervises the history writer's child process for one site."""

    def __init__(
        self, redis_url: str, prefix: str, database_url: str, *, callback_deadline_s: float, triage: str
    ) -> None:
        level, fmt = logs.current()
        self.command = [
            sys.executable, "-m", "dispatcher.history.writer",
            "--redis-url", redis_url, "--prefix", prefix, "--database-url", database_url,
            "--callback-deadline-s", repr(callback_deadline_s), "--triage", triage,
            "--log-level", level if level in logs.LEVELS else "warning", "--log-format", fmt, "--stop-on-eof",
        ]
        self.process: asyncio.subprocess.Process | None = None
        self.restarts = 0
        self._stopping = False
        self._supervisor: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the child (its imports go on while the server starts; it reports ready to the supervisor)."""
        self.process = await self._spawn()
        self._supervisor = asyncio.create_task(self._supervise(), name="guichet-history-process")

    async def _spawn(self) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            *self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True
        )

    async def _supervise(self) -> None:
        delay = RESTART_S[0]
        while not self._stopping and self.process is not None:
            process = self.process
            assert process.stdout is not None
            try:
                line = await asyncio.wait_for(process.stdout.readline(), START_TIMEOUT_S)
            except TimeoutError:
                line = b""
            if line.startswith(b"ready"):
                delay = RESTART_S[0]
            elif process.returncode is None and not self._stopping:
                log.error("history writer process not ready within %.0f s: killed", START_TIMEOUT_S)
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
            code = await process.wait()
            if self._stopping:
                return
            log.error("history writer process exited (status %s): started again in %.1f s", code, delay)
            await asyncio.sleep(delay)
            delay = min(RESTART_S[1], delay * 2)
            if self._stopping:
                return
            try:
                self.process = await self._spawn()
            except OSError as exc:
                log.error("history writer process cannot start: %s", exc)
                continue
            self.restarts += 1

    async def stop(self) -> None:
        """Stop the child cleanly (it writes what the stream holds first)."""
        self._stopping = True
        process = self.process
        if process is not None and process.returncode is None:
            if process.stdin is not None:
                process.stdin.close()
            try:
                await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
            except TimeoutError:
                log.warning("history writer did not stop within %.0f s: killed (the rest is written at the next start)", STOP_TIMEOUT_S)
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
