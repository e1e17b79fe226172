"""Prometheus metrics, read from the live state at each scrape (no second bookkeeping).

Waiting contacts per process and channel, the longest wait per channel,
today's service level and pick-up rate, agents by state, inputs and
decisions counted by a dispatcher sink, the AMI link, the history writer's
lag, and HTTP latencies per route (a middleware). Each application has its
own registry, so two servers in one process (the tests) never mix figures.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator, Sequence

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from dispatcher.events import AgentState, Event
from dispatcher.history.live_stats import LiveStats
from dispatcher.observe.health import Probes
from dispatcher.router import Router


class LiveCollector(Collector):
    """The figures of the router, the live statistics and the probes, at scrape time."""

    def __init__(self, router: Router, stats: LiveStats, probes: Probes) -> None:
        self.router = router
        self.stats = stats
        self.probes = probes
        self.inputs = 0
        self.decisions = 0

    def sink(self, batch: Sequence[Event]) -> None:
        """Dispatcher sink: count inputs and decisions."""
        self.inputs += 1
        self.decisions += len(batch) - 1

    def collect(self) -> Iterator[Metric]:
        now = time.time()
        waiting = GaugeMetricFamily("guichet_waiting_contacts", "Contacts waiting now", labels=["process", "channel"])
        longest = GaugeMetricFamily("guichet_longest_wait_seconds", "Longest current wait", labels=["channel"])
        counts: Counter[tuple[str, str]] = Counter()
        oldest: dict[str, float] = {}
        for contact in self.router.queue.contacts.values():
            channel = contact.channel.value
            counts[(contact.process, channel)] += 1
            oldest[channel] = max(oldest.get(channel, 0.0), now - contact.arrived_at)
        for (process, channel), n in sorted(counts.items()):
            waiting.add_metric([process, channel], n)
        for channel, seconds in sorted(oldest.items()):
            longest.add_metric([channel], seconds)
        yield waiting
        yield longest
        sl = GaugeMetricFamily("guichet_service_level_ratio", "Share answered within the SLA today", labels=["channel"])
        pickup = GaugeMetricFamily("guichet_pickup_rate_ratio", "Answered / offered today", labels=["channel"])
        for row in self.stats.rows(now, by=("channel",)):
            if row.service_level is not None:
                sl.add_metric([row.channel], row.service_level)
            if row.pickup_rate is not None:
                pickup.add_metric([row.channel], row.pickup_rate)
        yield sl
        yield pickup
        agents = GaugeMetricFamily("guichet_agents", "Agents by state", labels=["state"])
        states = Counter(a.state.value for a in self.router.agents.values())
        for state in AgentState:
            agents.add_metric([state.value], states.get(state.value, 0))
        yield agents
        yield CounterMetricFamily("guichet_inputs", "Input events applied", value=self.inputs)
        yield CounterMetricFamily("guichet_decisions", "Decisions of the routing core", value=self.decisions)
        yield GaugeMetricFamily("guichet_ami_link_up", "1 when the AMI link is up", value=1.0 if self.probes.ami_up() else 0.0)
        up = GaugeMetricFamily("guichet_part_up", "1 when the part answered the last check", labels=["part"])
        for part, ok in sorted(self.probes.last.items()):
            up.add_metric([part], 1.0 if ok else 0.0)
        yield up
        if self.probes.history_lag is not None:
            yield GaugeMetricFamily(
                "guichet_history_lag_events", "Events in the stream not yet in SQL", value=self.probes.history_lag
            )


def http_latency(registry: CollectorRegistry) -> tuple[Histogram, Middleware]:
    """The HTTP latency histogram and the middleware that fills it (per route name, not path)."""
    histogram = Histogram(
        "guichet_http_request_duration_seconds", "HTTP request latency", ["route", "method", "status"],
        registry=registry, buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
    )

    @web.middleware
    async def measure(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            if request.headers.get("Accept") != "text/event-stream":
                route = request.match_info.route.name or "unmatched"
                histogram.labels(route, request.method, str(status)).observe(time.perf_counter() - started)

    return histogram, measure
