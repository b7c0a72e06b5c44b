"""Turn a plan into workflow config data: state, nodes with deterministic prompts, edges,
and the loop node when the plan repeats.

The result is plain data (what YAML would load to); ``config_from_data`` validates it.
"""

from __future__ import annotations

from typing import Any

from configurable_agents.builder.plan import Plan, Step
from configurable_agents.builder.text import label, slug, unique

# Offline workflows run on the small local model: short answers keep runs quick.
OFFLINE_MAX_TOKENS = 128
LOOP_ID = "repeat"


def prompt_for(step: Step, instruction: str | None = None) -> str:
    """The prompt of an llm or review step: the instruction, then each field it reads."""
    lines = [instruction or step.instruction, ""]
    for name in step.reads:
        if name == "feedback" and step.kind == "llm":
            continue
        lines.append(f"{label(name)}: {{{name}}}")
    if "feedback" in step.reads and step.kind == "llm":
        lines.append("Feedback to address, if any: {feedback}")
    return "\n".join(lines).strip()


def node_data(step: Step, instruction: str | None = None) -> dict[str, Any]:
    """The config data of one step's node."""
    node: dict[str, Any] = {"id": step.node_id}
    if step.kind in ("llm", "review"):
        node["kind"] = "llm"
        node["prompt"] = prompt_for(step, instruction)
        if len(step.writes) == 1:
            node["output"] = step.writes[0]
        else:
            node["outputs"] = list(step.writes)
        if step.kind == "review":
            node["llm"] = {"temperature": 0.1}
        return node
    if step.kind == "approval":
        node.update(kind="approval", message=step.extra["message"], feedback=step.writes[0])
        return node
    node["kind"] = "tool"
    if step.kind == "file_write":
        node.update(
            tool="file_write",
            args={"path": step.extra["path"], "content": f"{{{step.subject}}}\n"},
            output=step.writes[0],
        )
    elif step.kind == "http_request":
        node.update(
            tool="http_request",
            args={"url": f"{{{step.reads[0]}}}", "timeout": 10},
            output=step.writes[0],
        )
    elif step.kind == "file_read":
        node.update(tool="file_read", args={"path": step.extra["path"]}, output=step.writes[0])
    else:
        node.update(tool="current_time", args={"timezone": "UTC"}, output=step.writes[0])
    return node


def workflow_name(plan: Plan) -> str:
    """A name from the verbs of the steps: summarize-and-translate, write-review-save."""
    verbs = list(dict.fromkeys(step.verb for step in plan.steps)) or ["workflow"]
    text = " and ".join(verbs) if len(verbs) == 2 else " ".join(verbs[:5])
    return slug(text)


def description(plan: Plan) -> str:
    """The request in the user's words, as one tidy sentence."""
    text = " ".join((plan.summary or plan.request).split())
    if len(text) > 200:
        text = text[:197].rsplit(" ", 1)[0] + "..."
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?", "...")) else text + "."


def _loop_placement(plan: Plan) -> tuple[int, str] | None:
    """(index of the step the loop node follows, id of the body node) or None."""
    if plan.loop is None or not plan.steps:
        return None
    reviews = [index for index, step in enumerate(plan.steps) if step.kind == "review"]
    if reviews:
        index = reviews[-1]
        subject = plan.steps[index].subject
        producers = [i for i in range(index) if subject in plan.steps[i].writes]
        body = plan.steps[producers[-1]].node_id if producers else plan.steps[0].node_id
        if producers or index > 0:
            return index, body
        return None
    candidates = [i for i, step in enumerate(plan.steps) if step.kind in ("llm", "review")]
    if not candidates:
        return None
    index = candidates[-1]
    return index, plan.steps[index].node_id


def compose(plan: Plan, *, name: str | None = None, offline: bool = True) -> dict[str, Any]:
    """Config data for a plan (validate it with ``config_from_data``)."""
    placement = _loop_placement(plan)
    if plan.loop is not None and placement is None:
        plan.notes.append("There was nothing to repeat, so the workflow has no loop.")
    steps = plan.steps
    if placement is not None and plan.loop is not None and plan.loop.threshold is not None:
        # The step the loop goes back to rewrites with the review's feedback.
        for step in steps:
            if step.node_id == placement[1] and step.kind == "llm" and "feedback" not in step.reads:
                step.reads.append("feedback")
    ids = [step.node_id for step in steps]
    nodes = [node_data(step) for step in steps]
    edges: list[dict[str, str]] = []
    previous: str | None = "START"
    for index, ident in enumerate(ids):
        if previous is not None:
            edges.append({"from": previous, "to": ident})
        previous = ident
        if placement is not None and plan.loop is not None and placement[0] == index:
            loop_id = unique(LOOP_ID, set(ids))
            loop_node: dict[str, Any] = {
                "id": loop_id,
                "kind": "loop",
                "body": placement[1],
                "max_iterations": plan.loop.max_iterations,
                "exit": ids[index + 1] if index + 1 < len(ids) else "END",
            }
            if plan.loop.threshold is not None and "score" in plan.fields:
                loop_node["while"] = {"field": "score", "op": "lt", "value": plan.loop.threshold}
            nodes.insert(index + 1, loop_node)
            edges.append({"from": ident, "to": loop_id})
            previous = None  # the loop node chooses where to go next: its exit
    if previous is not None:
        edges.append({"from": previous, "to": "END"})
    state = {spec.name: spec.to_data() for spec in _ordered_fields(plan)}
    data: dict[str, Any] = {
        "schema_version": 1,
        "name": name or workflow_name(plan),
        "description": description(plan),
        "state": state,
    }
    if offline:
        data["llm"] = {"max_tokens": OFFLINE_MAX_TOKENS}
    data["nodes"] = nodes
    data["edges"] = edges
    return data


def _ordered_fields(plan: Plan) -> list[Any]:
    inputs = [spec for spec in plan.fields.values() if spec.required or spec.default is not None]
    others = [spec for spec in plan.fields.values() if spec not in inputs]
    return inputs + others
