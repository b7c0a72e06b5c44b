"""Runs a stored run: load its workflow version, compile, execute with checkpoints, store
the outcome, hand the record to MLflow tracking in the background.

A run that was interrupted (crash, kill -9, worker gone) is resumed from its last
checkpoint: LangGraph skips the steps it completed, and steps stored by a previous
attempt after the last checkpoint are reused by their step key, never run twice.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from sqlalchemy.orm import Session, sessionmaker

from configurable_agents.config.errors import InvalidInputsError
from configurable_agents.config.inputs import initial_state
from configurable_agents.config.loader import load_config
from configurable_agents.config.schema import LoopNode, WorkflowConfig
from configurable_agents.engine.checkpointing import open_checkpointer
from configurable_agents.engine.compiler import CURRENT_RUN, compile_workflow
from configurable_agents.engine.context import (
    NodeFailed,
    ProviderCache,
    RunCancelled,
    RunContext,
    StepCallback,
    now_ns,
)
from configurable_agents.engine.live_tokens import NodeTokenListener, TokenPublisher
from configurable_agents.engine.nodes import DECISIONS, VISITS, public_state
from configurable_agents.settings import Settings
from configurable_agents.storage import run_lifecycle
from configurable_agents.storage.database import session_scope
from configurable_agents.storage.models import Run, RunState, WorkflowVersion
from configurable_agents.storage.repositories import experiments, runs, steps
from configurable_agents.tracking.mlflow_logger import RunRecord, RunTracker

log = logging.getLogger(__name__)


@dataclass
class RunOutcome:
    """How an execution of a run ended."""

    run_id: str
    state: str
    outputs: dict[str, Any] | None = None
    error_type: str | None = None
    error_message: str | None = None
    approval: dict[str, Any] | None = None


class Engine:
    """Executes runs in this process; one per process (providers and tracker are shared)."""

    def __init__(
        self,
        settings: Settings,
        session_factory: sessionmaker[Session],
        checkpointer: BaseCheckpointSaver,
        *,
        tracker: RunTracker | None = None,
    ) -> None:
        self.settings = settings
        self.session_factory = session_factory
        self.checkpointer = checkpointer
        self.providers = ProviderCache(settings)
        self.tokens = TokenPublisher(session_factory)
        self._graphs: dict[str, Any] = {}
        self._graphs_lock = threading.Lock()
        if tracker is None and settings.tracking_enabled:
            tracker = RunTracker(
                settings.effective_mlflow_tracking_uri, on_result=self._tracking_result
            )
        self.tracker = tracker

    # --- executing -----------------------------------------------------------------------

    def execute(
        self,
        run_id: str,
        *,
        on_step: StepCallback | None = None,
        worker_id: str | None = None,
        lease_seconds: float | None = None,
        claimed: bool = False,
        on_token: NodeTokenListener | None = None,
    ) -> RunOutcome | None:
        """Run (or resume) a stored run to its end, a pause for approval, or a failure.

        With a worker id and lease the run must be queued and is claimed atomically (None
        when another worker got it); ``claimed`` when the queue's limit-aware claim took
        it already; otherwise it is started or resumed as it stands (the CLI). ``on_token``
        gets (node, piece) as llm steps stream, in this process; watchers elsewhere get them
        through the database (engine/live_tokens.py).
        """

        with session_scope(self.session_factory) as session:
            run = runs.require(session, run_id)
            claiming = worker_id is not None and lease_seconds is not None
            if claiming and run.state != RunState.QUEUED:
                # A repeated queue message for a run another worker holds (or that ended).
                return None
            if run.state in RunState.FINISHED:
                return RunOutcome(run_id, run.state, run.outputs, run.error_type, run.error_message)
            if run.cancel_requested:
                run_lifecycle.finish(
                    session, run, state=RunState.CANCELLED, error_message="cancelled by user"
                )
                return RunOutcome(run_id, RunState.CANCELLED, error_message="cancelled by user")
            version = (
                session.get(WorkflowVersion, run.workflow_version_id)
                if run.workflow_version_id
                else None
            )
            if version is None:
                return self._fail_now(
                    session, run, "WorkflowNotFound", "the run's workflow version is gone"
                )
            config_text, inputs, workflow_name = (
                version.config_yaml,
                dict(run.inputs),
                run.workflow_name,
            )
            if run.experiment_id is not None:
                # A cell of an experiment runs its variant's config (the version with the
                # variant's overrides applied).
                config_text = experiments.variant_config_of_run(session, run_id) or config_text
            if claiming:
                taken = run_lifecycle.claim(
                    session, run_id, worker_id=worker_id, lease_seconds=lease_seconds
                )
                if taken is None:
                    return None
            elif not claimed:
                run_lifecycle.start(session, run, worker_id=worker_id)
        try:
            config = _parsed_config(config_text, f"{workflow_name}.yaml")
        except Exception as error:  # a stored config that no longer validates
            return self.finish(
                run_id, RunState.FAILED, error_type="ConfigError", error_message=str(error)
            )

        ctx = self._context(run_id, workflow_name, config, on_step)
        tokens = ctx.tokens = self.tokens.for_run(run_id, on_token)
        graph = self._graph(config_text, config)
        thread = {
            "configurable": {"thread_id": run_id},
            "recursion_limit": _recursion_limit(config),
        }
        started = now_ns()
        token = CURRENT_RUN.set(ctx)
        try:
            graph_input = self._graph_input(graph, thread, config, inputs, ctx)
            graph.invoke(graph_input, thread)
        except RunCancelled:
            return self._end(
                ctx, started, RunState.CANCELLED, error=("RunCancelled", "cancelled by user")
            )
        except NodeFailed as error:
            return self._end(
                ctx,
                started,
                RunState.FAILED,
                error=(error.error_type, f"node {error.node}: {error.message}"),
            )
        except InvalidInputsError as error:
            return self._end(
                ctx, started, RunState.FAILED, error=("InvalidInputsError", str(error))
            )
        except Exception as error:
            log.exception("run %s failed in the engine", run_id)
            return self._end(
                ctx, started, RunState.FAILED, error=(type(error).__name__, str(error))
            )
        finally:
            CURRENT_RUN.reset(token)
            tokens.close()

        snapshot = graph.get_state(thread)
        pending = [interrupt.value for task in snapshot.tasks for interrupt in task.interrupts]
        if pending:
            return self._pause(run_id, pending[0])
        return self._end(
            ctx, started, RunState.COMPLETED, outputs=public_state(dict(snapshot.values))
        )

    def _graph(self, config_text: str, config: WorkflowConfig) -> Any:
        """The compiled graph of a version, built once per engine (a version never changes)."""
        with self._graphs_lock:
            graph = self._graphs.get(config_text)
            if graph is None:
                graph = compile_workflow(config, self.checkpointer)
                if len(self._graphs) >= 256:
                    self._graphs.pop(next(iter(self._graphs)))
                self._graphs[config_text] = graph
            return graph

    def _context(
        self, run_id: str, workflow_name: str, config: WorkflowConfig, on_step: StepCallback | None
    ) -> RunContext:

        allowed = set(config.state) | {VISITS, DECISIONS}
        previous: dict[str, dict[str, Any]] = {}
        waiting: dict[str, int] = {}
        with self.session_factory() as session:
            for step in steps.keyed_steps(session, run_id):
                if step.state == steps.AWAITING_APPROVAL:
                    waiting[str(step.step_key)] = step.seq
                else:
                    output = step.output or {}
                    previous[str(step.step_key)] = {k: v for k, v in output.items() if k in allowed}
        workspace = self.settings.workspace_path
        workspace.mkdir(parents=True, exist_ok=True)
        return RunContext(
            run_id=run_id,
            workflow_name=workflow_name,
            config=config,
            settings=self.settings,
            session_factory=self.session_factory,
            providers=self.providers,
            workspace=workspace,
            previous_steps=previous,
            waiting_steps=waiting,
            on_step=on_step,
        )

    def _graph_input(
        self,
        graph: Any,
        thread: dict[str, Any],
        config: WorkflowConfig,
        inputs: dict[str, Any],
        ctx: RunContext,
    ) -> Any:
        """Fresh state for a new run; None (resume) or the approval decision for a paused one."""
        from langgraph.types import Command

        if self.checkpointer.get_tuple(thread) is None:
            return {**initial_state(config, inputs), VISITS: {}, DECISIONS: {}}
        if ctx.waiting_steps:
            with self.session_factory() as session:
                for key in ctx.waiting_steps:
                    step = steps.waiting_step(session, ctx.run_id, key)
                    decision = (step.output or {}).get("decision") if step else None
                    if decision is not None:
                        return Command(resume=decision)
        return None

    # --- endings ---------------------------------------------------------------------------

    def _fail_now(self, session: Session, run: Run, error_type: str, message: str) -> RunOutcome:

        run_lifecycle.finish(
            session, run, state=RunState.FAILED, error_type=error_type, error_message=message
        )
        return RunOutcome(run.id, RunState.FAILED, error_type=error_type, error_message=message)

    def finish(
        self,
        run_id: str,
        state: str,
        *,
        outputs: dict[str, Any] | None = None,
        error_type: str | None = None,
        error_message: str | None = None,
    ) -> RunOutcome:
        """Store a final state."""
        self._store_final(run_id, state, outputs, error_type, error_message)
        return RunOutcome(run_id, state, outputs, error_type, error_message)

    def _store_final(
        self,
        run_id: str,
        state: str,
        outputs: dict[str, Any] | None,
        error_type: str | None,
        error_message: str | None,
    ) -> Run:
        """The run in its final state, as stored (its attributes stay readable)."""

        with session_scope(self.session_factory) as session:
            run = runs.require(session, run_id)
            run_lifecycle.finish(
                session,
                run,
                state=state,
                outputs=outputs,
                error_type=error_type,
                error_message=error_message,
            )
            if not self.settings.tracking_enabled:
                run.tracking_status = "off (TRACKING_ENABLED=false)"
        return run

    def _pause(self, run_id: str, approval: dict[str, Any]) -> RunOutcome:

        with session_scope(self.session_factory) as session:
            run_lifecycle.pause_for_approval(session, runs.require(session, run_id))
        return RunOutcome(run_id, RunState.AWAITING_APPROVAL, approval=approval)

    def _end(
        self,
        ctx: RunContext,
        started: int,
        state: str,
        *,
        outputs: dict[str, Any] | None = None,
        error: tuple[str, str] | None = None,
    ) -> RunOutcome:
        error_type, error_message = error if error else (None, None)
        # One transaction stores the end and gives the totals the tracking record needs.
        run = self._store_final(ctx.run_id, state, outputs, error_type, error_message)
        if self.tracker is not None:
            self.tracker.submit(self._record(ctx, started, run))
        return RunOutcome(ctx.run_id, state, outputs, error_type, error_message)

    def _record(self, ctx: RunContext, started: int, run: Run) -> RunRecord:
        llm = ctx.providers.resolve(ctx.config.llm)
        return RunRecord(
            run_id=ctx.run_id,
            workflow_name=ctx.workflow_name,
            state=run.state,
            params={
                "provider": llm["provider"],
                "model": llm["model"] or "default",
                "nodes": str(len(ctx.config.nodes)),
            },
            metrics={
                "total_tokens": float(run.total_tokens),
                "cost_usd": float(run.total_cost),
                "steps": float(len(ctx.spans)),
            },
            start_ns=started,
            end_ns=now_ns(),
            inputs=dict(run.inputs),
            outputs=run.outputs,
            spans=sorted(ctx.spans, key=lambda span: span.start_ns),
        )

    def _tracking_result(self, run_id: str, mlflow_run_id: str | None, status: str) -> None:
        with session_scope(self.session_factory) as session:
            run = session.get(Run, run_id)
            if run is not None:
                run.mlflow_run_id = mlflow_run_id
                run.tracking_status = status


@lru_cache(maxsize=256)
def _parsed_config(text: str, filename: str) -> WorkflowConfig:
    """Parsing with line marks costs tens of ms; a version's text never changes."""

    return load_config(text, filename=filename)


def _recursion_limit(config: WorkflowConfig) -> int:
    """Enough supersteps for every loop's bound, with room to spare."""

    loops = sum(node.max_iterations for node in config.nodes if isinstance(node, LoopNode))
    return max(25, (len(config.nodes) + 1) * (loops + 2))


@contextmanager
def open_engine(settings: Settings, session_factory: sessionmaker[Session]) -> Iterator[Engine]:
    """An Engine with this process's checkpointer; waits for tracking on exit (bounded)."""

    with open_checkpointer(settings) as checkpointer:
        engine = Engine(settings, session_factory, checkpointer)
        try:
            yield engine
        finally:
            if engine.tracker is not None:
                engine.tracker.flush(timeout=5.0)
