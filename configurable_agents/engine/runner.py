"""Runs a stored run: load its workflow version, compile, execute, store the outcome, hand
the record to MLflow tracking in the background.

One durable write per step: the step log (keys ``node#visit``) is the record a resumed
run needs. A run that was interrupted (crash, kill -9, worker gone) is executed again
from its inputs and every step a previous attempt stored is replayed from its stored
output by its key, never run again. LangGraph's checkpointer is used only by workflows
with an approval node (its interrupt needs one), and only at the graph's exit
(``durability="exit"``): the pause for a person is saved, single steps are not.

Every execution holds a claim epoch (storage.run_lifecycle): its step writes and state
changes are fenced by it, and an execution whose claim went stale stops at its next step
having written nothing (outcome :data:`STALE`).
"""

from __future__ import annotations

import logging
import sys
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
from configurable_agents.config.schema import ApprovalNode, LoopNode, WorkflowConfig
from configurable_agents.engine.agent_loop import ToolApprovalPending
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
from configurable_agents.storage.errors import StaleClaimError
from configurable_agents.storage.models import Run, RunState, WorkflowVersion
from configurable_agents.storage.repositories import experiments, outbox, runs, steps
from configurable_agents.tracking.mlflow_logger import RunRecord, record_to_json
from configurable_agents.tracking.outbox import OutboxSender

log = logging.getLogger(__name__)
# The outcome of an execution whose claim went stale: it stopped and wrote nothing more;
# the run belongs to whoever claimed it since (not a state of the run).
STALE = "stale"


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
    """Executes runs in this process; one per process (providers and sender are shared)."""

    def __init__(
        self,
        settings: Settings,
        session_factory: sessionmaker[Session],
        checkpointer: BaseCheckpointSaver,
        *,
        sender: OutboxSender | None = None,
        checkpoint_every_step: bool = False,
    ) -> None:
        self.settings = settings
        # The former design (a LangGraph checkpoint after every step of every workflow),
        # kept for benchmarks/engine.py to measure against.
        self.checkpoint_every_step = checkpoint_every_step
        self.session_factory = session_factory
        self.checkpointer = checkpointer
        self.providers = ProviderCache(settings)
        self.tokens = TokenPublisher(session_factory)
        self._graphs: dict[str, tuple[Any, bool]] = {}
        self._graphs_lock = threading.Lock()
        # Delivers the MLflow records this engine stores with each run's end.
        self.sender = sender

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
                run = taken
            elif not claimed:
                run_lifecycle.start(session, run, worker_id=worker_id)
            epoch = run.epoch
        try:
            return self._execute_claimed(
                run_id, epoch, config_text, inputs, workflow_name, on_step, on_token
            )
        except StaleClaimError as error:
            log.warning("run %s: stopped without writing more: %s", run_id, error)
            return RunOutcome(run_id, STALE, error_type="StaleClaim", error_message=str(error))

    def _execute_claimed(
        self,
        run_id: str,
        epoch: int,
        config_text: str,
        inputs: dict[str, Any],
        workflow_name: str,
        on_step: StepCallback | None,
        on_token: NodeTokenListener | None,
    ) -> RunOutcome:
        """Execute a run this process holds under ``epoch``; StaleClaimError when the claim
        goes stale."""
        try:
            config = _parsed_config(config_text, f"{workflow_name}.yaml")
        except Exception as error:  # a stored config that no longer validates
            return self.finish(
                run_id,
                RunState.FAILED,
                error_type="ConfigError",
                error_message=str(error),
                epoch=epoch,
            )

        ctx = self._context(run_id, workflow_name, config, on_step)
        ctx.epoch = epoch
        ctx.claim_check_seconds = min(1.0, self.settings.run_lease_seconds / 4)
        tokens = ctx.tokens = self.tokens.for_run(run_id, on_token)
        graph, checkpointed = self._graph(config_text, config)
        thread = {
            "configurable": {"thread_id": run_id},
            "recursion_limit": _recursion_limit(config),
        }
        started = now_ns()
        token = CURRENT_RUN.set(ctx)
        try:
            graph_input = self._graph_input(checkpointed, thread, config, inputs, ctx)
            # With a checkpointer, only at exit (a pause for approval, the end): the step
            # log is the per-step record. The former design checkpointed every step.
            options: dict[str, Any] = {}
            if checkpointed:
                options["durability"] = "async" if self.checkpoint_every_step else "exit"
            result = graph.invoke(graph_input, thread, **options)
        except StaleClaimError:
            raise  # another claim holds the run: write nothing, not even the failure
        except ToolApprovalPending as pending:
            # A tool call waits for a person; its step is stored, the node runs again
            # (replaying what it stored) once the decision is recorded.
            return self._pause(run_id, pending.approval, epoch)
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

        values = dict(result) if isinstance(result, dict) else {}
        pending = [interrupt.value for interrupt in values.pop("__interrupt__", ())]
        if pending:
            return self._pause(run_id, pending[0], epoch)
        return self._end(ctx, started, RunState.COMPLETED, outputs=public_state(values))

    def _graph(self, config_text: str, config: WorkflowConfig) -> tuple[Any, bool]:
        """The compiled graph of a version, built once per engine (a version never changes),
        and whether it has a checkpointer (only workflows that pause for approval)."""
        with self._graphs_lock:
            entry = self._graphs.get(config_text)
            if entry is None:
                checkpointed = self.checkpoint_every_step or needs_checkpointer(config)
                graph = compile_workflow(config, self.checkpointer if checkpointed else None)
                entry = (graph, checkpointed)
                if len(self._graphs) >= 256:
                    self._graphs.pop(next(iter(self._graphs)))
                self._graphs[config_text] = entry
            return entry

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
            # A workflow called as a tool runs as a child run, in this process.
            run_child=lambda child_id: self.execute(child_id),
        )

    def _graph_input(
        self,
        checkpointed: bool,
        thread: dict[str, Any],
        config: WorkflowConfig,
        inputs: dict[str, Any],
        ctx: RunContext,
    ) -> Any:
        """Fresh state for a new or replayed run; None (resume) or the approval decision for
        a run paused at a saved interrupt."""
        from langgraph.types import Command

        if not checkpointed or self.checkpointer.get_tuple(thread) is None:
            return {**initial_state(config, inputs), VISITS: {}, DECISIONS: {}}
        if ctx.waiting_steps:
            with self.session_factory() as session:
                for key in ctx.waiting_steps:
                    if "/" in key:
                        # A tool call's approval: the node reads the decision from its
                        # step when it runs again; plain resuming re-runs the node.
                        continue
                    step = steps.waiting_step(session, ctx.run_id, key)
                    decision = (step.output or {}).get("decision") if step else None
                    if decision is not None:
                        return Command(resume=decision)
        return None

    # --- endings ---------------------------------------------------------------------------

    def _fail_now(self, session: Session, run: Run, error_type: str, message: str) -> RunOutcome:
        # Before any claim of this execution: the run as loaded in this transaction.
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
        epoch: int | None = None,
    ) -> RunOutcome:
        """Store a final state (fenced by ``epoch`` when given)."""
        self._store_final(run_id, state, outputs, error_type, error_message, epoch=epoch)
        return RunOutcome(run_id, state, outputs, error_type, error_message)

    def _store_final(
        self,
        run_id: str,
        state: str,
        outputs: dict[str, Any] | None,
        error_type: str | None,
        error_message: str | None,
        record: Any = None,
        epoch: int | None = None,
    ) -> Run:
        """The run in its final state, as stored (its attributes stay readable).

        ``record`` (a callable of the stored run giving its RunRecord) puts the run's MLflow
        record in the tracking outbox in the same transaction: a run that ended has its
        record, pending until a sender delivers it. With ``epoch`` (the claim this
        execution holds) the end is a compare-and-set on it (StaleClaimError).
        """

        with session_scope(self.session_factory) as session:
            run = runs.require(session, run_id)
            run = run_lifecycle.finish(
                session,
                run,
                state=state,
                outputs=outputs,
                error_type=error_type,
                error_message=error_message,
                epoch=epoch,
            )
            if not self.settings.tracking_enabled:
                run.tracking_status = "off (TRACKING_ENABLED=false)"
            elif record is not None:
                session.flush()  # the totals the record reports
                outbox.store_pending(session, run_id, record_to_json(record(run)))
        return run

    def _pause(self, run_id: str, approval: dict[str, Any], epoch: int) -> RunOutcome:

        with session_scope(self.session_factory) as session:
            run_lifecycle.pause_for_approval(session, runs.require(session, run_id), epoch=epoch)
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
        # One transaction stores the end and the tracking record made from its totals.
        self._store_final(
            ctx.run_id,
            state,
            outputs,
            error_type,
            error_message,
            record=lambda run: self._record(ctx, started, run),
            epoch=ctx.epoch,
        )
        if self.sender is not None:
            self.sender.wake()
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


def needs_checkpointer(config: WorkflowConfig) -> bool:
    """Only a workflow that pauses for a person needs LangGraph's checkpointer (its
    interrupt); every other one resumes from the step log alone."""
    return any(isinstance(node, ApprovalNode) for node in config.nodes)


@lru_cache(maxsize=256)
def _parsed_config(text: str, filename: str) -> WorkflowConfig:
    """Parsing with line marks costs tens of ms; a version's text never changes."""

    return load_config(text, filename=filename)


def _recursion_limit(config: WorkflowConfig) -> int:
    """Enough supersteps for every loop's bound, with room to spare."""

    loops = sum(node.max_iterations for node in config.nodes if isinstance(node, LoopNode))
    return max(25, (len(config.nodes) + 1) * (loops + 2))


@contextmanager
def open_engine(
    settings: Settings,
    session_factory: sessionmaker[Session],
    *,
    drain_seconds: float | None = None,
) -> Iterator[Engine]:
    """An Engine with this process's checkpointer and tracking sender.

    On exit the sender drains within ``drain_seconds`` (TRACKING_DRAIN_SECONDS by default);
    records it could not send stay pending in the database, and a worker's sender
    delivers them later.
    """

    sender = None
    if settings.tracking_enabled:
        sender = OutboxSender(
            settings.effective_mlflow_tracking_uri,
            session_factory,
            retry_max_seconds=settings.tracking_retry_max_seconds,
        ).start()
    with open_checkpointer(settings) as checkpointer:
        engine = Engine(settings, session_factory, checkpointer, sender=sender)
        try:
            yield engine
        finally:
            if sender is not None:
                sender.drain(
                    settings.tracking_drain_seconds if drain_seconds is None else drain_seconds
                )
            # The MCP servers this process started stop with it. Looked up rather than
            # imported: a process that never called an MCP tool never loaded the SDK.
            mcp_pool = sys.modules.get("configurable_agents.mcp.pool")
            if mcp_pool is not None:
                mcp_pool.close_process_pool()
