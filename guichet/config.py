"""Configuration: environment variables (prefix ``GUICHET_``, plus the usual
``REDIS_URL`` and ``DATABASE_URL``) over one optional TOML file, validated at start.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConfigError(Exception):
    """The configuration cannot be used; the message says where and why."""


class Settings(BaseSettings):
    """Everything a Guichet server reads at start."""

    model_config = SettingsConfigDict(env_prefix="GUICHET_", extra="forbid")

    data_dir: Path = Field(default=Path("var"), description="Where the embedded Redis and SQLite live.")
    redis_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("REDIS_URL", "GUICHET_REDIS_URL", "redis_url"),
        description="Live state server; unset: a private Redis started under data_dir.",
    )
    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "GUICHET_DATABASE_URL", "database_url"),
        description="History database (SQLAlchemy async URL); unset: SQLite under data_dir.",
    )
    catalogue: Path | None = Field(default=None, description="Process catalogue YAML; unset: bundled sample.")
    skill_matrix: Path | None = Field(default=None, description="Skill matrix CSV/YAML; unset: bundled sample.")
    sites: Path | None = Field(default=None, description="Sites file (kiosks, counters, displays); unset: bundled sample.")
    ami_host: str = "127.0.0.1"
    ami_port: int = Field(default=5038, ge=1, le=65535)
    ami_username: str = "guichet"
    ami_secret: SecretStr | None = None
    agi_host: str = "127.0.0.1"
    agi_port: int = Field(default=4573, ge=0, le=65535)
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)
    device_tokens: SecretStr | None = Field(
        default=None, description="Device and counter-agent tokens: id=token,id=token (never in a committed file)."
    )
    device_tokens_file: Path | None = Field(default=None, description="Secrets file of id=token lines.")
    citizens: Path | None = Field(
        default=None,
        description="Citizens directory CSV (number,citizen_id,name,language): a known caller's record and history "
        "reach the agent page; unset: callers are not recognised.",
    )
    retention_days: int = Field(default=365, ge=1, description="Citizens' data kept this long (CNIL).")
    ivr_menu: Path | None = Field(default=None, description="IVR menu and feature codes YAML; unset: bundled sample.")
    sounds_dir: Path | None = Field(
        default=None, description="Asterisk's sounds directory as the server sees it, checked for the prompts at start."
    )
    no_answer_unpause_s: float | None = Field(
        default=None, ge=0, description="An agent paused no_answer is ready again after this long; unset: only by *21."
    )
    ready_on_register: bool = Field(
        default=False, description="An agent whose softphone registers becomes ready (default: only by *21)."
    )
    log_format: Literal["text", "json"] = Field(default="text", description="Server logs: text lines or JSON objects.")

    @property
    def sqlite_url(self) -> str:
        """The default history database under ``data_dir``."""
        return f"sqlite+aiosqlite:///{self.data_dir / 'guichet.sqlite'}"


def load_settings(path: Path | None = None, **overrides: Any) -> Settings:
    """Settings from the environment over ``path`` (TOML; default ``$GUICHET_CONFIG``).

    Raises ConfigError naming the file and the bad key.
    """
    file_values: dict[str, Any] = {}
    path = path or (Path(os.environ["GUICHET_CONFIG"]) if os.environ.get("GUICHET_CONFIG") else None)
    if path is not None:
        try:
            file_values = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such configuration file") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: {exc}") from None
    env_names = {name.upper() for name in os.environ}
    values = {
        k: v
        for k, v in file_values.items()
        if f"GUICHET_{k.upper()}" not in env_names and k.upper() not in env_names
    }
    values.update(overrides)
    try:
        return Settings(**values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{setting_name(str(err['loc'][0]) if err['loc'] else '?', path, values)}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(problems) from None


ENV_NAMES = {"redis_url": "REDIS_URL", "database_url": "DATABASE_URL"}


def setting_name(field: str, path: Path | None = None, file_values: dict[str, Any] | None = None) -> str:
    """How a user names a setting: ``GUICHET_AMI_PORT`` (or ``file.toml: ami_port`` when it came from the file)."""
    if path is not None and file_values is not None and field in file_values:
        return f"{path}: {field}"
    return ENV_NAMES.get(field, f"GUICHET_{field.upper()}")
