"""The planner's page: upload a forecast and a skill matrix, run a job, follow it, see its charts, get its CSV."""

from __future__ import annotations

from aiohttp import web

from dispatcher.http.problems import Problem
from dispatcher.pages.keys import ACCOUNTS, PLANNING, SESSIONS
from dispatcher.pages.planning import KINDS, PlanInputError, PlanRequest
from dispatcher.pages.render import page
from dispatcher.people.audit import audit

MAX_UPLOAD = 2 * 1024 * 1024


async def _text(field: object, name: str) -> str | None:
    """An uploaded file's text (None when none was chosen)."""
    if not isinstance(field, web.FileField) or not field.filename:
        return None
    raw = field.file.read(MAX_UPLOAD + 1)
    if len(raw) > MAX_UPLOAD:
        raise PlanInputError([f"{field.filename}: larger than {MAX_UPLOAD // 1024} KiB"])
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise PlanInputError([f"{field.filename}: not UTF-8 text"]) from None


async def planner(request: web.Request) -> web.Response:
    """The form and the latest jobs."""
    jobs = list(reversed(request.app[PLANNING].jobs.values()))
    return await page(request, "planner.html", {"jobs": jobs, "kinds": KINDS, "problems": []})


async def start_job(request: web.Request) -> web.StreamResponse:
    """Start a job from the form; its page follows it."""
    form = await request.post()
    person = await request.app[SESSIONS].person(request)
    try:
        replications = int(str(form.get("replications") or "3"))
    except ValueError:
        replications = 0
    try:
        plan = PlanRequest(
            kind=str(form.get("kind", "")),
            forecast_text=await _text(form.get("forecast"), "forecast"),
            forecast_name=getattr(form.get("forecast"), "filename", None) or "forecast.csv",
            matrix_text=await _text(form.get("matrix"), "matrix"),
            matrix_name=getattr(form.get("matrix"), "filename", None) or "matrix.csv",
            replications=replications,
            train=str(form.get("train") or "") or None,
        )
        job = request.app[PLANNING].start(plan, person.username if person else "?")
    except PlanInputError as exc:
        jobs = list(reversed(request.app[PLANNING].jobs.values()))
        return await page(request, "planner.html", {"jobs": jobs, "kinds": KINDS, "problems": exc.problems},
                          status=422)
    raise web.HTTPSeeOther(f"/planner/jobs/{job.job_id}")


def _job(request: web.Request):  # type: ignore[no-untyped-def]
    job = request.app[PLANNING].jobs.get(request.match_info["job_id"])
    if job is None:
        raise Problem(404, "no-job", "aucun calcul de ce numéro (les 20 derniers sont gardés)")
    return job


async def job_page(request: web.Request) -> web.Response:
    """One job: its progress bar, then its charts and CSV link."""
    return await page(request, "planner_job.html", {"job": _job(request)})


async def job_status(request: web.Request) -> web.Response:
    """The job's progress and, once done, its chart data."""
    return web.json_response(_job(request).status_dict())


async def job_csv(request: web.Request) -> web.Response:
    """The job's result as CSV (an export: audited)."""
    job = _job(request)
    if job.status != "done":
        raise Problem(409, "not-done", "le calcul n'est pas terminé")
    person = await request.app[SESSIONS].person(request)
    await audit(request.app[ACCOUNTS].engine, person.username if person else "?", "export_csv",
                f"planner/{job.kind}/{job.job_id}", source=request.remote)
    return web.Response(text=job.csv_text, content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="guichet-{job.kind}-{job.job_id}.csv"'})
