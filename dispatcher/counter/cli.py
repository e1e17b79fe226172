"""``guichet sites check``: validate a sites file (file:line: reason for each problem)."""

from __future__ import annotations

from pathlib import Path

import typer

from dispatcher.counter.sites import default_sites_path, load_sites
from dispatcher.i18n import LangOpt, choose_language, msg
from skills.catalogue import default_catalogue, load_catalogue
from skills.errors import SkillFileError

sites_app = typer.Typer(help="The sites: kiosks, counters and displays of each building.", no_args_is_help=True)


@sites_app.command("check")
def check(
    paths: list[Path] = typer.Argument(None, help="Sites files (default: the bundled sample)."),
    catalogue: Path = typer.Option(None, "--catalogue", help="The catalogue whose domains get letters."),
    lang: LangOpt = None,
) -> None:
    """Validate sites files: exit 2 with every problem as file:line: reason."""
    choose_language(lang)
    try:
        known = load_catalogue(catalogue) if catalogue else default_catalogue()
    except SkillFileError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    refused = False
    for path in paths or [Path(default_sites_path())]:
        try:
            sites = load_sites(path, known)
        except SkillFileError as exc:
            typer.echo(str(exc), err=True)
            refused = True
            continue
        counters = sum(len(s.counters) for s in sites.sites.values())
        kiosks = sum(len(s.kiosks) for s in sites.sites.values())
        displays = sum(len(s.displays) for s in sites.sites.values())
        typer.echo(
            msg("{path}: OK, {sites} sites, {counters} counters, {kiosks} kiosks, {displays} displays, "
                "{classes} priority classes").format(path=path, sites=len(sites.sites), counters=counters,
                                                      kiosks=kiosks, displays=displays,
                                                      classes=len(sites.priority_classes))
        )
    if refused:
        raise typer.Exit(2)


def register(app: typer.Typer) -> None:
    """Add ``sites`` to the ``guichet`` command."""
    app.add_typer(sites_app, name="sites")
