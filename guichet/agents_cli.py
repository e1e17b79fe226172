"""``guichet agents list|ready|pause|logout``: supervisors act on a running server.

Changes go through the site's intake stream in Redis (``dispatcher.store.intake``),
which the running ``guichet serve`` applies exactly once; the command waits for it
and reports the routing core's answer (done, or refused and why). ``list``
reads the live state the server keeps in Redis: each agent's state, its
reason, for how long, and the contact in hand. Redis is ``REDIS_URL``, else the
private server of ``GUICHET_DATA_DIR``.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import typer

from dispatcher.i18n import M_, LangOpt, choose_language, msg

EXIT_USER = 2
APPLY_TIMEOUT_S = 10.0

agents_app = typer.Typer(
    help="Agents' states on the running server: list, ready, pause, logout.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


class UserError(Exception):
    """Printed as one line, exit status 2."""


def _fail(message: str) -> typer.Exit:
    typer.echo(msg("error: {message}").format(message=message), err=True)
    return typer.Exit(EXIT_USER)


def _site() -> tuple[Any, Any, Any]:
    """Settings, skill matrix and menu of the site, as ``guichet serve`` reads them."""
    from guichet.town_files import TownFilesError, load_town_files

    try:
        site = load_town_files()
    except TownFilesError as exc:
        raise UserError(str(exc)) from None
    return site.settings, site.matrix, site.menu


def _redis_url(settings: Any) -> str:
    if settings.redis_url:
        return str(settings.redis_url)
    sock = settings.data_dir / "redis" / "redis.sock"
    if not sock.exists():
        raise UserError(
            msg("GUICHET_DATA_DIR: no running server's Redis at {path} (is guichet serve running? else set REDIS_URL)").format(
                path=sock)
        )
    return f"unix://{sock}"


async def _connect(settings: Any) -> Any:
    from dispatcher.store.keys import connect

    url = _redis_url(settings)
    redis = connect(url)
    try:
        await redis.ping()
    except Exception as exc:
        await redis.aclose()
        name = "REDIS_URL" if settings.redis_url else "GUICHET_DATA_DIR"
        raise UserError(msg("{setting}: Redis does not answer ({reason})").format(setting=name, reason=exc)) from None
    return redis


def _for(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


COLUMNS = (M_("agent"), M_("name"), M_("softphone"), M_("state"), M_("reason"), M_("for"), M_("contact"))


async def _list() -> None:
    from rich.console import Console
    from rich.table import Table

    from dispatcher.store.keys import Keys

    settings, matrix, _menu = _site()
    redis = await _connect(settings)
    try:
        raw = await redis.hgetall(Keys().agents)
    finally:
        await redis.aclose()
    views = {k.decode(): json.loads(v) for k, v in raw.items()}
    now = time.time()
    table = Table(title=msg("Agents"))
    for column in COLUMNS:
        table.add_column(msg(column))
    for agent_id in sorted(set(matrix.agents) | set(views)):
        profile = matrix.agents.get(agent_id)
        view = views.get(agent_id, {})
        state = view.get("state", "offline")
        since = view.get("since")
        table.add_row(
            agent_id,
            (profile.name if profile else None) or "",
            (profile.endpoint if profile else None) or "",
            state,
            view.get("reason") or "",
            _for(now - since) if since is not None else "",
            view.get("contact_id") or "",
        )
    Console().print(table)


async def _set(agent_id: str, state_name: str, reason: str | None, wait_s: float = APPLY_TIMEOUT_S) -> str:
    from dispatcher import events as ev
    from dispatcher.events import AgentState
    from dispatcher.store.intake import publish
    from dispatcher.store.keys import Keys

    settings, matrix, menu = _site()
    if agent_id not in matrix.agents:
        known = ", ".join(sorted(matrix.agents)[:12])
        raise UserError(msg("unknown agent {agent!r} (the skill matrix has: {known}...)").format(agent=agent_id, known=known))
    if state_name == "paused":
        reasons = menu.agents.pause_reasons
        reason = reasons.get(reason or "", reason)
        if reason not in reasons.values():
            choices = ", ".join(f"{d} {r}" for d, r in sorted(reasons.items()))
            raise UserError(msg("pause reason {reason!r} is not one of the site's: {choices}").format(reason=reason, choices=choices))
    keys = Keys()
    redis = await _connect(settings)
    try:
        event = ev.AgentStatusSet(at=time.time(), agent_id=agent_id, state=AgentState(state_name), reason=reason)
        [intake_id] = await publish(redis, keys.intake, event)
        deadline = time.monotonic() + wait_s
        while not await _applied(redis, keys, intake_id):
            if time.monotonic() > deadline:
                # Withdrawn: a server started tomorrow must not apply today's click.
                await redis.xdel(keys.intake, intake_id)
                if await _applied(redis, keys, intake_id):
                    break
                raise UserError(
                    msg("no running server applied the change within {seconds} s; withdrawn (is guichet serve running?)").format(
                        seconds=f"{wait_s:g}")
                )
            await asyncio.sleep(0.05)
        answer = await _answer(redis, keys, intake_id)
    finally:
        await redis.aclose()
    return answer


async def _applied(redis: Any, keys: Any, intake_id: str) -> bool:
    raw = await redis.hget(keys.meta, "intake_applied")
    if raw is None:
        return False
    done = tuple(int(x) for x in raw.decode().split("-"))
    mine = tuple(int(x) for x in intake_id.split("-"))
    return done >= mine


async def _answer(redis: Any, keys: Any, intake_id: str) -> str:
    """What the core decided for our input: the new state, or the refusal."""
    from dispatcher import events as ev

    entries = await redis.xrevrange(keys.events, count=2000)
    batch: list[Any] = []
    for _id, fields in reversed(entries):
        if fields.get(b"src", b"").decode() == intake_id:
            batch = [ev.loads(fields[b"ev"])]
            continue
        if batch:
            event = ev.loads(fields[b"ev"])
            if event.is_input:
                break
            batch.append(event)
    for event in batch[1:]:
        if isinstance(event, ev.Rejected):
            raise UserError(msg("refused: {reason}").format(reason=event.reason))
    changed = [e for e in batch[1:] if isinstance(e, ev.AgentStateChanged)]
    if changed:
        last = changed[-1]
        return f"{last.agent_id}: {last.state.value}" + (f" ({last.reason})" if last.reason else "")
    return msg("no change (already so, or applied when the agent's call ends)")


def _run(coro: Any) -> Any:
    try:
        return asyncio.run(coro)
    except UserError as exc:
        raise _fail(str(exc)) from None


@agents_app.command("list")
def list_agents(lang: LangOpt = None) -> None:
    """Every agent: state, reason, for how long, the contact in hand."""
    choose_language(lang)
    _run(_list())


WAIT_HELP = "Seconds to wait for the running server to apply it (then it is withdrawn)."


@agents_app.command("ready")
def ready(
    agent: str = typer.Argument(..., metavar="AGENT", help="Agent id, e.g. a101."),
    wait: float = typer.Option(APPLY_TIMEOUT_S, "--wait", min=0.1, help=WAIT_HELP),
    lang: LangOpt = None,
) -> None:
    """Make an agent ready (also ends a wrap-up or a pause, as *21 does)."""
    choose_language(lang)
    typer.echo(_run(_set(agent, "available", None, wait)))


@agents_app.command("pause")
def pause(
    agent: str = typer.Argument(..., metavar="AGENT", help="Agent id, e.g. a101."),
    reason: str = typer.Argument(..., metavar="REASON", help="A reason of the site (e.g. lunch) or its digit (2)."),
    wait: float = typer.Option(APPLY_TIMEOUT_S, "--wait", min=0.1, help=WAIT_HELP),
    lang: LangOpt = None,
) -> None:
    """Pause an agent with a reason (as *22 and the reason's digit does)."""
    choose_language(lang)
    typer.echo(_run(_set(agent, "paused", reason, wait)))


@agents_app.command("logout")
def logout(
    agent: str = typer.Argument(..., metavar="AGENT", help="Agent id, e.g. a101."),
    wait: float = typer.Option(APPLY_TIMEOUT_S, "--wait", min=0.1, help=WAIT_HELP),
    lang: LangOpt = None,
) -> None:
    """Log an agent out (as *23 does)."""
    choose_language(lang)
    from ivr.feature_codes import LOGOUT_REASON

    typer.echo(_run(_set(agent, "offline", LOGOUT_REASON, wait)))


def register(app: typer.Typer) -> None:
    """Add ``agents`` to the ``guichet`` command."""
    app.add_typer(agents_app, name="agents")
