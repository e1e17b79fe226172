"""``guichet ivr prompts|check|install``: the IVR's spoken prompts.

``prompts`` speaks every text of the menu file into WAV files (espeak-ng then
sox: 8 kHz, 16-bit, mono, what Asterisk plays natively); ``check`` names the
prompts an Asterisk sounds directory lacks; ``install`` copies the prompts
into it (``<dir>/fr/guichet/...``, ``<dir>/en/guichet/...``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import typer

from ivr.menu import IvrConfig

EXIT_USER = 2

ivr_app = typer.Typer(
    help="The IVR's spoken prompts: make them, check or install them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

MENU_HELP = "Menu file (default: GUICHET_IVR_MENU, else the bundled one)."


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(EXIT_USER)


def _menu(path: Path | None) -> IvrConfig:
    from guichet.town_files import TownFilesError, load_town_files

    try:
        return load_town_files(menu=path).menu
    except TownFilesError as exc:
        raise _fail(str(exc)) from None


@ivr_app.command("prompts")
def prompts(
    menu: Path = typer.Option(None, "--menu", help=MENU_HELP),
    out: Path = typer.Option(None, "--out", help="Where to write <language>/<sound>.wav (default: the bundled prompts)."),
) -> None:
    """Speak every prompt of the menu file (espeak-ng, sox) into 8 kHz 16-bit mono WAV files."""
    from ivr.prompts import SOUNDS_DIR, PromptError, generate

    config = _menu(menu)
    target = out or SOUNDS_DIR
    try:
        made = generate(config, target)
    except PromptError as exc:
        raise _fail(str(exc)) from None
    except OSError as exc:
        raise _fail(f"{exc.filename or target}: {exc.strerror or exc} (choose another folder with --out)") from None
    for m in made:
        typer.echo(f"{m.path}  {m.seconds:4.1f} s")
    typer.echo(f"{len(made)} prompts in {target} ({sum(m.seconds for m in made):.0f} s of speech)")


@ivr_app.command("check")
def check(
    sounds_dir: Path = typer.Argument(..., metavar="SOUNDS_DIR", help="Asterisk's sounds directory, e.g. /usr/share/asterisk/sounds."),
    menu: Path = typer.Option(None, "--menu", help=MENU_HELP),
) -> None:
    """Name every prompt the menus and feature codes need that SOUNDS_DIR lacks (exit 1 if any)."""
    from ivr.prompts import missing

    lacking = missing(_menu(menu), sounds_dir)
    for sound, language in lacking:
        typer.echo(f"missing: {sounds_dir / language / sound}.wav")
    if lacking:
        raise typer.Exit(1)
    typer.echo(f"every prompt is in {sounds_dir}")


@ivr_app.command("install")
def install(
    sounds_dir: Path = typer.Argument(..., metavar="SOUNDS_DIR", help="Asterisk's sounds directory, e.g. /usr/share/asterisk/sounds."),
    source: Path = typer.Option(None, "--from", help="Prompts made by 'guichet ivr prompts --out' (default: the bundled ones)."),
    menu: Path = typer.Option(None, "--menu", help=MENU_HELP),
) -> None:
    """Copy the prompts into Asterisk's sounds directory (<dir>/fr/guichet/..., <dir>/en/guichet/...)."""
    from ivr.prompts import SOUNDS_DIR

    config = _menu(menu)
    origin = source or SOUNDS_DIR
    copied = 0
    for sound, languages in sorted(config.sounds().items()):
        for language in sorted(languages):
            found = origin / language / f"{sound}.wav"
            if not found.is_file():
                raise _fail(f"{found}: no such prompt (run 'guichet ivr prompts' first)")
            target = sounds_dir / language / f"{sound}.wav"
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(found, target)
            except OSError as exc:
                raise _fail(f"{target}: {exc.strerror or exc}") from None
            copied += 1
    typer.echo(f"{copied} prompts installed under {sounds_dir}")


def register(app: typer.Typer) -> None:
    """Add ``ivr`` to the ``guichet`` command."""
    app.add_typer(ivr_app, name="ivr")
