"""The example workflows as starting points: loading them, finding one by name, and
matching a request against them.

The gallery is read from the database (the release step stores each example with
source "example"); the examples folder is the fallback when none are stored.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from configurable_agents.builder.plan import Plan
from configurable_agents.builder.text import content_words
from configurable_agents.config import (
    ConfigError,
    LoopNode,
    WorkflowConfig,
    config_to_data,
    input_fields,
    load_config,
)
from configurable_agents.storage.repositories import workflows

log = logging.getLogger(__name__)

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"
# Share of the request's words a template must contain to be worth mentioning.
SUGGEST_AT = 0.5
_STRUCTURAL = ("loop", "router", "parallel")


@dataclass(frozen=True)
class Template:
    """One gallery workflow."""

    name: str
    description: str
    yaml: str
    config: WorkflowConfig
    workflow_id: int | None = None

    @property
    def words(self) -> set[str]:
        """The content words of everything the template says about itself."""
        parts = [self.name, self.description]
        for node in self.config.nodes:
            parts += [
                node.id,
                getattr(node, "prompt", "") or "",
                getattr(node, "message", "") or "",
            ]
        for name, spec in self.config.state.items():
            parts += [name, spec.description]
        return content_words(" ".join(parts))

    @property
    def steps(self) -> int:
        """How many nodes do work (everything but loops, routers and fan-outs)."""
        return sum(1 for node in self.config.nodes if node.kind not in _STRUCTURAL)


@dataclass(frozen=True)
class Match:
    """How well a template fits a request; ``adoptable`` means it can be used as it is."""

    template: Template
    score: float
    adoptable: bool


def _parse(name: str, text: str, workflow_id: int | None) -> Template | None:
    try:
        config = load_config(text, filename=name)
    except ConfigError as error:
        log.warning("gallery template %s is not valid and is left out: %s", name, error)
        return None
    return Template(config.name, config.description, text, config, workflow_id)


def templates_from_directory(directory: Path = EXAMPLES_DIR) -> list[Template]:
    """The templates in the examples folder, by name."""
    found = []
    for path in sorted(directory.glob("*.yaml")):
        template = _parse(path.name, path.read_text(encoding="utf-8"), None)
        if template is not None:
            found.append(template)
    return found


def templates_from_database(session_factory: Callable[[], Any]) -> list[Template]:
    """The templates the release step stored (source "example"), latest versions, by name."""

    found = []
    with session_factory() as session:
        for workflow in workflows.list_workflows(session, limit=500):
            if workflow.source != "example":
                continue
            version = workflows.get_version(session, workflow.id)
            if version is not None:
                template = _parse(workflow.name, version.config_yaml, workflow.id)
                if template is not None:
                    found.append(template)
    return found


class Gallery:
    """The templates a conversation can start from."""

    def __init__(self, templates: Iterable[Template]) -> None:
        self.templates = sorted(templates, key=lambda template: template.name)

    @classmethod
    def load(cls, session_factory: Callable[[], Any] | None = None) -> Gallery:
        """From the database when it holds examples, else from the examples folder."""
        stored = templates_from_database(session_factory) if session_factory else []
        return cls(stored or templates_from_directory())

    @property
    def names(self) -> list[str]:
        return [template.name for template in self.templates]

    def find(self, name: str) -> Template | None:
        """A template by its name, or the closest name ("review loop" -> write-and-review)."""
        wanted = name.strip().strip("'\"`").lower().replace(" ", "-")
        for template in self.templates:
            if template.name == wanted:
                return template
        if wanted.isdigit() and 1 <= int(wanted) <= len(self.templates):
            return self.templates[int(wanted) - 1]
        close = difflib.get_close_matches(wanted, self.names, n=1, cutoff=0.5)
        if close:
            return self.find(close[0])
        wanted_words = content_words(name)
        scored = [(len(wanted_words & template.words), template) for template in self.templates]
        best = max(scored, key=lambda item: item[0], default=(0, None))
        return best[1] if best[0] >= max(1, len(wanted_words) // 2 + 1) else None

    def match(self, plan: Plan) -> list[Match]:
        """Templates ranked by how much of the request they cover (best first)."""
        wanted = content_words(plan.description or plan.request)
        if not wanted:
            return []
        inputs = {spec.name for spec in plan.inputs}
        structured = {"router", "parallel"} & set(plan.features())
        matches = []
        for template in self.templates:
            score = len(wanted & template.words) / len(wanted)
            template_inputs = {field.name for field in input_fields(template.config)}
            has_loop = any(isinstance(node, LoopNode) for node in template.config.nodes)
            adoptable = (
                score >= 0.999
                and template.steps == len(plan.steps())
                and inputs <= template_inputs
                and has_loop == (plan.loop is not None)
                and not structured
                and not any(node.kind in ("router", "parallel") for node in template.config.nodes)
            )
            matches.append(Match(template, round(score, 3), adoptable))
        return sorted(matches, key=lambda match: (match.adoptable, match.score), reverse=True)


def adopt(template: Template, plan: Plan | None = None) -> dict[str, Any]:
    """The template's config data, with the plan's loop bound applied."""
    data = config_to_data(template.config)
    if plan is not None and plan.loop is not None:
        for node in data["nodes"]:
            if node.get("kind") == "loop":
                node["max_iterations"] = plan.loop.max_iterations
    return data
