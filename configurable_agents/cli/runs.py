"""`configurable-agents run`, `resume`, `approve`, `runs` and `show`: start, continue and
look at runs.

Exit codes: 0 completed, 1 the run failed or was cancelled, 2 the config or the inputs are
invalid (or no such run), 3 the run waits for a human approval, 4 another process holds
the run under a live lease (`resume` says who and until when; `--take-over` waits).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from configurable_agents.cli._shared import (
    AddCommand,
    open_migrated_database,
    parse_inputs,
    print_invalid,
    print_json,
    stdout_kept_for_json,
)

if TYPE_CHECKING:
    from configurable_agents.bootstrap import Database

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_AWAITING, EXIT_HELD = 0, 1, 2, 3, 4


def register(add: AddCommand) -> None:
    """Add `run`, `resume`, `approve`, `runs` and `show` to the parser."""
    run = add(
        "run",
        cmd_run,
        "run a workflow file with live progress (exit 0 done, 1 failed, 2 invalid, 3 awaiting approval)",
    )
    run.add_argument("file")
    run.add_argument(
        "--input",
        "-i",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an input (NAME=@file reads a file)",
    )
    run.add_argument("--json", action="store_true", help="print the run and its steps as JSON")
    run.add_argument("--queue", action="store_true", help="hand the run to the workers instead")
    resume = add(
        "resume",
        cmd_resume,
        "claim an interrupted run like a worker and resume it from its last completed step "
        "(exit 4 while a live worker holds it)",
    )
    resume.add_argument("run_id")
    resume.add_argument(
        "--take-over",
        action="store_true",
        help="wait for the holder's lease to expire, then claim the run (the holder is fenced off)",
    )
    resume.add_argument("--json", action="store_true")
    approve = add(
        "approve", cmd_approve, "approve (or --reject) a run waiting for approval, and continue it"
    )
    approve.add_argument("run_id")
    approve.add_argument("--reject", action="store_true")
    approve.add_argument("--comment", default="", help="feedback for the workflow")
    runs = add("runs", cmd_runs, "list recent runs")
    runs.add_argument("--limit", type=int, default=20)
    runs.add_argument("--json", action="store_true")
    show = add("show", cmd_show, "show a run with every step")
    show.add_argument("run_id")
    show.add_argument("--json", action="store_true")


def cmd_run(args: argparse.Namespace) -> int:
    """Validate, store the workflow (a new version when it changed), run it, show progress.

    With --json, standard output carries one JSON document whatever happens (the run, or
    ``{"state": "invalid", "errors": [...]}``); everything else goes to standard error."""
    with stdout_kept_for_json(args.json) as out:
        return _run(args, out if args.json else None)


def _run(args: argparse.Namespace, out: TextIO | None) -> int:
    from configurable_agents.config import ConfigError, load_config
    from configurable_agents.config.inputs import input_problems
    from configurable_agents.storage.values import problem_in

    path: str = args.file
    queue: bool = args.queue

    try:
        text = Path(path).read_text(encoding="utf-8")
        config = load_config(text, filename=path)
        inputs = parse_inputs(args.input)
    except ConfigError as error:
        return print_invalid([str(issue) for issue in error.issues], out)
    except (OSError, ValueError) as error:
        return print_invalid([f"error: {error}"], out)
    _, problems = input_problems(config, inputs)
    unstorable = problem_in(inputs)
    if unstorable is not None:
        # Before anything is stored: an argument that was not valid text (a lone surrogate
        # from undecodable bytes) or a file read with @ holding NUL.
        where, reason = unstorable
        problems = [*problems, f"input {where[0]!r}: {reason}"]
    if problems:
        return print_invalid([f"error: {problem}" for problem in problems], out)

    settings, database = open_migrated_database("run")
    from configurable_agents.queue.dispatch import check_room, enqueue_new
    from configurable_agents.queue.errors import REFUSALS
    from configurable_agents.storage import run_lifecycle
    from configurable_agents.storage.database import session_scope
    from configurable_agents.storage.repositories import workflows

    try:
        if queue:
            check_room(settings, database.session_factory)
        with session_scope(database.session_factory) as session:
            workflow, version = workflows.save(
                session,
                name=config.name,
                config_yaml=text,
                description=config.description,
                source="cli",
            )
            run = run_lifecycle.create(
                session,
                workflow_name=workflow.name,
                workflow_id=workflow.id,
                workflow_version_id=version.id,
                inputs=inputs,
                trigger="cli",
            )
        if queue:
            enqueue_new(settings, database.session_factory, run)
    except REFUSALS as error:
        print(f"error: {error}", file=sys.stderr)
        if out is not None:
            print_json({"state": "refused", "errors": [str(error)]}, out)
        return EXIT_FAILED
    if queue:
        if out is not None:
            print_json({"run_id": run.id, "state": "queued"}, out)
        else:
            print(f"queued run {run.id}; follow it with `configurable-agents show {run.id}`")
        return EXIT_OK
    return _execute(settings, database, run.id, [node.id for node in config.nodes], out=out)


def cmd_resume(args: argparse.Namespace) -> int:
    """Claim the run like a worker (refused while a live lease exists, unless --take-over
    waits it out) and resume it from its stored steps in this process."""
    from configurable_agents.storage.models import Run, RunState

    run_id: str = args.run_id
    settings, database = open_migrated_database("resume")
    with database.session_factory() as session:
        run = session.get(Run, run_id)
        if run is None:
            print(f"error: no run with id {run_id}", file=sys.stderr)
            return EXIT_INVALID
        if run.state in RunState.FINISHED:
            print(f"run {run_id} is already {run.state}", file=sys.stderr)
            return EXIT_OK if run.state == RunState.COMPLETED else EXIT_FAILED
    with stdout_kept_for_json(args.json) as out:
        return _claim_and_execute(
            settings, database, run_id, "resume", args.take_over, out if args.json else None
        )


def cmd_approve(args: argparse.Namespace) -> int:
    """Record a decision (approve, or --reject) and continue the run in this process."""
    from configurable_agents.queue.dispatch import Decision, decide_approval
    from configurable_agents.queue.errors import REFUSALS

    run_id: str = args.run_id
    settings, database = open_migrated_database("approve")
    try:
        decide_approval(
            settings,
            database.session_factory,
            run_id,
            Decision(not args.reject, args.comment),
            enqueue_run=False,
        )
    except REFUSALS as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INVALID
    return _claim_and_execute(settings, database, run_id, "approve", False, None)


def _claim_and_execute(
    settings: Any,
    database: Database,
    run_id: str,
    command: str,
    take_over: bool,
    out: TextIO | None,
) -> int:
    """Claim the run as a worker would, keep its lease while executing it here."""
    from configurable_agents.queue.claims import (
        claim_run,
        keeping_lease,
        process_holder_id,
    )
    from configurable_agents.storage.errors import IllegalTransitionError, RunHeldError

    def waiting(held: RunHeldError) -> None:
        print(f"{held}; waiting for it to expire (--take-over)", file=sys.stderr, flush=True)

    try:
        held = claim_run(
            settings,
            database.session_factory,
            run_id,
            holder_id=process_holder_id(command),
            take_over=take_over,
            on_wait=waiting,
        )
    except RunHeldError as error:
        print(
            f"error: {error}; not resumed (a second execution would repeat its steps). "
            f"Wait for it, or `configurable-agents resume {run_id} --take-over` to claim it "
            "once that lease expires",
            file=sys.stderr,
        )
        return EXIT_HELD
    except IllegalTransitionError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_AWAITING if "approval" in str(error) else EXIT_FAILED
    with keeping_lease(settings, database.session_factory, held):
        return _execute(settings, database, run_id, [], out=out, claimed=True)


def _execute(
    settings: Any,
    database: Database,
    run_id: str,
    nodes: list[str],
    *,
    out: TextIO | None,
    claimed: bool = False,
) -> int:
    """Run in this process (``claimed``: under this process's claim); with ``out``
    (--json) the run as JSON there, else progress."""
    as_json = out is not None
    from configurable_agents.engine.runner import STALE, open_engine
    from configurable_agents.storage.models import RunState

    # One run and done: its record gets longer to reach MLflow than at a worker's stop
    # (what is still pending then, a worker sends later).
    with open_engine(settings, database.session_factory, drain_seconds=5.0) as engine:
        if as_json:
            outcome = engine.execute(run_id, claimed=claimed)
        else:
            from configurable_agents.cli.progress import RunProgress

            with RunProgress(run_id, nodes) as progress:
                outcome = engine.execute(
                    run_id,
                    claimed=claimed,
                    on_step=progress.step_finished,
                    on_token=progress.token,
                )
    assert outcome is not None
    if out is not None:
        print_json(_run_json(database, run_id), out)
    elif outcome.state == RunState.COMPLETED:
        print(json.dumps(outcome.outputs, indent=2, ensure_ascii=False, default=str))
    elif outcome.state == RunState.AWAITING_APPROVAL:
        message = (outcome.approval or {}).get("message", "")
        print(f"run {run_id} waits for approval:\n{message}")
        print(
            f"approve: configurable-agents approve {run_id}   reject: configurable-agents approve {run_id} --reject"
        )
    else:
        print(f"run {run_id} {outcome.state}: {outcome.error_message}", file=sys.stderr)
    return {
        RunState.COMPLETED: EXIT_OK,
        RunState.AWAITING_APPROVAL: EXIT_AWAITING,
        # Another claim took the run while this process ran it: it stopped, writing nothing.
        STALE: EXIT_HELD,
    }.get(outcome.state, EXIT_FAILED)


def _run_json(database: Database, run_id: str) -> dict[str, Any]:
    from configurable_agents.storage.models import Run
    from configurable_agents.storage.repositories import steps

    with database.session_factory() as session:
        run = session.get(Run, run_id)
        assert run is not None
        return {
            "run_id": run.id,
            "workflow": run.workflow_name,
            "state": run.state,
            "inputs": run.inputs,
            "outputs": run.outputs,
            "error_type": run.error_type,
            "error_message": run.error_message,
            "total_tokens": run.total_tokens,
            "total_cost": run.total_cost,
            "tracking": run.tracking_status,
            "steps": [
                {
                    "seq": step.seq,
                    "node": step.node,
                    # "<node>#<visit>/tool#<n>" for a tool call under its node's step.
                    "step_key": step.step_key,
                    "kind": step.kind,
                    "state": step.state,
                    "output": step.output,
                    "prompt_tokens": step.prompt_tokens,
                    "completion_tokens": step.completion_tokens,
                    "cost": step.cost,
                    "latency_ms": round(step.latency_ms, 2),
                    "error": step.error_message,
                }
                for step in steps.list_for_run(session, run.id)
            ],
        }


def cmd_runs(args: argparse.Namespace) -> int:
    """List the most recent runs (--limit), as a table or as JSON."""
    from configurable_agents.storage.repositories import runs

    _, database = open_migrated_database("runs")
    with database.session_factory() as session:
        rows = runs.list_runs(session, limit=args.limit)
        data = [
            {
                "run_id": run.id,
                "workflow": run.workflow_name,
                "state": run.state,
                "created_at": run.created_at.isoformat(timespec="seconds"),
                "tokens": run.total_tokens,
                "cost": run.total_cost,
            }
            for run in rows
        ]
    if args.json:
        print(json.dumps(data, indent=2))
        return EXIT_OK
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Recent runs", title_justify="left")
    for column in ("run", "workflow", "state", "created", "tokens", "cost $"):
        table.add_column(column)
    for row in data:
        table.add_row(
            row["run_id"],
            row["workflow"],
            row["state"],
            row["created_at"],
            str(row["tokens"]),
            f"{row['cost']:.6f}",
        )
    Console().print(
        table
        if data
        else "no runs yet: try `configurable-agents run examples/summarize.yaml --input text=...`"
    )
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    """Show a run with every step, as tables or as JSON."""
    from configurable_agents.storage.models import Run

    run_id: str = args.run_id
    _, database = open_migrated_database("show")
    with database.session_factory() as session:
        if session.get(Run, run_id) is None:
            print(f"error: no run with id {run_id}", file=sys.stderr)
            return EXIT_INVALID
    data = _run_json(database, run_id)
    if args.json:
        print(json.dumps(data, indent=2, default=str))
        return EXIT_OK
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(
        f"[bold]{data['workflow']}[/] run {run_id}: {data['state']}  tokens {data['total_tokens']}  cost ${data['total_cost']:.6f}"
    )
    if data["error_message"]:
        console.print(f"[red]{data['error_type']}: {data['error_message']}[/]", markup=False)
    table = Table()
    for column in ("#", "node", "kind", "state", "tokens", "ms", "output / error"):
        table.add_column(column)
    for step in data["steps"]:
        shown = step["error"] or json.dumps(step["output"], ensure_ascii=False, default=str)
        table.add_row(
            str(step["seq"]),
            step["node"],
            step["kind"],
            step["state"],
            str(step["prompt_tokens"] + step["completion_tokens"]),
            f"{step['latency_ms']:.1f}",
            (shown or "")[:120],
        )
    console.print(table)
    if data["outputs"]:
        console.print_json(json.dumps(data["outputs"], default=str))
    if data["tracking"]:
        console.print(f"tracking: {data['tracking']}", markup=False)
    return EXIT_OK
