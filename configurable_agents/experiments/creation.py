"""Creating an experiment from a definition (and a dataset): a draft with its variants'
configs and its dataset rows, ready to start.

Creating checks everything first (workflow, versions, overrides, scorers, gates, every
dataset row) inside one transaction: on any problem nothing is stored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from configurable_agents.config.errors import ConfigError, ConfigIssue
from configurable_agents.config.loader import load_config
from configurable_agents.experiments import datasets as dataset_files
from configurable_agents.experiments import gates as gate_rules
from configurable_agents.experiments.definition import Definition
from configurable_agents.experiments.errors import DefinitionError, GateError
from configurable_agents.experiments.overrides import OverrideProblem, apply_overrides
from configurable_agents.experiments.scorers import check_spec
from configurable_agents.settings import Settings
from configurable_agents.storage.database import session_scope
from configurable_agents.storage.models import Workflow, WorkflowVersion
from configurable_agents.storage.repositories import datasets as dataset_store
from configurable_agents.storage.repositories import experiments, workflows

_WORKFLOW_FILES = (".yaml", ".yml")


def create_experiment(
    settings: Settings,
    session_factory: sessionmaker[Session],
    definition: Definition,
    *,
    dataset: bytes | None = None,
    dataset_filename: str | None = None,
    base_dir: Path | None = None,
) -> int:
    """Store a draft experiment from a validated definition; its id.

    The dataset is ``dataset`` (bytes of an uploaded CSV/JSONL) or the definition's
    ``dataset`` path read relative to ``base_dir``. A ``workflow`` ending in .yaml is a
    workflow file (stored as a new version when it changed), else a stored workflow's name.
    Raises DefinitionError or DatasetError (nothing stored). The stored name is the
    definition's, with -2, -3 ... added when taken (a definition is run again and again).
    """
    issues = _static_issues(definition)
    if issues:
        raise DefinitionError(issues)
    data, filename = _dataset_bytes(definition, dataset, dataset_filename, base_dir)
    with session_scope(session_factory) as session:
        workflow, base = _workflow_version(session, definition, base_dir)
        base_config = load_config(base.config_yaml, filename=f"{workflow.name}.yaml")
        variants: list[tuple[str, dict[str, Any], int, str]] = []
        problems: list[ConfigIssue] = []
        for index, spec in enumerate(definition.variants):
            version = base
            if spec.version is not None:
                found = workflows.get_version(session, workflow.id, spec.version)
                if found is None:
                    problems.append(
                        definition.issue(
                            ("variants", index, "version"),
                            f"workflow {workflow.name} has no version {spec.version}",
                        )
                    )
                    continue
                version = found
            try:
                text, _ = apply_overrides(version.config_yaml, spec)
            except OverrideProblem as problem:
                path = ("variants", index, *problem.path)
                problems.append(definition.issue(path, str(problem)))
                continue
            variants.append((spec.name, spec.overrides(), version.id, text))
        if problems:
            raise DefinitionError(problems)
        rows = dataset_files.parse_dataset(data, filename=filename, config=base_config)
        stored = _store_dataset(
            session, Path(filename).stem or definition.name, rows, filename, workflow.id
        )
        experiment = experiments.create(
            session,
            name=_free_name(session, definition.name),
            variants={name: overrides for name, overrides, _, _ in variants},
            dataset=rows,
            workflow_id=workflow.id,
            description=definition.description,
            dataset_id=stored.id,
            definition=definition.to_data(),
            repeats=definition.repeats,
            baseline=definition.baseline_name,
        )
        by_name = {variant.name: variant for variant in experiment.variants}
        for name, _, version_id, text in variants:
            by_name[name].workflow_version_id, by_name[name].config_yaml = version_id, text
        session.flush()
        return experiment.id


def _static_issues(definition: Definition) -> list[ConfigIssue]:
    issues = []
    for index, spec in enumerate(definition.scorers):
        problem = check_spec(spec)
        if problem:
            issues.append(definition.issue(("scorers", index), problem))
    try:
        parsed = gate_rules.parse_gates(definition.gates)
        gate_rules.check_known(
            parsed,
            [spec.label for spec in definition.scorers],
            [variant.name for variant in definition.variants],
        )
    except GateError as error:
        issues.append(definition.issue(("gates",), str(error)))
    return issues


def _dataset_bytes(
    definition: Definition, data: bytes | None, filename: str | None, base_dir: Path | None
) -> tuple[bytes, str]:
    if data is not None:
        return data, filename or "dataset.csv"
    if not definition.dataset:
        raise DefinitionError(
            [definition.issue(("dataset",), "no dataset: name a CSV or JSONL file")]
        )
    path = (base_dir or Path.cwd()) / definition.dataset
    try:
        return path.read_bytes(), str(path)
    except OSError as error:
        raise DefinitionError(
            [definition.issue(("dataset",), f"cannot read {path}: {error.strerror or error}")]
        ) from None


def _workflow_version(
    session: Session, definition: Definition, base_dir: Path | None
) -> tuple[Workflow, WorkflowVersion]:
    name = definition.workflow
    if name.lower().endswith(_WORKFLOW_FILES):
        path = (base_dir or Path.cwd()) / name
        try:
            text = path.read_text(encoding="utf-8")
            config = load_config(text, filename=str(path))
        except OSError as error:
            raise DefinitionError(
                [definition.issue(("workflow",), f"cannot read {path}: {error.strerror or error}")]
            ) from None
        except ConfigError as error:
            raise DefinitionError(error.issues) from None
        return workflows.save(
            session,
            name=config.name,
            config_yaml=text,
            description=config.description,
            source="cli",
        )
    workflow = workflows.get_by_name(session, name)
    if workflow is None:
        raise DefinitionError(
            [
                definition.issue(
                    ("workflow",), f"no stored workflow named {name!r} (or give a .yaml file)"
                )
            ]
        )
    version = workflows.get_version(session, workflow.id, definition.version)
    if version is None:
        raise DefinitionError(
            [definition.issue(("version",), f"workflow {name} has no version {definition.version}")]
        )
    return workflow, version


def _store_dataset(
    session: Session, name: str, rows: list[Any], source: str, workflow_id: int
) -> Any:
    """The dataset version holding these rows: the latest when it has the same rows."""
    try:
        latest = dataset_store.get(session, name)
        if latest.rows == rows:
            return latest
    except LookupError:
        pass
    return dataset_store.add_version(
        session, name=name, rows=rows, source=Path(source).name, workflow_id=workflow_id
    )


def _free_name(session: Session, name: str) -> str:
    candidate, number = name, 1
    while experiments.get_by_name(session, candidate) is not None:
        number += 1
        candidate = f"{name}-{number}"
    return candidate
