"""``guichet users add|passwd|list|disable|enable``: the admin's accounts of the pages.

Passwords are read from the terminal (asked twice) or, for scripts, from one
line of standard input with ``--password-stdin``; never from an argument, so
they stay out of shell histories and process lists.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import typer

from dispatcher.i18n import LangOpt, choose_language, msg
from dispatcher.people.audit import operator
from dispatcher.people.roles import PersonRole, Role

T = TypeVar("T")

users_app = typer.Typer(help="People's accounts of the pages (roles, passwords).", no_args_is_help=True)


def _fail(message: str) -> typer.Exit:
    typer.echo(msg("error: {message}").format(message=message), err=True)
    return typer.Exit(2)


def _run(work: Callable[[Any], Awaitable[T]]) -> T:
    """Run ``work(accounts)`` on the migrated history database of the settings."""
    from dispatcher.history.migrate import upgrade
    from dispatcher.history.writer import engine_for
    from dispatcher.people.accounts import AccountError, Accounts
    from guichet.config import ConfigError, load_settings

    try:
        settings = load_settings()
    except ConfigError as exc:
        raise _fail(str(exc)) from None
    url = settings.database_url or settings.sqlite_url
    if not settings.database_url:
        settings.data_dir.mkdir(parents=True, exist_ok=True)

    async def _go() -> T:
        await asyncio.to_thread(upgrade, url)
        engine = engine_for(url)
        try:
            return await work(Accounts(engine))
        finally:
            await engine.dispose()

    try:
        return asyncio.run(_go())
    except AccountError as exc:
        raise _fail(str(exc)) from None
    except OSError as exc:
        raise _fail(msg("database {url} unreachable: {reason}").format(url=url, reason=exc)) from None


def _password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise _fail(msg("no password on standard input"))
        return line
    return str(typer.prompt(msg("Password"), hide_input=True, confirmation_prompt=msg("Once more")))


@users_app.command("add")
def add(
    username: str = typer.Argument(..., help="Login name (lower case, digits, . _ -)."),
    role: PersonRole = typer.Option(..., "--role", help="What the person may do."),
    agent: str = typer.Option(None, "--agent", help="The agent of the skill matrix (agent accounts)."),
    name: str = typer.Option(None, "--name", help="The name shown on the pages."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from stdin."),
    lang: LangOpt = None,
) -> None:
    """Create an account."""
    choose_language(lang)
    password = _password(password_stdin)
    person = _run(lambda a: a.add(username, password, Role(role.value), display_name=name, agent_id=agent,
                                  actor=operator()))
    typer.echo(msg("account {username} created ({role})").format(username=person.username, role=person.role.value))


@users_app.command("passwd")
def passwd(
    username: str = typer.Argument(...),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from stdin."),
    lang: LangOpt = None,
) -> None:
    """Change a password (the person's open sessions end)."""
    choose_language(lang)
    password = _password(password_stdin)
    _run(lambda a: a.set_password(username, password, actor=operator()))
    typer.echo(msg("password of {username} changed").format(username=username))


@users_app.command("disable")
def disable(username: str = typer.Argument(...), lang: LangOpt = None) -> None:
    """Disable an account: no login, open sessions end at once."""
    choose_language(lang)
    _run(lambda a: a.set_active(username, False, actor=operator()))
    typer.echo(msg("account {username} disabled").format(username=username))


@users_app.command("enable")
def enable(username: str = typer.Argument(...), lang: LangOpt = None) -> None:
    """Enable a disabled account again."""
    choose_language(lang)
    _run(lambda a: a.set_active(username, True, actor=operator()))
    typer.echo(msg("account {username} enabled again").format(username=username))


@users_app.command("list")
def list_users(lang: LangOpt = None) -> None:
    """Every account: login, role, agent, state."""
    choose_language(lang)
    people = _run(lambda a: a.list())
    login, role, agent, state, name = msg("login"), msg("role"), msg("agent"), msg("state"), msg("name")
    typer.echo(f"{login:<20} {role:<11} {agent:<12} {state:<10} {name}")
    for p in people:
        state = msg("active") if p.active else msg("disabled")
        typer.echo(f"{p.username:<20} {p.role.value:<11} {p.agent_id or '-':<12} {state:<10} {p.display_name}")


def register(app: typer.Typer) -> None:
    """Add ``users`` to the ``guichet`` command."""
    app.add_typer(users_app, name="users")
