"""The admins' and the newcomer's commands in French first, English with ``--lang en`` or ``GUICHET_LANG=en``.

Each command runs in its own process, as an admin runs it: ``skills check`` and ``sites check``
(file:line: reason), ``users``, ``agents``, ``purge``, ``db upgrade`` and ``serve``'s start errors (one
line naming the setting). ``guichet demo`` is run in French by ``test_demo_history`` and in English by
``test_demo_browser``. The ``commands`` catalogue leaves no string untranslated and keeps every placeholder.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from dispatcher.catalogues import extract_commands
from dispatcher.i18n import COMMANDS, LANGUAGES

ENGLISH_WORDS = re.compile(r"\b(the|of|and|with|is|not|unknown|expected|missing|must|cannot|error|"
                           r"account|password|agents?|removed|would)\b", re.IGNORECASE)
"""Words only an English sentence would hold (the file names, codes and values aside)."""


def _guichet(*args: str, cwd: Path, lang: str | None = None, stdin: str = "",
             **env_extra: str) -> subprocess.CompletedProcess[str]:
    """``guichet ARGS`` in a fresh process; ``lang``: GUICHET_LANG (unset: French, the default)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("GUICHET_") and k not in ("REDIS_URL", "DATABASE_URL")}
    env["GUICHET_DATA_DIR"] = str(cwd / "var")
    if lang is not None:
        env["GUICHET_LANG"] = lang
    env.update(env_extra)
    return subprocess.run([sys.executable, "-m", "guichet.cli", *args], cwd=cwd, env=env, input=stdin,
                          capture_output=True, text=True, timeout=60, check=False)


def _french(text: str) -> None:
    prose = re.sub(r"\S*[/'_]\S*|--\S+", "", text)  # paths, quoted values, settings and options aside
    assert ENGLISH_WORDS.findall(prose) == [], text
    assert "Traceback" not in text


def test_skills_and_sites_check_say_file_line_and_reason_in_french_then_english(tmp_path: Path) -> None:
    matrix = tmp_path / "agents.csv"
    matrix.write_text("agent_id,name,channels,passport,permis\na1,Anne,phone|visio,4,2\n", encoding="utf-8")
    french = _guichet("skills", "check", str(matrix), cwd=tmp_path)
    assert french.returncode == 2
    assert f"{matrix}:2:col channels: canal 'visio' inconnu (attendu l'un de : phone," in french.stdout
    assert f"{matrix}:2:col passport: niveau '4' invalide (attendu 1, 2 ou 3)" in french.stdout
    assert f"{matrix}:1:col permis: démarche 'permis' inconnue" in french.stdout
    assert f"{matrix}: note : vérifié selon le catalogue d'exemple fourni ; nommez le vôtre" in french.stdout
    _french(french.stdout)
    english = _guichet("skills", "check", str(matrix), "--lang", "en", cwd=tmp_path)
    assert english.returncode == 2
    assert f"{matrix}:2:col passport: bad level '4' (expected 1, 2 or 3)" in english.stdout
    assert f"{matrix}: note: checked against the bundled sample catalogue" in english.stdout

    sites = tmp_path / "sites.yaml"
    sites.write_text("version: 1\nletters: {etat_civil: A}\nsites:\n  Hôtel: {}\n", encoding="utf-8")
    french = _guichet("sites", "check", str(sites), cwd=tmp_path)
    assert french.returncode == 2
    assert f"{sites}:2:" in french.stderr and "pas de lettre de ticket pour les domaines" in french.stderr
    assert "sites: code de site 'Hôtel' invalide" in french.stderr
    english = _guichet("sites", "check", str(sites), cwd=tmp_path, lang="en")
    assert "sites: bad site code 'Hôtel'" in english.stderr
    assert _guichet("sites", "check", cwd=tmp_path).stdout.endswith("4 classes de priorité\n")


def test_the_admins_commands_answer_in_french_then_english(tmp_path: Path) -> None:
    short = _guichet("users", "add", "claire", "--role", "supervisor", "--password-stdin", cwd=tmp_path,
                     stdin="court\n")
    assert short.returncode == 2
    assert short.stderr.strip() == "erreur : mot de passe trop court : 10 caractères au moins"
    made = _guichet("users", "add", "claire", "--role", "supervisor", "--password-stdin", "--lang", "en",
                    cwd=tmp_path, stdin="un mot de passe assez long\n")
    assert made.returncode == 0 and made.stdout.strip() == "account claire created (supervisor)"
    listed = _guichet("users", "list", cwd=tmp_path)
    assert listed.stdout.split()[:5] == ["identifiant", "rôle", "agent", "état", "nom"]
    assert "actif" in listed.stdout

    unknown = _guichet("agents", "ready", "zz9", cwd=tmp_path)
    assert unknown.returncode == 2
    assert unknown.stderr.startswith("erreur : agent 'zz9' inconnu (la matrice de compétences a : ")
    assert _guichet("agents", "ready", "zz9", cwd=tmp_path, lang="en").stderr.startswith(
        "error: unknown agent 'zz9' (the skill matrix has: ")

    purge = _guichet("purge", "--retention-days", "0", cwd=tmp_path)
    assert purge.returncode == 2 and purge.stderr.strip() == "erreur : --retention-days 0: au moins 1"
    dry = _guichet("purge", "--dry-run", cwd=tmp_path)  # the accounts' database, no Redis yet
    assert dry.returncode == 0, dry.stderr
    assert re.match(r"Historique SQL, avant le \d{4}-\d\d-\d\d : 0 usagers, 0 contacts et 0 rappels "
                    r"perdraient leurs données personnelles\nRedis : aucun état en direct trouvé", dry.stdout)
    _french(dry.stdout)
    dry = _guichet("purge", "--dry-run", "--lang", "en", cwd=tmp_path)
    assert "callbacks would lose their personal data" in dry.stdout
    url = f"sqlite+aiosqlite:///{tmp_path / 'h.sqlite'}"
    assert _guichet("db", "upgrade", "--database-url", url, cwd=tmp_path).stdout.startswith(
        "base d'historique à la révision ")
    assert _guichet("db", "upgrade", "--database-url", url, cwd=tmp_path, lang="en").stdout.startswith(
        "history database at revision ")

    (tmp_path / "a-file").write_text("")
    serve = _guichet("serve", cwd=tmp_path, GUICHET_DATA_DIR=str(tmp_path / "a-file"))
    assert serve.returncode == 2
    assert serve.stderr.strip() == f"erreur : GUICHET_DATA_DIR: {tmp_path / 'a-file'} est un fichier, pas un dossier"
    serve = _guichet("serve", "--lang", "en", cwd=tmp_path, GUICHET_LOG_FORMAT="xml")
    assert serve.stderr.strip() == "error: GUICHET_LOG_FORMAT: 'xml' is not one of text, json"
    wrong = _guichet("purge", "--lang", "de", cwd=tmp_path)
    assert wrong.returncode == 2 and "'de': fr or en" in wrong.stderr


def test_every_command_string_is_translated_in_every_language_and_none_is_stale() -> None:
    wanted = {m.id for m in extract_commands() if m.id}
    assert len(wanted) > 200
    for lang in LANGUAGES:
        with COMMANDS.catalogue_path(lang).open("rb") as po:
            catalog = read_po(po, locale=lang, domain=COMMANDS.name)
        have = {m.id: m for m in catalog if m.id}
        assert sorted(wanted - set(have)) == [], f"{lang}: strings missing from the catalogue"
        assert sorted(set(have) - wanted) == [], f"{lang}: strings no command uses any more"
        assert [i for i, m in have.items() if not m.string] == [], f"{lang}: untranslated"
        assert [i for i, m in have.items() if m.fuzzy] == [], f"{lang}: fuzzy"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_placeholders_survive_the_translation(lang: str) -> None:
    fields = re.compile(r"\{[^}]*\}")
    ids = [m.id for m in extract_commands() if isinstance(m.id, str) and m.id]
    for source in ids:
        text = COMMANDS.translations(lang).gettext(source)
        assert sorted(fields.findall(text)) == sorted(fields.findall(source)), (lang, source)
    differ = sum(COMMANDS.translations("fr").gettext(s) != s for s in ids)
    assert differ > 180  # nearly every string reads differently in French
