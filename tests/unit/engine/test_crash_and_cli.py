"""The CLI as a user runs it: validate, run, kill -9 mid-run and resume, approve later."""

from __future__ import annotations

import json
from pathlib import Path

from tests.fakes import FakeLLMServer, Reply
from tests.unit.engine.cli_runs import (
    cli,
    cli_env,
    kill_at_request,
    latest_run_id,
    resume_latest,
    start_run,
    stored_steps,
)

ROOT = Path(__file__).resolve().parents[3]

FOUR_STEPS = """
schema_version: 1
name: four-steps
state:
  topic: {type: str, required: true}
  a: {type: str}
  b: {type: str}
  c: {type: str}
  d: {type: str}
nodes:
  - {id: one, kind: llm, prompt: "one {topic}", output: a}
  - {id: two, kind: llm, prompt: "two {a}", output: b}
  - {id: three, kind: llm, prompt: "three {b}", output: c}
  - {id: four, kind: llm, prompt: "four {c}", output: d}
edges:
  - {from: START, to: one}
  - {from: one, to: two}
  - {from: two, to: three}
  - {from: three, to: four}
  - {from: four, to: END}
"""


def test_validate_reports_every_problem_with_exit_2(
    tmp_path: Path, fake_llm_server: FakeLLMServer
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "schema_version: 1\nname: bad\nnodes:\n  - id: a\n    kind: llm\n    prompt: '{nope}'\n    output: x\nedges: []\n"
    )

    result = cli("validate", str(bad), env=cli_env(tmp_path / "var", fake_llm_server), cwd=tmp_path)

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"{bad}:6:13: nodes[0].prompt: 'nope' is not a state field" in result.stderr
    assert f"{bad}:7:13: nodes[0].output:" in result.stderr


def test_run_prints_outputs_and_json(tmp_path: Path, fake_llm_server: FakeLLMServer) -> None:
    env = cli_env(tmp_path / "var", fake_llm_server)
    fake_llm_server.push("A.", "B.", "C.", "D.")
    (tmp_path / "wf.yaml").write_text(FOUR_STEPS)

    result = cli("run", "wf.yaml", "--input", "topic=owls", "--json", env=env, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["state"] == "completed"
    assert data["outputs"]["d"] == "D."
    assert [step["node"] for step in data["steps"]] == ["one", "two", "three", "four"]
    shown = cli("show", data["run_id"], env=env, cwd=tmp_path)
    assert shown.returncode == 0 and "four-steps" in shown.stdout


def test_bad_input_is_exit_2(tmp_path: Path, fake_llm_server: FakeLLMServer) -> None:
    (tmp_path / "wf.yaml").write_text(FOUR_STEPS)
    result = cli("run", "wf.yaml", env=cli_env(tmp_path / "var", fake_llm_server), cwd=tmp_path)
    assert result.returncode == 2
    assert "topic" in result.stderr and "Traceback" not in result.stderr


def test_killed_run_resumes_without_repeating_steps(
    tmp_path: Path, fake_llm_server: FakeLLMServer
) -> None:
    data_dir = tmp_path / "var"
    env = cli_env(data_dir, fake_llm_server)
    (tmp_path / "wf.yaml").write_text(FOUR_STEPS)
    # The third call hangs: the process is killed while node three is in flight.
    fake_llm_server.push("A.", "B.", Reply(text="never", delay=60))
    process = start_run("wf.yaml", "--input", "topic=owls", "--json", env=env, cwd=tmp_path)
    kill_at_request(process, fake_llm_server, 3, "node three")
    assert [node for node, _, _ in stored_steps(data_dir, "node")] == ["one", "two"]

    fake_llm_server.clear()
    fake_llm_server.push("C.", "D.")
    resumed = resume_latest(env, tmp_path)

    assert resumed.returncode == 0, resumed.stderr
    data = json.loads(resumed.stdout)
    assert data["state"] == "completed"
    assert data["outputs"] == {"topic": "owls", "a": "A.", "b": "B.", "c": "C.", "d": "D."}
    # Steps one and two ran once, in the first attempt; the resume ran only three and four.
    assert stored_steps(data_dir, "node") == [
        ("one", "completed", 1),
        ("two", "completed", 1),
        ("three", "completed", 2),
        ("four", "completed", 2),
    ]
    assert [r.last_user_text for r in fake_llm_server.requests] == ["three B.", "four C."]


def test_approval_waits_across_processes(tmp_path: Path, fake_llm_server: FakeLLMServer) -> None:
    data_dir = tmp_path / "var"
    env = cli_env(data_dir, fake_llm_server)
    fake_llm_server.push("We ship owls on Monday.")

    first = cli(
        "run",
        str(ROOT / "examples" / "draft_with_approval.yaml"),
        "-i",
        "subject=owls",
        env=env,
        cwd=tmp_path,
    )
    assert first.returncode == 3, first.stderr
    assert "waits for approval" in first.stdout and "We ship owls on Monday." in first.stdout

    approved = cli("approve", latest_run_id(env, tmp_path), env=env, cwd=tmp_path)

    assert approved.returncode == 0, approved.stderr
    assert (
        data_dir / "workspace" / "announcements" / "latest.md"
    ).read_text() == "We ship owls on Monday.\n"
