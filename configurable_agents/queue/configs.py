"""Parsed workflow configs of stored versions, cached: a version's text never changes."""

from __future__ import annotations

from functools import lru_cache

from configurable_agents.config.loader import load_config
from configurable_agents.config.schema import WorkflowConfig
from configurable_agents.storage.models import WorkflowVersion


def config_of(version: WorkflowVersion) -> WorkflowConfig:
    """The validated config of a stored version (ConfigError when it no longer validates)."""
    return _parse(version.config_yaml)


@lru_cache(maxsize=256)
def _parse(text: str) -> WorkflowConfig:

    return load_config(text, filename="<stored workflow>")
