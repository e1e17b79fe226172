"""``/metrics``, ``/health/live`` and ``/health/ready``."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from dispatcher.observe.health import Probes

PROBES = web.AppKey("probes", Probes)
REGISTRY = web.AppKey("metrics_registry", CollectorRegistry)


async def metrics(request: web.Request) -> web.Response:
    """The Prometheus text format, with the parts checked just now."""
    await request.app[PROBES].check()
    body = generate_latest(request.app[REGISTRY])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def health_live(request: web.Request) -> web.Response:
    """The process answers (its event loop runs)."""
    return web.json_response({"status": "alive"})


async def health_ready(request: web.Request) -> web.Response:
    """200 when AMI, Redis and SQL all answer; 503 naming what is down otherwise."""
    parts = await request.app[PROBES].check()
    down = sorted(name for name, ok in parts.items() if not ok)
    body = {"status": "ready" if not down else "not_ready", "down": down,
            "parts": {name: "up" if ok else "down" for name, ok in sorted(parts.items())}}
    return web.json_response(body, status=200 if not down else 503)
