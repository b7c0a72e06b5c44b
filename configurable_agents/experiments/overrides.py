"""A variant's config: the workflow version it starts from with its overrides applied.

The result is validated like any workflow, so a variant that breaks the workflow (a prompt
reading a field the state lacks) is a definition problem before anything runs.
"""

from __future__ import annotations

from typing import Any

import yaml

from configurable_agents.config.errors import ConfigError
from configurable_agents.config.loader import load_config
from configurable_agents.config.schema import WorkflowConfig
from configurable_agents.experiments.definition import VariantSpec


class OverrideProblem(ValueError):
    """An override does not fit the workflow; ``path`` is where, inside the variant."""

    def __init__(self, path: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.path = path


def apply_overrides(config_yaml: str, variant: VariantSpec) -> tuple[str, WorkflowConfig]:
    """The variant's config text and its validated config; OverrideProblem when an override
    names a node that is not an llm node, or the result does not validate."""
    if variant.llm is None and not variant.nodes:
        # Nothing to change: the version's own text (a promoted baseline is no new version).
        return config_yaml, load_config(config_yaml, filename=f"variant {variant.name}")
    data: dict[str, Any] = yaml.safe_load(config_yaml)
    if variant.llm is not None:
        llm = dict(data.get("llm") or {})
        llm.update(variant.llm.model_dump(exclude_none=True, mode="json"))
        data["llm"] = llm
    nodes = {node.get("id"): node for node in data.get("nodes", []) if isinstance(node, dict)}
    for node_id, override in variant.nodes.items():
        node = nodes.get(node_id)
        if node is None:
            known = ", ".join(str(key) for key in nodes)
            raise OverrideProblem(
                ("nodes", node_id), f"the workflow has no node {node_id!r}; nodes: {known}"
            )
        if node.get("kind") != "llm":
            raise OverrideProblem(
                ("nodes", node_id),
                f"node {node_id!r} is a {node.get('kind')} node; only llm nodes take overrides",
            )
        if override.prompt is not None:
            node["prompt"] = override.prompt
        if override.system is not None:
            node["system"] = override.system
        settings = override.llm_fields()
        if settings:
            node["llm"] = {**(node.get("llm") or {}), **settings}
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    try:
        config = load_config(text, filename=f"variant {variant.name}")
    except ConfigError as error:
        raise OverrideProblem(
            (), "; ".join(f"{i.path}: {i.message}" for i in error.issues)
        ) from None
    return text, config
