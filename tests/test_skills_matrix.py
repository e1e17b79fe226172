"""The skill matrix: the bundled sample, and CSV <-> YAML round trips."""

from __future__ import annotations

import codecs
from collections import Counter
from pathlib import Path

import pytest
import yaml

import skills._files
from skills.catalogue import default_catalogue, parse_catalogue
from skills.coverage import uncovered
from skills.matrix import (
    default_matrix,
    load_matrix,
    matrix_to_csv,
    matrix_to_yaml,
    parse_matrix_csv,
    parse_matrix_yaml,
    write_matrix,
)
from skills.model import (
    LIVE_CHANNELS,
    AgentProfile,
    Catalogue,
    Channel,
    SkillMatrix,
)


@pytest.fixture(autouse=True)
def _english(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests read the English wording (French is the default): GUICHET_LANG=en."""
    monkeypatch.setenv("GUICHET_LANG", "en")

DATA = Path(__file__).parents[1] / "skills" / "data"
WRITTEN = {Channel.EMAIL, Channel.WEBFORM, Channel.MAIL}


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return default_catalogue()


@pytest.fixture(scope="module")
def sample(catalogue: Catalogue) -> SkillMatrix:
    return default_matrix(catalogue)


# ------------------------------------------------------------------ the sample


def test_sample_size_and_forms_agree(catalogue: Catalogue, sample: SkillMatrix) -> None:
    assert 22 <= len(sample.agents) <= 30
    assert load_matrix(DATA / "agents.yaml", catalogue) == sample
    assert load_matrix(DATA / "agents.csv", catalogue) == sample


def test_sample_covers_every_process(catalogue: Catalogue, sample: SkillMatrix) -> None:
    assert uncovered(sample, catalogue) == []
    for code, process in catalogue.processes.items():
        able = [
            a
            for a in sample.agents.values()
            if a.skills.get(code, 0) >= max(2, process.min_level)
            and a.channels & set(process.targets)
        ]
        assert able, code


def test_sample_variety(catalogue: Catalogue, sample: SkillMatrix) -> None:
    agents = list(sample.agents.values())
    competent_counts = [sum(level >= 2 for level in a.skills.values()) for a in agents]
    generalists = [n for n in competent_counts if n >= 40]
    assert 2 <= len(generalists) <= 5
    trainees = [a for a in agents if Counter(a.skills.values())[1] >= 5]
    assert len(trainees) >= 2
    # An expert in every domain with min_level-3 processes, and experts in most domains.
    expert_domains = {
        catalogue.processes[code].domain
        for a in agents
        for code, level in a.skills.items()
        if level == 3
    }
    assert len(expert_domains) >= len(catalogue.domains) - 1
    channel_sets = Counter(frozenset(a.channels) for a in agents)
    assert channel_sets[frozenset({Channel.COUNTER})] >= 2
    assert channel_sets[frozenset({Channel.PHONE})] >= 2
    assert channel_sets[frozenset({Channel.PHONE, Channel.COUNTER})] >= 4
    back_office = [a for a in agents if a.channels and not a.channels & LIVE_CHANNELS]
    assert 1 <= len(back_office) <= 4
    assert all(a.channels & WRITTEN for a in back_office)
    assert sum(a.skills.get("triage", 0) >= 2 for a in agents) >= 5


def test_sample_endpoints_and_desks(sample: SkillMatrix) -> None:
    for agent in sample.agents.values():
        phones = agent.channels & {Channel.PHONE, Channel.CALLBACK}
        if phones:
            assert agent.endpoint == f"PJSIP/agent{agent.agent_id[1:]}"
        if Channel.COUNTER in agent.channels:
            assert agent.desk and (
                agent.desk.startswith("guichet ") or agent.desk.startswith("bureau ")
            )
        else:
            assert agent.desk is None
        assert agent.name[0].isupper() and " " in agent.name
    desks = [a.desk for a in sample.agents.values() if a.desk]
    assert len(desks) == len(set(desks))
    assert any(any(ch in a.name for ch in "éèëïç") for a in sample.agents.values())


def test_sample_files_are_in_writer_form(catalogue: Catalogue, sample: SkillMatrix) -> None:
    """The bundled files are exactly what the writers produce: converting is lossless."""
    assert (DATA / "agents.csv").read_text(encoding="utf-8") == matrix_to_csv(sample, catalogue)
    assert (DATA / "agents.yaml").read_text(encoding="utf-8") == matrix_to_yaml(sample, catalogue)


def test_pure_python_yaml_parser_gives_the_same(
    monkeypatch: pytest.MonkeyPatch, catalogue: Catalogue, sample: SkillMatrix
) -> None:
    monkeypatch.setattr(skills._files, "_YamlLoader", yaml.SafeLoader)
    assert parse_catalogue((DATA / "catalogue.yaml").read_text("utf-8"), "c.yaml") == catalogue
    assert (
        parse_matrix_yaml((DATA / "agents.yaml").read_text("utf-8"), "a.yaml", catalogue) == sample
    )


# ------------------------------------------------------------------ round trips


def tricky_matrix() -> SkillMatrix:
    agents = [
        AgentProfile(
            "a1",
            'Dupont, "Jo" l\'Écuyer',
            {"passport": 3, "triage": 1},
            frozenset({Channel.PHONE, Channel.MAIL}),
            "PJSIP/agent1",
            "guichet 1",
        ),
        AgentProfile(
            "0101",
            "Zoé; Noël",
            {"id_card": 2},
            frozenset({Channel.COUNTER}),
            None,
            "bureau: étage 2",
        ),
        AgentProfile("no", "Agent sans canal", {}, frozenset(), None, None),
        AgentProfile(
            "b.2@x",
            "Ève",
            {"triage": 2, "id_card": 1, "passport": 2},
            frozenset(Channel),
            "SIP/poste-12",
            None,
        ),
    ]
    return SkillMatrix(agents={a.agent_id: a for a in agents})


@pytest.mark.parametrize("with_catalogue", [True, False])
def test_csv_round_trip(catalogue: Catalogue, with_catalogue: bool) -> None:
    matrix = tricky_matrix()
    text = matrix_to_csv(matrix, catalogue if with_catalogue else None)
    again = parse_matrix_csv(text, "m.csv", catalogue)
    assert again == matrix
    assert list(again.agents) == list(matrix.agents)


def test_yaml_round_trip(catalogue: Catalogue) -> None:
    matrix = tricky_matrix()
    text = matrix_to_yaml(matrix, catalogue)
    assert parse_matrix_yaml(text, "m.yaml", catalogue) == matrix
    assert '"0101"' in text and "agent_id: a1\n" in text  # quoted only when needed


def test_csv_yaml_csv_is_byte_identical(tmp_path: Path, catalogue: Catalogue) -> None:
    source = DATA / "agents.csv"
    matrix = load_matrix(source, catalogue)
    write_matrix(matrix, tmp_path / "m.yaml", catalogue)
    write_matrix(load_matrix(tmp_path / "m.yaml", catalogue), tmp_path / "m.csv", catalogue)
    assert (tmp_path / "m.csv").read_bytes() == source.read_bytes()


def test_excel_csv_round_trip(tmp_path: Path, catalogue: Catalogue) -> None:
    matrix = tricky_matrix()
    path = tmp_path / "excel.csv"
    write_matrix(matrix, path, catalogue, excel=True)
    data = path.read_bytes()
    assert data.startswith(codecs.BOM_UTF8)
    assert data[3:].startswith(b"agent_id;name;channels;endpoint;desk;triage;")
    assert load_matrix(path, catalogue) == matrix


def test_writer_column_order_without_catalogue() -> None:
    text = matrix_to_csv(tricky_matrix())
    assert text.splitlines()[0] == "agent_id,name,channels,endpoint,desk,passport,triage,id_card"
    assert text.splitlines()[4].startswith("b.2@x,Ève,phone|counter|callback|email|webform|mail,")


def test_write_matrix_refuses_unknown_extension(tmp_path: Path) -> None:
    from skills.errors import SkillFileError

    with pytest.raises(SkillFileError) as excinfo:
        write_matrix(tricky_matrix(), tmp_path / "m.xlsx")
    assert "unknown output format" in excinfo.value.reason
    assert not list(tmp_path.iterdir())


def test_load_by_content_when_the_extension_says_nothing(
    tmp_path: Path, catalogue: Catalogue
) -> None:
    matrix = tricky_matrix()
    (tmp_path / "matrix.txt").write_text(matrix_to_csv(matrix), encoding="utf-8")
    (tmp_path / "matrix.conf").write_text(matrix_to_yaml(matrix), encoding="utf-8")
    assert load_matrix(tmp_path / "matrix.txt", catalogue) == matrix
    assert load_matrix(tmp_path / "matrix.conf", catalogue) == matrix
