"""`configurable-agents experiment run FILE`, `experiment show ID`, `experiment list`.

Exit codes of `run`: 0 every gate passed, 1 a gate failed (or the experiment failed or
was cancelled), 2 the definition, the dataset or a gate is invalid.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from configurable_agents.cli._shared import (
    AddCommand,
    open_migrated_database,
    print_invalid,
    print_json,
    stdout_kept_for_json,
)

EXIT_OK, EXIT_GATE_FAILED, EXIT_INVALID = 0, 1, 2
POLL_SECONDS = 0.3
# With no cell done after this long, say whether any worker is there to run them.
WORKER_HINT_SECONDS = 10.0


def register(add: AddCommand) -> None:
    """Add `experiment` with its actions run, show and list."""
    parser = add(
        "experiment", _help, "run experiments: variants of a workflow compared on a dataset"
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    run = actions.add_parser(
        "run",
        help="run an experiment file (exit 0 gates passed, 1 a gate failed, 2 invalid)",
        description="run an experiment file (exit 0 gates passed, 1 a gate failed, 2 invalid)",
    )
    run.set_defaults(handler=cmd_run)
    run.add_argument("file")
    run.add_argument(
        "--gate",
        action="append",
        default=[],
        metavar="RULES",
        help='quality gates, e.g. "exact>=0.8,cost_per_row<=0.01" (variant:figure for one variant)',
    )
    run.add_argument("--junit", metavar="FILE", help="write the gates as a JUnit XML file")
    run.add_argument("--json", action="store_true", help="print the report as JSON")
    run.add_argument("--local", action="store_true", help="run the cells in this process")
    show = actions.add_parser("show", help="show an experiment's comparison table")
    show.set_defaults(handler=cmd_show)
    show.add_argument("experiment_id", type=int)
    show.add_argument("--json", action="store_true")
    listing = actions.add_parser("list", help="list experiments")
    listing.set_defaults(handler=cmd_list)
    listing.add_argument("--json", action="store_true")
    parser.set_defaults(experiment_parser=parser)


def _help(args: argparse.Namespace) -> int:
    args.experiment_parser.print_help()
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Validate, store, run (queue or --local) with a progress bar, print the table, gate."""
    with stdout_kept_for_json(args.json) as out:
        return _run(args, out if args.json else None)


def _run(args: argparse.Namespace, out: TextIO | None) -> int:
    from configurable_agents.experiments import gates as gate_rules
    from configurable_agents.experiments.definition import load_definition_file
    from configurable_agents.experiments.errors import DatasetError, DefinitionError, GateError

    path = Path(args.file)
    try:
        definition = load_definition_file(path)
        extra = gate_rules.parse_gates(args.gate)
        gate_rules.check_known(
            extra,
            [spec.label for spec in definition.scorers],
            [variant.name for variant in definition.variants],
        )
    except DefinitionError as error:
        return print_invalid([str(issue) for issue in error.issues], out)
    except GateError as error:
        return print_invalid([f"--gate: {error}"], out)

    settings, database = open_migrated_database("experiment")
    from configurable_agents.experiments.creation import create_experiment
    from configurable_agents.experiments.report import report

    try:
        experiment_id = create_experiment(
            settings, database.session_factory, definition, base_dir=path.parent
        )
    except DefinitionError as error:
        return print_invalid([str(issue) for issue in error.issues], out)
    except DatasetError as error:
        return print_invalid([f"{error.filename}: {problem}" for problem in error.problems], out)
    print(f"experiment {experiment_id}: {definition.name}", file=sys.stderr)
    try:
        _execute(settings, database, experiment_id, local=args.local)
    except KeyboardInterrupt:
        from configurable_agents.experiments.launch import cancel_experiment

        cancel_experiment(database.session_factory, experiment_id)
        print(f"experiment {experiment_id} cancelled", file=sys.stderr)
        return 130
    finally:
        from configurable_agents.experiments.tracking import wait_for_sending

        wait_for_sending(timeout=10.0)
    with database.session_factory() as session:
        found = report(session, experiment_id, extra_gates=args.gate)
    if args.junit:
        Path(args.junit).write_text(gate_rules.junit_xml(found.name, found.gates), encoding="utf-8")
    if out is not None:
        print_json(found.to_dict(), out)
    else:
        print_report(found)
    if found.status != "completed" or not found.gates_passed:
        return EXIT_GATE_FAILED
    return EXIT_OK


def _execute(settings: Any, database: Any, experiment_id: int, *, local: bool) -> None:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from configurable_agents.experiments.cells import reconcile
    from configurable_agents.experiments.launch import start_experiment
    from configurable_agents.experiments.progress import progress
    from configurable_agents.experiments.tracking import send_in_background

    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=Console(stderr=True),
        transient=False,
    )
    tasks: dict[str, Any] = {}

    def refresh() -> str:
        with database.session_factory() as session:
            state = progress(session, [experiment_id])[experiment_id]
        for line in state.variants:
            if line.name not in tasks:
                tasks[line.name] = bar.add_task(line.name, total=line.total)
            bar.update(tasks[line.name], completed=line.done)
        return state.status

    with bar:
        if local:
            from configurable_agents.experiments.local import run_local

            run_local(
                settings, database.session_factory, experiment_id, on_cell=lambda _: refresh()
            )
            refresh()
            return
        start_experiment(settings, database.session_factory, experiment_id)
        started, hinted = time.monotonic(), False
        while refresh() == "running":
            time.sleep(POLL_SECONDS)
            if not hinted and time.monotonic() - started > WORKER_HINT_SECONDS:
                hinted = _hint_without_workers(database, bar)
            # Cells the reaper failed are scored here; the workers score the rest.
            reconcile(
                settings, database.session_factory, experiment_id, on_finished=send_in_background
            )


def _hint_without_workers(database: Any, bar: Any) -> bool:
    """Print a hint once when no worker is alive to run the cells (True once checked)."""
    from configurable_agents.storage.models import utcnow
    from configurable_agents.storage.repositories import agents

    with database.session_factory() as session:
        alive = [
            agent
            for agent in agents.list_agents(session, kind=agents.WORKER)
            if agents.liveness(agent, utcnow()) == "alive"
        ]
    if not alive:
        bar.console.print(
            "no worker is running: start one (`configurable-agents worker` or `honcho start`), "
            "or run with --local; Ctrl-C cancels the experiment"
        )
    return True


def print_report(found: Any) -> None:
    """The comparison table: a line per variant, then each variant against the baseline."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(
        title=f"experiment {found.experiment_id} {found.name} ({found.status}; "
        f"{found.rows} rows x {found.repeats} repeats; baseline {found.baseline})",
        title_justify="left",
    )
    for column in ("variant", *found.scorers, "pass", "ms mean", "ms p95", "cost/row", "cost"):
        table.add_column(column)
    for stats in found.variants:
        cells = []
        for scorer in found.scorers:
            interval = stats.scorers.get(scorer)
            cells.append(
                "-"
                if interval is None
                else f"{interval.mean:.3f} [{interval.low:.3f}, {interval.high:.3f}]"
            )
        table.add_row(
            stats.name,
            *cells,
            _num(stats.pass_rate, ".0%"),
            _num(stats.latency_mean_ms, ".0f"),
            _num(stats.latency_p95_ms, ".0f"),
            _num(stats.cost_per_row, ".6f"),
            f"{stats.cost_total:.6f}",
        )
    console.print(table)
    for comparison in found.comparisons:
        diff = comparison.diff
        shown = (
            "no shared rows"
            if diff is None
            else f"{diff.mean:+.3f} [{diff.low:+.3f}, {diff.high:+.3f}]"
        )
        console.print(
            f"{comparison.variant} vs {comparison.baseline} on {comparison.scorer}: "
            f"{shown} -> {comparison.verdict}"
        )
    if found.judge_cost:
        console.print(f"judge cost (apart from the runs): {found.judge_cost:.6f}")
    for result in found.gates:
        console.print(("PASS " if result.passed else "FAIL ") + result.message)


def _num(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def cmd_show(args: argparse.Namespace) -> int:
    """Print one experiment's comparison table (or its report as JSON)."""
    from configurable_agents.experiments.report import report
    from configurable_agents.storage.errors import ExperimentNotFoundError

    _, database = open_migrated_database("experiment")
    with database.session_factory() as session:
        try:
            found = report(session, args.experiment_id)
        except ExperimentNotFoundError as error:
            print(f"error: {error}", file=sys.stderr)
            return EXIT_INVALID
    if args.json:
        print_json(found.to_dict(), sys.stdout)
    else:
        print_report(found)
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    """List experiments, newest first, with their progress."""
    from configurable_agents.experiments.progress import progress
    from configurable_agents.storage.repositories import experiments

    _, database = open_migrated_database("experiment")
    with database.session_factory() as session:
        found = list(experiments.list_experiments(session))
        states = progress(session, [experiment.id for experiment in found])
        rows = [
            {
                "id": experiment.id,
                "name": experiment.name,
                "status": experiment.status,
                "done": states[experiment.id].done,
                "total": states[experiment.id].total,
                "created_at": experiment.created_at.isoformat(),
            }
            for experiment in found
        ]
    if args.json:
        print_json(rows, sys.stdout)
        return EXIT_OK
    for row in rows:
        print(
            f"{row['id']:>4}  {row['name']:<30} {row['status']:<10} "
            f"{row['done']}/{row['total']} cells  {row['created_at']}"
        )
    if not rows:
        print("no experiments yet: configurable-agents experiment run FILE")
    return EXIT_OK
