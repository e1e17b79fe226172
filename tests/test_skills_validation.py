"""Every refusal of a bad catalogue or skill-matrix file, by example.

Each case writes a small bad file into tmp_path and checks the file name, the
line (and CSV column) and the reason of the problem reported.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable
from pathlib import Path

import pytest

from skills.catalogue import load_catalogue
from skills.errors import Problem, SkillFileError
from skills.matrix import load_matrix
from skills.model import Catalogue, Channel, ChannelTarget, Process


@pytest.fixture(autouse=True)
def _english(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests read the English wording (French is the default): GUICHET_LANG=en."""
    monkeypatch.setenv("GUICHET_LANG", "en")

Writer = Callable[[str, str | bytes], Path]


@pytest.fixture
def write(tmp_path: Path) -> Writer:
    def _write(name: str, content: str | bytes) -> Path:
        path = tmp_path / name
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_bytes(content)
        return path

    return _write


def problems_of(excinfo: pytest.ExceptionInfo[SkillFileError]) -> list[str]:
    return [str(p) for p in excinfo.value.problems]


def has_problem(
    excinfo: pytest.ExceptionInfo[SkillFileError],
    line: int | None,
    fragment: str,
    column: str | None = None,
) -> Problem:
    for problem in excinfo.value.problems:
        if (
            problem.line == line
            and fragment in problem.reason
            and (column is None or problem.column == column)
        ):
            return problem
    raise AssertionError(f"no problem at line {line} with {fragment!r}: {problems_of(excinfo)}")


# ------------------------------------------------------------------ a small valid catalogue

TARGETS = """\
defaults:
  targets:
    phone:    {handling: 4m, sla: 20s, sla_percent: 80, overflow: 45s}
    counter:  {handling: 8m, sla: 10m, sla_percent: 80, overflow: 6m}
    callback: {handling: 5m, sla: 48h, sla_percent: 100, overflow: 24h}
    email:    {handling: 6m, sla: 72h, sla_percent: 100, overflow: 48h}
    webform:  {handling: 5m, sla: 72h, sla_percent: 100, overflow: 48h}
    mail:     {handling: 8m, sla: 72h, sla_percent: 100, overflow: 48h}
"""  # 8 lines

GOOD_CATALOGUE = (
    "version: 1\n"  # line 1
    + TARGETS  # lines 2-9
    + """\
domains:
  accueil: Accueil
  etat_civil: État civil
processes:
  - code: triage
    label: Accueil généraliste / orientation
    domain: accueil
  - code: passport
    label: Passeport
    domain: etat_civil
    channels: [phone, counter]
"""
)


def small_catalogue() -> Catalogue:
    def targets(*channels: Channel) -> dict[Channel, ChannelTarget]:
        return {c: ChannelTarget(300.0, 20.0) for c in channels}

    return Catalogue(
        processes={
            "triage": Process("triage", "Accueil", "accueil", targets(*Channel)),
            "passport": Process("passport", "Passeport", "etat_civil", targets(Channel.COUNTER)),
            "id_card": Process("id_card", "CNI", "etat_civil", targets(Channel.COUNTER)),
        }
    )


def test_the_good_catalogue_loads(write: Writer) -> None:
    catalogue = load_catalogue(write("catalogue.yaml", GOOD_CATALOGUE))
    assert set(catalogue.processes) == {"triage", "passport"}
    assert set(catalogue.processes["passport"].targets) == {Channel.PHONE, Channel.COUNTER}


# ------------------------------------------------------------------ catalogue refusals


def test_unknown_domain(write: Writer) -> None:
    text = GOOD_CATALOGUE.replace("domain: etat_civil", "domain: etat_cvil")
    with pytest.raises(SkillFileError) as excinfo:
        load_catalogue(write("catalogue.yaml", text))
    problem = has_problem(excinfo, 19, "unknown domain 'etat_cvil' (did you mean 'etat_civil'?)")
    assert problem.path.endswith("catalogue.yaml")
    assert str(problem).endswith(
        "catalogue.yaml:19: process 'passport': unknown domain 'etat_cvil' "
        "(did you mean 'etat_civil'?)"
    )


def test_duplicate_process_code(write: Writer) -> None:
    text = GOOD_CATALOGUE + "  - code: passport\n    label: Encore\n    domain: etat_civil\n"
    with pytest.raises(SkillFileError) as excinfo:
        load_catalogue(write("catalogue.yaml", text))
    has_problem(excinfo, 21, "duplicate process code 'passport' (first at line 17)")


def test_bad_min_level(write: Writer) -> None:
    text = GOOD_CATALOGUE + "    min_level: 4\n"
    with pytest.raises(SkillFileError) as excinfo:
        load_catalogue(write("catalogue.yaml", text))
    has_problem(excinfo, 21, "bad min_level '4' (expected 1, 2 or 3)")


def test_unknown_channel_in_channels_and_targets(write: Writer) -> None:
    text = GOOD_CATALOGUE.replace("[phone, counter]", "[phone, fax]")
    text += "    targets:\n      sms: {handling: 1m}\n"
    with pytest.raises(SkillFileError) as excinfo:
        load_catalogue(write("catalogue.yaml", text))
    has_problem(excinfo, 20, "unknown channel 'fax'")
    has_problem(excinfo, 22, "unknown channel 'sms' in targets")


@pytest.mark.parametrize(
    ("old", "new", "line", "reason"),
    [
        ("    label: Passeport\n", "", 17, "missing required field 'label'"),
        (
            "  - code: passport\n    label: Passeport\n",
            "  - label: Passeport\n",
            17,
            "missing required field 'code'",
        ),
        (
            "    domain: etat_civil\n    channels",
            "    channels",
            17,
            "missing required field 'domain'",
        ),
        ("    label: Passeport\n", "    label: ''\n", 18, "empty required field 'label'"),
    ],
)
def test_missing_required_field(write: Writer, old: str, new: str, line: int, reason: str) -> None:
    with pytest.raises(SkillFileError) as excinfo:
        load_catalogue(write("catalogue.yaml", GOOD_CATALOGUE.replace(old, new)))
    has_problem(excinfo, line, reason)


def test_missing_top_level_sections(write: Writer) -> None:
    with pytest.raises(SkillFileError) as excinfo:
        load_catalogue(write("catalogue.yaml", "version: 1\n" + TARGETS))
    has_problem(excinfo, 1, "missing required field 'domains'")
    has_problem(excinfo, 1, "missing required field 'processes'")


@pytest.mark.parametrize(
    ("content", "reason"),
    [("", "empty file"), ("   \n\n", "empty file"), ("# only a comment\n", "empty file")],
)
def test_empty_catalogue(write: Writer, content: str, reason: str) -> None:
    with pytest.raises(SkillFileError) as excinfo:
        load_catalogue(write("catalogue.yaml", content))
    assert excinfo.value.reason.startswith(reason)
    assert str(excinfo.value).startswith(str(Path(excinfo.value.path)))
    assert excinfo.value.path.endswith("catalogue.yaml")


def test_yaml_syntax_error_has_its_line(write: Writer) -> None:
    text = GOOD_CATALOGUE.replace("[phone, counter]", "[phone, counter")
    with pytest.raises(SkillFileError) as excinfo:
        load_catalogue(write("catalogue.yaml", text))
    error = excinfo.value
    assert error.reason.startswith("YAML syntax error")
    assert error.line == 21  # where the parser found the unclosed list (opened at line 20)
    assert "line 20" in error.reason


def test_bad_indentation_is_a_syntax_error(write: Writer) -> None:
    text = GOOD_CATALOGUE.replace("    domain: accueil\n", "   domain: accueil\n")
    with pytest.raises(SkillFileError) as excinfo:
        load_catalogue(write("catalogue.yaml", text))
    assert excinfo.value.reason.startswith("YAML syntax error")
    assert excinfo.value.line is not None


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("{handling: -5m}", "handling must not be negative, got '-5m'"),
        ("{handling: 0}", "handling must be positive, got '0'"),
        ("{handling: 3h}", "absurd handling time '3h' (at most 2h on phone)"),
        ("{sla: 2h}", "absurd SLA time '2h' (at most 1h on phone)"),
        ("{overflow: -1s}", "overflow must not be negative"),
        ("{sla: ten minutes}", "bad duration 'ten minutes' for sla"),
        ("{sla_percent: 0.8}", "sla_percent '0.8' looks like a fraction"),
        ("{sla_percent: 180}", "absurd sla_percent '180'"),
        ("{handlign: 3m}", "unknown field 'handlign' (did you mean 'handling'?)"),
    ],
)
def test_negative_or_absurd_targets(write: Writer, target: str, reason: str) -> None:
    text = GOOD_CATALOGUE + f"    targets:\n      phone: {target}\n"
    with pytest.raises(SkillFileError) as excinfo:
        load_catalogue(write("catalogue.yaml", text))
    assert len(excinfo.value.problems) == 1, problems_of(excinfo)
    assert excinfo.value.line == 22
    assert reason in excinfo.value.reason


def test_an_absurd_default_is_reported_once_where_it_is_written(write: Writer) -> None:
    text = GOOD_CATALOGUE.replace(
        "mail:     {handling: 8m, sla: 72h", "mail:     {handling: 8m, sla: 400d"
    )
    with pytest.raises(SkillFileError) as excinfo:
        load_catalogue(write("catalogue.yaml", text))
    assert problems_of(excinfo) == [
        f"{excinfo.value.path}:9: defaults, mail: absurd SLA time '400d' (at most 31d on mail)"
    ]


def test_missing_target_for_a_served_channel(write: Writer) -> None:
    text = GOOD_CATALOGUE.replace(
        "    mail:     {handling: 8m, sla: 72h, sla_percent: 100, overflow: 48h}\n", ""
    )
    with pytest.raises(SkillFileError) as excinfo:
        load_catalogue(write("catalogue.yaml", text))
    has_problem(excinfo, 13, "process 'triage': no handling time and SLA time for channel mail (")


def test_missing_targets_are_one_problem_per_process(write: Writer) -> None:
    text = GOOD_CATALOGUE.replace(TARGETS, "defaults:\n  targets:\n    phone: {sla: 20s}\n")
    with pytest.raises(SkillFileError) as excinfo:
        load_catalogue(write("catalogue.yaml", text))
    assert [(p.line, p.reason.split(" (")[0]) for p in excinfo.value.problems] == [
        (9, "process 'triage': no handling time for channel phone"),
        (
            9,
            (
                "process 'triage': no handling time and SLA time for channels counter, callback, "
                "email, webform, mail"
            ),
        ),
        (12, "process 'passport': no handling time for channel phone"),
        (12, "process 'passport': no handling time and SLA time for channel counter"),
    ]


def test_target_for_a_channel_the_process_does_not_serve(write: Writer) -> None:
    text = GOOD_CATALOGUE + "    targets:\n      mail: {handling: 5m}\n"
    with pytest.raises(SkillFileError) as excinfo:
        load_catalogue(write("catalogue.yaml", text))
    has_problem(excinfo, 22, "a target for 'mail' but the process does not serve it")


def test_the_triage_process_must_exist_and_serve_every_channel(write: Writer) -> None:
    text = GOOD_CATALOGUE.replace("  - code: triage\n", "  - code: accueil_general\n")
    with pytest.raises(SkillFileError) as excinfo:
        load_catalogue(write("catalogue.yaml", text))
    assert "the triage process 'triage' is not in the processes list" in str(excinfo.value)

    text = GOOD_CATALOGUE.replace(
        "    domain: accueil\n", "    domain: accueil\n    channels: [phone, counter]\n"
    )
    with pytest.raises(SkillFileError) as excinfo:
        load_catalogue(write("catalogue.yaml", text))
    has_problem(excinfo, 14, "must serve every channel (missing: callback, email, webform, mail)")


def test_unknown_fallback_and_fallback_loop(write: Writer) -> None:
    text = GOOD_CATALOGUE + "    fallback: pasport\n"
    with pytest.raises(SkillFileError) as excinfo:
        load_catalogue(write("catalogue.yaml", text))
    has_problem(excinfo, 21, "unknown fallback process 'pasport' (did you mean 'passport'?)")

    text = GOOD_CATALOGUE + (
        "    fallback: id_card\n"
        "  - code: id_card\n    label: CNI\n    domain: etat_civil\n    fallback: passport\n"
    )
    with pytest.raises(SkillFileError) as excinfo:
        load_catalogue(write("catalogue.yaml", text))
    has_problem(excinfo, 21, "fallback loop passport -> id_card -> passport")


def test_duplicate_yaml_key(write: Writer) -> None:
    text = GOOD_CATALOGUE.replace(
        "  etat_civil: État civil\n", "  etat_civil: État civil\n  accueil: Encore\n"
    )
    with pytest.raises(SkillFileError) as excinfo:
        load_catalogue(write("catalogue.yaml", text))
    has_problem(excinfo, 13, "duplicate key 'accueil' (first at line 11)")


def test_unknown_top_level_field_and_version(write: Writer) -> None:
    text = GOOD_CATALOGUE.replace("version: 1\n", "version: 2\nproceses: []\n")
    with pytest.raises(SkillFileError) as excinfo:
        load_catalogue(write("catalogue.yaml", text))
    has_problem(excinfo, 1, "unsupported catalogue version '2'")
    has_problem(excinfo, 2, "unknown field 'proceses' (did you mean 'processes'?)")


def test_bad_codes(write: Writer) -> None:
    text = GOOD_CATALOGUE.replace("code: passport", "code: Passeport élu")
    text = text.replace("  accueil: Accueil\n", "  accueil: Accueil\n  Bad Domain: X\n")
    with pytest.raises(SkillFileError) as excinfo:
        load_catalogue(write("catalogue.yaml", text))
    has_problem(excinfo, 12, "bad domain code 'Bad Domain'")
    has_problem(excinfo, 18, "bad process code 'Passeport élu'")


def test_several_problems_are_collected_in_line_order(write: Writer) -> None:
    text = GOOD_CATALOGUE.replace("domain: etat_civil", "domain: nowhere")
    text = text.replace("sla: 20s", "sla: -20s")
    text += "    min_level: 9\n"
    with pytest.raises(SkillFileError) as excinfo:
        load_catalogue(write("catalogue.yaml", text))
    lines = [p.line or 0 for p in excinfo.value.problems]
    assert lines == sorted(lines)
    assert len(excinfo.value.problems) == 3
    assert str(excinfo.value).count("\n") == 2  # one line per problem


def test_latin1_catalogue_is_refused(write: Writer) -> None:
    path = write("catalogue.yaml", GOOD_CATALOGUE.encode("cp1252"))
    with pytest.raises(SkillFileError) as excinfo:
        load_catalogue(path)
    assert excinfo.value.line == 12  # "État civil"
    assert "not UTF-8" in excinfo.value.reason
    assert "Windows-1252" in excinfo.value.reason


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SkillFileError) as excinfo:
        load_catalogue(tmp_path / "nope.yaml")
    assert str(excinfo.value) == f"{tmp_path / 'nope.yaml'}: file not found"


# ------------------------------------------------------------------ CSV matrix refusals

HEADER = "agent_id,name,channels,endpoint,desk,triage,passport,id_card\n"
GOOD_ROW = "a101,Nathalie Lefèvre,phone|counter,PJSIP/agent101,guichet 1,3,3,2\n"


def test_the_good_csv_loads(write: Writer) -> None:
    matrix = load_matrix(write("agents.csv", HEADER + GOOD_ROW), small_catalogue())
    agent = matrix.agents["a101"]
    assert agent.skills == {"triage": 3, "passport": 3, "id_card": 2}
    assert agent.channels == {Channel.PHONE, Channel.COUNTER}
    assert (agent.endpoint, agent.desk) == ("PJSIP/agent101", "guichet 1")


def test_bad_level_message_is_exact(write: Writer) -> None:
    text = HEADER + GOOD_ROW + "a102,Karim Benali,counter,,guichet 2,2,4,\n"
    with pytest.raises(SkillFileError) as excinfo:
        load_matrix(write("agents.csv", text), small_catalogue())
    error = excinfo.value
    assert (error.line, error.column, error.reason) == (
        3,
        "passport",
        "bad level '4' (expected 1, 2 or 3)",
    )
    assert str(error) == f"{error.path}:3:col passport: bad level '4' (expected 1, 2 or 3)"
    assert str(error).endswith("agents.csv:3:col passport: bad level '4' (expected 1, 2 or 3)")


@pytest.mark.parametrize("cell", ["0", "x", "-1", "2.5", "deux"])
def test_other_bad_levels(write: Writer, cell: str) -> None:
    text = HEADER + f"a1,A,counter,,,{cell},,\n"
    with pytest.raises(SkillFileError) as excinfo:
        load_matrix(write("agents.csv", text), small_catalogue())
    has_problem(excinfo, 2, f"bad level '{cell}'", column="triage")


def test_unknown_process_column(write: Writer) -> None:
    text = HEADER.replace("id_card", "pasport") + GOOD_ROW
    with pytest.raises(SkillFileError) as excinfo:
        load_matrix(write("agents.csv", text), small_catalogue())
    problem = has_problem(
        excinfo, 1, "unknown process 'pasport' (did you mean 'passport'?)", column="pasport"
    )
    assert str(problem).endswith(
        "agents.csv:1:col pasport: unknown process 'pasport' (did you mean 'passport'?)"
    )


def test_duplicate_agent(write: Writer) -> None:
    text = HEADER + GOOD_ROW + GOOD_ROW.replace("PJSIP/agent101", "PJSIP/agent102")
    with pytest.raises(SkillFileError) as excinfo:
        load_matrix(write("agents.csv", text), small_catalogue())
    has_problem(excinfo, 3, "duplicate agent 'a101' (first at line 2)", column="agent_id")


def test_duplicate_endpoint(write: Writer) -> None:
    text = HEADER + GOOD_ROW + GOOD_ROW.replace("a101", "a102")
    with pytest.raises(SkillFileError) as excinfo:
        load_matrix(write("agents.csv", text), small_catalogue())
    has_problem(
        excinfo, 3, "endpoint 'PJSIP/agent101' is already used by agent 'a101'", column="endpoint"
    )


def test_duplicate_column(write: Writer) -> None:
    text = HEADER.replace("id_card", "passport") + GOOD_ROW
    with pytest.raises(SkillFileError) as excinfo:
        load_matrix(write("agents.csv", text), small_catalogue())
    has_problem(excinfo, 1, "duplicate column 'passport' (columns 7 and 8)")


def test_unknown_channel(write: Writer) -> None:
    text = HEADER + GOOD_ROW.replace("phone|counter", "phone|fax")
    with pytest.raises(SkillFileError) as excinfo:
        load_matrix(write("agents.csv", text), small_catalogue())
    has_problem(excinfo, 2, "unknown channel 'fax'", column="channels")


def test_channels_separated_by_a_comma_get_a_hint(write: Writer) -> None:
    text = HEADER + GOOD_ROW.replace("phone|counter", '"phone,counter"')
    with pytest.raises(SkillFileError) as excinfo:
        load_matrix(write("agents.csv", text), small_catalogue())
    has_problem(excinfo, 2, "separate channels with '|'", column="channels")


def test_missing_required_column_and_cells(write: Writer) -> None:
    text = HEADER.replace("channels,", "") + GOOD_ROW.replace("phone|counter,", "")
    with pytest.raises(SkillFileError) as excinfo:
        load_matrix(write("agents.csv", text), small_catalogue())
    has_problem(excinfo, 1, "missing column channels")

    text = HEADER + ",,counter,,,2,,\n" + "a2,,counter,,,2,,\n"
    with pytest.raises(SkillFileError) as excinfo:
        load_matrix(write("agents.csv", text), small_catalogue())
    has_problem(excinfo, 2, "missing agent_id", column="agent_id")
    has_problem(excinfo, 3, "missing name", column="name")


def test_bad_agent_id_and_endpoint(write: Writer) -> None:
    text = HEADER + "a 1,A,counter,agent101,,2,,\n"
    with pytest.raises(SkillFileError) as excinfo:
        load_matrix(write("agents.csv", text), small_catalogue())
    has_problem(excinfo, 2, "bad agent_id 'a 1'", column="agent_id")
    has_problem(
        excinfo, 2, "bad endpoint 'agent101' (expected TECHNOLOGY/resource", column="endpoint"
    )


def test_too_many_cells(write: Writer) -> None:
    text = HEADER + GOOD_ROW.rstrip("\n") + ",3\n"
    with pytest.raises(SkillFileError) as excinfo:
        load_matrix(write("agents.csv", text), small_catalogue())
    has_problem(excinfo, 2, "9 cells but the header has 8 columns")


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("", "empty file"),
        ("\n\n", "empty file"),
        (",,,\n,,,\n", "empty file"),
        (HEADER, "no agent rows below the header"),
    ],
)
def test_empty_csv(write: Writer, content: str, reason: str) -> None:
    with pytest.raises(SkillFileError) as excinfo:
        load_matrix(write("agents.csv", content), small_catalogue())
    assert excinfo.value.reason == reason
    assert excinfo.value.path.endswith("agents.csv")


def test_latin1_csv_from_excel_is_refused_with_advice(write: Writer) -> None:
    text = HEADER.replace(",", ";") + "a1;Hélène Dupont;counter;;;2;;\n"
    with pytest.raises(SkillFileError) as excinfo:
        load_matrix(write("agents.csv", text.encode("cp1252")), small_catalogue())
    error = excinfo.value
    assert error.line == 2
    assert "not UTF-8" in error.reason
    assert "Windows-1252" in error.reason and "Excel" in error.reason
    assert "Hélène Dupont" in error.reason  # the line as it was meant, to find it
    assert "CSV UTF-8" in error.reason


def test_other_encodings_and_workbooks_are_refused(write: Writer) -> None:
    text = HEADER + GOOD_ROW
    with pytest.raises(SkillFileError) as excinfo:
        load_matrix(
            write("agents.csv", codecs.BOM_UTF16_LE + text.encode("utf-16-le")), small_catalogue()
        )
    assert "UTF-16" in excinfo.value.reason
    with pytest.raises(SkillFileError) as excinfo:
        load_matrix(write("agents.csv", b"PK\x03\x04\x14\x00\x06\x00"), small_catalogue())
    assert "workbook" in excinfo.value.reason
    with pytest.raises(SkillFileError) as excinfo:
        load_matrix(write("agents.csv", b"agent_id,name\n\xff\xfe\x00\x81"), small_catalogue())
    assert excinfo.value.reason.startswith("binary file") or "not UTF-8" in excinfo.value.reason


def test_semicolon_csv_from_french_excel_is_accepted(write: Writer) -> None:
    text = (HEADER + GOOD_ROW).replace(",", ";").replace("\n", "\r\n")
    data = codecs.BOM_UTF8 + text.encode("utf-8")
    matrix = load_matrix(write("agents.csv", data), small_catalogue())
    assert matrix.agents["a101"].name == "Nathalie Lefèvre"
    assert matrix.agents["a101"].skills["passport"] == 3


def test_tab_separated_and_bom_and_blank_lines_are_accepted(write: Writer) -> None:
    text = "\n" + (HEADER + "\n" + GOOD_ROW).replace(",", "\t") + "\t\t\t\n"
    matrix = load_matrix(write("agents.tsv", "\ufeff" + text), small_catalogue())
    assert list(matrix.agents) == ["a101"]


def test_trailing_empty_columns_from_a_spreadsheet_are_ignored(write: Writer) -> None:
    text = HEADER.rstrip("\n") + ",,\n" + GOOD_ROW.rstrip("\n") + ",,\n"
    matrix = load_matrix(write("agents.csv", text), small_catalogue())
    assert matrix.agents["a101"].skills["id_card"] == 2


def test_several_csv_problems_are_collected(write: Writer) -> None:
    text = HEADER + "a1,A,fax,,,4,,\n" + "a1,B,counter,,,,9,\n"
    with pytest.raises(SkillFileError) as excinfo:
        load_matrix(write("agents.csv", text), small_catalogue())
    reasons = [(p.line, p.column) for p in excinfo.value.problems]
    assert reasons == [(2, "channels"), (2, "triage"), (3, "agent_id"), (3, "passport")]


# ------------------------------------------------------------------ YAML matrix refusals

GOOD_YAML = """\
agents:
  - agent_id: a101
    name: "Nathalie Lefèvre"
    channels: [phone, counter]
    endpoint: "PJSIP/agent101"
    desk: "guichet 1"
    skills:
      triage: 3
      passport: 3
  - agent_id: a102
    name: "Karim Benali"
    channels: [counter]
    skills:
      id_card: 2
"""


def test_the_good_yaml_matrix_loads(write: Writer) -> None:
    matrix = load_matrix(write("agents.yaml", GOOD_YAML), small_catalogue())
    assert list(matrix.agents) == ["a101", "a102"]
    assert matrix.agents["a102"].endpoint is None


@pytest.mark.parametrize(
    ("old", "new", "line", "reason"),
    [
        (
            "      passport: 3",
            "      pasport: 3",
            9,
            "agent 'a101': unknown process 'pasport' (did you mean 'passport'?)",
        ),
        (
            "      passport: 3",
            "      passport: 4",
            9,
            "agent 'a101': bad level '4' for 'passport' (expected 1, 2 or 3)",
        ),
        ("[phone, counter]", "[phone, fax]", 4, "unknown channel 'fax'"),
        ("agent_id: a102", "agent_id: a101", 10, "duplicate agent 'a101' (first at line 2)"),
        ('    name: "Karim Benali"\n', "", 10, "agent 'a102': missing required field 'name'"),
        ("    channels: [counter]\n", "", 10, "missing required field 'channels'"),
        ("    desk:", "    dsek:", 6, "unknown field 'dsek' (did you mean 'desk'?)"),
        ('"PJSIP/agent101"', "agent101", 5, "bad endpoint 'agent101'"),
        ("skills:\n      id_card", "skills:\n    - id_card", 14, "expected a mapping"),
    ],
)
def test_yaml_matrix_refusals(write: Writer, old: str, new: str, line: int, reason: str) -> None:
    assert old in GOOD_YAML
    with pytest.raises(SkillFileError) as excinfo:
        load_matrix(write("agents.yaml", GOOD_YAML.replace(old, new)), small_catalogue())
    problem = has_problem(excinfo, line, reason)
    assert problem.path.endswith("agents.yaml")
    assert str(problem).startswith(f"{problem.path}:{line}: ")


def test_yaml_matrix_syntax_error_and_empty(write: Writer) -> None:
    with pytest.raises(SkillFileError) as excinfo:
        load_matrix(
            write("agents.yaml", GOOD_YAML.replace("[counter]", "[counter")), small_catalogue()
        )
    assert excinfo.value.reason.startswith("YAML syntax error")
    assert excinfo.value.line == 13

    with pytest.raises(SkillFileError) as excinfo:
        load_matrix(write("agents.yaml", "# nothing yet\n"), small_catalogue())
    assert excinfo.value.reason.startswith("empty file")

    with pytest.raises(SkillFileError) as excinfo:
        load_matrix(write("agents.yaml", "agents: []\n"), small_catalogue())
    assert excinfo.value.reason == "agents: the list is empty"


def test_skill_file_error_attributes() -> None:
    error = SkillFileError(
        [Problem("a.csv", 3, "passport", "bad level '4'"), Problem("a.csv", 5, None, "other")]
    )
    assert (error.path, error.line, error.column, error.reason) == (
        "a.csv",
        3,
        "passport",
        "bad level '4'",
    )
    assert str(error) == "a.csv:3:col passport: bad level '4'\na.csv:5: other"
    assert str(Problem("a.yaml", 7, 12, "x")) == "a.yaml:7: x"
    assert str(Problem("a.yaml", None, None, "empty file")) == "a.yaml: empty file"
