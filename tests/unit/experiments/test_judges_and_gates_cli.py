"""The LLM judge and the pairwise judge against the scripted server (their cost counted
apart from the runs'), and `experiment run` with --gate and --junit end to end."""

from __future__ import annotations

import json
import re
from pathlib import Path
from xml.etree import ElementTree

import pytest

from configurable_agents.bootstrap import Database
from configurable_agents.cli import main
from configurable_agents.experiments.creation import create_experiment
from configurable_agents.experiments.definition import parse_definition
from configurable_agents.experiments.judges import first_is_variant
from configurable_agents.experiments.local import run_local
from configurable_agents.experiments.report import report
from configurable_agents.settings import Settings
from configurable_agents.storage.models import Experiment
from configurable_agents.storage.repositories import experiments
from tests.fakes import FakeLLMServer, RecordedRequest, Reply

WORKFLOW = """\
schema_version: 1
name: greet
state:
  who: {type: str, required: true}
  reply: {type: str}
llm: {model: writer}
pricing:
  writer: {input: 1, output: 1}
  judge: {input: 100, output: 100}
nodes:
  - {id: greet, kind: llm, prompt: "Greet {who}.", output: reply}
edges:
  - {from: START, to: greet}
  - {from: greet, to: END}
"""
DEFINITION = """\
name: greetings
workflow: greet.yaml
dataset: people.jsonl
seed: 5
variants:
  - name: plain
  - name: warm
    nodes: {greet: {prompt: "Greet {who} warmly."}}
judge: {model: judge}
scorers:
  - {name: polite, kind: llm_judge, rubric: "Is the greeting polite?"}
  - {name: preferred, kind: pairwise, rubric: "Which greeting is warmer?"}
  - {name: hello, kind: contains, field: reply, value: hello}
"""
PEOPLE = ["Ann", "Bo", "Cy", "Di", "Ed", "Flo"]


def answer(request: RecordedRequest) -> Reply:
    text = request.last_user_text
    if request.body["model"] == "judge":
        if "Which answer" in text:
            # The judge always prefers answer A: who wins depends on the shuffled order.
            return Reply(json={"winner": "A"}, prompt_tokens=10, completion_tokens=0)
        # Rubric scores: 8/10 for warm greetings, 4/10 for plain ones.
        score = 8 if "Warmly hello" in text else 4
        return Reply(json={"score": score}, prompt_tokens=10, completion_tokens=0)
    who = re.search(r"Greet (\w+)", text).group(1)  # type: ignore[union-attr]
    reply = f"Warmly hello {who}" if "warmly" in text else f"hello {who}"
    return Reply(text=reply, prompt_tokens=1, completion_tokens=1)


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "greet.yaml").write_text(WORKFLOW)
    (tmp_path / "people.jsonl").write_text("".join(json.dumps({"who": p}) + "\n" for p in PEOPLE))
    (tmp_path / "exp.yaml").write_text(DEFINITION)
    return tmp_path


def test_rubric_and_pairwise_judges_with_their_cost_apart(
    exp_settings: Settings, database: Database, fake_llm_server: FakeLLMServer, files: Path
) -> None:
    fake_llm_server.default = answer
    definition = parse_definition((files / "exp.yaml").read_text(), filename="exp.yaml")
    experiment_id = create_experiment(
        exp_settings, database.session_factory, definition, base_dir=files
    )
    run_local(exp_settings, database.session_factory, experiment_id)

    judge_calls = [r for r in fake_llm_server.requests if r.body["model"] == "judge"]
    # 12 rubric scores (one per cell) and 6 pairwise verdicts (one per row).
    assert len(judge_calls) == 12 + 6
    with database.session_factory() as session:
        found = report(session, experiment_id)
        stored = session.get(Experiment, experiment_id)
        cells = experiments.cells(session, experiment_id)
        run_costs = sum(cell.cost for cell in cells)
        assert stored is not None and stored.judge_cost == pytest.approx(18 * 10 * 100 / 1e6)
    plain, warm = found.variants
    assert plain.scorers["polite"].to_dict() == pytest.approx(
        {"mean": 0.4, "low": 0.4, "high": 0.4}
    )
    assert warm.scorers["polite"].to_dict() == pytest.approx({"mean": 0.8, "low": 0.8, "high": 0.8})
    # The runs cost 2 tokens at 1 per million each; the judge's cost is not in them.
    assert run_costs == pytest.approx(12 * 2 / 1e6)
    assert plain.cost_total + warm.cost_total == pytest.approx(run_costs)
    assert found.judge_cost == pytest.approx(18 * 10 * 100 / 1e6)
    assert plain.judge_cost + warm.judge_cost == pytest.approx(found.judge_cost)
    # Pairwise: the judge picks A, so "warm" wins exactly the rows where it was shown first.
    shown_first = [first_is_variant(5, row, 0, "warm") for row in range(len(PEOPLE))]
    assert 0 < sum(shown_first) < len(PEOPLE)  # the order really is shuffled
    wins = sum(shown_first) / len(PEOPLE)
    assert warm.scorers["preferred"].mean == pytest.approx(wins)
    assert plain.scorers["preferred"].mean == pytest.approx(1 - wins)
    # The pairwise prompt put the variant's text first exactly on those rows.
    pair_prompts = [r.last_user_text for r in judge_calls if "Which answer" in r.last_user_text]
    firsts = sorted(
        (PEOPLE.index(re.search(r'"who": "(\w+)"', p).group(1)), "Answer A:\nWarmly" in p)  # type: ignore[union-attr]
        for p in pair_prompts
    )
    assert [first for _, first in firsts] == shown_first
    verdicts = {c.scorer: c.verdict for c in found.comparisons}
    assert verdicts["polite"] == "better" and verdicts["hello"] == "no significant difference"


def test_gate_exit_codes_and_junit(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    exp_settings: Settings,
    fake_llm_server: FakeLLMServer,
    files: Path,
) -> None:
    fake_llm_server.default = answer
    for name, value in {
        "DATA_DIR": str(exp_settings.data_path),
        "TRACKING_ENABLED": "false",
        "LLM_PROVIDER": "openai",
        "LLM_BASE_URL": fake_llm_server.base_url,
    }.items():
        monkeypatch.setenv(name, value)
    path, junit = files / "exp.yaml", tmp_path / "gates.xml"
    passing = "hello>=1,cost_per_row<=0.01"
    assert (
        main(["experiment", "run", str(path), "--local", "--gate", passing, "--junit", str(junit)])
        == 0
    )
    out = capfd.readouterr().out
    assert "warm vs plain on polite: +0.400 [+0.400, +0.400] -> better" in out
    suite = ElementTree.parse(junit).getroot().find("testsuite")
    assert suite is not None and (suite.get("tests"), suite.get("failures")) == ("4", "0")

    failing = "warm:polite>=0.9,hello>=1"
    code = main(
        [
            "experiment",
            "run",
            str(path),
            "--local",
            "--json",
            "--gate",
            failing,
            "--junit",
            str(junit),
        ]
    )
    assert code == 1
    document = json.loads(capfd.readouterr().out)
    assert document["name"] == "greetings-2" and document["gates_passed"] is False
    suite = ElementTree.parse(junit).getroot().find("testsuite")
    assert suite is not None and (suite.get("tests"), suite.get("failures")) == ("3", "1")
    failed = [case for case in suite.findall("testcase") if case.find("failure") is not None]
    assert [case.get("name") for case in failed] == ["warm:polite>=0.9"]
    assert "polite = 0.8" in failed[0].find("failure").get("message")  # type: ignore[union-attr]

    assert main(["experiment", "list"]) == 0
    listing = capfd.readouterr().out
    assert "greetings-2" in listing and "12/12 cells" in listing
    assert main(["experiment", "show", str(document["id"]), "--json"]) == 0
    assert json.loads(capfd.readouterr().out)["variants"][1]["name"] == "warm"
    assert main(["experiment", "show", "999"]) == 2


def test_waiting_without_a_worker_says_so(database: Database) -> None:
    import io

    from rich.console import Console
    from rich.progress import Progress

    from configurable_agents.cli.experiments import _hint_without_workers

    out = io.StringIO()
    bar = Progress(console=Console(file=out, width=200))
    assert _hint_without_workers(database, bar)
    assert "no worker is running" in out.getvalue() and "--local" in out.getvalue()
