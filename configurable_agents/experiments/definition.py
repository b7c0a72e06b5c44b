"""An experiment definition (YAML kept beside the workflow, or a dashboard form's data),
validated like workflows: every problem as file:line:col: path: message.

    name: summarize-prompts
    workflow: ../summarize.yaml      # a workflow file, or the name of a stored workflow
    version: 2                       # optional: that stored version (default: the latest)
    dataset: summarize.csv           # CSV or JSONL, relative to this file
    repeats: 2
    baseline: plain
    variants:
      - name: plain
      - name: terse
        nodes: {summarize: {prompt: "One line: {text}", temperature: 0}}
    scorers:
      - {kind: exact, field: summary}
    gates: ["exact>=0.8", "cost_per_row<=0.01"]
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from configurable_agents.config._yaml import MarkedData, parse_marked
from configurable_agents.config.errors import ConfigIssue, format_path
from configurable_agents.config.schema import LLMConfig
from configurable_agents.experiments.errors import DefinitionError

# A definition file is small; a bigger one is a mistake (a dataset passed by accident).
MAX_CHARS = 200_000
Name = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.-]+$")]
ScorerKind = Literal[
    "exact",
    "contains",
    "regex",
    "json_schema",
    "numeric",
    "length",
    "latency",
    "cost",
    "llm_judge",
    "pairwise",
    "custom",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class NodeOverride(_Strict):
    """What a variant changes in one llm node."""

    prompt: str | None = Field(default=None, min_length=1)
    system: str | None = None
    provider: Literal["local", "openai", "anthropic"] | None = None
    model: str | None = Field(default=None, min_length=1, max_length=200)
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1, le=200_000)
    base_url: str | None = None
    api_key_env: str | None = None

    def llm_fields(self) -> dict[str, Any]:
        """The LLM settings this override sets (provider, model, temperature, ...)."""
        names = ("provider", "model", "temperature", "max_tokens", "base_url", "api_key_env")
        return {name: getattr(self, name) for name in names if getattr(self, name) is not None}


class VariantSpec(_Strict):
    """One arm: another stored version and/or LLM settings and per-node overrides."""

    name: Name
    description: str = ""
    version: int | None = Field(default=None, ge=1)
    llm: LLMConfig | None = None
    nodes: dict[str, NodeOverride] = {}

    def overrides(self) -> dict[str, Any]:
        """The overrides as plain data (stored on the variant, shown as its params)."""
        return self.model_dump(exclude_none=True, exclude_defaults=True, exclude={"name"})


class ScorerSpec(_Strict):
    """One scorer. ``field`` is the output judged (default: the workflow's last written
    field); ``expected`` the dataset column of the expected value (default: ``field``)."""

    kind: ScorerKind
    name: Name | None = None
    field: str | None = None
    expected: str | None = None
    # contains: the text looked for (default: the row's expected value).
    value: str | None = None
    case_sensitive: bool = False
    pattern: str | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    tolerance: float = Field(default=0.0, ge=0)
    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)
    max_ms: float | None = Field(default=None, gt=0)
    max_usd: float | None = Field(default=None, ge=0)
    rubric: str | None = None
    llm: LLMConfig | None = None
    # custom: a name in the `configurable_agents.scorers` entry point group, or module:function.
    entry: str | None = None

    @property
    def label(self) -> str:
        """The name its values go by (in tables, metrics and gates)."""
        return self.name or self.kind

    @model_validator(mode="after")
    def _options(self) -> ScorerSpec:
        needs = {
            "regex": ("pattern", self.pattern),
            "json_schema": ("schema", self.schema_),
            "latency": ("max_ms", self.max_ms),
            "cost": ("max_usd", self.max_usd),
            "llm_judge": ("rubric", self.rubric),
            "pairwise": ("rubric", self.rubric),
            "custom": ("entry", self.entry),
        }
        if self.kind in needs and needs[self.kind][1] is None:
            raise ValueError(f"a {self.kind} scorer needs `{needs[self.kind][0]}`")
        if self.kind == "length" and self.min is None and self.max is None:
            raise ValueError("a length scorer needs `min`, `max` or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is larger than max ({self.max})")
        return self


class Definition(_Strict):
    """A validated experiment definition."""

    name: Name
    description: str = ""
    workflow: str = Field(min_length=1, max_length=500)
    version: int | None = Field(default=None, ge=1)
    dataset: str | None = Field(default=None, min_length=1)
    variants: list[VariantSpec] = Field(min_length=1, max_length=20)
    baseline: str | None = None
    repeats: int = Field(default=1, ge=1, le=20)
    seed: int = 0
    scorers: list[ScorerSpec] = Field(default=[], max_length=30)
    gates: list[str] = []
    # The model that judges when a judge scorer names none (default: the workflow's).
    judge: LLMConfig | None = None

    _marks: MarkedData | None = PrivateAttr(default=None)
    _filename: str = PrivateAttr(default="<experiment>")

    @model_validator(mode="after")
    def _consistent(self) -> Definition:
        names = [variant.name for variant in self.variants]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"two variants are named {name!r}: names must be unique")
        if self.baseline is not None and self.baseline not in names:
            raise ValueError(f"baseline {self.baseline!r} is not a variant: {', '.join(names)}")
        labels = [scorer.label for scorer in self.scorers]
        for label in labels:
            if labels.count(label) > 1:
                raise ValueError(f"two scorers are named {label!r}: give them `name`s")
        return self

    @property
    def baseline_name(self) -> str:
        """The baseline variant (the first when none is named)."""
        return self.baseline or self.variants[0].name

    @property
    def filename(self) -> str:
        return self._filename

    def issue(self, path: tuple[str | int, ...], message: str) -> ConfigIssue:
        """A problem at ``path`` of this definition, located in its text when there is one."""
        mark = self._marks.mark_of(path) if self._marks else None
        return ConfigIssue(
            self._filename,
            mark.line if mark else None,
            mark.column if mark else None,
            format_path(path),
            message,
        )

    def to_data(self) -> dict[str, Any]:
        """Plain data that :func:`parse_definition` reads back to an equal definition."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def parse_definition(
    source: str | Mapping[str, Any], *, filename: str = "<experiment>"
) -> Definition:
    """A definition from YAML text or already-parsed data (a form); raises DefinitionError
    listing every problem."""
    marked: MarkedData | None = None
    if isinstance(source, str):
        if len(source) > MAX_CHARS:
            raise DefinitionError(
                [
                    ConfigIssue(
                        filename, 1, 1, "", f"the definition is larger than {MAX_CHARS} characters"
                    )
                ]
            )
        marked, problems = parse_marked(source)
        if problems or marked is None:
            raise DefinitionError(
                ConfigIssue(
                    filename,
                    p.mark.line if p.mark else None,
                    p.mark.column if p.mark else None,
                    format_path(p.path),
                    p.message,
                )
                for p in problems
            )
        data: Any = marked.data
    else:
        data = dict(source)
    if not isinstance(data, Mapping):
        raise DefinitionError(
            [
                ConfigIssue(
                    filename,
                    1 if marked else None,
                    1 if marked else None,
                    "",
                    "the definition must be a mapping: name, workflow, dataset, variants, scorers",
                )
            ]
        )
    try:
        definition = Definition.model_validate(data)
    except ValidationError as error:
        raise DefinitionError(_issues(error, marked, filename)) from None
    definition._marks, definition._filename = marked, filename
    return definition


def load_definition_file(path: Path) -> Definition:
    """The definition in a file; DefinitionError (with the file named) when it cannot be read."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise DefinitionError(
            [ConfigIssue(str(path), None, None, "", f"cannot read the file: {reason}")]
        ) from None
    return parse_definition(text, filename=str(path))


def _issues(error: ValidationError, marked: MarkedData | None, filename: str) -> list[ConfigIssue]:
    issues = []
    for problem in error.errors():
        path = tuple(part for part in problem["loc"] if not _is_union_tag(part))
        message = str(problem["msg"]).removeprefix("Value error, ")
        at_key = False
        if problem["type"] == "extra_forbidden":
            message, at_key = f"unknown key '{path[-1]}'", True
        elif problem["type"] == "missing":
            message = f"missing required key '{path[-1]}'"
        mark = marked.mark_of(path, key=at_key) if marked else None
        issues.append(
            ConfigIssue(
                filename,
                mark.line if mark else None,
                mark.column if mark else None,
                format_path(path),
                message,
            )
        )
    return issues


def _is_union_tag(part: Any) -> bool:
    # pydantic puts the member's name of a union in the location ("function-after[...]").
    return isinstance(part, str) and ("[" in part and "]" in part)
