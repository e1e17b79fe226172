"""A whole Guichet town hall in a process of its own, for the restart and crash tests.

``python -m tests.townhall_child --data-dir D --ami-port P --ami-secret S`` runs
``run_town_hall`` (private Redis under D, SQLite or ``--database-url``, IVR on a
free port, AMI to the given fake Asterisk) on the bundled catalogue and skill
matrix, prints ``ready {json}`` and runs until SIGTERM (or a SIGKILL from the
test: that is the point). ``--standby``: imported, it waits for a line on stdin
first (``Child(standby=True)`` keeps the next one ready: restarts skip the imports).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from pathlib import Path

from pydantic import SecretStr

from dispatcher.policy import RoutingPolicy
from guichet.config import Settings
from guichet.townhall import run_town_hall
from skills.catalogue import default_catalogue
from skills.matrix import default_matrix
from skills.model import Channel


async def _run(args: argparse.Namespace) -> None:
    catalogue = default_catalogue()
    matrix = default_matrix(catalogue)
    settings = Settings(
        data_dir=args.data_dir, ami_port=args.ami_port, ami_secret=SecretStr(args.ami_secret), agi_port=0,
        http_port=0, database_url=args.database_url,
    )
    base = RoutingPolicy()
    policy = RoutingPolicy(
        wrap_up_s=args.wrap_up,
        offer_timeout_s={**base.offer_timeout_s, Channel.PHONE: args.ring_timeout},
    )
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with run_town_hall(settings, catalogue, matrix, policy) as hall:
        url = f"unix://{Path(args.data_dir) / 'redis' / 'redis.sock'}" if settings.redis_url is None else settings.redis_url
        print("ready " + json.dumps({"agi_port": hall.ivr.port, "redis_url": url}), flush=True)
        await stop.wait()


def redis_servers(data_dir: Path) -> list[int]:
    """The redis-server processes working in ``data_dir/redis`` (the town hall's private one)."""
    import psutil

    where = (Path(data_dir) / "redis").resolve()
    found = []
    for proc in psutil.process_iter(["name"]):
        try:
            if ("redis" in (proc.info["name"] or "") and Path(proc.cwd()) == where
                    and proc.status() != psutil.STATUS_ZOMBIE):
                found.append(proc.pid)
        except psutil.Error:
            continue
    return found


def kill_redis(data_dir: Path) -> None:
    """Stop the private Redis a killed town hall left behind (the test's own cleanup)."""
    import psutil

    for pid in redis_servers(data_dir):
        with contextlib.suppress(psutil.Error):
            psutil.Process(pid).kill()


def main() -> None:
    """Run one town hall until SIGTERM."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--ami-port", type=int, required=True)
    parser.add_argument("--ami-secret", required=True)
    parser.add_argument("--database-url")
    parser.add_argument("--wrap-up", type=float, default=3.0)
    parser.add_argument("--ring-timeout", type=float, default=20.0)
    parser.add_argument("--standby", action="store_true", help="imported, wait for a line on stdin to start")
    args = parser.parse_args()
    if args.standby and not sys.stdin.readline():
        return  # the test ended without needing this one
    logging.basicConfig(level=os.environ.get("GUICHET_TEST_LOG_LEVEL", "WARNING"))
    asyncio.run(_run(args))


if __name__ == "__main__":
    main()
