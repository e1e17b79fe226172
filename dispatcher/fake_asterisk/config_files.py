"""Where the project's Asterisk configuration (``asterisk-config/``) lives.

In a checkout (and an editable install) it is the ``asterisk-config/`` folder
beside the packages; a wheel installs the same files under
``<prefix>/share/guichet/asterisk-config/`` (``pyproject.toml``, data-files).
"""

from __future__ import annotations

import sys
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[2] / "asterisk-config"
INSTALLED = Path(sys.prefix) / "share" / "guichet" / "asterisk-config"


def asterisk_config_dir(checkout: Path = CHECKOUT, installed: Path = INSTALLED) -> Path:
    """The folder holding ``extensions.conf`` and ``manager.conf``: the checkout's, else the installed one."""
    if (checkout / "extensions.conf").is_file():
        return checkout
    return installed
