"""What several command groups share: the command types, a migrated database, inputs."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from configurable_agents.bootstrap import Database

Command = Callable[[argparse.Namespace], int]
"""A command: the parsed arguments in, the process's exit code out."""

AddCommand = Callable[[str, Command, str], argparse.ArgumentParser]
"""Adds a sub-command (name, command, help text) and returns its parser for the flags."""


@contextlib.contextmanager
def stdout_kept_for_json(enabled: bool = True) -> Iterator[TextIO]:
    """Inside, everything printed to standard output goes to standard error instead, down to
    the file descriptor (MLflow's "View run" lines, a C library's chatter); yields the real
    standard output, where a ``--json`` command writes its one JSON document."""
    if not enabled:
        yield sys.stdout
        return
    sys.stdout.flush()
    saved = os.dup(1)
    real = open(os.dup(saved), "w", encoding="utf-8", closefd=True)  # noqa: SIM115
    previous = sys.stdout
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    try:
        yield real
    finally:
        sys.stderr.flush()
        real.flush()
        real.close()
        os.dup2(saved, 1)
        os.close(saved)
        sys.stdout = previous


def print_json(data: Any, out: TextIO) -> None:
    """One JSON document on ``out`` (text no encoding can carry goes out as its escape)."""
    out.write(json.dumps(data, indent=2, default=str) + "\n")
    out.flush()


def print_invalid(problems: list[str], out: TextIO | None) -> int:
    """Say why the input is invalid: each problem on stderr, and with --json (``out``) the
    document ``{"state": "invalid", "errors": [...]}``; returns exit code 2."""
    for problem in problems:
        print(problem, file=sys.stderr)
    if out is not None:
        print_json({"state": "invalid", "errors": problems}, out)
    return 2


def open_migrated_database(process: str) -> tuple[Any, Database]:
    """Settings and a database migrated to head (the CLI works without `honcho start`)."""
    import logging

    from configurable_agents.bootstrap import open_database, start_process
    from configurable_agents.storage.migrations import upgrade_to_head

    settings = start_process(process)
    # Migration chatter is for the release step; here only the command's own output matters.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    database = open_database(settings, process, wait_for_schema=False)
    upgrade_to_head(database.engine, settings.ensure_data_dir())
    return settings, database


def parse_inputs(pairs: list[str]) -> dict[str, str]:
    """`k=v` pairs; `k=@path` reads the value from a file."""
    values: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--input {pair!r}: expected NAME=VALUE")
        if value.startswith("@"):
            value = Path(value[1:]).read_text(encoding="utf-8")
        values[key.strip()] = value
    return values
