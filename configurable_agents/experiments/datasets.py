"""Dataset files (CSV or JSONL) read into rows and checked against a workflow's typed inputs.

A row is ``{"inputs": {...}, "expected": {...}}``. In CSV, columns named ``expected`` or
``expected.<field>`` hold expected values and every other column is an input; empty cells
are left out (the input's default applies). In JSONL, each line is an object with the same
keys, or ``{"inputs": {...}, "expected": {...}}``.

Every bad row is reported (row number and column); a file that cannot be read as a table
at all (broken quoting, not UTF-8 text, too large, empty) is one file problem. Nothing is
returned unless every row is valid, so nothing is stored half-way.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from configurable_agents.config.inputs import input_names, input_problems
from configurable_agents.config.schema import WorkflowConfig
from configurable_agents.experiments.errors import DatasetError, DatasetProblem

MAX_BYTES = 5_000_000
MAX_ROWS = 10_000
# Past this many bad rows the rest are summed up in one line.
MAX_PROBLEMS = 200
EXPECTED = "expected"
_INPUT_NAME = re.compile(r"input '([^']+)'")

Row = dict[str, dict[str, Any]]


def parse_dataset(data: bytes, *, filename: str, config: WorkflowConfig) -> list[Row]:
    """The rows of a CSV or JSONL file (by its name's suffix; JSONL when it starts with
    ``{``), each checked against the workflow's inputs; DatasetError listing every problem."""
    text = _text(data, filename)
    is_jsonl = filename.lower().endswith(
        (".jsonl", ".ndjson", ".json")
    ) or text.lstrip().startswith("{")
    raw = list(_jsonl_rows(text, filename) if is_jsonl else _csv_rows(text, filename, config))
    if not raw:
        raise DatasetError(filename, [DatasetProblem(None, None, "the file has no data rows")])
    if len(raw) > MAX_ROWS:
        raise DatasetError(
            filename,
            [DatasetProblem(None, None, f"the file has {len(raw)} rows; at most {MAX_ROWS}")],
        )
    rows, problems = [], []
    for number, row in raw:
        if isinstance(row, DatasetProblem):
            problems.append(row)
            continue
        checked, found = check_row(config, number, row)
        rows.append(checked)
        problems += found
    if problems:
        if len(problems) > MAX_PROBLEMS:
            rest = len(problems) - MAX_PROBLEMS
            problems = [
                *problems[:MAX_PROBLEMS],
                DatasetProblem(None, None, f"and {rest} more problems"),
            ]
        raise DatasetError(filename, problems)
    return rows


def check_row(
    config: WorkflowConfig, number: int, row: Mapping[str, Any]
) -> tuple[Row, list[DatasetProblem]]:
    """A row split into inputs (coerced to their types) and expected values, and its problems."""
    inputs: dict[str, Any] = {}
    expected: dict[str, Any] = {}
    if isinstance(row.get("inputs"), Mapping):
        inputs = dict(row["inputs"])
        given = row.get(EXPECTED) or {}
        expected = dict(given) if isinstance(given, Mapping) else {EXPECTED: given}
    else:
        for key, value in row.items():
            if key == EXPECTED:
                expected[EXPECTED] = value
            elif key.startswith(EXPECTED + "."):
                expected[key[len(EXPECTED) + 1 :]] = value
            else:
                inputs[key] = value
    coerced, messages = input_problems(config, inputs)
    problems = []
    for message in messages:
        match = _INPUT_NAME.search(message)
        problems.append(DatasetProblem(number, match.group(1) if match else None, message))
    return {"inputs": coerced, "expected": expected}, problems


def _text(data: bytes, filename: str) -> str:
    if not data.strip():
        raise DatasetError(filename, [DatasetProblem(None, None, "the file is empty")])
    if len(data) > MAX_BYTES:
        raise DatasetError(
            filename,
            [
                DatasetProblem(
                    None, None, f"the file is {len(data)} bytes; at most {MAX_BYTES} bytes"
                )
            ],
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise DatasetError(
            filename,
            [
                DatasetProblem(
                    None,
                    None,
                    f"not UTF-8 text: byte {error.start + 1} (line {line}) is 0x{data[error.start]:02x}",
                )
            ],
        ) from None
    if "\x00" in text:
        raise DatasetError(
            filename,
            [DatasetProblem(None, None, "the file holds NUL characters: not a text table")],
        )
    return text


def _csv_rows(text: str, filename: str, config: WorkflowConfig) -> Iterator[tuple[int, Any]]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except csv.Error as error:
        raise DatasetError(
            filename, [DatasetProblem(None, None, f"cannot read the CSV header: {error}")]
        ) from None
    header = [name.strip() for name in header]
    _check_header(header, filename, config)
    rows = []
    try:
        for record in reader:
            number = reader.line_num
            if not any(cell.strip() for cell in record):
                continue
            if len(record) != len(header):
                rows.append(
                    (
                        number,
                        DatasetProblem(
                            len(rows) + 1,
                            None,
                            f"{len(record)} cells but the header has {len(header)} columns (line {number})",
                        ),
                    )
                )
                continue
            rows.append(
                (
                    number,
                    {name: cell for name, cell in zip(header, record, strict=True) if cell != ""},
                )
            )
    except csv.Error as error:
        # Broken quoting makes the rest of the file unreadable as a table.
        raise DatasetError(
            filename,
            [
                DatasetProblem(
                    None, None, f"broken CSV at line {reader.line_num}: {error} (check the quotes)"
                )
            ],
        ) from None
    # Rows are numbered as data rows (the header is not one), like a spreadsheet's row - 1.
    for index, (_, row) in enumerate(rows, start=1):
        if isinstance(row, DatasetProblem):
            yield index, DatasetProblem(index, row.column, row.message)
        else:
            yield index, row


def _check_header(header: list[str], filename: str, config: WorkflowConfig) -> None:
    problems = []
    seen: set[str] = set()
    for name in header:
        if not name:
            problems.append(DatasetProblem(None, None, "the header has an empty column name"))
        elif name in seen:
            problems.append(
                DatasetProblem(None, name, f"column {name!r} appears twice in the header")
            )
        seen.add(name)
    names = input_names(config.state, config.nodes)
    for name in names:
        if config.state[name].required and name not in seen:
            problems.append(
                DatasetProblem(
                    None,
                    name,
                    f"missing column {name!r}: a required input ({config.state[name].type}) of workflow {config.name}",
                )
            )
    if problems:
        raise DatasetError(filename, problems)


def _jsonl_rows(text: str, filename: str) -> Iterator[tuple[int, Any]]:
    number = 0
    for line_number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        number += 1
        try:
            value = json.loads(line)
        except json.JSONDecodeError as error:
            yield (
                number,
                DatasetProblem(
                    number,
                    None,
                    f"line {line_number} is not JSON: {error.msg} at column {error.colno}",
                ),
            )
            continue
        if not isinstance(value, dict):
            yield number, DatasetProblem(number, None, f"line {line_number} is not a JSON object")
            continue
        yield number, value
