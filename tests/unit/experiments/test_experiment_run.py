"""2 variants x 20 rows x 2 repeats, executed for real (each cell a stored run) against the
scripted server: every figure equals the value worked out by hand below.

The workflow asks "What is {n} plus one?". The scripted server answers by model:
- good-model always answers n+1 ("7").
- base-model answers n+1 the first time it sees a question (repeat 0) and n+1.05 the
  second time (repeat 1): exact right once per row, so each row's exact is 0.5.
Every call reports 100 prompt and 10 completion tokens; prices per million tokens are
good 1/2 (cost 0.00012 a call) and base 10/20 (0.0012 a call).
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from statistics import fmean

import pytest

from configurable_agents.bootstrap import Database
from configurable_agents.experiments.creation import create_experiment
from configurable_agents.experiments.definition import parse_definition
from configurable_agents.experiments.local import run_local
from configurable_agents.experiments.progress import progress
from configurable_agents.experiments.promotion import promote_variant
from configurable_agents.experiments.report import report
from configurable_agents.experiments.row_comparison import row_outputs
from configurable_agents.experiments.statistics import BETTER, NO_DIFFERENCE, p95
from configurable_agents.settings import Settings
from configurable_agents.storage.models import Run
from configurable_agents.storage.repositories import experiments, runs, workflows
from tests.fakes import FakeLLMServer, RecordedRequest, Reply

WORKFLOW = """\
schema_version: 1
name: plus-one
state:
  n: {type: int, required: true}
  answer: {type: str}
llm: {model: base-model}
pricing:
  base-model: {input: 10, output: 20}
  good-model: {input: 1, output: 2}
nodes:
  - {id: add, kind: llm, prompt: "What is {n} plus one?", output: answer}
edges:
  - {from: START, to: add}
  - {from: add, to: END}
"""

DEFINITION = """\
name: plus-one-models
workflow: plus_one.yaml
dataset: rows.csv
repeats: 2
seed: 11
baseline: base
variants:
  - name: base
  - name: good
    nodes:
      add: {model: good-model, prompt: "Answer with the number only. What is {n} plus one?"}
scorers:
  - {name: exact, kind: exact, field: answer}
  - {name: close, kind: numeric, field: answer, tolerance: 0.1}
  - {name: digits, kind: regex, field: answer, pattern: "^[0-9]+$"}
  - {name: json, kind: json_schema, field: answer, schema: {type: number}}
  - {name: short, kind: length, field: answer, max: 2}
  - {name: fast, kind: latency, max_ms: 60000}
  - {name: cheap, kind: cost, max_usd: 0.001}
gates: ["good:exact>=0.9"]
"""


def scripted(seen: Counter[tuple[str, str]]):  # type: ignore[no-untyped-def]
    def answer(request: RecordedRequest) -> Reply:
        model = request.body["model"]
        n = int(re.search(r"What is (\d+)", request.last_user_text).group(1))  # type: ignore[union-attr]
        seen[(model, str(n))] += 1
        text = str(n + 1)
        if model == "base-model" and seen[(model, str(n))] == 2:
            text = f"{n + 1}.05"
        return Reply(text=text, prompt_tokens=100, completion_tokens=10)

    return answer


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "plus_one.yaml").write_text(WORKFLOW)
    lines = ["n,expected.answer"] + [f"{n},{n + 1}" for n in range(20)]
    (tmp_path / "rows.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "exp.yaml").write_text(DEFINITION)
    return tmp_path


def test_twenty_rows_two_variants_two_repeats(
    exp_settings: Settings, database: Database, fake_llm_server: FakeLLMServer, files: Path
) -> None:
    fake_llm_server.default = scripted(Counter())
    definition = parse_definition((files / "exp.yaml").read_text(), filename="exp.yaml")
    experiment_id = create_experiment(
        exp_settings, database.session_factory, definition, base_dir=files
    )
    run_local(exp_settings, database.session_factory, experiment_id)

    # 80 cells, each one real run with its own stored steps; nothing else ran.
    assert len(fake_llm_server.requests) == 80
    with database.session_factory() as session:
        state = progress(session, [experiment_id])[experiment_id]
        assert (state.status, state.done, state.total, state.failed) == ("completed", 80, 80, 0)
        assert [(v.name, v.done) for v in state.variants] == [("base", 40), ("good", 40)]
        cells = experiments.cells(session, experiment_id)
        cell_runs = [session.get(Run, cell.run_id) for cell in cells]
        assert all(run.experiment_id == experiment_id and len(run.steps) == 1 for run in cell_runs)
        # Hidden from the default runs list.
        assert runs.list_runs(session) == []
        assert len(runs.list_runs(session, include_experiments=True, limit=100)) == 80
        found = report(session, experiment_id)
        latencies = {
            name: [c.latency_ms for c in cells if c.variant_id == variant.id]
            for variant in experiments.get(session, experiment_id).variants
            for name in [variant.name]
        }

    base, good = found.variants
    assert (base.name, good.name) == ("base", "good")
    # By hand. good: every answer right -> every scorer 1.0 on every row: [1, 1].
    for scorer in ("exact", "close", "digits", "json", "short", "fast", "cheap"):
        assert good.scorers[scorer].to_dict() == {"mean": 1.0, "low": 1.0, "high": 1.0}, scorer
    # base: each row has one exact answer and one 0.05 off -> row means 0.5 everywhere.
    half = {"mean": 0.5, "low": 0.5, "high": 0.5}
    assert base.scorers["exact"].to_dict() == half
    assert base.scorers["digits"].to_dict() == half
    # short (at most 2 characters): "4" passes, "4.05" does not -> 0.5 per row.
    assert base.scorers["short"].to_dict() == half
    for scorer in ("close", "json", "fast"):
        assert base.scorers[scorer].to_dict() == {"mean": 1.0, "low": 1.0, "high": 1.0}
    assert base.scorers["cheap"].to_dict() == {"mean": 0.0, "low": 0.0, "high": 0.0}
    # Pass rate: good passes every cell; base fails its cost budget in every cell.
    assert (good.pass_rate, base.pass_rate) == (1.0, 0.0)
    # Cost: 40 calls of 100 + 10 tokens at the variant's prices.
    assert good.cost_total == pytest.approx(40 * (100 * 1 + 10 * 2) / 1e6)
    assert base.cost_total == pytest.approx(40 * (100 * 10 + 10 * 20) / 1e6)
    assert good.cost_per_row == pytest.approx(0.00012)
    assert base.cost_per_row == pytest.approx(0.0012)
    # Latency from the stored cells.
    assert good.latency_mean_ms == pytest.approx(fmean(latencies["good"]))
    assert good.latency_p95_ms == sorted(latencies["good"])[37]  # ceil(0.95 * 40) = 38th
    assert base.latency_p95_ms == p95(latencies["base"])

    verdicts = {c.scorer: (c.verdict, c.diff.to_dict()) for c in found.comparisons}
    # Significant winner: every row's difference is +0.5 (exact) or +1 (cost budget).
    assert verdicts["exact"] == (BETTER, half)
    assert verdicts["cheap"] == (BETTER, {"mean": 1.0, "low": 1.0, "high": 1.0})
    # Tie: both always within 0.1 -> every difference 0 -> the interval holds zero.
    assert verdicts["close"] == (NO_DIFFERENCE, {"mean": 0.0, "low": 0.0, "high": 0.0})
    assert verdicts["json"][0] == NO_DIFFERENCE
    assert [(g.variant, g.passed) for g in found.gates] == [("good", True)]
    assert found.judge_cost == 0.0

    with database.session_factory() as session:
        pairs = row_outputs(session, experiment_id, "good", "base")
    assert pairs[3].inputs == {"n": 3} and pairs[3].expected == {"answer": "4"}
    assert [cell.outputs["answer"] for cell in pairs[3].a] == ["4", "4"]
    assert sorted(cell.outputs["answer"] for cell in pairs[3].b) == ["4", "4.05"]

    # Promote: the winner's config becomes the workflow's next version.
    workflow_id, version = promote_variant(database.session_factory, experiment_id, "good")
    with database.session_factory() as session:
        stored = workflows.get_version(session, workflow_id, version)
        assert version == 2 and "good-model" in stored.config_yaml
