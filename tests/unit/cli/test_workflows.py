"""validate_file: what `configurable-agents validate FILE` prints and returns."""

from __future__ import annotations

from pathlib import Path

import pytest

from configurable_agents.cli.workflows import validate_file
from tests.unit.config.samples import BASE, PARALLEL, variant


def test_valid_file_prints_ok(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "par.yaml"
    path.write_text(PARALLEL, encoding="utf-8")
    assert validate_file(path) == 0
    out, err = capsys.readouterr()
    assert (out, err) == ("ok: par (4 nodes)\n", "")


def test_single_node_is_singular(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "one.yaml"
    path.write_text(BASE, encoding="utf-8")
    assert validate_file(str(path)) == 0
    assert capsys.readouterr().out == "ok: demo (1 node)\n"


def test_invalid_file_prints_issue_lines_and_returns_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        variant(
            BASE,
            ("kind: llm", "kind: llmm"),
            ("{from: summarize, to: END}", "{from: summarize, to: ENDD}"),
        ),
        encoding="utf-8",
    )
    assert validate_file(path) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        f"{path}:8:11: nodes[0].kind: unknown node kind 'llmm': use one of llm, tool, router, loop, parallel, approval, agent",
        f"{path}:13:27: edges[1].to: unknown node 'ENDD'",
    ]
    assert "Traceback" not in err


def test_missing_file_returns_2_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert validate_file(tmp_path / "nope.yaml") == 2
    err = capsys.readouterr().err
    assert (
        err.splitlines()[0]
        == f"{tmp_path / 'nope.yaml'}: cannot read the file: No such file or directory"
    )
