"""The workflow language: schema, YAML loading with line/column errors, validation, export.

from configurable_agents.config import load_config, ConfigError
config = load_config(Path("examples/summarize.yaml"))
"""

from configurable_agents.config.conditions import Condition
from configurable_agents.config.dump import config_to_data, config_to_yaml
from configurable_agents.config.errors import (
    ConfigError,
    ConfigIssue,
    ConfigLayerError,
    ExpressionError,
    InvalidInputsError,
    JsonPathError,
    TemplateError,
)
from configurable_agents.config.graph import Transition, transitions
from configurable_agents.config.inputs import (
    InputField,
    coerce_inputs,
    initial_state,
    input_fields,
    input_problems,
)
from configurable_agents.config.json_schema import workflow_decoding_schema, workflow_json_schema
from configurable_agents.config.loader import (
    check_text,
    config_from_data,
    load_config,
    validate_config,
    validate_text,
)
from configurable_agents.config.mermaid import to_mermaid
from configurable_agents.config.names import END, START
from configurable_agents.config.schema import (
    NODE_KINDS,
    AgentNode,
    AnyNode,
    ApprovalNode,
    CalculatorNode,
    CurrentTimeNode,
    Edge,
    FileReadNode,
    FileWriteNode,
    HttpRequestNode,
    JsonPathNode,
    LLMConfig,
    LLMNode,
    LoopNode,
    MemoryConfig,
    ModelPrice,
    ParallelNode,
    RouterNode,
    Schedule,
    WorkflowConfig,
)
from configurable_agents.config.state import MemoryKey, StateField, TypeSpec
from configurable_agents.config.tools import TOOL_NAMES, resolve_in_workspace

__all__ = [
    "END",
    "NODE_KINDS",
    "START",
    "TOOL_NAMES",
    "AgentNode",
    "AnyNode",
    "ApprovalNode",
    "CalculatorNode",
    "Condition",
    "ConfigError",
    "ConfigIssue",
    "ConfigLayerError",
    "CurrentTimeNode",
    "Edge",
    "ExpressionError",
    "FileReadNode",
    "FileWriteNode",
    "HttpRequestNode",
    "InputField",
    "InvalidInputsError",
    "JsonPathError",
    "JsonPathNode",
    "LLMConfig",
    "LLMNode",
    "LoopNode",
    "MemoryConfig",
    "MemoryKey",
    "ModelPrice",
    "ParallelNode",
    "RouterNode",
    "Schedule",
    "StateField",
    "TemplateError",
    "Transition",
    "TypeSpec",
    "WorkflowConfig",
    "check_text",
    "coerce_inputs",
    "config_from_data",
    "config_to_data",
    "config_to_yaml",
    "initial_state",
    "input_fields",
    "input_problems",
    "load_config",
    "resolve_in_workspace",
    "to_mermaid",
    "transitions",
    "validate_config",
    "validate_text",
    "workflow_decoding_schema",
    "workflow_json_schema",
]
