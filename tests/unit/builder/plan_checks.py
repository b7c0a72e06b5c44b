"""Checks of a plan's shape that hold for any request: what a user would find broken in a
workflow whatever they asked for (used by test_corpus.py over every corpus request)."""

from __future__ import annotations

from configurable_agents.builder.plan import Plan, Router, Step


def reads_a_branch_only_value(plan: Plan) -> list[str]:
    """The steps after a router that read what only some of its branches write (a run that
    took another branch has no such value)."""
    written = {spec.name for spec in plan.inputs}
    branch_only: set[str] = set()
    found: list[str] = []
    for block in plan.blocks:
        if isinstance(block, Router):
            # The way past the router without a branch is taken only by a value no route has.
            values = set(plan.fields[block.field].values or [])
            covered = bool(values) and values <= {r.value for r in block.routes}
            branches = [r.steps for r in block.routes if not r.stop]
            branches += [] if covered and not block.otherwise else [block.otherwise]
            for step in [step for steps in branches for step in steps]:
                if set(step.reads) & (branch_only - written):
                    found.append(step.id)
            outs = [{w for step in steps for w in step.writes} for steps in branches]
            every = set.intersection(*outs) if outs else set()
            branch_only |= set().union(*outs) - every
            written |= every
        elif isinstance(block, Step):
            if set(block.reads) & (branch_only - written):
                found.append(block.id)
            written |= set(block.writes)
        else:
            written |= {w for step in block.branches for w in step.writes}
    return found


def model_steps_that_read_nothing(plan: Plan) -> list[str]:
    """Model steps whose prompt has no value of the run in it."""
    return [s.id for s in plan.steps() if s.kind in ("llm", "classify", "review") and not s.reads]


def loops_over_a_label(plan: Plan) -> list[str]:
    """A loop until a review is content that redoes a classification or an approval: the
    same input gives the same label, and no review improves a person's answer. (A loop per
    item may classify each item.)"""
    if plan.loop is None or plan.loop.while_field is None:
        return []
    body = plan.find(plan.loop.body)
    return [body.id] if body is not None and body.kind in ("classify", "approval") else []
