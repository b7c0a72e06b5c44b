"""Bad definitions and datasets: a clear error per row or for the file, exit 2 from the
CLI, and nothing stored."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import func, select

from configurable_agents.bootstrap import Database
from configurable_agents.cli import main
from configurable_agents.experiments.creation import create_experiment
from configurable_agents.experiments.datasets import MAX_BYTES
from configurable_agents.experiments.definition import parse_definition
from configurable_agents.experiments.errors import DatasetError, DefinitionError
from configurable_agents.settings import Settings
from configurable_agents.storage.models import Dataset, Experiment, Run, Workflow

WORKFLOW = """\
schema_version: 1
name: plus-one
state:
  n: {type: int, required: true}
  note: {type: str, default: ""}
  answer: {type: str}
nodes:
  - {id: add, kind: llm, prompt: "What is {n} plus one? {note}", output: answer}
edges:
  - {from: START, to: add}
  - {from: add, to: END}
"""
DEFINITION = """\
name: plus-one
workflow: plus_one.yaml
dataset: {dataset}
variants:
  - name: base
scorers:
  - {{kind: exact, field: answer}}
"""

BAD_DATASETS = {
    "missing_column.csv": (b"note,expected.answer\nhi,2\n", [(None, "n", "missing column 'n'")]),
    "wrong_type.csv": (
        b"n,expected.answer\n1,2\nabc,3\n4,5\n2.5,x\n",
        [(2, "n", "input 'n'"), (4, "n", "input 'n'")],
    ),
    "unknown_column.jsonl": (
        b'{"n": 1}\n{"n": 2, "nn": 3}\n{"note": "no n"}\nnot json\n',
        [
            (2, "nn", "unknown input 'nn'"),
            (3, "n", "missing required input 'n'"),
            (4, None, "line 4 is not JSON"),
        ],
    ),
    "broken_quoting.csv": (
        b'n,note\n1,"fine"\n2,"never closed\n3,x\n',
        [(None, None, "broken CSV")],
    ),
    "junk.csv": (os.urandom(10 * 1024 * 1024), [(None, None, f"at most {MAX_BYTES} bytes")]),
    "empty.csv": (b"", [(None, None, "the file is empty")]),
    "header_only.csv": (b"n,note\n", [(None, None, "no data rows")]),
    "binary.csv": (b"n\n\xff\xfe\x00\x01\n", [(None, None, "not UTF-8 text")]),
}


def counts(database: Database) -> tuple[int, ...]:
    with database.session_factory() as session:
        return tuple(
            session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Workflow, Dataset, Experiment, Run)
        )


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    (tmp_path / "plus_one.yaml").write_text(WORKFLOW)
    (tmp_path / name).write_bytes(data)
    definition = tmp_path / "exp.yaml"
    definition.write_text(DEFINITION.format(dataset=name))
    return definition


@pytest.mark.parametrize("name", sorted(BAD_DATASETS))
def test_bad_dataset_is_reported_and_nothing_is_stored(
    name: str, tmp_path: Path, exp_settings: Settings, database: Database
) -> None:
    data, expected = BAD_DATASETS[name]
    path = write(tmp_path, name, data)
    definition = parse_definition(path.read_text(), filename=str(path))
    with pytest.raises(DatasetError) as caught:
        create_experiment(exp_settings, database.session_factory, definition, base_dir=tmp_path)
    problems = caught.value.problems
    assert [(p.row, p.column) for p in problems] == [(row, col) for row, col, _ in expected]
    for problem, (_, _, words) in zip(problems, expected, strict=True):
        assert words in problem.message
    assert str(caught.value).startswith(str(tmp_path / name))
    # Not even the workflow file read on the way is kept.
    assert counts(database) == (0, 0, 0, 0)


def test_definition_problems_are_located(
    tmp_path: Path, exp_settings: Settings, database: Database
) -> None:
    text = (
        "name: p\nworkflow: plus_one.yaml\ndataset: rows.csv\nrepeats: 0\n"
        "variants:\n  - name: base\n    nodes: {add: {temprature: 1}}\n"
        "scorers:\n  - {kind: regex}\n"
    )
    with pytest.raises(DefinitionError) as caught:
        parse_definition(text, filename="exp.yaml")
    assert [str(issue) for issue in caught.value.issues] == [
        "exp.yaml:4:10: repeats: Input should be greater than or equal to 1",
        "exp.yaml:7:19: variants[0].nodes.add.temprature: unknown key 'temprature'",
        "exp.yaml:9:5: scorers[0]: a regex scorer needs `pattern`",
    ]
    # Problems found against the workflow are located too, and nothing is stored.
    (tmp_path / "plus_one.yaml").write_text(WORKFLOW)
    (tmp_path / "rows.csv").write_text("n\n1\n")
    text = (
        "name: p\nworkflow: plus_one.yaml\ndataset: rows.csv\n"
        "variants:\n  - name: base\n  - name: v\n    nodes: {nope: {prompt: hi}}\n"
        "scorers:\n  - {kind: regex, pattern: '('}\ngates: ['regex>=x']\n"
    )
    definition = parse_definition(text, filename="exp.yaml")
    with pytest.raises(DefinitionError) as caught:
        create_experiment(exp_settings, database.session_factory, definition, base_dir=tmp_path)
    messages = [str(issue) for issue in caught.value.issues]
    assert messages[0].startswith("exp.yaml:9:5: scorers[0]: pattern is not a regular expression")
    assert messages[1].startswith("exp.yaml:10:8: gates: gate 'regex>=x' is not FIGURE OP NUMBER")
    definition = parse_definition(
        text.replace("'('", "'x'").replace("regex>=x", "regex>=1"), filename="exp.yaml"
    )
    with pytest.raises(DefinitionError) as caught:
        create_experiment(exp_settings, database.session_factory, definition, base_dir=tmp_path)
    assert str(caught.value) == (
        "exp.yaml:7:19: variants[1].nodes.nope: the workflow has no node 'nope'; nodes: add"
    )
    assert counts(database) == (0, 0, 0, 0)


def test_cli_exits_2_on_a_bad_dataset_or_gate(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    exp_settings: Settings,
    database: Database,
) -> None:
    monkeypatch.setenv("DATA_DIR", str(exp_settings.data_path))
    monkeypatch.setenv("TRACKING_ENABLED", "false")
    path = write(tmp_path, "rows.csv", b"n,expected.answer\n1,2\nabc,3\n")
    assert main(["experiment", "run", str(path), "--local"]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'rows.csv'}: row 2, column 'n': input 'n'" in err
    assert "Traceback" not in err
    assert main(["experiment", "run", str(path), "--gate", "exact>>1"]) == 2
    assert "--gate: gate 'exact>>1' is not FIGURE OP NUMBER" in capsys.readouterr().err
    assert main(["experiment", "run", str(path), "--gate", "speed>=1"]) == 2
    assert "no figure 'speed'" in capsys.readouterr().err
    assert main(["experiment", "run", str(tmp_path / "missing.yaml")]) == 2
    assert "cannot read the file" in capsys.readouterr().err
    assert counts(database) == (0, 0, 0, 0)
