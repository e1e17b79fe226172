"""Scenario files, training, ``guichet simulate`` / ``whatif`` and ``guichet bench sim``."""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from guichet.bench import BenchConsole
from guichet.cli import app
from simulations.bench_sim import run as bench_sim
from simulations.scenario import ScenarioError, parse_schedule, parse_training, train
from skills.model import Channel
from tests.factories import agent, catalogue, matrix

pytestmark = pytest.mark.usefixtures("english_wording")  # French, the default, is read in test_planner_lang


MATRIX = matrix(
    agent("a1", {"passport": 3}, Channel.PHONE),
    agent("a2", {"creche": 2, "voirie": 2}, Channel.PHONE),
    agent("a3", {"creche": 2}, Channel.COUNTER),
    agent("a4", {"voirie": 2}, Channel.EMAIL),
)


def test_schedule_rows_become_shifts() -> None:
    shifts = parse_schedule(
        "agent_id,start,end,channels\na1,08:30,12:00,phone|counter\n\na2,13:00,17:30,\n",
        "s.csv",
        MATRIX,
    )
    assert [(s.agent_id, s.start_s, s.end_s) for s in shifts] == [
        ("a1", 8.5 * 3600, 12 * 3600),
        ("a2", 13 * 3600, 17.5 * 3600),
    ]
    assert shifts[0].channels == frozenset({Channel.PHONE, Channel.COUNTER})
    assert shifts[1].channels is None


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        (
            "agent_id,start,end\na1,08:30,12:00\na9,08:30,12:00\n",
            3,
            "agent 'a9' is not in the skill matrix",
        ),
        ("agent_id,start,end\na1,8h30,12:00\n", 2, "bad time '8h30'"),
        ("agent_id,start,end\na1,12:00,08:30\n", 2, "ends (08:30) before it starts (12:00)"),
        (
            "agent_id,start,end,channels\na1,08:00,09:00,phnoe\n",
            2,
            "unknown channel 'phnoe' (did you mean 'phone'?)",
        ),
        ("agent,start,end\n", 1, "missing column 'agent_id'"),
    ],
)
def test_a_bad_schedule_is_refused_with_its_line(text: str, line: int, reason: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_schedule(text, "s.csv", MATRIX)
    assert caught.value.line == line
    assert reason in str(caught.value) and str(caught.value).startswith(f"s.csv:{line}: ")


def test_training_picks_the_least_occupied_agents_who_serve_the_process() -> None:
    assert parse_training("2:passport:2") == (2, "passport", 2)
    assert parse_training("a2+a3:passport:3") == (["a2", "a3"], "passport", 3)
    for bad in ("passport:2", "2:passport:5", "0:passport:2"):
        with pytest.raises(ScenarioError):
            parse_training(bad)
    trained, chosen = train(MATRIX, catalogue(), 1, "passport", 2, {"a2": 0.9, "a3": 0.1})
    assert chosen == ["a3"]  # a1 knows passports, a4 serves no live channel, a3 is the least busy
    assert trained.agents["a3"].skills == {"creche": 2, "passport": 2}
    assert MATRIX.agents["a3"].skills == {"creche": 2}
    with pytest.raises(ScenarioError, match="only 2 agents"):
        train(MATRIX, catalogue(), 3, "passport", 2)
    with pytest.raises(ScenarioError, match="did you mean 'passport'"):
        train(MATRIX, catalogue(), 1, "pasport", 2)


def test_simulate_reports_and_exports_the_bundled_day(tmp_path: Path) -> None:
    out, agents_out = tmp_path / "day.csv", tmp_path / "agents.csv"
    result = CliRunner().invoke(
        app,
        ["simulate", "-r", "2", "--seed", "3", "--csv", str(out), "--agents-csv", str(agents_out)],
    )
    assert result.exit_code == 0, result.output
    assert "passport" in result.output and "Agents" in result.output
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    phone = next(
        r for r in rows if r["process"] == "*" and r["channel"] == "phone" and not r["hour"]
    )
    hourly = [r for r in rows if r["channel"] == "phone" and r["hour"]]
    assert [r["hour"] for r in hourly][:2] == ["08:00", "09:00"]
    assert sum(float(r["arrived"]) for r in hourly) == pytest.approx(float(phone["arrived"]))
    assert "by hour" in result.output
    assert 0 < float(phone["service_level"]) <= 1 and float(phone["arrived"]) > 100
    assert {r["agent_id"] for r in csv.DictReader(agents_out.open(encoding="utf-8"))} >= {
        "a101",
        "a106",
    }


def test_whatif_trains_agents_on_passports_and_reports_the_difference(tmp_path: Path) -> None:
    out = tmp_path / "diff.csv"
    result = CliRunner().invoke(
        app, ["whatif", "--train", "3:passport:2", "-r", "3", "--csv", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "trained on passport at level 2" in result.output
    rows = {
        (r["process"], r["channel"], r["metric"]): r
        for r in csv.DictReader(out.open(encoding="utf-8"))
    }
    passport = rows[("passport", "phone", "service_level")]
    assert float(passport["delta"]) == pytest.approx(
        float(passport["b"]) - float(passport["a"]), abs=1e-5
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["simulate", "--schedule", "/nonexistent/s.csv"],
            "/nonexistent/s.csv: cannot read the file",
        ),
        (["simulate", "--strategy", "fastest"], "unknown strategy 'fastest'"),
        (["simulate", "--patience", "phone=soon"], "expected channel=seconds"),
        (["simulate", "--level-factors", "4=2"], "expected level=factor"),
        (["whatif"], "say what variant B changes"),
        (["whatif", "--strategy-b", "fewest_skills", "--matrix", __file__], "test_sim_cli.py:1: "),
        (["whatif", "--train", "3:pasport:2"], "unknown process 'pasport'"),
    ],
)
def test_user_errors_are_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_bench_sim_quick_gives_the_figures(monkeypatch, capsys) -> None:
    monkeypatch.setitem(sys.modules, "ciw", None)  # as where Ciw is not installed
    screen = io.StringIO()
    figures = bench_sim(BenchConsole(file=screen, width=100), quick=True)
    assert "…" not in screen.getvalue() and max(map(len, screen.getvalue().splitlines())) <= 100
    for key in (
        "contacts_per_s",
        "ciw_contacts_per_s",
        "simpy_contacts_per_s",
        "simpy_alone_contacts_per_s",
        "simpy_here_vs_alone",
        "sl_sim",
        "sl_erlang_c",
    ):
        assert key in figures
    assert figures["contacts_per_s"] > 1000
    assert abs(figures["sl_erlang_c"] - 0.7393) < 1e-3
    assert figures["ciw_contacts_per_s"] is None
    # SimPy measured here and alone, in a fresh process: the same model, both speeds.
    ratio = figures["simpy_alone_contacts_per_s"] / figures["simpy_contacts_per_s"]
    assert figures["simpy_here_vs_alone"] == pytest.approx(1 / ratio, rel=1e-2)
    text = screen.getvalue()
    assert "pip install 'guichet[bench]'" in text  # rich markup does not eat the extra
    progress = capsys.readouterr().err
    assert "Guichet run 1/3" in progress and "SimPy run 1/1" in progress
    assert "Traceback" not in progress and "Warning" not in progress
