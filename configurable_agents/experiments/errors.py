"""Every error the experiments layer raises, one name per mistake.

ExperimentLayerError (also ValueError)
├── DefinitionError       an experiment definition is invalid; ``issues`` as file:line:col: path: message
├── DatasetError          a dataset file or some of its rows are invalid; ``problems`` by row and column
├── GateError             a quality gate expression is malformed
├── ExperimentStateError  the experiment is not in a state that allows this (start twice, promote a draft)
└── PromoteError          a variant cannot become a workflow version
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from configurable_agents.config.errors import ConfigIssue, sort_issues


class ExperimentLayerError(ValueError):
    """Something an experiment, its dataset or its gates get wrong."""

    def to_dict(self) -> dict[str, Any]:
        """The error as JSON-ready data (for the API)."""
        return {"error": type(self).__name__, "message": str(self)}


class DefinitionError(ExperimentLayerError):
    """A definition is invalid; ``issues`` lists every problem, in file order."""

    def __init__(self, issues: Iterable[ConfigIssue]) -> None:
        self.issues = sort_issues(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))

    def __str__(self) -> str:
        return "\n".join(str(issue) for issue in self.issues)

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "issues": [issue.to_dict() for issue in self.issues]}


@dataclass(frozen=True)
class DatasetProblem:
    """One problem of a dataset: the 1-based data row and the column (None for the whole
    file), and what is wrong."""

    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = "file" if self.row is None else f"row {self.row}"
        if self.column:
            where += f", column {self.column!r}"
        return f"{where}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class DatasetError(ExperimentLayerError):
    """A dataset is invalid; ``problems`` has every bad row (or one for the file)."""

    def __init__(self, filename: str, problems: Iterable[DatasetProblem]) -> None:
        self.filename = filename
        self.problems = list(problems)
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(f"{self.filename}: {problem}" for problem in self.problems)

    def to_dict(self) -> dict[str, Any]:
        return {
            **super().to_dict(),
            "file": self.filename,
            "problems": [problem.to_dict() for problem in self.problems],
        }


class GateError(ExperimentLayerError):
    """A quality gate expression is malformed or names an unknown figure."""


class ExperimentStateError(ExperimentLayerError):
    """The experiment's state does not allow this."""


class PromoteError(ExperimentLayerError):
    """The variant cannot become a new workflow version."""
