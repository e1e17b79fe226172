"""``guichet skills check | coverage | convert`` through typer's CliRunner."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import skills.cli
from guichet.cli import COMMAND_MODULES, app


@pytest.fixture(autouse=True)
def _english(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests read the English wording (French is the default): GUICHET_LANG=en, inherited by the commands."""
    monkeypatch.setenv("GUICHET_LANG", "en")

DATA = Path(__file__).parents[1] / "skills" / "data"
runner = CliRunner()


def run(*args: str | Path):
    result = runner.invoke(app, ["skills", *map(str, args)])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


SMALL_CATALOGUE = """\
defaults:
  targets:
    phone:    {handling: 4m, sla: 20s}
    counter:  {handling: 8m, sla: 10m}
    callback: {handling: 5m, sla: 48h}
    email:    {handling: 6m, sla: 72h}
    webform:  {handling: 5m, sla: 72h}
    mail:     {handling: 8m, sla: 72h}
domains:
  accueil: Accueil
  etat_civil: État civil
processes:
  - code: triage
    label: Accueil généraliste / orientation
    domain: accueil
  - code: mairie_pass
    label: Pass mairie
    domain: etat_civil
    channels: [counter]
"""

SMALL_MATRIX = (
    "agent_id,name,channels,endpoint,desk,triage,mairie_pass\n"
    "a1,Léa Martin,phone|counter,PJSIP/agent1,guichet 1,2,3\n"
)


def test_registered_in_the_guichet_app() -> None:
    assert "skills.cli" in COMMAND_MODULES
    result = run("--help")
    assert result.exit_code == 0
    for command in ("check", "coverage", "convert"):
        assert command in result.output


# ------------------------------------------------------------------ check


def test_check_the_samples() -> None:
    result = run("check", DATA / "catalogue.yaml", DATA / "agents.csv", DATA / "agents.yaml")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(f"OK {DATA / 'catalogue.yaml'}: catalogue of ")
    assert "processes in 14 domains" in lines[0]
    assert lines[1].startswith(f"OK {DATA / 'agents.csv'}: skill matrix of 26 agents")
    assert lines[2].startswith(f"OK {DATA / 'agents.yaml'}: skill matrix of 26 agents")


def test_check_a_matrix_against_the_bundled_catalogue_by_default() -> None:
    result = run("check", DATA / "agents.yaml")
    assert result.exit_code == 0
    assert "against the bundled sample catalogue" in result.output


def test_check_reports_every_problem_and_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "agents.csv"
    bad.write_text(
        "agent_id,name,channels,endpoint,desk,triage,passport\n"
        "a1,Léa,phone|fax,,,2,3\n"
        "a2,Paul,counter,,guichet 2,2,4\n",
        encoding="utf-8",
    )
    result = run("check", bad)
    assert result.exit_code == 2
    assert f"{bad}:2:col channels: unknown channel 'fax'" in result.output
    assert f"{bad}:3:col passport: bad level '4' (expected 1, 2 or 3)" in result.output
    assert "OK" not in result.output


def test_check_yaml_catalogue_problem_has_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "catalogue.yaml"
    bad.write_text(SMALL_CATALOGUE.replace("domain: etat_civil", "domain: etat"), encoding="utf-8")
    result = run("check", bad)
    assert result.exit_code == 2
    assert f"{bad}:18: process 'mairie_pass': unknown domain 'etat'" in result.output


def test_check_uses_the_catalogue_given_with_the_files(tmp_path: Path) -> None:
    (tmp_path / "catalogue.yaml").write_text(SMALL_CATALOGUE, encoding="utf-8")
    (tmp_path / "agents.csv").write_text(SMALL_MATRIX, encoding="utf-8")
    result = run("check", tmp_path / "agents.csv", tmp_path / "catalogue.yaml")
    assert result.exit_code == 0, result.output
    assert f"OK {tmp_path / 'agents.csv'}: skill matrix of 1 agents" in result.output
    assert f"(against {tmp_path / 'catalogue.yaml'})" in result.output

    result = run("check", "--catalogue", tmp_path / "catalogue.yaml", tmp_path / "agents.csv")
    assert result.exit_code == 0, result.output

    # Against the bundled catalogue, mairie_pass is unknown, and the note says why.
    result = run("check", tmp_path / "agents.csv")
    assert result.exit_code == 2
    assert "1:col mairie_pass: unknown process 'mairie_pass'" in result.output
    assert "checked against the bundled sample catalogue; name yours with --catalogue" in (
        result.output
    )


def test_check_with_an_invalid_catalogue_option(tmp_path: Path) -> None:
    (tmp_path / "catalogue.yaml").write_text("processes: [\n", encoding="utf-8")
    (tmp_path / "agents.csv").write_text(SMALL_MATRIX, encoding="utf-8")
    result = run("check", "-c", tmp_path / "catalogue.yaml", tmp_path / "agents.csv")
    assert result.exit_code == 2
    assert "YAML syntax error" in result.output
    assert "skill matrices not checked" in result.output


def test_uncovered_processes_are_errors_unless_allowed(tmp_path: Path) -> None:
    (tmp_path / "catalogue.yaml").write_text(SMALL_CATALOGUE, encoding="utf-8")
    matrix = tmp_path / "agents.csv"
    matrix.write_text(SMALL_MATRIX.replace("guichet 1,2,3", "guichet 1,2,2"), encoding="utf-8")
    catalogue = tmp_path / "catalogue.yaml"

    result = run("check", "-c", catalogue, matrix)
    assert result.exit_code == 0, result.output  # level 2 covers a min_level-2 process
    matrix.write_text(SMALL_MATRIX.replace("phone|counter", "phone"), encoding="utf-8")
    result = run("check", "-c", catalogue, matrix)
    assert result.exit_code == 2
    assert (
        f"{matrix}: process 'mairie_pass' is not covered: no agent at level >= 2 serving counter"
        in result.output
    )
    assert "1 of 2 processes not covered (--allow-uncovered accepts it)" in result.output

    result = run("check", "-c", catalogue, matrix, "--allow-uncovered")
    assert result.exit_code == 0
    assert f"{matrix}: warning: process 'mairie_pass' is not covered" in result.output
    assert f"OK {matrix}" in result.output


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("agents.csv", b"", "agents.csv: empty file"),
        (
            "agents.csv",
            "agent_id;name;channels\na1;Hélène;phone\n".encode("cp1252"),
            "agents.csv:2: not UTF-8",
        ),
        ("what.yaml", b"foo: 1\n", "what.yaml: cannot tell what this file is"),
        ("cat.yaml", b"domains: {a: b}\nprocesses: [\n", "cat.yaml:3: YAML syntax error"),
    ],
)
def test_check_refusals(tmp_path: Path, name: str, content: bytes, expected: str) -> None:
    (tmp_path / name).write_bytes(content)
    result = run("check", tmp_path / name)
    assert result.exit_code == 2
    assert f"{tmp_path}/{expected}" in result.output


def test_check_missing_file_and_keeps_going(tmp_path: Path) -> None:
    result = run("check", tmp_path / "nope.csv", DATA / "catalogue.yaml")
    assert result.exit_code == 2
    assert f"{tmp_path / 'nope.csv'}: file not found" in result.output
    assert f"OK {DATA / 'catalogue.yaml'}" in result.output


def test_check_without_files_is_a_usage_error() -> None:
    result = run("check")
    assert result.exit_code == 2
    assert "Missing argument" in result.output


# ------------------------------------------------------------------ coverage


def test_coverage_of_the_sample() -> None:
    result = run("coverage")
    assert result.exit_code == 0, result.output
    assert "Competent agents" in result.output
    assert "liquor_licence" in result.output  # one expert only: short of 2
    assert "passport " not in result.output  # plenty of agents: not listed
    assert "(process, channel) pairs have fewer than 2 competent agent(s); 26 agents" in (
        result.output
    )


def test_coverage_options() -> None:
    result = run("coverage", DATA / "agents.yaml", "--min-agents", "1", "--channel", "phone")
    assert result.exit_code == 0, result.output
    assert "Every process has at least 1 competent agent(s)" in result.output
    assert "0 of " in result.output

    result = run("coverage", "--all", "--channel", "counter", "--channel", "email")
    assert result.exit_code == 0
    assert "passport" in result.output and "webform" not in result.output

    result = run("coverage", "--by", "domain", "-n", "3")
    assert result.exit_code == 0, result.output
    assert "État civil et titres d'identité" in result.output
    assert "short processes" in result.output


def test_coverage_of_a_hand_made_matrix(tmp_path: Path) -> None:
    (tmp_path / "catalogue.yaml").write_text(SMALL_CATALOGUE, encoding="utf-8")
    (tmp_path / "agents.csv").write_text(SMALL_MATRIX, encoding="utf-8")
    result = run(
        "coverage", tmp_path / "agents.csv", "-c", tmp_path / "catalogue.yaml", "-n", "1", "--all"
    )
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if "mairie_pass" in line]
    assert len(lines) == 1
    cells = [c.strip() for c in lines[0].split("│") if c.strip()]
    assert cells[:3] == ["mairie_pass", "Pass mairie", "etat_civil"]
    assert cells[3:] == [".", "1", ".", ".", ".", ".", "1"]
    assert "4 of 7 (process, channel) pairs have fewer than 1" in result.output


def test_coverage_refusals() -> None:
    result = run("coverage", "--channel", "fax")
    assert result.exit_code == 2
    result = run("coverage", "--by", "agent")
    assert result.exit_code == 2
    result = run("coverage", "--min-agents", "0")
    assert result.exit_code == 2
    result = run("coverage", "/nonexistent/agents.csv")
    assert result.exit_code == 2
    assert "/nonexistent/agents.csv: file not found" in result.output


# ------------------------------------------------------------------ convert


def test_convert_round_trip(tmp_path: Path) -> None:
    result = run("convert", DATA / "agents.csv", tmp_path / "agents.yaml")
    assert result.exit_code == 0, result.output
    assert f"Wrote {tmp_path / 'agents.yaml'}: 26 agents (yaml)." in result.output
    assert (tmp_path / "agents.yaml").read_bytes() == (DATA / "agents.yaml").read_bytes()
    result = run("convert", tmp_path / "agents.yaml", tmp_path / "back.csv")
    assert result.exit_code == 0
    assert (tmp_path / "back.csv").read_bytes() == (DATA / "agents.csv").read_bytes()


def test_convert_excel_and_back(tmp_path: Path) -> None:
    result = run("convert", DATA / "agents.yaml", tmp_path / "excel.csv", "--excel")
    assert result.exit_code == 0, result.output
    data = (tmp_path / "excel.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbfagent_id;name;")
    result = run("convert", tmp_path / "excel.csv", tmp_path / "plain.csv")
    assert result.exit_code == 0
    assert (tmp_path / "plain.csv").read_bytes() == (DATA / "agents.csv").read_bytes()


def test_convert_refusals(tmp_path: Path) -> None:
    result = run("convert", DATA / "agents.csv", tmp_path / "agents.xlsx")
    assert result.exit_code == 2
    assert "unknown output format" in result.output
    result = run("convert", DATA / "agents.csv", tmp_path / "a.yaml", "--excel")
    assert result.exit_code == 2
    bad = tmp_path / "bad.csv"
    bad.write_text("agent_id,name,channels\na1,,phone\n", encoding="utf-8")
    result = run("convert", bad, tmp_path / "out.yaml")
    assert result.exit_code == 2
    assert f"{bad}:2:col name: missing name" in result.output
    assert not (tmp_path / "out.yaml").exists()


# ------------------------------------------------------------------ never a traceback


def test_an_internal_error_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(skills.cli, "process_coverage", boom)
    monkeypatch.delenv("GUICHET_DEBUG", raising=False)
    result = run("coverage")
    assert result.exit_code == 1
    assert "internal error: RuntimeError: disk on fire" in result.output
