"""The ``guichet`` command itself: version, help, unknown benchmark, stale build."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from dispatcher import compiled
from guichet import __version__, cli


@pytest.fixture(autouse=True)
def _english(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests read the English wording (French is the default): GUICHET_LANG=en, inherited by the commands."""
    monkeypatch.setenv("GUICHET_LANG", "en")

runner = CliRunner()


def test_version_and_help() -> None:
    result = runner.invoke(cli.app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"guichet {__version__}"
    result = runner.invoke(cli.app, ["--help"])
    assert result.exit_code == 0
    for command in ("demo", "serve", "bench", "staffing", "simulate", "whatif", "skills"):
        assert command in result.output


def test_an_unknown_benchmark_is_named() -> None:
    result = runner.invoke(cli.app, ["bench", "nope"])
    assert result.exit_code == 2 and "unknown benchmark 'nope'" in result.output


def test_main_refuses_a_stale_build(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def stale() -> None:
        raise compiled.StaleBuildError("dispatcher/router.py changed since the routing core was compiled")

    monkeypatch.setattr(compiled, "check", stale)
    with pytest.raises(SystemExit) as stopped:
        cli.main()
    assert stopped.value.code == 1
    assert "guichet: dispatcher/router.py changed" in capsys.readouterr().err
