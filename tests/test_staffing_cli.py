"""``guichet staffing interval|day`` and ``guichet bench erlang``, as a planner runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from guichet import bench as bench_registry
from guichet import cli as guichet_cli
from simulations import bench_erlang, staffing_cli

pytestmark = pytest.mark.usefixtures("english_wording")  # French, the default, is read in test_planner_lang


runner = CliRunner()


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """Test root."""

    staffing_cli.register(app)
    return app


def test_registered_in_the_guichet_command_and_bench_registry() -> None:
    assert "simulations.staffing_cli" in guichet_cli.COMMAND_MODULES
    assert bench_registry.BENCHMARKS["erlang"] == "simulations.bench_erlang:run"


def test_interval_prints_the_answer() -> None:
    result = runner.invoke(_app(), ["staffing", "interval", "--calls-per-hour", "120", "--aht",
                                    "240", "--sl", "0.8", "--within", "20"])
    assert result.exit_code == 0, result.output
    assert "8.000 Erlangs" in result.output
    assert "11 agents" in result.output  # 8 Erl, 80 % in 20 s
    for column in ("service level", "ASA", "occupancy", "P(wait)"):
        assert column in result.output
    assert "abandoned" not in result.output


def test_interval_with_every_option_and_patience() -> None:
    result = runner.invoke(_app(), [
        "staffing", "interval", "--calls-per-hour", "120", "--aht", "240", "--sl", "80",
        "--within", "20", "--max-occupancy", "0.85", "--shrinkage", "0.3", "--asa", "15"])
    assert result.exit_code == 0, result.output
    assert "12 agents" in result.output and "18 scheduled" in result.output
    result = runner.invoke(_app(), ["staffing", "interval", "--calls-per-hour", "120", "--aht",
                                    "240", "--patience", "60"])
    assert result.exit_code == 0, result.output
    assert "Erlang A" in result.output and "abandoned" in result.output


def test_interval_without_calls_needs_nobody() -> None:
    result = runner.invoke(_app(), ["staffing", "interval", "--calls-per-hour", "0", "--aht",
                                    "240"])
    assert result.exit_code == 0, result.output
    assert "0 agents" in result.output


def test_interval_refuses_bad_values_without_a_traceback() -> None:
    for args in (["--calls-per-hour", "-3", "--aht", "240"],
                 ["--calls-per-hour", "100", "--aht", "0"],
                 ["--calls-per-hour", "100", "--aht", "240", "--sl", "150"],
                 ["--calls-per-hour", "100", "--aht", "240", "--shrinkage", "1"],
                 ["--calls-per-hour", "100", "--aht", "240", "--patience", "0"]):
        result = runner.invoke(_app(), ["staffing", "interval", *args])
        assert result.exit_code == 2, (args, result.output)
        assert "Traceback" not in result.output
        assert not isinstance(result.exception, (ValueError, TypeError)), args


def test_day_on_the_bundled_sample_writes_csv_svg_html(tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = runner.invoke(_app(), ["staffing", "day", "--out", str(out), "--shrinkage", "0.3",
                                    "--lang", "fr"])
    assert result.exit_code == 0, result.output
    assert "Créneaux de 15 min (lu dans les heures du fichier)" in result.output
    assert "Agents nécessaires par créneau de 15 min" in result.output
    assert "08:30" in result.output and "17:15" in result.output
    for name in ("staffing.csv", "staffing.svg", "staffing.html"):
        assert (out / name).stat().st_size > 1000, name
    result = runner.invoke(_app(), ["staffing", "day", "--out", str(out), "--lang", "en"])
    assert result.exit_code == 0, result.output
    assert "Intervals of 15 min (read from the file's times)" in result.output
    assert "Required agents per 15 min" in result.output


def test_day_tables_fit_in_100_columns_without_cutting_a_value(tmp_path: Path) -> None:
    for lang in ("fr", "en"):
        result = runner.invoke(_app(), [
            "staffing", "day", "--out", str(tmp_path), "--lang", lang, "--shrinkage", "30",
            "--patience", "phone=120,counter=1800", "--max-abandon", "5"])
        assert result.exit_code == 0, result.output
        lines = result.output.splitlines()
        assert max(len(line) for line in lines) <= 100
        assert not [line for line in lines if "…" in line]
        header = next(line for line in lines if line.lstrip().startswith(("heure", "time")))
        assert "ab. %" in header  # the abandon rate, per channel, in the terminal table


def test_day_reports_forecast_errors_by_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("interval,process,channel,arrivals,aht_s\n08:30,triage,phone,3,180\n"
                   "8.45,triage,phone,3,180\n09:00,triage,phone,-2,180\n", encoding="utf-8")
    result = runner.invoke(_app(), ["staffing", "day", str(bad), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert f"{bad}:3: interval '8.45' is not a time (08:30, 08:30:00, 8h30" in result.output
    assert f"{bad}:4: arrivals -2 is negative" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "o").exists()


def test_bench_quick_figures(capsys) -> None:
    figures = bench_erlang.run(bench_registry.BenchConsole(width=100), quick=True)
    for key in ("grid_ms", "pyworkforce_ms", "speedup", "answers_differ",
                "answers_differ_vs_reference", "max_rel_err_vs_mpmath", "command_s",
                "command_cpu_s"):
        assert key in figures
    assert figures["answers_differ_vs_reference"] == 0
    assert figures["max_rel_err_vs_mpmath"] < 1e-9
    assert figures["cells"] == bench_erlang.QUICK_INTERVALS * bench_erlang.QUICK_PROCESSES
    assert figures["command_s"] > 0 and figures["command_runs"] == 1
    out = capsys.readouterr().out
    assert "guichet staffing day, 24 intervals x 10 processes" in out
    assert "…" not in out and max(map(len, out.splitlines())) <= 100  # never cut, 100 columns
    json.dumps(figures)


def test_bench_erlang_without_the_bench_extra_says_what_to_install(tmp_path: Path) -> None:
    """Without mpmath and pyworkforce: no traceback, the install line with its brackets intact."""
    import subprocess
    import sys

    code = ("import sys; sys.modules['mpmath'] = None; sys.modules['pyworkforce'] = None; "
            "sys.argv = ['guichet', 'bench', 'erlang', '--quick']; "
            "from guichet.cli import main; main()")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, check=False, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "mpmath is not installed (pip install 'guichet[bench]')" in done.stdout
    assert "pyworkforce is not installed (pip install 'guichet[bench]')" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["answers_differ_vs_reference"] is None
    assert set(figures["bars_unchecked"]) == {"speedup", "reference"}
