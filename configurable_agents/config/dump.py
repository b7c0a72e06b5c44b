"""Write a config back as YAML that loads to the same config (defaults left out)."""

from __future__ import annotations

from typing import Any

import yaml

from configurable_agents.config.schema import WorkflowConfig

_FLOW_LIMIT = 72


class _Dumper(yaml.SafeDumper):
    """Block lists indented under their key, small mappings of scalars on one line,
    multi-line text as literal blocks."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def _fits_one_line(items: list[Any], max_items: int) -> bool:
    if not items or len(items) > max_items:
        return False
    if any(
        isinstance(item, dict | list) or (isinstance(item, str) and "\n" in item) for item in items
    ):
        return False
    return sum(len(str(item)) + 2 for item in items) <= _FLOW_LIMIT


def _represent_dict(dumper: yaml.SafeDumper, value: dict[str, Any]) -> yaml.MappingNode:
    flat = [part for pair in value.items() for part in pair]
    flow = True if _fits_one_line(flat, 8) else None
    return dumper.represent_mapping("tag:yaml.org,2002:map", value, flow_style=flow)


def _represent_list(dumper: yaml.SafeDumper, value: list[Any]) -> yaml.SequenceNode:
    flow = True if _fits_one_line(value, 8) else None
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=flow)


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(dict, _represent_dict)
_Dumper.add_representer(list, _represent_list)


# How a person writes a state field: what it is first, the prose last.
_SPEC_ORDER = ("type", "values", "required", "default", "description", "fields")


def _spec_data(spec: dict[str, Any]) -> dict[str, Any]:
    ordered = {key: spec[key] for key in _SPEC_ORDER if key in spec}
    if "fields" in ordered:
        ordered["fields"] = {name: _spec_data(item) for name, item in ordered["fields"].items()}
    return ordered | {key: value for key, value in spec.items() if key not in ordered}


def config_to_data(config: WorkflowConfig) -> dict[str, Any]:
    """The config as plain data with YAML key names, leaving out what equals its default."""
    data = config.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    if "state" in data:
        data["state"] = {name: _spec_data(spec) for name, spec in data["state"].items()}
    memory_keys = data.get("memory", {}).get("keys")
    if memory_keys:
        data["memory"]["keys"] = {name: _spec_data(spec) for name, spec in memory_keys.items()}
    return data


def config_to_yaml(config: WorkflowConfig) -> str:
    """YAML text of a config; ``load_config(config_to_yaml(c)) == c``."""
    return yaml.dump(
        config_to_data(config),
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        width=100,
        default_flow_style=False,
    )
