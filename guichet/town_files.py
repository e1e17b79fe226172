"""The town's files, as every command reads them: settings, catalogue, skill matrix, IVR menu, sites."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dispatcher.counter.sites import Sites, default_sites, load_sites
from guichet.config import ConfigError, Settings, load_settings
from ivr.menu import IvrConfig, MenuError, load_menu
from skills.catalogue import default_catalogue, load_catalogue
from skills.errors import SkillFileError
from skills.matrix import default_matrix, load_matrix
from skills.model import Catalogue, SkillMatrix


class TownFilesError(Exception):
    """A file or setting of the town is refused; the message names it and says why."""


@dataclass(frozen=True, slots=True)
class TownFiles:
    """Everything a command needs of the town, validated."""

    settings: Settings
    catalogue: Catalogue
    matrix: SkillMatrix
    menu: IvrConfig
    sites: Sites


def load_town_files(config: Path | None = None, menu: Path | None = None) -> TownFiles:
    """The town's files named by the settings (``config``: a TOML file, else ``$GUICHET_CONFIG``); ``menu`` overrides GUICHET_IVR_MENU."""
    try:
        settings = load_settings(config)
        catalogue = load_catalogue(settings.catalogue) if settings.catalogue else default_catalogue()
        matrix = load_matrix(settings.skill_matrix, catalogue) if settings.skill_matrix else default_matrix(catalogue)
        ivr_menu = load_menu(menu or settings.ivr_menu, catalogue)
        sites = load_sites(settings.sites, catalogue) if settings.sites else default_sites(catalogue)
    except (ConfigError, SkillFileError, MenuError) as exc:
        raise TownFilesError(str(exc)) from None
    return TownFiles(settings, catalogue, matrix, ivr_menu, sites)
