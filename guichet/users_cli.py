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

from dispatcher.people.audit import operator
from dispatcher.people.roles import PersonRole, Role

T = TypeVar("T")

users_app = typer.Typer(help="People's accounts of the pages (roles, passwords).", no_args_is_help=True)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"erreur : {message}", err=True)
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
        raise _fail(f"base {url} injoignable : {exc}") from None


def _password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise _fail("aucun mot de passe sur l'entrée standard")
        return line
    return str(typer.prompt("Mot de passe", hide_input=True, confirmation_prompt="Encore une fois"))


@users_app.command("add")
def add(
    username: str = typer.Argument(..., help="Login name (lower case, digits, . _ -)."),
    role: PersonRole = typer.Option(..., "--role", help="What the person may do."),
    agent: str = typer.Option(None, "--agent", help="The agent of the skill matrix (agent accounts)."),
    name: str = typer.Option(None, "--name", help="The name shown on the pages."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from stdin."),
) -> None:
    """Create an account."""
    password = _password(password_stdin)
    person = _run(lambda a: a.add(username, password, Role(role.value), display_name=name, agent_id=agent,
                                  actor=operator()))
    typer.echo(f"compte {person.username} créé ({person.role.value})")


@users_app.command("passwd")
def passwd(
    username: str = typer.Argument(...),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from stdin."),
) -> None:
    """Change a password (the person's open sessions end)."""
    password = _password(password_stdin)
    _run(lambda a: a.set_password(username, password, actor=operator()))
    typer.echo(f"mot de passe de {username} changé")


@users_app.command("disable")
def disable(username: str = typer.Argument(...)) -> None:
    """Disable an account: no login, open sessions end at once."""
    _run(lambda a: a.set_active(username, False, actor=operator()))
    typer.echo(f"compte {username} désactivé")


@users_app.command("enable")
def enable(username: str = typer.Argument(...)) -> None:
    """Enable a disabled account again."""
    _run(lambda a: a.set_active(username, True, actor=operator()))
    typer.echo(f"compte {username} réactivé")


@users_app.command("list")
def list_users() -> None:
    """Every account: login, role, agent, state."""
    people = _run(lambda a: a.list())
    typer.echo(f"{'identifiant':<20} {'rôle':<11} {'agent':<12} {'état':<10} nom")
    for p in people:
        state = "actif" if p.active else "désactivé"
        typer.echo(f"{p.username:<20} {p.role.value:<11} {p.agent_id or '-':<12} {state:<10} {p.display_name}")


def register(app: typer.Typer) -> None:
    """Add ``users`` to the ``guichet`` command."""
    app.add_typer(users_app, name="users")
