"""Generation by a capable model, checked and repaired: the plan of a new workflow (the
same Plan the offline interpreter makes, composed and validated by the same code), or the
whole config when an existing one is changed.

The model is asked for the config as JSON under the workflow JSON Schema (constrained
decoding where the provider supports it: response_format json_schema on OpenAI-compatible
servers, a grammar on the local model; instructions plus validation elsewhere). The answer
is validated with the same checks as a YAML file; while it has problems, they go back to
the model as a list, a bounded number of times. The caller sees each stage as Progress.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from configurable_agents.builder.compose import compose
from configurable_agents.builder.events import Progress
from configurable_agents.builder.gallery import EXAMPLES_DIR
from configurable_agents.builder.plan import PLAN_SCHEMA, Plan, PlanError, plan_from_json
from configurable_agents.builder.secrets import secret_paths
from configurable_agents.config import (
    ConfigError,
    WorkflowConfig,
    config_from_data,
    config_to_data,
    load_config,
    workflow_decoding_schema,
)
from configurable_agents.llm import LLMRequest, LLMStructuredOutputError, Provider

MAX_ATTEMPTS = 3
MAX_TOKENS = 4096
_SHOWN_PROBLEMS = 12

SYSTEM_PROMPT = """You design workflows for configurable-agents. Answer with one JSON object:
the complete workflow config, matching the JSON Schema you are given. Rules:
- schema_version is 1; name is lowercase letters, digits and '-'; add a one-line description.
- Declare every state field with its type (str, int, float, bool, enum with values, object
  with fields, list[T], dict[str, T]). Inputs the user must supply are state fields with
  required: true and a description.
- Node kinds: llm (prompt, output or outputs), tool (http_request, file_read, file_write,
  calculator, current_time, json_path), router (routes, default), loop (body,
  max_iterations, exit, optional while), parallel (branches, join), approval (message),
  agent (a registered remote agent).
- Prompts and messages are templates: {field} inserts a state field; nothing else in braces.
- Edges go from START to the first node, from each llm/tool/approval/agent node to the next
  node, and to END. Router, loop and parallel nodes choose their next node themselves and
  have no outgoing edges. A cycle must go through a loop node with max_iterations.
- A field must be written by an earlier node (or be an input) before a node reads it.
- Never write API keys or other secrets anywhere. For a provider key use llm.api_key_env
  with the NAME of an environment variable (for example OPENAI_API_KEY).
- Leave llm.provider, llm.base_url and llm.api_key_env out unless the user asks for them.
"""


@cache
def _example() -> str:

    path = EXAMPLES_DIR / "write_review_loop.yaml"
    if not path.is_file():
        return ""
    return json.dumps(config_to_data(load_config(path)))


class GenerationFailed(Exception):
    """The model did not produce a valid config within the attempts; ``problems`` has
    the last list of problems."""

    def __init__(self, message: str, problems: Sequence[str], attempts: int) -> None:
        super().__init__(message)
        self.problems = list(problems)
        self.attempts = attempts


@dataclass
class Generated:
    """A valid config and what it took (and the plan, when the model wrote a plan)."""

    config: WorkflowConfig
    attempts: int
    fixed: list[int] = field(default_factory=list)
    plan: Plan | None = None


def first_messages(request: str, current: WorkflowConfig | None) -> list[dict[str, str]]:
    """The conversation that asks for a new config, or for a change to the current one."""
    system = SYSTEM_PROMPT
    example = _example()
    if example:
        system += f"\nAn example of a valid config:\n{example}\n"
    if current is None:
        user = f"Build a workflow for this request:\n{request}"
    else:
        current_json = json.dumps(config_to_data(current))
        user = (
            f"This is the current workflow config:\n{current_json}\n\n"
            f"Change it as asked, keeping everything else, and answer with the whole updated "
            f"config:\n{request}"
        )
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def problems_of(data: Any) -> tuple[WorkflowConfig | None, list[str]]:
    """The config in data and [] when it is valid, else None and one line per problem."""
    secrets = secret_paths(data)
    if secrets:
        return None, [
            f"{path}: this looks like an API key or other secret; never put secrets in a "
            "config, use llm.api_key_env with the NAME of an environment variable"
            for path in secrets
        ]
    try:
        return config_from_data(data, filename="config"), []
    except ConfigError as error:
        return None, [f"{issue.path or 'config'}: {issue.message}" for issue in error.issues]


def repair_request(problems: Sequence[str], what: str = "config") -> str:
    """The message that sends the problems back to the model (``what``: config or plan)."""
    shown = list(problems)[:_SHOWN_PROBLEMS]
    more = len(problems) - len(shown)
    lines = "\n".join(f"- {problem}" for problem in shown)
    extra = f"\n(and {more} more)" if more > 0 else ""
    return (
        f"That {what} is not valid:\n{lines}{extra}\n\n"
        f"Fix every problem and answer with the whole corrected {what} as one JSON object."
    )


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def generate(
    provider: Provider,
    request: str,
    current: WorkflowConfig | None = None,
    *,
    max_attempts: int = MAX_ATTEMPTS,
    max_tokens: int = MAX_TOKENS,
) -> Generator[Progress, None, Generated]:
    """Ask the model for a valid config; yields progress, returns Generated, raises
    GenerationFailed when every attempt had problems and LLMError when the call failed."""
    return (
        yield from _until_valid(
            provider,
            first_messages(request, current),
            workflow_decoding_schema(),
            "workflow_config",
            lambda data: (*problems_of(data), None),
            max_attempts=max_attempts,
            max_tokens=max_tokens,
        )
    )


PLAN_PROMPT = """You plan workflows for configurable-agents. Answer with one JSON object: the
plan of the requested workflow, matching the JSON Schema you are given.
- steps, in the order they run. kind: llm (the model writes something), review (the model
  scores a text: writes score and feedback), classify (the model picks one of `values`),
  approval (a person approves), http_request (url, a "{field}" template or an address;
  method POST to send), file_read / file_write (path inside the workspace), calculator
  (expression over numeric fields), current_time. `does` is the verb ("summarize").
  `instruction` is what the model is asked; `reads` and `writes` name state fields
  (lowercase_with_underscores).
- inputs: the fields the user gives when running (name, type, description).
- routers: after a classify step, `field` is its output and `routes` maps each value to
  the id of the step that handles it (omitted values go on to the next step).
- parallel: lists of step ids that run at once; the step after them joins them.
- loop: go back to `body` after `after`, at most `max_iterations` times (after a review:
  while the score is below 7).
Never write secrets; a field is read only after an input or an earlier step writes it.
"""


def draft_plan(
    provider: Provider,
    request: str,
    *,
    max_attempts: int = MAX_ATTEMPTS,
    max_tokens: int = MAX_TOKENS,
) -> Generator[Progress, None, Generated]:
    """Ask the model for the plan of a new workflow under PLAN_SCHEMA; the plan is composed
    and validated by the same code as the offline plan, and its problems go back to the
    model like a config's. Returns Generated (with the plan), raises as ``generate``."""

    def read(data: Any) -> tuple[WorkflowConfig | None, list[str], Plan | None]:
        try:
            plan = plan_from_json(data, request)
        except PlanError as error:
            return None, error.problems, None
        config, problems = problems_of(compose(plan, offline=False))
        return config, problems, plan

    messages = [
        {"role": "system", "content": PLAN_PROMPT},
        {"role": "user", "content": f"Plan a workflow for this request:\n{request}"},
    ]
    return (
        yield from _until_valid(
            provider,
            messages,
            PLAN_SCHEMA,
            "workflow_plan",
            read,
            max_attempts=max_attempts,
            max_tokens=max_tokens,
            what="plan",
        )
    )


def _until_valid(
    provider: Provider,
    messages: list[dict[str, str]],
    schema: dict[str, Any],
    schema_name: str,
    read: Callable[[Any], tuple[WorkflowConfig | None, list[str], Plan | None]],
    *,
    max_attempts: int,
    max_tokens: int,
    what: str = "config",
) -> Generator[Progress, None, Generated]:
    """The repair loop both the plan and the whole config go through: ask under the
    schema, read the answer into a config, send its problems back, a bounded number of
    times."""
    problems: list[str] = []
    fixed: list[int] = []
    for attempt in range(1, max_attempts + 1):
        if attempt == 1:
            yield Progress(
                "drafting", f"drafting the config with {provider.name} model {provider.model}"
            )
        else:
            yield Progress(
                "fixing",
                f"fixing {_plural(len(problems), 'error')} (attempt {attempt} of {max_attempts})",
            )
        llm_request = LLMRequest(
            messages=messages,
            json_schema=schema,
            schema_name=schema_name,
            max_tokens=max_tokens,
            temperature=0.2,
        )
        try:
            response = provider.complete(llm_request)
            data, answer = response.parsed, response.text
        except LLMStructuredOutputError as error:
            # The answer did not match the JSON Schema: its errors go back like any other.
            data, answer = None, error.last_text
            problems = list(error.errors) or ["the answer was not a JSON object"]
        if data is not None:
            yield Progress("checking", "checking the config")
            config, problems, plan = read(data)
            if config is not None:
                return Generated(config, attempt, fixed, plan)
        fixed.append(len(problems))
        yield Progress(
            "checking", f"found {_plural(len(problems), 'problem')}: " + "; ".join(problems[:3])
        )
        messages = [
            *messages,
            {"role": "assistant", "content": answer or ""},
            {"role": "user", "content": repair_request(problems, what)},
        ]
    raise GenerationFailed(
        f"the model did not produce a valid config in {max_attempts} attempts",
        problems,
        max_attempts,
    )
