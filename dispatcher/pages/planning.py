"""The planner's work, run in the background: a staffing day, a simulation, a what-if.

Each job runs in a worker thread (the routing core and the Erlang formulas
are CPU work; the event loop keeps serving), reports its progress, and keeps
its result as chart data and a CSV. Inputs are the uploaded forecast and
skill matrix (or the bundled samples), validated with the file, line and
reason before anything starts.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import math
import secrets
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from simulations import forecast as fc
from simulations.engine import simulate
from simulations.model import ArrivalInterval, Scenario
from simulations.scenario import ScenarioError, default_schedule_path, load_schedule, parse_training, train
from skills.catalogue import default_catalogue
from skills.errors import SkillFileError
from skills.matrix import default_matrix, parse_matrix
from skills.model import Channel, SkillMatrix

log = logging.getLogger(__name__)

KINDS = ("staffing", "simulation", "whatif")
MAX_JOBS = 20


class PlanInputError(ValueError):
    """An uploaded file or option was refused; ``problems`` are ``file:line: reason`` lines."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class PlanRequest:
    """What the planner asked for."""

    kind: str
    forecast_text: str | None = None
    forecast_name: str = "forecast.csv"
    matrix_text: str | None = None
    matrix_name: str = "matrix.csv"
    replications: int = 3
    train: str | None = None


@dataclass
class Job:
    """One background run and what it produced."""

    job_id: str
    kind: str
    owner: str
    created: float
    status: str = "running"
    progress: float = 0.0
    error: str | None = None
    chart: dict[str, Any] = field(default_factory=dict)
    csv_text: str = ""

    def status_dict(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "kind": self.kind, "status": self.status,
                "progress": round(self.progress, 3), "error": self.error, "chart": self.chart}


def _forecast(request: PlanRequest) -> fc.Forecast:
    try:
        if request.forecast_text is None:
            return fc.load_forecast(fc.sample_forecast_path())
        return fc.parse_forecast(request.forecast_text, request.forecast_name)
    except fc.ForecastError as exc:
        raise PlanInputError(exc.problems) from None


def _matrix(request: PlanRequest) -> SkillMatrix:
    catalogue = default_catalogue()
    if request.matrix_text is None:
        return default_matrix(catalogue)
    try:
        return parse_matrix(request.matrix_text, request.matrix_name, catalogue)
    except SkillFileError as exc:
        raise PlanInputError([str(p) for p in exc.problems] or [str(exc)]) from None


def validate(request: PlanRequest) -> tuple[fc.Forecast, SkillMatrix]:
    """Refuse a bad request before it starts (every problem named)."""
    if request.kind not in KINDS:
        raise PlanInputError([f"kind: {request.kind!r} unknown (expected {', '.join(KINDS)})"])
    if not 1 <= request.replications <= 20:
        raise PlanInputError(["replications: between 1 and 20"])
    forecast, matrix = _forecast(request), _matrix(request)
    if request.kind == "whatif":
        try:
            parse_training(request.train or "")
        except ScenarioError as exc:
            raise PlanInputError([str(exc)]) from None
    return forecast, matrix


def _csv(header: list[str], rows: list[list[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def run_staffing(forecast: fc.Forecast, progress: Callable[[float], None]) -> tuple[dict[str, Any], str]:
    """Required agents per interval (Erlang C, the catalogue's targets)."""
    day = fc.staff_day(forecast)
    progress(0.8)
    totals = day.totals()
    intervals: list[dict[str, Any]] = [
        {"start": f"{m // 60:02d}:{m % 60:02d}", "agents": int(t["agents"]), "scheduled": int(t["scheduled"])}
        for m, t in sorted(totals.items())
    ]
    per_process: dict[str, list[float]] = defaultdict(list)
    for row in day.by_process:
        if row.arrivals > 0 and not math.isnan(row.service_level):
            per_process[row.process].append(row.service_level)
    levels = sorted(((p, sum(v) / len(v)) for p, v in per_process.items()), key=lambda x: x[1])
    chart = {"intervals": intervals, "service_levels": [{"process": p, "value": round(v, 4)} for p, v in levels[:12]],
             "peak_agents": max((int(i["agents"]) for i in intervals), default=0)}
    rows = [[r.start, r.process, r.channel, r.domain, round(r.arrivals, 3), round(r.aht_s, 1), r.agents, r.scheduled,
             round(r.service_level, 4), round(r.asa_s, 1), round(r.occupancy, 4)] for r in day.by_process]
    header = ["interval", "process", "channel", "domain", "arrivals", "aht_s", "agents", "scheduled",
              "service_level", "asa_s", "occupancy"]
    progress(1.0)
    return chart, _csv(header, rows)


def _scenario(forecast: fc.Forecast, matrix: SkillMatrix) -> Scenario:
    from dispatcher.policy import RoutingPolicy

    catalogue = default_catalogue()
    step = forecast.interval_min * 60.0
    arrivals = tuple(ArrivalInterval(r.minute * 60.0, r.minute * 60.0 + step, r.process, Channel(r.channel),
                                     r.arrivals, r.aht_s) for r in forecast.rows)
    try:
        schedule = load_schedule(default_schedule_path(), matrix)
    except ScenarioError:
        from simulations.scenario import full_day

        schedule = full_day(matrix, arrivals)
    return Scenario(catalogue=catalogue, matrix=matrix, arrivals=arrivals, policy=RoutingPolicy(), schedule=schedule)


def _levels(scenario: Scenario, replications: int, done: float, share: float,
            progress: Callable[[float], None]) -> dict[tuple[str, str], float]:
    sums: dict[tuple[str, str], list[float]] = defaultdict(list)
    for i in range(replications):
        base = done + share * i / replications
        result = simulate(scenario, 1 + i, lambda f: progress(base + share * f / replications))
        for q in result.queues:
            if not math.isnan(q.service_level):
                sums[(q.process, q.channel)].append(q.service_level)
    return {k: sum(v) / len(v) for k, v in sums.items()}


def run_simulation(forecast: fc.Forecast, matrix: SkillMatrix, replications: int,
                   progress: Callable[[float], None]) -> tuple[dict[str, Any], str]:
    """The day through the real routing core, ``replications`` times; service level per process."""
    levels = _levels(_scenario(forecast, matrix), replications, 0.0, 1.0, progress)
    ordered = sorted(levels.items(), key=lambda kv: kv[1])
    chart = {"service_levels": [{"process": f"{p} ({c})", "value": round(v, 4)} for (p, c), v in ordered[:12]]}
    rows = [[p, c, round(v, 4)] for (p, c), v in sorted(levels.items())]
    return chart, _csv(["process", "channel", "service_level"], rows)


def run_whatif(forecast: fc.Forecast, matrix: SkillMatrix, spec: str, replications: int,
               progress: Callable[[float], None]) -> tuple[dict[str, Any], str]:
    """Two variants on the same citizens: today's matrix, and with the training ``spec``."""
    who, process, level = parse_training(spec)
    trained, chosen = train(matrix, default_catalogue(), who, process, level)
    base = _levels(_scenario(forecast, matrix), replications, 0.0, 0.5, progress)
    after = _levels(_scenario(forecast, trained), replications, 0.5, 0.5, progress)
    keys = sorted(set(base) | set(after))
    diffs = sorted(((k, after.get(k, math.nan) - base.get(k, math.nan)) for k in keys),
                   key=lambda kv: -abs(kv[1]) if not math.isnan(kv[1]) else 0)
    chart = {"service_levels": [{"process": f"{p} ({c})", "value": round(after.get((p, c), 0.0), 4),
                                 "before": round(base.get((p, c), 0.0), 4)} for (p, c), _d in diffs[:12]],
             "trained": chosen}
    rows = [[p, c, round(base.get((p, c), math.nan), 4), round(after.get((p, c), math.nan), 4)] for p, c in keys]
    return chart, _csv(["process", "channel", "service_level_before", "service_level_after"], rows)


class Planning:
    """The jobs of the planner page (the latest ``MAX_JOBS``)."""

    def __init__(self) -> None:
        self.jobs: dict[str, Job] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, request: PlanRequest, owner: str) -> Job:
        """Validate, then run in the background; a refused request raises PlanInputError."""
        forecast, matrix = validate(request)
        job = Job(secrets.token_urlsafe(8), request.kind, owner, time.time())
        self.jobs[job.job_id] = job
        while len(self.jobs) > MAX_JOBS:
            del self.jobs[next(iter(self.jobs))]

        def progress(value: float) -> None:
            job.progress = max(job.progress, min(1.0, value))

        def work() -> tuple[dict[str, Any], str]:
            if request.kind == "staffing":
                return run_staffing(forecast, progress)
            if request.kind == "simulation":
                return run_simulation(forecast, matrix, request.replications, progress)
            return run_whatif(forecast, matrix, request.train or "", request.replications, progress)

        async def run() -> None:
            try:
                job.chart, job.csv_text = await asyncio.to_thread(work)
                job.progress, job.status = 1.0, "done"
            except (ValueError, ScenarioError) as exc:
                job.status, job.error = "failed", str(exc)
            except Exception as exc:
                log.exception("planner job %s failed", job.job_id)
                job.status, job.error = "failed", f"{type(exc).__name__}"

        task = asyncio.create_task(run(), name=f"guichet-plan-{job.job_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job

    async def stop(self) -> None:
        """Wait for the running jobs (a thread cannot be cancelled)."""
        await asyncio.gather(*self._tasks, return_exceptions=True)

