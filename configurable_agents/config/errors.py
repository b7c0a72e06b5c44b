"""One exception for every way a config can be wrong, carrying each issue with its place."""

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


class ConfigError(ValueError):
    """A config is invalid; ``issues`` lists every problem found, in file order."""

    def __init__(self, issues: Iterable[ConfigIssue]) -> None:
        self.issues = sort_issues(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))

    def __str__(self) -> str:
        return "\n".join(str(issue) for issue in self.issues)

    def __reduce__(self) -> tuple[type[ConfigError], tuple[list[ConfigIssue]]]:
        # Picklable, so it survives being passed between processes.
        return (ConfigError, (self.issues,))
