"""An experiment runs its cells through the queue on real workers; a worker killed with
SIGKILL in the middle loses nothing: the cells scored before the kill are kept (their runs
are not executed again) and the rest complete on a new worker."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from configurable_agents.experiments.creation import create_experiment
from configurable_agents.experiments.definition import parse_definition
from configurable_agents.experiments.launch import start_experiment
from configurable_agents.experiments.progress import progress
from configurable_agents.storage.models import Experiment, Run
from configurable_agents.storage.repositories import experiments
from tests.fakes.openai_server import FakeLLMServer
from tests.fakes.workflows import echo_workflow
from tests.integration.queue.conftest import ClusterFactory

ROWS = 6
DEFINITION = """\
name: restart
workflow: echo.yaml
dataset: rows.csv
variants:
  - name: a
  - name: b
    nodes: {answer: {prompt: "B {text}"}}
scorers:
  - {kind: contains, field: reply, value: "fake reply"}
"""


def scored_cells(cluster, experiment_id: int) -> dict[int, tuple[str, object]]:  # type: ignore[no-untyped-def]
    with cluster.session_factory() as session:
        return {
            cell.id: (cell.run_id, cell.finished_at, dict(cell.scores))
            for cell in experiments.cells(session, experiment_id, states=[experiments.SCORED])
        }


def test_kill_9_mid_experiment_keeps_finished_cells_and_completes_the_rest(
    make_cluster: ClusterFactory, slow_llm: FakeLLMServer, tmp_path: Path
) -> None:
    cluster = make_cluster(slow_llm, WORKER_CONCURRENCY="2")
    (tmp_path / "echo.yaml").write_text(echo_workflow())
    (tmp_path / "rows.csv").write_text("text\n" + "".join(f"[r{i}]\n" for i in range(ROWS)))
    definition = parse_definition(DEFINITION, filename="restart.yaml")
    experiment_id = create_experiment(
        cluster.settings, cluster.session_factory, definition, base_dir=tmp_path
    )
    (victim,) = cluster.start_workers(1)
    run_ids = start_experiment(cluster.settings, cluster.session_factory, experiment_id)
    assert len(run_ids) == 2 * ROWS

    cluster.wait_for(
        lambda: len(scored_cells(cluster, experiment_id)) >= 3, timeout=60, what="3 scored cells"
    )
    victim.kill9()
    before = scored_cells(cluster, experiment_id)
    assert 3 <= len(before) < 2 * ROWS, "the kill came too late to interrupt anything"

    cluster.start_workers(1)

    def completed() -> bool:
        with cluster.session_factory() as session:
            experiment = session.get(Experiment, experiment_id)
            return experiment is not None and experiment.status == "completed"

    cluster.wait_for(completed, timeout=120, what="the experiment to complete")
    after = scored_cells(cluster, experiment_id)
    assert len(after) == 2 * ROWS
    # The cells scored before the kill are untouched, and their runs ran once.
    for cell_id, record in before.items():
        assert after[cell_id] == record
    runs = {run.id: run for run in cluster.runs(run_ids)}
    assert Counter(run.state for run in runs.values()) == {"completed": 2 * ROWS}
    for run_id, _, _ in before.values():
        assert runs[run_id].attempts == 1
    # Every cell's prompt reached the model once, except runs in flight at the kill.
    prompts = Counter(request.last_user_text for request in slow_llm.requests)
    assert set(prompts) == {f"{p}[r{i}]" for i in range(ROWS) for p in ("", "B ")}
    repeated = {text for text, count in prompts.items() if count > 1}
    resumed = {run.inputs["text"] for run in runs.values() if run.attempts > 1}
    assert {text.removeprefix("B ") for text in repeated} <= resumed
    assert all(value == {"contains": 1.0} for _, _, value in after.values())
    with cluster.session_factory() as session:
        state = progress(session, [experiment_id])[experiment_id]
        assert (state.done, state.total) == (2 * ROWS, 2 * ROWS)
        assert all(run.experiment_id == experiment_id for run in session.query(Run))
