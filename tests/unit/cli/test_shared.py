"""parse_inputs: the `--input NAME=VALUE` pairs of `run` and `agents dispatch`."""

from __future__ import annotations

from pathlib import Path

import pytest

from configurable_agents.cli._shared import parse_inputs


def test_pairs_become_a_dict_and_at_reads_a_file(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("from a file", encoding="utf-8")
    assert parse_inputs(["topic=owls", " text =@" + str(notes), "empty="]) == {
        "topic": "owls",
        "text": "from a file",
        "empty": "",
    }


@pytest.mark.parametrize("pair", ["no-equals", "=value", " =value"])
def test_a_pair_without_a_name_is_refused(pair: str) -> None:
    with pytest.raises(ValueError, match="expected NAME=VALUE"):
        parse_inputs([pair])
