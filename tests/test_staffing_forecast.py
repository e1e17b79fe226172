"""Forecast files (validation by example), history-derived forecasts and a day of staffing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from xml.etree import ElementTree
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from simulations import erlang, report, staffing
from simulations import forecast as fc

pytestmark = pytest.mark.usefixtures("english_wording")  # French, the default, is read in test_planner_lang


HEADER = "interval,process,channel,arrivals,aht_s\n"


def problems(text: str, **kwargs) -> list[str]:
    kwargs.setdefault("interval_min", 15)
    with pytest.raises(fc.ForecastError) as info:
        fc.parse_forecast(text, "day.csv", **kwargs)
    return info.value.problems


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("8.30,triage,phone,3,180\n", "day.csv:2: interval '8.30' is not a time (08:30"),
        ("24:00,triage,phone,3,180\n", "day.csv:2: interval '24:00' is not a time"),
        ("08:30:15,triage,phone,3,180\n", "day.csv:2: interval '08:30:15' is not a time"),
        ("08:30,triage,phone,3,180\n08:40,triage,phone,3,180\n",
         "day.csv:3: interval 08:40 is not on the 15-minute grid"),
        ("08:30,,phone,3,180\n", "day.csv:2: empty process code"),
        ("08:30,triage,fax,3,180\n", "day.csv:2: channel 'fax' is unknown"),
        ("08:30,triage,courriel,3,180\n", "day.csv:2: channel 'courriel' is a deferrable"),
        ("08:30,triage,email,3,180\n", "day.csv:2: channel 'email' is a deferrable channel"),
        ("08:30,triage,phone,three,180\n", "day.csv:2: arrivals 'three' is not a number"),
        ("08:30,triage,phone,-1,180\n", "day.csv:2: arrivals -1 is negative"),
        ("08:30,triage,phone,nan,180\n", "day.csv:2: arrivals 'nan' is not a number"),
        ("08:30,triage,phone,3,0\n", "day.csv:2: average handling time 0 must be > 0 seconds"),
        ("08:30,triage,phone,3\n", "day.csv:2: 4 fields, expected 5"),
        ("08:30,triage,phone,3,180\n08:30,triage,phone,2,180\n",
         "day.csv:3: 08:30 triage phone already given on line 2"),
    ],
)
def test_bad_rows_are_reported_with_file_and_line(body: str, expected: str) -> None:
    found = problems(HEADER + body)
    assert any(p.startswith(expected) for p in found), found


def test_bad_headers_and_empty_files() -> None:
    assert problems("")[0].startswith("day.csv:1: empty forecast")
    assert problems("# only a comment\n\n")[0].startswith("day.csv:1: empty forecast")
    found = problems("time,process,channel,arrivals,aht_s\n08:30,triage,phone,1,180\n")
    assert found[0].startswith("day.csv:1: missing column(s) interval")
    assert problems("interval,process,channel,arrivals,aht_s,colour\n")[0].startswith(
        "day.csv:1: unknown column(s) colour")
    assert problems(HEADER)[0] == "day.csv:1: the forecast has a header but no rows"
    # One interval only: its length cannot be read from the file, so it must be given.
    found = problems(HEADER + "08:30,triage,phone,1,180\n", interval_min=None)
    assert found == [("day.csv: one interval only: its length cannot be read from the times; "
                     "give it (--interval-minutes 15, 30 or 60)")]


def test_every_problem_is_reported_at_once() -> None:
    text = HEADER + "08:30,triage,phone,x,180\n# comment\n\n09:00,triage,fax,1,180\n"
    found = problems(text)
    assert [p.split(": ")[0] for p in found] == ["day.csv:2", "day.csv:5"]
    assert "day.csv:5" in str(fc.ForecastError(found))


def test_french_spreadsheet_export_is_accepted() -> None:
    text = "\ufeffinterval;process;channel;arrivals;aht_s;domain\n08:30;triage;phone;3,5;180;accueil\n"
    forecast = fc.parse_forecast(text.lstrip("\ufeff"), "day.csv", interval_min=15)
    row = forecast.rows[0]
    assert (row.start, row.arrivals, row.aht_s, row.domain) == ("08:30", 3.5, 180.0, "accueil")


def test_files_that_cannot_be_read(tmp_path: Path) -> None:
    with pytest.raises(fc.ForecastError) as info:
        fc.load_forecast(tmp_path / "missing.csv")
    assert "missing.csv: cannot read" in str(info.value)
    garbled = tmp_path / "garbled.csv"
    garbled.write_bytes((HEADER + "08:30,d\u00e9marche,phone,1,180\n").encode("latin-1")
                        + b"08:45,d\x81marche,phone,1,180\n")
    with pytest.raises(fc.ForecastError) as info:
        fc.load_forecast(garbled)
    assert str(info.value) == (f"{garbled}:2: neither UTF-8 nor Windows-1252 text: in Excel, "
                               "save it as 'CSV UTF-8 (délimité par des virgules)'")


def test_the_sample_forecast() -> None:
    forecast = fc.load_forecast(fc.sample_forecast_path())
    processes = {r.process for r in forecast.rows}
    assert len(processes) == 12
    assert {r.channel for r in forecast.rows} == {"phone", "counter"}
    assert forecast.minutes[0] == 8 * 60 + 30 and forecast.minutes[-1] == 17 * 60 + 15
    calls = sum(r.arrivals for r in forecast.rows if r.channel == "phone")
    visits = sum(r.arrivals for r in forecast.rows if r.channel == "counter")
    # ~60,000 operations a year in a town of 40,000: a busy day sees a few hundred contacts.
    assert 150 < calls < 250 and 60 < visits < 150
    per_slot = {m: sum(r.arrivals for r in forecast.rows if r.minute == m and
                       r.channel == "phone") for m in forecast.minutes}
    assert per_slot[10 * 60] > 2 * per_slot[12 * 60 + 30]  # morning peak, lunch dip
    assert per_slot[14 * 60] > 2 * per_slot[12 * 60 + 30]  # after-lunch peak


def test_a_day_of_staffing_on_the_sample() -> None:
    day = fc.staff_day(fc.load_forecast(fc.sample_forecast_path()), shrinkage=0.3)
    assert day.target_source == "catalogue"
    phone = [r for r in day.by_process if r.channel == "phone"]
    assert {(r.sl_target, r.within_s) for r in phone} == {(0.8, 20.0)}
    assert {r.within_s for r in day.by_process if r.channel == "counter"} == {600.0}
    totals = day.totals()
    for t in totals.values():
        for c in ("phone", "counter"):
            # Pooling never needs more agents: one queue <= skill groups <= processes.
            assert t[f"{c}_queue"] <= t[f"{c}_groups"] <= t[f"{c}_processes"]
    # Every row is the solver's minimal answer for its pooled traffic and target.
    for r in day.by_channel:
        again = staffing.required_agents(r.load_erl, r.aht_s, service_level=r.sl_target,
                                         within_s=r.within_s, shrinkage=0.3)
        assert (int(again.agents), int(again.scheduled)) == (r.agents, r.scheduled)
    passport = [r for r in day.by_process if r.process == "passport" and r.channel == "counter"]
    closed = [r for r in passport if r.arrivals == 0]
    assert closed and all(r.agents == 0 for r in closed)  # appointments only: 0, no error


def test_options_override_the_catalogue_and_no_catalogue_uses_defaults() -> None:
    forecast = fc.parse_forecast(HEADER + "08:30,triage,phone,10,180\n09:00,triage,phone,0,180\n"
                                 "08:30,unknown_process,counter,2,600\n", "day.csv", 15)
    day = fc.staff_day(forecast, service_level=0.9, within_s=15.0)
    assert day.target_source == "options"
    assert {(r.sl_target, r.within_s) for r in day.by_process} == {(0.9, 15.0)}
    bare = fc.staff_day(forecast, catalogue=None)
    assert bare.target_source == "defaults"
    by = {(r.process, r.channel): r for r in bare.by_process}
    assert (by[("triage", "phone")].within_s, by[("unknown_process", "counter")].within_s) == (
        20.0, 600.0)
    assert by[("unknown_process", "counter")].domain == fc.NO_DOMAIN
    assert [r.agents for r in bare.by_process if r.minute == 9 * 60] == [0]
    # The minutes between the first and the last row are all there.
    assert bare.minutes == [8 * 60 + 30, 8 * 60 + 45, 9 * 60]


def test_erlang_a_day() -> None:
    forecast = fc.parse_forecast(HEADER + "08:30,triage,phone,30,180\n", "day.csv", 15)
    day_c = fc.staff_day(forecast, catalogue=None)
    day_a = fc.staff_day(forecast, catalogue=None, patience_s=90.0)
    assert day_a.by_channel[0].p_abandon > 0
    assert day_a.by_channel[0].agents <= day_c.by_channel[0].agents


@dataclass
class Contact:
    arrived_at: float
    process: str | None
    channel: str
    handle_s: float | None


def test_forecast_from_history_averages_over_the_days_present() -> None:
    paris = ZoneInfo("Europe/Paris")

    def at(day: int, hh: int, mm: int) -> float:
        return datetime(2026, 3, day, hh, mm, tzinfo=paris).timestamp()

    records = [
        # Monday: 3 passport calls at 9:00-9:15, one unqualified call, one e-mail.
        Contact(at(2, 9, 1), "passport", "phone", 200.0),
        Contact(at(2, 9, 7), "passport", "phone", 400.0),
        {"arrived_at": at(2, 9, 14), "process": "passport", "channel": "phone", "handle_s": None},
        {"arrived_at": at(2, 10, 0), "process": None, "channel": "phone", "handle_s": 120.0},
        {"arrived_at": at(2, 10, 5), "process": "passport", "channel": "email", "handle_s": 60.0},
        # Tuesday: one passport call at 9:10, nothing else; Wednesday: a counter visit.
        Contact(at(3, 9, 10), "passport", "phone", 300.0),
        Contact(at(4, 16, 50), "passport", "counter", None),
    ]
    forecast = fc.forecast_from_history(records)
    rows = {(r.start, r.process, r.channel): r for r in forecast.rows}
    # The e-mail is deferrable (not staffed per interval); the counter visit has no
    # handling time anywhere: left out unless a default is given.
    assert set(rows) == {("09:00", "passport", "phone"), ("10:00", "triage", "phone")}
    passport = rows[("09:00", "passport", "phone")]
    assert passport.arrivals == pytest.approx(4 / 3)  # 4 calls over 3 days present
    assert passport.aht_s == pytest.approx(300.0)  # mean of the handled ones
    assert rows[("10:00", "triage", "phone")].arrivals == pytest.approx(1 / 3)
    with_default = fc.forecast_from_history(records, default_aht_s=600.0)
    assert any(r.channel == "counter" and r.aht_s == 600.0 for r in with_default.rows)
    # It feeds the same staffing as a file.
    day = fc.staff_day(forecast, catalogue=None)
    assert all(r.agents >= 1 for r in day.by_process)
    assert fc.forecast_from_history([]).rows == ()


def test_reports_are_written_in_french_by_default(tmp_path: Path) -> None:
    day = fc.staff_day(fc.load_forecast(fc.sample_forecast_path()), shrinkage=0.25,
                       patience_s={"phone": 120.0})
    paths = report.write_reports(day, tmp_path / "out")
    svg = ElementTree.parse(paths["svg"]).getroot()  # well-formed XML
    texts = {t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")}
    # Labelled axes, the domains' labels (not their codes), the targets and abandons drawn.
    assert {"heure", "agents", "Téléphone : NS %", "Téléphone : cible", "Accueil : cible",
            "Téléphone : abandons %", "État civil et titres d'identité"} <= texts, texts
    assert "etat_civil" not in texts
    page = paths["html"].read_text(encoding="utf-8")
    assert '<html lang="fr">' in page and "<svg" in page and "Effectifs de la journée" in page
    for header in ("Téléphone agents", "Téléphone NS %", "Téléphone ASA s",
                   "Téléphone abandons %", "Téléphone occup. %", "Accueil cible"):
        assert f">{header}</th>" in page, header
    lines = paths["csv"].read_text(encoding="utf-8").splitlines()
    assert lines[0].split(",") == list(report.CSV_COLUMNS)
    levels = {line.split(",")[0] for line in lines[1:]}
    assert levels == {"queue", "group", "process"}
    n_rows = len(day.by_channel) + len(day.by_group) + len(day.by_process)
    assert len(lines) == 1 + n_rows
    agents = np.array([int(line.split(",")[10]) for line in lines[1:]])
    assert agents.min() == 0 and agents.max() > 0

    english = report.write_reports(day, tmp_path / "en", lang="en", csv_locale="fr")
    assert '<html lang="en">' in english["html"].read_text(encoding="utf-8")
    texts = {t.text for t in ElementTree.parse(english["svg"]).getroot().iter(
        "{http://www.w3.org/2000/svg}text")}
    assert {"time", "Phone: SL %", "Phone: target"} <= texts
    raw = english["csv"].read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # French Excel needs the BOM to read UTF-8
    french = raw.decode("utf-8-sig").splitlines()
    assert french[0].split(";") == list(report.CSV_COLUMNS)
    assert french[1].split(";")[5] == lines[1].split(",")[5].replace(".", ",")


def test_an_empty_history_cannot_be_staffed() -> None:
    with pytest.raises(fc.ForecastError):
        fc.staff_day(fc.forecast_from_history([]))


def test_erlang_a_per_channel_with_a_maximum_abandon_rate() -> None:
    forecast = fc.parse_forecast(HEADER + "08:30,triage,phone,30,180\n08:30,triage,counter,6,600\n"
                                 "08:45,triage,phone,40,180\n08:45,triage,counter,6,600\n", "day.csv")
    day = fc.staff_day(forecast, catalogue=None, patience_s={"phone": 60.0}, max_abandon=0.02)
    for r in day.by_channel:
        if r.channel == "counter":  # no patience given: Erlang C, nobody abandons
            assert r.p_abandon == 0.0
            continue
        assert 0 < r.p_abandon <= 0.02
        # the fewest agents: one less misses the abandon cap or the service level
        less = erlang.erlang_a(r.agents - 1, r.load_erl, r.aht_s, 60.0, r.within_s)
        assert float(less.p_abandon) > 0.02 or float(less.sl_offered) < r.sl_target
    plain = fc.staff_day(forecast, catalogue=None, patience_s={"phone": 60.0})
    assert sum(r.agents for r in day.by_channel) > sum(r.agents for r in plain.by_channel)
    with pytest.raises(ValueError, match="needs a patience"):
        fc.staff_day(forecast, catalogue=None, max_abandon=0.02)
