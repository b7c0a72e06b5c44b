"""Refinements as edits of the plan: the config is lifted into a plan, one instruction in
words changes the plan, and the plan is composed again.

    refine(config, "add a step that translates the summary to French")
    refine(config, "loop at most 5 times")
    refine(config, "ask me before sending")
    refine(config, "remove the review")

The instructions are a table (``EDITS``): each row is a pattern anchored at the start of
the message and the edit it makes; rows do not overlap. A message that is one verb phrase
about what the workflow already has ("save the result to a file", "send it to
https://...") adds that step. Anything else returns None, so the caller can treat the
message as a new request. Nothing here calls a model.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from configurable_agents.builder import patterns
from configurable_agents.builder.compose import compose
from configurable_agents.builder.interpret import Interpreter, Modifiers, take_loop
from configurable_agents.builder.lexicon import PRONOUNS
from configurable_agents.builder.lift import lift
from configurable_agents.builder.phrases import phrases_of
from configurable_agents.builder.plan import Field, Parallel, Plan, Route, Router, Step
from configurable_agents.builder.text import content_words, field_name, slug, stem, unique, words
from configurable_agents.config import WorkflowConfig


class RefineError(Exception):
    """The instruction was understood but cannot be applied; the message says why."""


@dataclass
class Refinement:
    """The changed config data and one line saying what changed."""

    data: dict[str, Any]
    summary: str
    plan: Plan | None = None


Edit = Callable[[Plan, re.Match[str]], str]
_I = re.IGNORECASE
_POLITE = r"^(?:please\s+|ok,?\s+|okay,?\s+|now\s+|also\s+|and\s+)*(?:can you\s+|could you\s+)?"


def _plan_of(config: WorkflowConfig) -> Plan:
    plan = lift(config)
    if plan is None:
        raise RefineError(
            "this workflow's graph (a back edge outside a loop node, or a router on several "
            "fields) is beyond edits in words; change it in the YAML"
        )
    return plan


# --- the edits -------------------------------------------------------------------------------


def _rename(plan: Plan, match: re.Match[str]) -> str:
    plan.name = slug(match.group("name"))
    return f"Renamed the workflow to '{plan.name}'."


def _describe(plan: Plan, match: re.Match[str]) -> str:
    plan.description = match.group("text").strip().strip("'\"")
    return "Changed the description."


def _prompt(plan: Plan, match: re.Match[str]) -> str:
    step = _find(plan, match.group("node"))
    if step is None or step.kind not in ("llm", "review", "classify"):
        raise RefineError(
            f"there is no llm step called '{match.group('node')}'; steps: {_ids(plan)}"
        )
    text = match.group("text").strip().strip("'\"")
    if step.node is not None:
        step.node["prompt"] = text
    else:
        step.instruction = text
        step.reads = []
    return f"Changed the prompt of '{step.id}'."


_TYPES = {"number": "float", "float": "float", "decimal": "float", "integer": "int", "int": "int"}
_TYPES |= {"list": "list[str]", "text": "str", "string": "str", "str": "str"}
_TYPES |= {"boolean": "bool", "bool": "bool", "yes/no": "bool"}


def _input_type(plan: Plan, match: re.Match[str]) -> str:
    name = match.group("field")
    spec = plan.fields.get(name)
    if spec is None:
        raise RefineError(f"there is no field called '{name}'; fields: {', '.join(plan.fields)}")
    spec.type = _TYPES[match.group("type").lower()]
    spec.values = None
    if spec.type != "str":
        spec.default = None
    return f"'{name}' is now {spec.type}."


def _settings(plan: Plan, match: re.Match[str]) -> str:
    settings = plan.extra.setdefault("llm", {})
    key, value = match.group("key").lower(), match.group("value")
    if key.startswith("max"):
        settings["max_tokens"] = int(value)
        return f"Set the workflow's LLM max_tokens {value}."
    if key == "temperature":
        settings["temperature"] = float(value)
        return f"Set the workflow's LLM temperature {value}."
    settings["model"] = value
    return f"Set the workflow's LLM model {value}."


def _bound(plan: Plan, match: re.Match[str]) -> str:
    _, modifiers = take_loop(match.group(0))
    if modifiers.bound is None:
        raise RefineError("say how many times, e.g. 'loop at most 5 times'")
    bound = max(1, min(modifiers.bound, 1000))
    if plan.loop is not None:
        plan.loop.max_iterations = bound
        return f"The loop '{plan.loop.id}' now runs at most {bound} times."
    interpreter = Interpreter(plan)
    interpreter.add_loop(Modifiers(bound=bound, repeat=True))
    if plan.loop is None:
        raise RefineError("there is no step to repeat")
    added = [line for line in plan.guessed if "review" in line]
    said = f" {added[-1]}." if added else ""
    return (
        f"Added the loop '{plan.loop.id}': back to '{plan.loop.body}', at most {bound} times.{said}"
    )


def _approve_before(plan: Plan, match: re.Match[str]) -> str:
    what = match.group("what")
    target = _find(plan, what) or _sender(plan)
    if target is None:
        raise RefineError(f"there is no step that does '{what}'; steps: {_ids(plan)}")
    container, index = _locate(plan, target)
    subject = next((name for name in target.reads if not name.endswith("_url")), None)
    approval = Step(
        unique("approve", plan.ids()), "approval", "approve", "Approve this before it goes out?"
    )
    approval.reads = [subject] if subject else []
    if "approval_comment" not in plan.fields:
        plan.fields["approval_comment"] = Field("approval_comment", "str", "The approver's comment")
    approval.writes = ["approval_comment"]
    container.insert(index, approval)
    return f"Added the approval '{approval.id}' before '{target.id}': a person approves it first."


def _route(plan: Plan, match: re.Match[str]) -> str:
    interpreter = Interpreter(plan)
    classify = [step for step in plan.steps() if step.kind == "classify"]
    if classify:
        interpreter.reader.labels_field = classify[-1].writes[0]
        interpreter.reader.previous = classify[-1].reads[0] if classify[-1].reads else None
    before = len(plan.blocks)
    (phrase,) = phrases_of(match.group(0))[:1] or [None]
    if phrase is None:
        return ""
    router = interpreter.route(phrase)
    if router is None:
        raise RefineError("say what to route where, e.g. 'route bugs to an engineer'")
    if len(plan.blocks) > before and classify and router in plan.blocks:
        # The router belongs right after the classification it reads.
        plan.blocks.remove(router)
        at = next(
            i
            for i, b in enumerate(plan.blocks)
            if b is classify[-1] or (isinstance(b, Step) and b.id == classify[-1].id)
        )
        plan.blocks.insert(at + 1, router)
    branches = " / ".join(
        f"{route.value} \u2192 {', '.join(s.id for s in route.steps) or 'on'}"
        for route in router.routes
    )
    return f"'{router.id}' routes on `{router.field}`: {branches}."


def _labels_edit(plan: Plan, match: re.Match[str]) -> str:
    """ "classify as bug, feature, question": the labels of the last classification, and
    a branch for each on the router that reads it."""
    labels = [
        field_name(part)
        for part in re.split(r"\s*(?:,|/|\bor\b|\band\b)\s*", match.group("labels"))
        if part.strip()
    ]
    classify = [step for step in plan.steps() if step.kind == "classify"]
    if not classify or len(labels) < 2:
        raise RefineError("say the labels, e.g. 'classify as bug, feature, question'")
    target = classify[-1]
    name = target.writes[0]
    for block in plan.blocks:
        if isinstance(block, Router) and block.field == name:
            # A label a branch was named for stays a label.
            labels += [r.value for r in block.routes if r.steps and r.value not in labels]
    spec = plan.fields[name]
    spec.type, spec.values = "enum", labels
    spec.description = f"One of: {', '.join(labels)}"
    said = f"Answer with one of: {', '.join(labels)}."
    if target.node is not None:
        target.node["prompt"] = re.sub(r"Answer with one of: [^\n]*", said, target.node["prompt"])
    target.instruction = re.sub(r"Answer with one of: .*", said, target.instruction)
    for block in plan.blocks:
        if isinstance(block, Router) and block.field == name:
            kept = [route for route in block.routes if route.value in labels or route.steps]
            known = {route.value for route in kept}
            block.routes = kept + [Route(value, []) for value in labels if value not in known]
    return f"'{target.id}' now sorts into {' / '.join(labels)}."


def _remove(plan: Plan, match: re.Match[str]) -> str:
    wanted = match.group("what")
    if re.fullmatch(r"(?:the\s+)?(?:loop|repeat|repetition)", wanted.strip(), _I) and plan.loop:
        ident = plan.loop.id
        plan.loop = None
        return f"Removed the loop '{ident}'."
    step = _find(plan, wanted)
    if step is None:
        raise RefineError(f"there is no step called '{wanted}'; steps: {_ids(plan)}")
    if len(plan.steps()) == 1:
        raise RefineError("a workflow needs at least one step, so I kept it")
    container, index = _locate(plan, step)
    del container[index]
    _tidy_blocks(plan)
    said = [f"Removed the step '{step.id}'"]
    if plan.loop is not None and step.id in (plan.loop.body, plan.loop.after):
        said.append(f"and the loop '{plan.loop.id}' that depended on it")
        plan.loop = None
    gone = set(step.writes) - {name for other in plan.steps() for name in other.writes}
    for other in plan.steps():
        if "feedback" in gone and "feedback" in other.reads:
            _drop_read(other, "feedback")
    read_now = {name for other in plan.steps() for name in other.reads}
    needed = sorted(name for name in gone if name in read_now)
    for name in gone:
        if name in needed:
            plan.fields[name].required = True
        else:
            plan.fields.pop(name, None)
    summary = " ".join(said)
    dropped = sorted(gone - set(needed))
    if dropped:
        summary += (
            f" (dropped the unused field{'s' if len(dropped) > 1 else ''} {', '.join(dropped)})"
        )
    if needed:
        summary += f". Nothing writes {', '.join(needed)} any more, so it is now an input"
    return summary + "."


def _add(plan: Plan, match: re.Match[str]) -> str:
    what = match.group("what").strip().rstrip(".")
    where, anchor, what = _position(what)
    what = re.sub(
        r"^(?:the\s+)?(?:(?:step|node)\s+)?(?:that|which|to|where)\s+", "", what, flags=_I
    )
    what = re.sub(r"\s+(?:step|node|stage)$", "", what, flags=_I).strip()
    return _add_clause(plan, what, where, anchor)


def _add_clause(plan: Plan, what: str, where: str = "end", anchor: str | None = None) -> str:
    interpreter = Interpreter(plan)
    target: Step | None = None
    if anchor is not None:
        target = _find(plan, anchor)
        if target is None:
            raise RefineError(f"there is no step called '{anchor}'; steps: {_ids(plan)}")
    if where == "before" and target is not None:
        container, index = _locate(plan, target)
        interpreter.reader.previous = next(iter(target.reads), None)
    elif where == "after" and target is not None:
        container, index = _locate(plan, target)
        index += 1
        interpreter.reader.previous = _output(target)
    elif where == "start":
        container, index = plan.blocks, 0
        interpreter.reader.previous = None
    else:
        container, index = plan.blocks, len(plan.blocks)
    before = list(plan.blocks)
    fields_before = set(plan.fields)
    guessed_before = len(plan.guessed)
    interpreter.read_sentence(what)
    added = [block for block in plan.blocks if block not in before]
    if not added:
        raise RefineError(f"I found no step in '{what}'")
    plan.blocks[:] = before
    container[index:index] = added
    new_inputs = [
        name for name in plan.fields if name not in fields_before and plan.fields[name].required
    ]
    del plan.guessed[guessed_before:]
    placed = {"end": "at the end", "start": "at the start"}.get(where, f"{where} '{anchor}'")
    lines = []
    for block in added:
        if isinstance(block, Step):
            lines.append(
                f"Added the step '{block.id}' ({block.kind}) {placed}: it reads "
                f"{', '.join(block.reads) or 'nothing'} and writes {', '.join(block.writes) or 'nothing'}."
            )
        else:
            lines.append(
                f"Added '{block.id}' ({'router' if isinstance(block, Router) else 'parallel'}) {placed}."
            )
    if new_inputs:
        lines.append(f"New input{'s' if len(new_inputs) > 1 else ''}: {', '.join(new_inputs)}.")
    return " ".join(lines)


# Each row: a pattern anchored at the start of the message, and its edit.
EDITS: list[tuple[re.Pattern[str], Edit]] = [
    (
        re.compile(
            _POLITE
            + r"(?:rename|call|name)\s+(?:it|this|the workflow|the config|this workflow)?\s*"
            r"(?:to|as)?\s+['\"`]?(?P<name>[A-Za-z0-9 _-]+?)['\"`]?\s*\.?$",
            _I,
        ),
        _rename,
    ),
    (
        re.compile(
            _POLITE
            + r"(?:set the description to|describe it as|change the description to)\s+(?P<text>.+)$",
            _I | re.DOTALL,
        ),
        _describe,
    ),
    (
        re.compile(
            _POLITE
            + r"(?:change|set|make)\s+the\s+prompt\s+(?:of|for)\s+(?:the\s+)?(?P<node>[\w-]+)"
            r"(?:\s+(?:step|node))?\s+(?:to|into)\s*:?\s*(?P<text>.+)$",
            _I | re.DOTALL,
        ),
        _prompt,
    ),
    (
        re.compile(
            _POLITE + r"(?:make|set|change)\s+(?:the\s+)?(?P<field>\w+)(?:\s+input)?\s+(?:to\s+)?"
            r"(?:be\s+)?(?:an?\s+)?(?P<type>number|integer|int|float|decimal|list|text|string|str|"
            r"boolean|bool|yes/no)\s*\.?$",
            _I,
        ),
        _input_type,
    ),
    (
        re.compile(
            _POLITE
            + r"(?:set|use|change)?\s*(?:the\s+)?(?P<key>max(?:imum)?[_ ]?tokens?|temperature|model)"
            r"\s*(?:to|of|=|:|at)?\s*(?P<value>[\w.:/-]+)\s*\.?$",
            _I,
        ),
        _settings,
    ),
    (
        re.compile(
            _POLITE
            + r"(?:(?:make|let|have|set)\s+(?:the\s+)?(?:review\s+)?(?:loop|it|repeat)\s+(?:run\s+)?|"
            r"(?:loop|repeat|iterate|retry)\s+(?:it\s+|this\s+)?|limit the loop to\s+|"
            r"(?:at most|up to|no more than)\s+)"
            r".*?"
            + patterns.LOOP_BOUNDS[0].pattern.replace("[,;]?\\s*", "", 1)
            + r".*$|"
            + _POLITE
            + r"(?:loop|repeat|iterate)\s+(?:it\s+)?"
            + r"\d+\s+times\s*\.?$",
            _I,
        ),
        _bound,
    ),
    (
        re.compile(
            _POLITE + r"(?:ask (?:me|us|a person|someone)|get (?:an? )?(?:approval|ok)|"
            r"add an? (?:approval|human approval)(?: step)?|have (?:a person|someone|me|a human) approve(?: it)?|"
            r"let me approve(?: it)?|wait for (?:my|an?) approval)\s+(?:before|prior to)\s+(?P<what>.+?)\s*\.?$",
            _I,
        ),
        _approve_before,
    ),
    (re.compile(_POLITE + r"route\s+\w+\s+to\s+.+$", _I), _route),
    (
        re.compile(
            _POLITE + r"(?:classify|sort|label) (?:it )?(?:as|into) (?P<labels>.+?)\.?$", _I
        ),
        _labels_edit,
    ),
    (
        re.compile(
            _POLITE + r"(?:remove|delete|drop|get rid of)\s+(?:the\s+)?(?P<what>.+?)"
            r"(?:\s+(?:step|node|stage))?\s*\.?$",
            _I,
        ),
        _remove,
    ),
    (
        re.compile(
            _POLITE + r"(?:(?:add|insert|append|include|put in)\s+(?:a|an|another|one more|one)?\s*"
            r"(?:new\s+|final\s+|last\s+|first\s+|extra\s+)?(?:step|node|stage|llm step|part)?\s*"
            r"(?:that|which|to|where|for|in which|:)?|(?:then|afterwards|after that|finally|next)\b,?)"
            r"\s*(?P<what>.+)$",
            _I | re.DOTALL,
        ),
        _add,
    ),
]


def refine(config: WorkflowConfig, instruction: str) -> Refinement | None:
    """The config with the instruction applied, None when it is not an edit instruction;
    raises RefineError when it is one that cannot be applied."""
    text = " ".join(instruction.strip().split())
    for pattern, edit in EDITS:
        match = pattern.match(text)
        if match:
            plan = _plan_of(config)
            summary = edit(plan, match)
            return Refinement(_composed(plan, config), summary, plan)
    if _about_this_workflow(config, text):
        plan = _plan_of(config)
        summary = _add_clause(plan, text.rstrip("."))
        return Refinement(_composed(plan, config), summary, plan)
    return None


def _about_this_workflow(config: WorkflowConfig, text: str) -> bool:
    """One verb phrase about what the workflow has ("save the result to a file", "send it
    to https://..."): a step to add rather than a new request."""
    phrases = phrases_of(text)
    if len(phrases) != 1 or phrases[0].word.lower() != words(text)[0]:
        return False
    first = phrases[0].object_tokens()[:1]
    return (
        not first or first[0] in PRONOUNS or first[0] in ("the", "this") or first[0] in config.state
    )


def _composed(plan: Plan, config: WorkflowConfig) -> dict[str, Any]:
    # The config's own llm settings are in plan.extra: nothing offline is added to them.
    data = compose(plan, offline=False)
    data["name"] = plan.name or config.name
    return data


# --- finding steps ---------------------------------------------------------------------------


def _ids(plan: Plan) -> str:
    return ", ".join(step.id for step in plan.steps())


def _find(plan: Plan, name: str) -> Step | None:
    """A step by id, by a word of its id or verb ("the review", "sending"), by its kind
    ("the approval"), or by what it writes ("the translation")."""
    wanted = re.sub(r"^(?:the|a|an)\s+", "", name.strip().strip("'\"`").lower())
    steps = plan.steps()
    for step in steps:
        if step.id.lower() in (wanted, field_name(wanted)):
            return step
    wanted_stems = {stem(word) for word in content_words(wanted)}
    wanted_stems |= {stem(word.removesuffix("ing")) for word in words(wanted)}
    if not wanted_stems:
        return None
    for step in steps:
        names = {step.id, step.does, step.kind, *step.writes}
        stems = {stem(part) for name_ in names for part in re.split(r"[_ ]", name_) if part}
        if wanted_stems & stems:
            return step
    return None


def _sender(plan: Plan) -> Step | None:
    return next(
        (s for s in plan.steps() if s.kind == "http_request" and s.args.get("method") == "POST"),
        None,
    )


def _locate(plan: Plan, step: Step) -> tuple[list[Any], int]:
    """The list holding a step and its index there."""
    for index, block in enumerate(plan.blocks):
        if block is step:
            return plan.blocks, index
        if isinstance(block, Router):
            for steps in [*(route.steps for route in block.routes), block.otherwise]:
                if step in steps:
                    return steps, steps.index(step)
        if isinstance(block, Parallel) and step in block.branches:
            return block.branches, block.branches.index(step)
    raise RefineError(f"'{step.id}' is not in the plan")  # pragma: no cover


def _tidy_blocks(plan: Plan) -> None:
    """A parallel group left with one branch is a plain step."""
    for index, block in enumerate(plan.blocks):
        if isinstance(block, Parallel) and len(block.branches) == 1:
            plan.blocks[index] = block.branches[0]
    plan.blocks[:] = [b for b in plan.blocks if not (isinstance(b, Parallel) and not b.branches)]


def _output(step: Step) -> str | None:
    if step.kind in ("approval", "file_write", "review") or step.args.get("method") == "POST":
        return step.reads[0] if step.reads else None
    return step.writes[0] if step.writes else None


def _position(what: str) -> tuple[str, str | None, str]:
    match = re.search(
        r"\s*,?\s*\b(?P<where>before|after)\s+(?:the\s+)?(?P<node>[\w-]+)(?:\s+(?:step|node|stage))?\s*$"
        r"|^\s*(?P<where2>before|after)\s+(?:the\s+)?(?P<node2>[\w-]+)(?:\s+(?:step|node|stage))?\s*,?\s*"
        r"|\s*,?\s*\bat the (?P<edge>start|beginning|end)\b\s*",
        what,
        _I,
    )
    if not match:
        return "end", None, what
    rest = (what[: match.start()] + " " + what[match.end() :]).strip(" ,")
    if match.group("edge"):
        return ("start" if match.group("edge").lower() != "end" else "end"), None, rest
    where = (match.group("where") or match.group("where2")).lower()
    return where, match.group("node") or match.group("node2"), rest


def _drop_read(step: Step, name: str) -> None:
    """A step no longer reads a field: its prompt loses the line that showed it."""
    step.reads = [other for other in step.reads if other != name]
    if step.node is not None and "prompt" in step.node:
        lines = [line for line in step.node["prompt"].split("\n") if f"{{{name}}}" not in line]
        step.node["prompt"] = "\n".join(lines).strip()
