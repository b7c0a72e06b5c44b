"""Workflow commands (create, save a version, copy, delete) over a Session, for the pages' forms and the API alike; and the version diff they show."""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass

from sqlalchemy.orm import Session

from configurable_agents.config.errors import ConfigError, ConfigIssue
from configurable_agents.storage.errors import WorkflowNameTakenError, WorkflowVersionNotFoundError
from configurable_agents.storage.models import Workflow, WorkflowVersion
from configurable_agents.storage.repositories import workflows
from dashboard.queries import workflow_run_counts
from dashboard.workflow_lang import Checked, Issue, check

_TOP_LEVEL_NAME = re.compile(r"^name:[^\n]*$", re.MULTILINE)


def as_config_issues(issues: list[Issue], filename: str) -> list[ConfigIssue]:
    """The editor's issues as the config layer's, so one error type carries them."""
    return [ConfigIssue(filename, i.line, i.column, i.path, i.message) for i in issues]


def validated(text: str, filename: str = "workflow.yaml") -> Checked:
    """The checked config, or ConfigError with every issue."""
    checked = check(text, filename=filename)
    if not checked.ok:
        raise ConfigError(as_config_issues(checked.issues, filename))
    return checked


def create_workflow(
    session: Session, text: str, *, source: str = "user", note: str = ""
) -> Workflow:
    """Store a new workflow from a valid config; its name comes from the config."""
    checked = validated(text)
    if workflows.get_by_name(session, checked.name) is not None:
        raise WorkflowNameTakenError(
            f"a workflow named {checked.name!r} already exists; change `name:` or edit that one"
        )
    return workflows.create(
        session,
        name=checked.name,
        config_yaml=text,
        description=checked.description,
        source=source,
        note=note,
    )


def save_version(
    session: Session, workflow: Workflow, text: str, *, note: str = ""
) -> WorkflowVersion:
    """Add a version (a rename in `name:` renames the workflow when the name is free)."""
    checked = validated(text)
    if checked.name != workflow.name:
        other = workflows.get_by_name(session, checked.name)
        if other is not None and other.id != workflow.id:
            raise WorkflowNameTakenError(f"a workflow named {checked.name!r} already exists")
        workflow.name = checked.name
    return workflows.add_version(
        session, workflow, text, description=checked.description, note=note
    )


def unique_name(session: Session, base: str) -> str:
    """``base``, or ``base-2``, ``base-3``... whichever no live workflow has."""
    name, number = base, 1
    while workflows.get_by_name(session, name) is not None:
        number += 1
        name = f"{base}-{number}"
    return name


def rename_config(text: str, new_name: str) -> str:
    """The config text with its top-level ``name:`` set to ``new_name``."""
    plain = re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", new_name) is not None
    # ensure_ascii=False: YAML reads a "\\ud83d\\ude00" pair as two lone surrogates.
    line = f"name: {new_name if plain else json.dumps(new_name, ensure_ascii=False)}"
    if _TOP_LEVEL_NAME.search(text):
        return _TOP_LEVEL_NAME.sub(lambda _: line, text, count=1)
    return f"{line}\n{text}"


def copy_workflow(
    session: Session, workflow: Workflow, *, new_name: str | None = None, source: str = "user"
) -> Workflow:
    """A new workflow whose first version is the latest config of ``workflow``, renamed."""
    latest = workflows.get_version(session, workflow.id)
    if latest is None:
        raise WorkflowVersionNotFoundError(f"workflow {workflow.name} has no version to copy")
    name = new_name or unique_name(session, f"{workflow.name}-copy")
    if workflows.get_by_name(session, name) is not None:
        raise WorkflowNameTakenError(f"a workflow named {name!r} already exists")
    return workflows.create(
        session,
        name=name,
        config_yaml=rename_config(latest.config_yaml, name),
        description=workflow.description,
        source=source,
        note=f"copied from {workflow.name} v{latest.version}",
    )


def delete_workflow(session: Session, workflow: Workflow) -> int:
    """Soft-delete a workflow; returns how many runs it keeps."""
    kept = workflow_run_counts(session, [workflow.id], include_experiments=True).get(workflow.id, 0)
    workflows.soft_delete(session, workflow)
    return kept


@dataclass(frozen=True)
class DiffLine:
    """One line of a version diff."""

    kind: str  # "hunk", "add", "del", "same"
    text: str
    old: int | None = None
    new: int | None = None


def diff_versions(old_text: str, new_text: str, context: int = 3) -> list[DiffLine]:
    """A unified diff of two config texts, with line numbers on both sides."""
    old_lines, new_lines = old_text.splitlines(), new_text.splitlines()
    lines: list[DiffLine] = []
    matcher = difflib.SequenceMatcher(a=old_lines, b=new_lines, autojunk=False)
    for group in matcher.get_grouped_opcodes(context):
        first, last = group[0], group[-1]
        lines.append(
            DiffLine(
                "hunk",
                f"@@ -{first[1] + 1},{last[2] - first[1]} +{first[3] + 1},{last[4] - first[3]} @@",
            )
        )
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                for offset in range(i2 - i1):
                    lines.append(
                        DiffLine("same", old_lines[i1 + offset], i1 + offset + 1, j1 + offset + 1)
                    )
                continue
            for index in range(i1, i2):
                lines.append(DiffLine("del", old_lines[index], index + 1, None))
            for index in range(j1, j2):
                lines.append(DiffLine("add", new_lines[index], None, index + 1))
    return lines


STARTER_CONFIG = """\
# A new workflow: one LLM node over one text input. Edit and watch the checks below.
schema_version: 1
name: my-workflow
description: Say what this workflow does.
state:
  topic: {type: str, required: true, description: What to write about}
  answer: {type: str}
nodes:
  - id: write
    kind: llm
    prompt: "Write two sentences about {topic}."
    output: answer
edges:
  - {from: START, to: write}
  - {from: write, to: END}
"""
