"""The files of one site, as every command reads them: settings, catalogue, skill matrix, IVR menu."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from guichet.config import ConfigError, Settings, load_settings
from ivr.menu import IvrConfig, MenuError, load_menu
from skills.catalogue import default_catalogue, load_catalogue
from skills.errors import SkillFileError
from skills.matrix import default_matrix, load_matrix
from skills.model import Catalogue, SkillMatrix


class SiteError(Exception):
    """A file or setting of the site is refused; the message names it and says why."""


@dataclass(frozen=True, slots=True)
class Site:
    settings: Settings
    catalogue: Catalogue
    matrix: SkillMatrix
    menu: IvrConfig


def load_site(config: Path | None = None, menu: Path | None = None) -> Site:
    """The site of the settings (``config``: a TOML file, else ``$GUICHET_CONFIG``); ``menu`` overrides GUICHET_IVR_MENU."""
    try:
        settings = load_settings(config)
        catalogue = load_catalogue(settings.catalogue) if settings.catalogue else default_catalogue()
        matrix = load_matrix(settings.skill_matrix, catalogue) if settings.skill_matrix else default_matrix(catalogue)
        ivr_menu = load_menu(menu or settings.ivr_menu, catalogue)
    except (ConfigError, SkillFileError, MenuError) as exc:
        raise SiteError(str(exc)) from None
    return Site(settings, catalogue, matrix, ivr_menu)
