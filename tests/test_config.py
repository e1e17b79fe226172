"""Settings: one TOML file under the environment, refused with the file and key of any mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from guichet.config import ConfigError, load_settings


@pytest.fixture(autouse=True)
def _english(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests read the English wording (French is the default): GUICHET_LANG=en."""
    monkeypatch.setenv("GUICHET_LANG", "en")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("REDIS_URL", "DATABASE_URL", "GUICHET_CONFIG", "GUICHET_AMI_PORT", "GUICHET_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)


def test_file_values_apply_and_the_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "guichet.toml"
    path.write_text('ami_port = 5039\ndata_dir = "/srv/guichet"\nredis_url = "redis://file"\n', encoding="utf-8")
    monkeypatch.setenv("REDIS_URL", "redis://env")
    settings = load_settings(path)
    assert settings.ami_port == 5039
    assert settings.redis_url == "redis://env"
    assert settings.sqlite_url == "sqlite+aiosqlite:////srv/guichet/guichet.sqlite"


def test_a_bad_value_and_an_unknown_key_are_named_with_the_file(tmp_path: Path) -> None:
    path = tmp_path / "guichet.toml"
    path.write_text('ami_port = "abc"\namiport = 5038\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    message = str(caught.value)
    assert message.startswith(str(path)) and "ami_port" in message and "amiport" in message


def test_broken_toml_and_missing_file_are_refused_clearly(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("ami_port = \n", encoding="utf-8")
    with pytest.raises(ConfigError, match="broken.toml"):
        load_settings(broken)
    with pytest.raises(ConfigError, match="no such configuration file"):
        load_settings(tmp_path / "absent.toml")


def test_an_out_of_range_port_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUICHET_AMI_PORT", "70000")
    with pytest.raises(ConfigError, match="^GUICHET_AMI_PORT: "):
        load_settings()
