"""Every error the config layer raises, one name per mistake.

    ConfigLayerError (also ValueError)
    ├── ConfigError          a workflow config is invalid; ``issues`` carry file, line, path
    ├── InvalidInputsError   run inputs do not fit the workflow; one message per input
    ├── TemplateError        a prompt template is malformed or reads a missing field
    ├── ExpressionError      a calculator expression is not allowed or cannot be computed
    └── JsonPathError        a JSON path is malformed or finds nothing

The engine raises these while it runs a workflow too (a template reading a field the
state lacks): they always describe something the workflow's text gets wrong.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")


def format_path(path: Iterable[str | int]) -> str:
    """``('nodes', 2, 'prompt')`` -> ``nodes[2].prompt``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_KEY.match(part):
            text += f".{part}" if text else part
        else:
            text += f"[{part!r}]"
    return text


@dataclass(frozen=True)
class ConfigIssue:
    """One problem: where it is (file, 1-based line and column, field path) and what it is.

    line and column are None when the config did not come from text.
    """

    file: str
    line: int | None
    column: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}:{self.column or 1}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        """The issue as JSON-ready data (for the API and the editor)."""
        return asdict(self)


def sort_issues(issues: Iterable[ConfigIssue]) -> list[ConfigIssue]:
    """In file order, each issue once."""
    unique = dict.fromkeys(issues)
    return sorted(unique, key=lambda issue: (issue.line or 0, issue.column or 0, issue.path))


class ConfigLayerError(ValueError):
    """Something a workflow's config, inputs, templates or expressions get wrong."""


class ConfigError(ConfigLayerError):
    """A config is invalid; ``issues`` lists every problem found, in file order."""

    def __init__(self, issues: Iterable[ConfigIssue]) -> None:
        self.issues = sort_issues(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))

    def __str__(self) -> str:
        return "\n".join(str(issue) for issue in self.issues)

    def __reduce__(self) -> tuple[type[ConfigError], tuple[list[ConfigIssue]]]:
        # Picklable, so it survives being passed between processes.
        return (ConfigError, (self.issues,))


# An input problem names its input like this (see config.inputs.input_problems).
_INPUT_NAME = re.compile(r"input '([^']+)'")


class InvalidInputsError(ConfigLayerError):
    """Run inputs do not fit the workflow (or a remote agent's schema).

    ``problems`` has one line per wrong input; ``errors`` the same keyed by input name
    (``"inputs"`` for a problem that names no input), as a form shows them.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))

    @property
    def errors(self) -> dict[str, str]:
        """The first problem of each input, by input name."""
        errors: dict[str, str] = {}
        for problem in self.problems:
            match = _INPUT_NAME.search(problem)
            errors.setdefault(match.group(1) if match else "inputs", problem)
        return errors

    def __reduce__(self) -> tuple[type[InvalidInputsError], tuple[list[str]]]:
        return (InvalidInputsError, (self.problems,))


class TemplateError(ConfigLayerError):
    """A template is malformed or reads a field the state does not have.

    ``position`` is the 1-based character in the template where the problem starts;
    ``reason`` says what is wrong.
    """

    def __init__(self, position: int, reason: str) -> None:
        super().__init__(f"at character {position}: {reason}")
        self.position = position
        self.reason = reason


class ExpressionError(ConfigLayerError):
    """An expression is not allowed, or cannot be computed from the state."""


class JsonPathError(ConfigLayerError):
    """A path is malformed, or the data has nothing at it."""
