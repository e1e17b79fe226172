"""Forecast files as planners make them (tests/data/forecasts), read by `guichet staffing day`."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from simulations import forecast as fc
from simulations import staffing_cli

pytestmark = pytest.mark.usefixtures("english_wording")  # French, the default, is read in test_planner_lang


DATA = Path(__file__).parent / "data" / "forecasts"
runner = CliRunner()


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """Test root."""

    staffing_cli.register(app)
    return app


def _agents(day: fc.DayStaffing) -> list[tuple[object, ...]]:
    return sorted((r.minute, r.process, r.channel, r.domain, r.agents, r.scheduled,
                   round(r.load_erl, 9)) for r in day.by_process + day.by_group + day.by_channel)


def test_the_exports_are_what_excel_writes() -> None:
    excel = (DATA / "excel-fr-30min.csv").read_bytes()
    assert excel.startswith(b"\xef\xbb\xbf") and b"\r\n" in excel and b";;\r\n" in excel
    assert b"08:30:00;" in excel and "\u202f".encode() in excel
    cp1252 = (DATA / "excel-fr-60min-cp1252.csv").read_bytes()
    assert "Démarche".encode("cp1252") in cp1252 and b"8h30;" in cp1252
    with pytest.raises(UnicodeDecodeError):
        cp1252.decode("utf-8")


def test_a_french_excel_export_staffs_as_the_same_data_in_the_projects_format() -> None:
    french = fc.load_forecast(DATA / "excel-fr-30min.csv")
    own = fc.load_forecast(DATA / "day-30min.csv")
    assert (french.interval_min, french.step_source, french.locale) == (30, "file", "fr")
    assert (own.interval_min, own.step_source, own.locale) == (30, "file", "en")
    assert [(r.minute, r.process, r.channel, r.arrivals, r.aht_s) for r in french.rows] == [
        (r.minute, r.process, r.channel, r.arrivals, r.aht_s) for r in own.rows]
    assert max(r.aht_s for r in french.rows) >= 1000  # "1 200" with a narrow no-break space
    assert _agents(fc.staff_day(french)) == _agents(fc.staff_day(own))


def test_the_command_gives_the_same_staffing_and_answers_in_french_excels_csv(
        tmp_path: Path) -> None:
    outs = {}
    for name in ("excel-fr-30min.csv", "day-30min.csv"):
        out = tmp_path / name
        result = runner.invoke(_app(), ["staffing", "day", str(DATA / name), "--out", str(out),
                                        "--lang", "fr"])
        assert result.exit_code == 0, result.output
        assert "Créneaux de 30 min (lu dans les heures du fichier)" in result.output
        outs[name] = out / "staffing.csv"
    french = outs["excel-fr-30min.csv"].read_bytes()
    assert french.startswith(b"\xef\xbb\xbf")  # French input: a CSV French Excel opens as is
    french_rows = [line.split(";") for line in french.decode("utf-8-sig").splitlines()]
    own_rows = [line.split(",") for line in outs["day-30min.csv"].read_text().splitlines()]
    assert [[v.replace(",", ".") for v in row] for row in french_rows] == own_rows
    result = runner.invoke(_app(), ["staffing", "day", str(DATA / "excel-fr-30min.csv"),
                                    "--out", str(tmp_path / "en"), "--csv-locale", "en"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "en" / "staffing.csv").read_text().splitlines() == [
        ",".join(row) for row in own_rows]


def test_a_30_minute_forecast_is_never_read_as_15_minute_data(tmp_path: Path) -> None:
    path = tmp_path / "thirty.csv"
    path.write_text("interval,process,channel,arrivals,aht_s\n08:30,triage,phone,12.5,180\n"
                    "09:00,triage,phone,12.5,180\n", encoding="utf-8")
    forecast = fc.load_forecast(path)
    assert forecast.interval_min == 30 and forecast.minutes == [510, 540]
    (r0, r1) = fc.staff_day(forecast, catalogue=None).by_channel
    assert (r0.load_erl, r0.agents) == (pytest.approx(1.25), 3)
    assert (r1.minute, r1.agents) == (540, 3)
    # Given, the length wins; the intervals in between are then empty (and say so: 0 agents).
    given_15 = fc.staff_day(fc.load_forecast(path, 15), catalogue=None).by_channel
    assert [r.minute for r in given_15] == [510, 540]
    assert fc.load_forecast(path, 15).minutes == [510, 525, 540]


def test_mixed_steps_are_refused_with_one_clear_message(tmp_path: Path) -> None:
    path = DATA / "mixed-steps.csv"
    result = runner.invoke(_app(), ["staffing", "day", str(path), "--out", str(tmp_path)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert lines[0].startswith("invalid forecast (1 kind of problem)")
    assert lines[1:] == [
        (f"{path}: the times are not evenly spaced: mostly 15 min apart, but 8 other "
        "spacing(s) (11:45->13:30, 13:30->14:00, 14:00->14:30, ...): one interval length "
        "per file; if the missing intervals are closed, give --interval-minutes")]


def test_a_lunch_break_is_not_a_mixed_step(tmp_path: Path) -> None:
    path = tmp_path / "lunch.csv"
    times = ["08:30", "09:00", "09:30", "10:00", "13:30", "14:00", "14:30"]
    path.write_text("créneau;démarche;canal;arrivées;DMT\n" + "".join(
        f"{t};triage;téléphone;4,5;180\n" for t in times), encoding="utf-8")
    forecast = fc.load_forecast(path)
    assert forecast.interval_min == 30
    day = fc.staff_day(forecast, catalogue=None)
    closed = [r for r in day.by_channel if r.minute == 11 * 60]
    assert closed == []  # no row: no agent needed while the desk is closed
    assert len(day.minutes) == 13


def test_a_cp1252_export_with_8h30_times_and_hh_mm_ss_handling_times(tmp_path: Path) -> None:
    path = DATA / "excel-fr-60min-cp1252.csv"
    forecast = fc.load_forecast(path)
    assert (forecast.interval_min, forecast.encoding, forecast.locale) == (60, "cp1252", "fr")
    assert {r.channel for r in forecast.rows} == {"phone", "counter"}
    first = next(r for r in forecast.rows if r.process == "appointment" and r.channel == "phone")
    assert (first.start, first.arrivals, first.aht_s) == ("08:30", 3.5, 150.0)
    result = runner.invoke(_app(), ["staffing", "day", str(path), "--out", str(tmp_path),
                                    "--lang", "fr"])
    assert result.exit_code == 0, result.output
    assert ("Créneaux de 60 min (lu dans les heures du fichier); lu en Windows-1252 "
            "(enregistrez-le en CSV UTF-8 pour être sûr des accents)") in result.output


def test_one_error_per_kind_of_mistake_with_the_count_and_the_first_lines(
        tmp_path: Path) -> None:
    path = DATA / "same-mistakes.csv"
    result = runner.invoke(_app(), ["staffing", "day", str(path), "--out", str(tmp_path)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert lines == [
        "invalid forecast (2 kinds of problem):",
        (f"{path}:2: interval '8.30' is not a time (08:30, 08:30:00, 8h30 or 08:30-09:00) "
        "[8 lines like this: 2, 3, 20, 21, 38, ...]"),
        (f"{path}:2: channel 'visio' is unknown; expected one of phone (téléphone), counter "
        "(accueil) [36 lines like this: 2, 4, 6, 8, 10, ...]"),
    ]


def test_times_ranges_headers_and_numbers_as_spreadsheets_write_them() -> None:
    text = ("\ufeffTranche horaire;Démarche;Canal;Volume;Durée moyenne de traitement;"
            "Domaine;;\r\n"
            "08h30 - 09h00;passport;Téléphone;1\u202f234,5;0:04:30;etat_civil;;\r\n"
            "9h00 à 9h30;passport;ACCUEIL;1 000;1.200,0;;;\r\n"
            "09:30-10:00;passport;tél;\u00a02,25;90;;;\r\n")
    forecast = fc.parse_forecast(text, "export.csv")
    assert (forecast.interval_min, forecast.step_source, forecast.locale) == (30, "file", "fr")
    got = [(r.start, r.channel, r.arrivals, r.aht_s, r.domain) for r in forecast.rows]
    assert got == [("08:30", "phone", 1234.5, 270.0, "etat_civil"),
                   ("09:00", "counter", 1000.0, 1200.0, None),
                   ("09:30", "phone", 2.25, 90.0, None)]
    english = fc.parse_forecast("interval,process,channel,arrivals,aht_s\n"
                                '08:30:00,triage,phone,"1,234.5",180\n'
                                "09:30:00,triage,phone,2.5,180\n", "en.csv")
    assert [r.arrivals for r in english.rows] == [1234.5, 2.5] and english.interval_min == 60
    with pytest.raises(fc.ForecastError, match="08:30 lasts 60 min, not 30"):
        fc.parse_forecast("créneau;démarche;canal;arrivées;DMT\n08:30-09:30;a;accueil;1;60\n",
                          "r.csv", interval_min=30)
    with pytest.raises(fc.ForecastError, match=r"different lengths \(30 min: 2 rows, 60 min: 1 "):
        fc.parse_forecast("créneau;démarche;canal;arrivées;DMT\n08:30-09:00;a;accueil;1;60\n"
                          "09:00-10:00;a;accueil;1;60\n09:30-10:00;b;accueil;1;60\n", "r.csv")


@settings(max_examples=60, deadline=None)
@given(
    step=st.sampled_from([15, 30, 60]),
    cells=st.lists(st.tuples(st.integers(0, 20), st.sampled_from(["phone", "counter"]),
                             st.integers(0, 99_999), st.integers(30, 5_000)),
                   min_size=2, max_size=20, unique_by=lambda c: (c[0], c[1])),
)
def test_property_a_french_export_reads_as_the_projects_format(
        step: int, cells: list[tuple[int, str, int, int]]) -> None:
    """Any forecast written both ways reads to the same rows (the times every ``step``)."""
    if len({k for k, _, _, _ in cells}) < 2:
        cells = [*cells, (cells[0][0] + 1, cells[0][1], 1, 60)]
    order = {k: i for i, k in enumerate(sorted({k for k, _, _, _ in cells}))}
    cells = [(order[k], c, a, h) for k, c, a, h in cells]  # every interval present
    french_channel = {"phone": "téléphone", "counter": "accueil"}

    start = 8 * 60 if 8 * 60 + len(order) * step <= 24 * 60 else 0  # the day's intervals, 24:00 excluded

    def hm(k: int) -> str:
        m = start + k * step
        return f"{m // 60:02d}:{m % 60:02d}"

    own = "interval,process,channel,arrivals,aht_s\n" + "".join(
        f"{hm(k)},triage,{c},{a / 100:.2f},{h}\n" for k, c, a, h in cells)
    french = "Créneau;Démarche;Canal;Arrivées;DMT\r\n" + "".join(
        f"{hm(k)}:00;triage;{french_channel[c]};{a / 100:,.2f};{h:,};;\r\n".replace(",", "#")
        .replace(".", ",").replace("#", "\u202f") for k, c, a, h in cells)
    read_own = fc.parse_forecast(own, "own.csv")
    read_french = fc.parse_forecast(french, "fr.csv")
    assert read_french.interval_min == read_own.interval_min
    assert [(r.minute, r.channel, r.arrivals, r.aht_s) for r in read_french.rows] == [
        (r.minute, r.channel, r.arrivals, r.aht_s) for r in read_own.rows]
