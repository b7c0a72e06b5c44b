"""configurable-agents: LLM agent workflows as YAML, run by workers, watched live."""

__version__ = "0.1.0"
