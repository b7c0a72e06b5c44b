"""The chat builder's logic: a request in words -> a validated workflow config.

    builder = Builder(settings, Gallery.load(session_factory))
    turn = builder.turn("Summarize a text, then translate the summary to French", None)
    for progress in turn: ...          # Progress("planning", ...), ...
    result = ...                        # the generator's return value: TurnResult

The offline path needs no capable model: ``lexicon`` and ``patterns`` hold the request's
language as tables, ``interpret`` reads a request into a ``plan`` by them, ``compose``
turns a plan into config data, ``lift`` a config back into a plan, ``refine`` edits a
plan by an instruction in words, ``explain`` says what a plan or config does; ``gallery``
and ``fill`` (short texts from the embedded model) help. ``generate`` asks one for the whole config with a bounded repair loop.
``service`` stores conversations, saves workflows and starts runs. Nothing here imports
Gradio.
"""

from configurable_agents.builder.builder import Builder, ModeInfo, describe_provider
from configurable_agents.builder.compose import compose
from configurable_agents.builder.events import (
    MODE_COMMAND,
    MODE_EDIT,
    MODE_LLM,
    MODE_OFFLINE,
    MODE_TEMPLATE,
    Progress,
    TurnResult,
)
from configurable_agents.builder.gallery import Gallery, Template
from configurable_agents.builder.generate import GenerationFailed, generate
from configurable_agents.builder.interpret import interpret
from configurable_agents.builder.lift import lift
from configurable_agents.builder.plan import Plan
from configurable_agents.builder.refine import RefineError, refine

__all__ = [
    "MODE_COMMAND",
    "MODE_EDIT",
    "MODE_LLM",
    "MODE_OFFLINE",
    "MODE_TEMPLATE",
    "Builder",
    "Gallery",
    "GenerationFailed",
    "ModeInfo",
    "Plan",
    "Progress",
    "RefineError",
    "Template",
    "TurnResult",
    "compose",
    "describe_provider",
    "generate",
    "interpret",
    "lift",
    "refine",
]
