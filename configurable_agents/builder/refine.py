"""Offline refinement: apply one instruction in words to an existing config.

    refine(config, "add a step that translates the summary to French")
    refine(config, "make the review loop at most 3 times")

Understood instructions: add/insert a step (before/after a node, at the start, or at the
end), remove a step, bound or add a loop, rename the workflow, set the description,
change a node's prompt, change an input's type, and set the model, max_tokens or
temperature. Anything else returns None, so the caller can treat the message as a new
request. Nothing here calls a model.
"""

from __future__ import annotations

import contextlib
import copy
import re
from dataclasses import dataclass
from typing import Any

from configurable_agents.builder import plan as planning
from configurable_agents.builder.compose import LOOP_ID, node_data
from configurable_agents.builder.plan import FieldSpec
from configurable_agents.builder.text import content_words, field_name, slug, stem, unique, words
from configurable_agents.config import (
    END,
    START,
    LLMNode,
    LoopNode,
    WorkflowConfig,
    config_from_data,
    config_to_data,
)
from configurable_agents.config.templates import template_references


class RefineError(Exception):
    """The instruction was understood but cannot be applied; the message says why."""


@dataclass
class Refinement:
    """The changed config data and one line saying what changed."""

    data: dict[str, Any]
    summary: str


_ADD = re.compile(
    r"^(?:please\s+)?(?:can you\s+|could you\s+)?(?:add|insert|append|include|put in)\s+"
    r"(?:a|an|another|one more|one)?\s*(?:new\s+|final\s+|last\s+|first\s+|extra\s+)?"
    r"(?:step|node|stage|llm step|part)?\s*(?:that|which|to|where|for|in which|:)?\s*(?P<what>.+)$",
    re.IGNORECASE | re.DOTALL,
)
_THEN = re.compile(
    r"^(?:and\s+)?(?:then|also|afterwards|after that|finally|next)\b,?\s+(?P<what>.+)$",
    re.IGNORECASE | re.DOTALL,
)
_POSITION = re.compile(
    r"\s*,?\s*\b(?P<where>before|after)\s+(?:the\s+)?(?P<node>[\w-]+)(?:\s+(?:step|node|stage))?\s*$"
    r"|^\s*(?P<where2>before|after)\s+(?:the\s+)?(?P<node2>[\w-]+)(?:\s+(?:step|node|stage))?\s*,?\s*"
    r"|\s*,?\s*\bat the (?P<edge>start|beginning|end)\b\s*",
    re.IGNORECASE,
)
_REMOVE = re.compile(
    r"^(?:please\s+)?(?:remove|delete|drop|skip|get rid of)\s+(?:the\s+)?(?P<what>.+?)"
    r"(?:\s+(?:step|node|stage|loop))?\s*\.?$",
    re.IGNORECASE,
)
_RENAME = re.compile(
    r"^(?:please\s+)?(?:rename|call|name)\s+(?:it|this|the workflow|the config|this workflow)?\s*"
    r"(?:to|as)?\s+['\"`]?(?P<name>[A-Za-z0-9 _-]+?)['\"`]?\s*\.?$",
    re.IGNORECASE,
)
_DESCRIBE = re.compile(
    r"^(?:please\s+)?(?:set the description to|describe it as|change the description to)\s+"
    r"(?P<text>.+)$",
    re.IGNORECASE | re.DOTALL,
)
_PROMPT = re.compile(
    r"^(?:please\s+)?(?:change|set|make)\s+the\s+prompt\s+(?:of|for)\s+(?:the\s+)?(?P<node>[\w-]+)"
    r"(?:\s+(?:step|node))?\s+(?:to|into)\s*:?\s*(?P<text>.+)$",
    re.IGNORECASE | re.DOTALL,
)
_TYPE = re.compile(
    r"^(?:please\s+)?(?:make|set|change)\s+(?:the\s+)?(?P<field>\w+)(?:\s+input)?\s+(?:to\s+)?"
    r"(?:be\s+)?(?:an?\s+)?(?P<type>number|integer|int|float|decimal|list|text|string|str|"
    r"boolean|bool|yes/no)\b",
    re.IGNORECASE,
)
_MODEL = re.compile(
    r"\buse\s+(?:the\s+)?(?:model\s+)?(?P<model>[\w.:/-]+)\s+(?:model\b|for\b|as\b|$)|\bmodel\s+(?:to\s+)?(?P<model2>[\w.:/-]+)",
    re.IGNORECASE,
)
_TOKENS = re.compile(r"\bmax(?:imum)?[_ ]?tokens?\s*(?:to|of|=|:|at)?\s*(?P<n>\d+)", re.IGNORECASE)
_TEMPERATURE = re.compile(
    r"\btemperature\s*(?:to|of|=|:|at)?\s*(?P<t>\d+(?:\.\d+)?)", re.IGNORECASE
)
_LOOP_WORDS = re.compile(r"\b(loop|repeat|rounds?|iterations?|times|passes|cycles?|review)\b", re.I)
_TYPES = {
    "number": "float",
    "float": "float",
    "decimal": "float",
    "integer": "int",
    "int": "int",
    "list": "list[str]",
    "text": "str",
    "string": "str",
    "str": "str",
    "boolean": "bool",
    "bool": "bool",
    "yes/no": "bool",
}


def refine(config: WorkflowConfig, instruction: str) -> Refinement | None:
    """The config with the instruction applied, None when it is not an edit instruction;
    raises RefineError when it is one that cannot be applied."""
    text = " ".join(instruction.strip().split())
    data = copy.deepcopy(config_to_data(config))
    for handler in (_rename, _describe, _prompt, _input_type, _remove, _bound, _llm_settings, _add):
        result = handler(config, data, text)
        if result is not None:
            _tidy(result.data)
            return result
    return None


def _tidy(data: dict[str, Any]) -> None:
    """Edges in the order of their source nodes, as a person would write them."""
    order = {START: -1, **{node["id"]: index for index, node in enumerate(data["nodes"])}}
    data["edges"] = sorted(_dedupe(data["edges"]), key=lambda edge: order.get(edge["from"], 10**6))


# --- small edits -----------------------------------------------------------------------------


def _rename(config: WorkflowConfig, data: dict[str, Any], text: str) -> Refinement | None:
    match = _RENAME.match(text)
    if not match:
        return None
    name = slug(match.group("name"))
    data["name"] = name
    return Refinement(data, f"Renamed the workflow to '{name}'.")


def _describe(config: WorkflowConfig, data: dict[str, Any], text: str) -> Refinement | None:
    match = _DESCRIBE.match(text)
    if not match:
        return None
    data["description"] = match.group("text").strip().strip("'\"")
    return Refinement(data, "Changed the description.")


def _prompt(config: WorkflowConfig, data: dict[str, Any], text: str) -> Refinement | None:
    match = _PROMPT.match(text)
    if not match:
        return None
    node = _find_node(data, match.group("node"))
    if node is None or node.get("kind") != "llm":
        raise RefineError(
            f"there is no llm step called '{match.group('node')}'; steps: {_ids(data)}"
        )
    node["prompt"] = match.group("text").strip().strip("'\"")
    return Refinement(data, f"Changed the prompt of '{node['id']}'.")


def _input_type(config: WorkflowConfig, data: dict[str, Any], text: str) -> Refinement | None:
    match = _TYPE.match(text)
    if not match or match.group("field") not in data.get("state", {}):
        return None
    name, kind = match.group("field"), _TYPES[match.group("type").lower()]
    spec = data["state"][name]
    spec["type"] = kind
    spec.pop("values", None)
    if "default" in spec and kind != "str":
        spec.pop("default")
    return Refinement(data, f"'{name}' is now {kind}.")


def _llm_settings(config: WorkflowConfig, data: dict[str, Any], text: str) -> Refinement | None:
    changes = []
    settings = data.setdefault("llm", {})
    tokens = _TOKENS.search(text)
    if tokens:
        settings["max_tokens"] = int(tokens.group("n"))
        changes.append(f"max_tokens {tokens.group('n')}")
    temperature = _TEMPERATURE.search(text)
    if temperature:
        settings["temperature"] = float(temperature.group("t"))
        changes.append(f"temperature {temperature.group('t')}")
    model = _MODEL.search(text)
    if model and (model.group("model") or model.group("model2")) and "model" in text.lower():
        settings["model"] = model.group("model") or model.group("model2")
        changes.append(f"model {settings['model']}")
    if not changes:
        if not settings:
            data.pop("llm")
        return None
    return Refinement(data, "Set the workflow's LLM " + ", ".join(changes) + ".")


# --- removing a step -------------------------------------------------------------------------


def _remove(config: WorkflowConfig, data: dict[str, Any], text: str) -> Refinement | None:
    match = _REMOVE.match(text)
    if not match:
        return None
    wanted = match.group("what")
    node = _find_node(data, wanted)
    if node is None:
        raise RefineError(f"there is no step called '{wanted}'; steps: {_ids(data)}")
    if len(data["nodes"]) == 1:
        raise RefineError("a workflow needs at least one step, so I kept it")
    ident = node["id"]
    inputs_before = set(input_names_of(data))
    written_by_node = set(_written(node))
    after = _successor(data, node)
    edges = [edge for edge in data["edges"] if edge["from"] != ident]
    for edge in edges:
        if edge["to"] == ident:
            edge["to"] = after
    data["edges"] = _dedupe(edges)
    data["nodes"] = [other for other in data["nodes"] if other["id"] != ident]
    for other in data["nodes"]:
        _retarget(other, ident, after)
    # A loop whose body went away or that now goes nowhere is gone too.
    still_written = {name for other in data["nodes"] for name in _written(other)}
    removed_loops = []
    for other in list(data["nodes"]):
        condition = (other.get("while") or {}).get("field")
        orphaned = condition in written_by_node and condition not in still_written
        if other.get("kind") == "loop" and (other.get("body") in (END, other["id"]) or orphaned):
            data["nodes"].remove(other)
            _replace_target(data, other["id"], other.get("exit", END))
            removed_loops.append(other["id"])
    dropped = _drop_unused_fields(data)
    summary = f"Removed the step '{ident}'"
    if removed_loops:
        summary += f" and the loop {', '.join(removed_loops)} that depended on it"
    if dropped:
        summary += (
            f" (dropped the unused field{'s' if len(dropped) > 1 else ''} {', '.join(dropped)})"
        )
    new_inputs = sorted(set(input_names_of(data)) - inputs_before)
    if new_inputs:
        summary += f". Nothing writes {', '.join(new_inputs)} any more, so it is now an input"
    return Refinement(data, summary + ".")


def _written(node: dict[str, Any]) -> list[str]:
    names = [node.get("output"), node.get("feedback"), *node.get("outputs", [])]
    return [name for name in names if name]


def input_names_of(data: dict[str, Any]) -> list[str]:
    """The inputs of config data: required fields, fields with defaults, fields nothing writes."""
    written = {name for node in data["nodes"] for name in _written(node)}
    return [
        name
        for name, spec in data.get("state", {}).items()
        if spec.get("required") or "default" in spec or name not in written
    ]


def _successor(data: dict[str, Any], node: dict[str, Any]) -> str:
    if node.get("kind") == "loop":
        return node.get("exit", END)
    for edge in data["edges"]:
        if edge["from"] == node["id"]:
            return edge["to"]
    return node.get("default", END)


def _retarget(node: dict[str, Any], old: str, new: str) -> None:
    for key in ("body", "exit", "default", "join", "on_reject"):
        if node.get(key) == old:
            node[key] = new
    for route in node.get("routes", []):
        if route.get("to") == old:
            route["to"] = new
    if "branches" in node:
        node["branches"] = [new if branch == old else branch for branch in node["branches"]]


def _replace_target(data: dict[str, Any], old: str, new: str) -> None:
    for edge in data["edges"]:
        if edge["to"] == old:
            edge["to"] = new
    for node in data["nodes"]:
        _retarget(node, old, new)
    data["edges"] = _dedupe(data["edges"])


def _dedupe(edges: list[dict[str, str]]) -> list[dict[str, str]]:
    seen: set[tuple[str, str]] = set()
    kept = []
    for edge in edges:
        key = (edge["from"], edge["to"])
        if key not in seen and edge["from"] != edge["to"]:
            seen.add(key)
            kept.append(edge)
    return kept


def _used_fields(data: dict[str, Any]) -> set[str]:
    used: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                used.update(ref.dotted.split(".")[0] for ref in template_references(value))
        elif isinstance(value, dict):
            for key, item in value.items():
                if key in ("output", "feedback", "field", "source") and isinstance(item, str):
                    used.add(item)
                elif key == "outputs" and isinstance(item, list):
                    used.update(item)
                else:
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(data["nodes"])
    return used


def _drop_unused_fields(data: dict[str, Any]) -> list[str]:
    used = _used_fields(data)
    state = data.get("state", {})
    dropped = [
        name for name, spec in state.items() if name not in used and not spec.get("required")
    ]
    for name in dropped:
        del state[name]
    return dropped


# --- loops -----------------------------------------------------------------------------------


def _bound(config: WorkflowConfig, data: dict[str, Any], text: str) -> Refinement | None:
    rest, modifiers = planning.strip_modifiers(text)
    if (
        modifiers.bound is None
        or _ADD.match(text)
        or not (_LOOP_WORDS.search(text) or not words(rest))
    ):
        return None
    bound = max(1, min(modifiers.bound, planning.MAX_ROUNDS))
    loops = [node for node in data["nodes"] if node.get("kind") == "loop"]
    if loops:
        named = [
            node for node in loops if node["id"] in words(text) or node.get("body") in words(text)
        ]
        for node in named or loops:
            node["max_iterations"] = bound
        ids = ", ".join(f"'{node['id']}'" for node in named or loops)
        return Refinement(data, f"The loop {ids} now runs at most {bound} times.")
    if re.search(r"\breview", text, re.I) and not _reviewer(config):
        # "make the review loop at most 3 times" with no review yet: add the review first.
        added = _add(config, data, "add a step that reviews it")
        if added is None:  # pragma: no cover - the instruction above always parses
            return None

        looped = _add_loop(config_from_data(added.data), added.data, bound)
        return Refinement(looped.data, f"{added.summary} {looped.summary}")
    return _add_loop(config, data, bound)


def _reviewer(config: WorkflowConfig) -> LLMNode | None:
    return next(
        (
            node
            for node in config.nodes
            if isinstance(node, LLMNode) and "score" in node.output_fields
        ),
        None,
    )


def _add_loop(config: WorkflowConfig, data: dict[str, Any], bound: int) -> Refinement:
    review = _reviewer(config)
    ids = {node["id"] for node in data["nodes"]}
    loop_id = unique(LOOP_ID, ids)
    if review is not None:
        reads = [use.field.split(".")[0] for use in review.reads() if use.field != "feedback"]
        producer = next(
            (
                node
                for node in config.nodes
                if node.id != review.id and any(use.field in reads for use in node.writes())
            ),
            None,
        )
        if producer is None:
            raise RefineError(
                f"'{review.id}' reviews nothing a step writes, so there is nothing to repeat"
            )
        after = _successor(data, _find_node(data, review.id))  # type: ignore[arg-type]
        loop = {
            "id": loop_id,
            "kind": "loop",
            "body": producer.id,
            "while": {"field": "score", "op": "lt", "value": planning.DEFAULT_THRESHOLD},
            "max_iterations": bound,
            "exit": after,
        }
        data["edges"] = [edge for edge in data["edges"] if edge["from"] != review.id]
        data["edges"].append({"from": review.id, "to": loop_id})
        position = [node["id"] for node in data["nodes"]].index(review.id) + 1
        data["nodes"].insert(position, loop)
        writer = _find_node(data, producer.id)
        if (
            writer
            and writer.get("kind") == "llm"
            and "{feedback}" not in writer["prompt"]
            and "feedback" in data["state"]
        ):
            writer["prompt"] = (
                writer["prompt"].rstrip() + "\nFeedback to address, if any: {feedback}"
            )
        return Refinement(
            data,
            f"Added the loop '{loop_id}': back to '{producer.id}' while the score is below "
            f"{planning.DEFAULT_THRESHOLD}, at most {bound} times.",
        )
    last = _last_llm(data)
    if last is None:
        raise RefineError("there is no loop and no llm step to repeat; say which step to repeat")
    after = _successor(data, last)
    data["edges"] = [edge for edge in data["edges"] if edge["from"] != last["id"]]
    data["edges"].append({"from": last["id"], "to": loop_id})
    position = [node["id"] for node in data["nodes"]].index(last["id"]) + 1
    data["nodes"].insert(
        position,
        {"id": loop_id, "kind": "loop", "body": last["id"], "max_iterations": bound, "exit": after},
    )
    return Refinement(data, f"Added the loop '{loop_id}': '{last['id']}' runs {bound} times.")


def _last_llm(data: dict[str, Any]) -> dict[str, Any] | None:
    enders = {edge["from"] for edge in data["edges"] if edge["to"] == END}
    llm_nodes = [node for node in data["nodes"] if node.get("kind") == "llm"]
    ending = [node for node in llm_nodes if node["id"] in enders]
    return (ending or llm_nodes or [None])[-1]


# --- adding a step ---------------------------------------------------------------------------


def _add(config: WorkflowConfig, data: dict[str, Any], text: str) -> Refinement | None:
    match = _ADD.match(text) or _THEN.match(text)
    if not match:
        return None
    what = match.group("what").strip().rstrip(".")
    where, anchor, what = _position(what)
    what = re.sub(
        r"^(?:the\s+)?(?:(?:step|node)\s+)?(?:that|which|to|where)\s+", "", what, flags=re.I
    )
    what = re.sub(r"\s+(?:step|node|stage)$", "", what, flags=re.I).strip()
    if not what:
        return None
    fields = {
        name: FieldSpec(name, spec.type, spec.description, spec.required, spec.default, spec.values)
        for name, spec in config.state.items()
    }
    ids = {node.id for node in config.nodes}
    if where == "end":
        predecessors = _enders(data)
    elif where == "start":
        predecessors = [START]
    else:
        target = _find_node(data, anchor or "")
        if target is None:
            raise RefineError(f"there is no step called '{anchor}'; steps: {_ids(data)}")
        anchor = target["id"]
        predecessors = [anchor] if where == "after" else _predecessors(data, anchor)
    previous = _output_of(config, predecessors[-1]) if predecessors else None
    context = planning.new_context(fields, previous, ids)
    step = planning.parse_step(what, context)
    new_fields = {name: spec for name, spec in context.fields.items() if name not in config.state}
    node = node_data(step)
    ident = node["id"]
    _insert(data, node, where, anchor, predecessors)
    for name, spec in new_fields.items():
        data.setdefault("state", {})[name] = spec.to_data()
    reads = ", ".join(step.reads) or "nothing"
    writes = ", ".join(step.writes) or "nothing"
    placed = {"end": "at the end", "start": "at the start"}.get(where, f"{where} '{anchor}'")
    summary = (
        f"Added the step '{ident}' ({step.kind}) {placed}: it reads {reads} and writes {writes}."
    )
    added = [name for name, spec in new_fields.items() if spec.required]
    if added:
        summary += f" New input{'s' if len(added) > 1 else ''}: {', '.join(added)}."
    return Refinement(data, summary)


def _position(what: str) -> tuple[str, str | None, str]:
    match = _POSITION.search(what)
    if not match:
        return "end", None, what
    rest = (what[: match.start()] + " " + what[match.end() :]).strip(" ,")
    if match.group("edge"):
        return ("start" if match.group("edge").lower() != "end" else "end"), None, rest
    where = (match.group("where") or match.group("where2")).lower()
    anchor = match.group("node") or match.group("node2")
    return where, anchor, rest


def _enders(data: dict[str, Any]) -> list[str]:
    enders = [edge["from"] for edge in data["edges"] if edge["to"] == END]
    enders += [
        node["id"]
        for node in data["nodes"]
        if node.get("kind") == "loop" and node.get("exit") == END
    ]
    order = [node["id"] for node in data["nodes"]]
    return sorted(set(enders), key=lambda ident: order.index(ident) if ident in order else -1)


def _predecessors(data: dict[str, Any], ident: str) -> list[str]:
    found = [edge["from"] for edge in data["edges"] if edge["to"] == ident]
    for node in data["nodes"]:
        if node.get("kind") == "loop" and node.get("exit") == ident:
            found.append(node["id"])
    return found or [START]


def _output_of(config: WorkflowConfig, ident: str) -> str | None:
    node = config.get_node(ident)
    if node is None:
        return None
    if isinstance(node, LoopNode):
        body = config.get_node(node.body)
        node = body if body is not None else node
    writes = [use.field for use in node.writes() if use.loc[:1] != ("memory",)]
    if node.kind == "approval" or not writes or (isinstance(node, LLMNode) and node.outputs):
        reads = [use.field.split(".")[0] for use in node.reads() if use.field != "feedback"]
        return reads[0] if reads else (writes[0] if writes else None)
    return writes[0]


def _insert(
    data: dict[str, Any],
    node: dict[str, Any],
    where: str,
    anchor: str | None,
    predecessors: list[str],
) -> None:
    ident = node["id"]
    order = [other["id"] for other in data["nodes"]]
    if where == "end":
        for edge in data["edges"]:
            if edge["to"] == END and edge["from"] in predecessors:
                edge["to"] = ident
        for other in data["nodes"]:
            if other.get("kind") == "loop" and other.get("exit") == END:
                other["exit"] = ident
        data["edges"].append({"from": ident, "to": END})
        data["nodes"].append(node)
        return
    if where == "start":
        first = next((edge for edge in data["edges"] if edge["from"] == START), None)
        following = first["to"] if first else END
        if first:
            first["to"] = ident
        data["edges"].insert(1, {"from": ident, "to": following})
        data["nodes"].insert(0, node)
        return
    target = next(other for other in data["nodes"] if other["id"] == anchor)
    if where == "after":
        if target.get("kind") in ("router", "parallel"):
            raise RefineError(
                f"'{target['id']}' chooses between several steps: add the step before or "
                "after one of them"
            )
        following = _successor(data, target)
        if target.get("kind") == "loop":
            target["exit"] = ident
        else:
            data["edges"] = [edge for edge in data["edges"] if edge["from"] != target["id"]]
            data["edges"].append({"from": target["id"], "to": ident})
        data["edges"].append({"from": ident, "to": following})
        data["nodes"].insert(order.index(target["id"]) + 1, node)
        return
    # before: whatever led to the anchor now leads to the new step, except that a loop
    # whose body is the anchor still repeats from the anchor.
    repeating = [
        other
        for other in data["nodes"]
        if other.get("kind") == "loop" and other.get("body") == anchor
    ]
    _replace_target(data, target["id"], ident)
    for loop in repeating:
        loop["body"] = target["id"]
    data["edges"].append({"from": ident, "to": target["id"]})
    data["nodes"].insert(order.index(target["id"]), node)


# --- finding nodes ---------------------------------------------------------------------------


def _ids(data: dict[str, Any]) -> str:
    return ", ".join(node["id"] for node in data["nodes"])


def _find_node(data: dict[str, Any], name: str) -> dict[str, Any] | None:
    """A node by id, by a word of its id, or by what it writes ("the translation step")."""
    wanted = name.strip().strip("'\"`").lower()
    wanted = re.sub(r"^(?:the\s+)", "", wanted)
    for node in data["nodes"]:
        if node["id"].lower() == wanted or node["id"].lower() == field_name(wanted):
            return node
    wanted_words = content_words(wanted)
    if not wanted_words:
        return None
    for node in data["nodes"]:
        names = {
            node["id"],
            node.get("output") or "",
            *node.get("outputs", []),
            node.get("kind", ""),
        }
        names.add(node.get("tool") or "")
        stems = {stem(part) for name_ in names for part in name_.split("_") if part}
        if wanted_words & stems:
            return node
    return None
