"""The planner's commands as a planner runs them: French first, English on request, 100 columns.

Each command runs in its own process with its output piped (as in CI or ``| tee``): the
messages name the file, the line and the reason in the chosen language, every table reads in
100 columns with nothing cut ("…"), and the catalogue leaves no string untranslated.
"""

from __future__ import annotations

import asyncio
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from dispatcher.history.migrate import upgrade
from simulations.catalogues import extract
from simulations.i18n import DOMAIN, LANGUAGES, catalogue_path, translations
from tests.test_stats_occupancy import A1, A3, _contacts, _insert, at

DATA = Path(__file__).parent / "data" / "forecasts"
ENGLISH_WORDS = re.compile(r"\b(the|of|and|with|within|answered|arrived|waiting|replications?|"
                           r"required|intervals|error|invalid|lines like|expected|mean)\b", re.IGNORECASE)
"""Words that only an English sentence would hold (the process codes have none of them)."""
FRENCH_WORDS = re.compile(r"\b(le|la|les|des|du|par|créneaux?|démarches?|attendu|moyenne|"
                          r"prévision|réplications?|téléphone)\b", re.IGNORECASE)
"""Words that only a French sentence would hold ("accueil" is also in the catalogue's domain labels)."""


def _guichet(*args: str, cwd: Path, lang: str | None = None) -> subprocess.CompletedProcess[str]:
    """``guichet ARGS`` in a fresh process, its output piped; ``lang``: GUICHET_LANG."""
    env = {k: v for k, v in os.environ.items() if k not in ("GUICHET_LANG", "COLUMNS")}
    if lang is not None:
        env["GUICHET_LANG"] = lang
    return subprocess.run([sys.executable, "-m", "guichet.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def _readable_in_100_columns(text: str) -> None:
    assert "…" not in text, text
    too_wide = [line for line in text.splitlines() if len(line) > 100 and "/" not in line]
    assert too_wide == [], "\n".join(too_wide)  # only a line naming a path may be longer


def _without_paths(text: str) -> str:
    return re.sub(r"\S*/\S*", "", text)


def test_a_bad_french_file_is_refused_in_french_with_file_line_and_reason(tmp_path: Path) -> None:
    path = DATA / "same-mistakes.csv"
    french = _guichet("staffing", "day", str(path), "--out", str(tmp_path), cwd=tmp_path)
    assert french.returncode == 2 and french.stdout == ""
    assert "prévision invalide (2 sortes de problèmes) :" in french.stderr
    assert f"{path}:2: le créneau '8.30' n'est pas une heure (08:30, 08:30:00, 8h30 ou " in french.stderr
    assert "lignes de ce genre : 2, 3" in french.stderr  # one message per kind, with the count
    assert f"{path}:2: canal 'visio' inconnu" in french.stderr
    assert "Traceback" not in french.stderr
    assert ENGLISH_WORDS.findall(_without_paths(french.stderr)) == [], french.stderr

    for english in (_guichet("staffing", "day", str(path), "--out", str(tmp_path), "--lang", "en",
                             cwd=tmp_path),
                    _guichet("staffing", "day", str(path), "--out", str(tmp_path), cwd=tmp_path,
                             lang="en")):
        assert english.returncode == 2
        assert "invalid forecast" in english.stderr
        assert f"{path}:2: interval '8.30' is not a time (08:30, 08:30:00, 8h30 or " in english.stderr
        assert f"{path}:2: channel 'visio' is unknown" in english.stderr

    mixed = _guichet("staffing", "day", str(DATA / "mixed-steps.csv"), cwd=tmp_path)
    assert mixed.returncode == 2
    assert "une seule durée de créneau par fichier" in mixed.stderr
    wrong = _guichet("staffing", "day", "--lang", "de", cwd=tmp_path)
    assert wrong.returncode == 2 and "'de': fr or en" in wrong.stderr


def test_a_bad_schedule_and_bad_options_are_refused_in_french(tmp_path: Path) -> None:
    schedule = tmp_path / "planning.csv"
    schedule.write_text("agent_id,start,end\na101,12:00,08:30\n")
    result = _guichet("simulate", "-r", "1", "--schedule", str(schedule), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (f"erreur : {schedule}:2: la vacation finit (08:30) avant de "
                                     "commencer (12:00)")
    whatif = _guichet("whatif", cwd=tmp_path, lang="en")
    assert whatif.returncode == 2 and whatif.stderr.startswith("error: say what variant B changes")


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_every_planner_table_reads_in_100_columns_in_its_language(tmp_path: Path, lang: str) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'h.sqlite'}"
    upgrade(url, "head")
    asyncio.run(_insert(url, {"a1": A1, "a3": A3},
                        _contacts("a1", [at(8, 10), at(8, 30, 20), at(11, 0)]) + _contacts("a3", [at(9, 0)])))
    runs = {
        "staffing day": ("staffing", "day", str(DATA / "excel-fr-30min.csv"), "--out", str(tmp_path / "o"),
                         "--patience", "phone=180,counter=1800"),
        "staffing interval": ("staffing", "interval", "--calls-per-hour", "120", "--aht", "240",
                              "--patience", "180", "--shrinkage", "30"),
        "simulate": ("simulate", "-r", "2"),
        "whatif": ("whatif", "-r", "2", "--train", "2:passport:2"),
        "stats": ("stats", "--from", "2023-11-14", "--database-url", url),
        "stats by agent": ("stats", "--from", "2023-11-14", "--by", "agent", "--database-url", url),
    }
    if lang == "en":  # the English wording once per kind of table
        runs = {name: runs[name] for name in ("staffing day", "whatif", "stats")}
    wrong_words = ENGLISH_WORDS if lang == "fr" else FRENCH_WORDS
    for name, args in runs.items():
        result = _guichet(*args, cwd=tmp_path, lang=lang)
        assert result.returncode == 0, (name, result.stderr)
        _readable_in_100_columns(result.stdout)
        assert wrong_words.findall(_without_paths(result.stdout)) == [], (name, result.stdout)
    simulated = _guichet("simulate", "-r", "2", cwd=tmp_path, lang=lang).stdout
    assert ("Journée simulée" if lang == "fr" else "Simulated day") in simulated
    assert ("n.d." if lang == "fr" else "n/a") in simulated


def test_every_string_is_translated_in_every_language_and_none_is_stale() -> None:
    wanted = {m.id for m in extract() if m.id}
    assert len(wanted) > 150
    for lang in LANGUAGES:
        with catalogue_path(lang).open("rb") as po:
            catalog = read_po(po, locale=lang, domain=DOMAIN)
        have = {m.id: m for m in catalog if m.id}
        assert sorted(wanted - set(have)) == [], f"{lang}: strings missing from the catalogue"
        assert sorted(set(have) - wanted) == [], f"{lang}: strings no command uses any more"
        assert [i for i, m in have.items() if not m.string] == [], f"{lang}: untranslated"
        assert [i for i, m in have.items() if m.fuzzy] == [], f"{lang}: fuzzy"


def test_the_placeholders_survive_the_translation_and_french_is_french() -> None:
    fields = re.compile(r"\{[^}]*\}")
    differ = 0
    ids = [m.id for m in extract() if isinstance(m.id, str) and m.id]  # no plural forms here
    for source in ids:
        for lang in LANGUAGES:
            text = translations(lang).gettext(source)
            assert sorted(fields.findall(text)) == sorted(fields.findall(source)), (lang, source)
        differ += translations("fr").gettext(source) != source
    assert differ > 150  # most strings read differently in French
    assert translations("fr").gettext("invalid forecast ({kinds}):") == "prévision invalide ({kinds}) :"


def test_the_bench_console_fits_a_wide_table_in_100_columns_without_cutting_a_word() -> None:
    from rich.table import Table

    from guichet.bench import BenchConsole

    screen = io.StringIO()
    console = BenchConsole(file=screen, width=100)
    table = Table(title="wallboard: 200 SSE clients, 100 calls/s for 10 s (fake Asterisk)")
    headers = ("phase", "calls", "inputs", "routing p50 µs", "routing p99 µs", "snapshots read",
               "event→screen p50 ms", "event→screen p99 ms", "dropped")
    for header in headers:
        table.add_column(header, justify="right")
    table.add_row("baseline, no wallboard", "5,012", "15,036", "12.5", "80.1", "1,200", "12", "45", "0")
    table.add_row("200 wallboards", "5,011", "15,033", "13.1", "95.4", "1,180", "14", "61", "0")
    console.print(table)
    text = screen.getvalue()
    _readable_in_100_columns(text)
    shown = set(text.split())
    for word in {w for h in headers for w in h.split()} | {"baseline,", "wallboard", "15,036"}:
        assert word in shown, word  # each word whole, on one line
