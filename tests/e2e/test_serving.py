"""Workflows served to programs, against the real Procfile's release, dashboard and worker
under honcho, with the scripted LLM server answering word by word: the run API in its
three modes (events checked in order, tokens before the step ends, a pause for approval,
a failure), a run's events replayed, and the official `openai` client on /v1."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.e2e.conftest import Launcher
from tests.e2e.serviceset import ServiceSet, honcho_command, settings_environment, write_env_file
from tests.fakes.openai_server import FakeLLMServer, RecordedRequest, Reply
from tests.fakes.workflows import echo_workflow, fake_llm_settings

pytestmark = pytest.mark.e2e

# Seconds between two streamed words: long enough for several token events per step.
WORD_DELAY = 0.05
SYNC_WAIT = 2.0
ECHO = echo_workflow()
APPROVED = """\
schema_version: 1
name: approved-echo
state:
  text: {type: str, required: true}
  reply: {type: str}
nodes:
  - {id: answer, kind: llm, prompt: "{text}", output: reply}
  - {id: check, kind: approval, message: "Send {reply}?"}
edges:
  - {from: START, to: answer}
  - {from: answer, to: check}
  - {from: check, to: END}
"""


def respond(request: RecordedRequest) -> Reply:
    """Echo the prompt word by word; FAIL refuses, SLOW waits before answering."""
    text = request.last_user_text
    if "FAIL" in text:
        return Reply(status=400, error="the fake model refuses this prompt")
    delay = SYNC_WAIT * 2 if "SLOW" in text else 0.0
    return Reply(text=f"echo: {text}", chunk_delay=WORD_DELAY, delay=delay)


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(default=respond) as server:
        yield server


@pytest.fixture(scope="module")
def served(
    module_launcher: Launcher, llm: FakeLLMServer, tmp_path_factory: pytest.TempPathFactory
) -> ServiceSet:
    """release, dashboard and worker of the Procfile (no MLflow, no chat) on the fake LLM."""
    data_dir = tmp_path_factory.mktemp("serving") / "var"
    settings_env = settings_environment(
        data_dir,
        **fake_llm_settings(llm.base_url),
        API_SYNC_WAIT_SECONDS=str(SYNC_WAIT),
        WORKER_CONCURRENCY="2",
    )
    env_file = write_env_file(data_dir.parent / "serving.env", settings_env)
    service_set = module_launcher.start(
        settings_env, honcho_command(env_file, ["release", "dashboard", "worker"])
    )
    service_set.wait_healthy(["dashboard"])
    service_set.wait_for_output(r"worker ready: ", timeout=60)
    with httpx.Client(base_url=service_set.url("dashboard"), timeout=30) as client:
        for config in (ECHO, APPROVED):
            created = client.post("/api/v1/workflows", json={"config_yaml": config})
            assert created.status_code == 201, created.text
    return service_set


@pytest.fixture
def client(served: ServiceSet) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served.url("dashboard"), timeout=30) as client:
        yield client


def sse_events(response: httpx.Response) -> Iterator[tuple[str, dict[str, Any]]]:
    """(event name, JSON data) of each server-sent event, as they arrive."""
    name, data = "", []
    for line in response.iter_lines():
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            data.append(line[6:])
        elif not line and name:
            yield name, json.loads("".join(data))
            name, data = "", []


def collect(response: httpx.Response) -> list[tuple[str, dict[str, Any]]]:
    assert response.status_code == 200, response.read()
    assert response.headers["content-type"].startswith("text/event-stream")
    return list(sse_events(response))


def names(events: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """Event names with runs of tokens collapsed to one."""
    result: list[str] = []
    for name, _ in events:
        if not (name == "token" and result and result[-1] == "token"):
            result.append(name)
    return result


def test_async_mode_answers_the_queued_run_by_name_or_id(client: httpx.Client) -> None:
    by_name = client.post("/api/v1/workflows/echo/runs", json={"inputs": {"text": "one"}})
    assert by_name.status_code == 201, by_name.text
    run = by_name.json()
    assert run["state"] == "queued" and run["workflow_name"] == "echo"
    assert run["urls"]["events"] == f"/api/v1/runs/{run['id']}/events"
    workflow_id = run["workflow_id"]
    by_id = client.post(f"/api/v1/workflows/{workflow_id}/runs", json={"inputs": {"text": "two"}})
    assert by_id.status_code == 201 and by_id.json()["workflow_name"] == "echo"
    missing = client.post("/api/v1/workflows/nope/runs", json={"inputs": {}})
    assert missing.status_code == 404 and "nope" in missing.json()["detail"]
    wrong = client.post("/api/v1/workflows/echo/runs", json={"inputs": {}, "mode": "later"})
    assert wrong.status_code == 422


def test_sync_mode_answers_the_outputs_or_202_when_longer(client: httpx.Client) -> None:
    done = client.post(
        "/api/v1/workflows/echo/runs", json={"inputs": {"text": "hello there"}, "mode": "sync"}
    )
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "completed"
    assert done.json()["outputs"]["reply"] == "echo: hello there"

    slow = client.post(
        "/api/v1/workflows/echo/runs", json={"inputs": {"text": "SLOW"}, "mode": "sync"}
    )
    assert slow.status_code == 202, slow.text
    assert slow.json()["state"] in ("queued", "running")
    assert slow.json()["urls"]["run"] == f"/api/v1/runs/{slow.json()['id']}"


def test_stream_mode_sends_tokens_before_the_step_ends(client: httpx.Client) -> None:
    text = "a few words that the fake model says back one at a time"
    with client.stream(
        "POST", "/api/v1/workflows/echo/runs", json={"inputs": {"text": text}, "mode": "stream"}
    ) as response:
        events = collect(response)

    assert names(events) == [
        "run_started",
        "step_started",
        "token",
        "step_finished",
        "run_finished",
    ], events
    tokens = [data for name, data in events if name == "token"]
    # Several pieces: they came while the step ran, not all at its end.
    assert len(tokens) >= 3, tokens
    assert {token["node"] for token in tokens} == {"answer"}
    assert "".join(token["text"] for token in tokens) == f"echo: {text}"
    finished = dict(events)["step_finished"]
    assert finished["node"] == "answer" and finished["state"] == "completed"
    assert finished["outputs"] == {"reply": f"echo: {text}"}
    assert (
        finished["tokens"]["total"]
        == finished["tokens"]["prompt"] + finished["tokens"]["completion"]
        > 0
    )
    assert finished["latency_ms"] > WORD_DELAY * 1000
    end = dict(events)["run_finished"]
    assert end["state"] == "completed" and end["outputs"]["reply"] == f"echo: {text}"
    assert end["totals"]["tokens"] == finished["tokens"]["total"]


def test_stream_mode_follows_a_pause_for_approval_to_the_end(
    client: httpx.Client, served: ServiceSet
) -> None:
    events: list[tuple[str, dict[str, Any]]] = []
    decided = threading.Event()

    def approve(run_id: str) -> None:
        with httpx.Client(base_url=served.url("dashboard"), timeout=30) as other:
            answer = other.post(f"/api/v1/runs/{run_id}/approve", json={"approved": True})
            assert answer.status_code == 200, answer.text
        decided.set()

    with client.stream(
        "POST",
        "/api/v1/workflows/approved-echo/runs",
        json={"inputs": {"text": "ship it"}, "mode": "stream"},
    ) as response:
        assert response.status_code == 200
        for name, data in sse_events(response):
            events.append((name, data))
            if name == "awaiting_approval":
                assert data["node"] == "check" and data["message"] == "Send echo: ship it?"
                run_id = events[0][1]["run_id"]
                threading.Thread(target=approve, args=(run_id,)).start()

    assert decided.is_set()
    assert names(events) == [
        "run_started",
        "step_started",
        "token",
        "step_finished",
        "step_started",
        "awaiting_approval",
        "step_finished",
        "run_finished",
    ], events
    assert events[-1][1]["state"] == "completed"


def test_stream_mode_reports_a_failed_run(client: httpx.Client) -> None:
    with client.stream(
        "POST", "/api/v1/workflows/echo/runs", json={"inputs": {"text": "FAIL"}, "mode": "stream"}
    ) as response:
        events = collect(response)

    assert names(events) == ["run_started", "step_started", "step_finished", "run_finished"]
    step, end = events[2][1], events[3][1]
    assert step["state"] == "failed" and "refuses" in step["error"]["message"]
    assert end["state"] == "failed" and "refuses" in end["error"]["message"]


def test_events_of_a_finished_run_replay_the_same_sequence(client: httpx.Client) -> None:
    done = client.post(
        "/api/v1/workflows/echo/runs", json={"inputs": {"text": "again"}, "mode": "sync"}
    ).json()
    with client.stream("GET", f"/api/v1/runs/{done['id']}/events") as response:
        events = collect(response)

    assert names(events) == [
        "run_started",
        "step_started",
        "token",
        "step_finished",
        "run_finished",
    ]
    assert "".join(d["text"] for n, d in events if n == "token") == "echo: again"
    assert client.get("/api/v1/runs/nope/events").status_code == 404


def test_events_of_a_running_run_replay_then_follow_live(client: httpx.Client) -> None:
    words = " ".join(f"w{n}" for n in range(40))
    run = client.post("/api/v1/workflows/echo/runs", json={"inputs": {"text": words}}).json()
    with client.stream("GET", f"/api/v1/runs/{run['id']}/events") as response:
        events = collect(response)

    assert names(events)[0] == "run_started" and names(events)[-1] == "run_finished"
    assert "".join(d["text"] for n, d in events if n == "token") == f"echo: {words}"
    assert len([n for n, _ in events if n == "token"]) >= 3


# --- the official openai client ------------------------------------------------------------


@pytest.fixture
def openai_client(served: ServiceSet) -> openai.OpenAI:
    return openai.OpenAI(base_url=served.url("dashboard") + "/v1", api_key="unused-on-loopback")


def test_models_lists_every_workflow(openai_client: openai.OpenAI) -> None:
    ids = {model.id for model in openai_client.models.list()}
    assert {"workflow/echo", "workflow/approved-echo", "workflow/summarize"} <= ids


def test_chat_completion_answers_the_text_output_with_the_run_usage(
    openai_client: openai.OpenAI, client: httpx.Client
) -> None:
    completion = openai_client.chat.completions.create(
        model="workflow/echo",
        messages=[
            {"role": "system", "content": "ignored"},
            {"role": "user", "content": "first question"},
            {"role": "assistant", "content": "an earlier answer"},
            {"role": "user", "content": "what is new"},
        ],
    )

    assert completion.choices[0].message.content == "echo: what is new"
    assert completion.choices[0].finish_reason == "stop"
    run = client.get(f"/api/v1/runs/{completion.id.removeprefix('chatcmpl-')}").json()
    assert run["inputs"] == {"text": "what is new"} and run["trigger"] == "openai"
    assert completion.usage is not None
    assert completion.usage.total_tokens == run["total_tokens"] > 0
    assert completion.usage.prompt_tokens == 3  # the fake server counts words


def test_chat_completion_streams_the_answer_as_it_is_written(
    openai_client: openai.OpenAI, client: httpx.Client
) -> None:
    text = "stream these words back to me one by one please"
    stream = openai_client.chat.completions.create(
        model="workflow/echo", messages=[{"role": "user", "content": text}], stream=True
    )
    chunks = list(stream)

    pieces = [
        c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content
    ]
    assert "".join(pieces) == f"echo: {text}"
    assert len(pieces) >= 3, pieces
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    run = client.get(f"/api/v1/runs/{last.id.removeprefix('chatcmpl-')}").json()
    assert last.usage is not None and last.usage.total_tokens == run["total_tokens"] > 0


def test_chat_completion_errors_are_openai_errors(openai_client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError, match="no workflow named 'nope'"):
        openai_client.chat.completions.create(
            model="workflow/nope", messages=[{"role": "user", "content": "hi"}]
        )
    with pytest.raises(openai.InternalServerError, match="refuses"):
        openai_client.with_options(max_retries=0).chat.completions.create(
            model="workflow/echo", messages=[{"role": "user", "content": "FAIL"}]
        )
    with pytest.raises(openai.APIError, match="refuses"):
        list(
            openai_client.chat.completions.create(
                model="workflow/echo", messages=[{"role": "user", "content": "FAIL"}], stream=True
            )
        )


def test_runs_nobody_watches_publish_no_tokens(client: httpx.Client, served: ServiceSet) -> None:
    """The token channel costs nothing unwatched: a sync run leaves no watch and no partial."""
    from sqlalchemy import create_engine, text

    from tests.e2e.serviceset import app_database_url

    done = client.post(
        "/api/v1/workflows/echo/runs", json={"inputs": {"text": "quiet"}, "mode": "sync"}
    ).json()
    assert done["state"] == "completed"
    engine = create_engine(app_database_url(served.settings_env))
    try:
        with engine.connect() as connection:
            watches = connection.execute(
                text("SELECT count(*) FROM run_watches WHERE run_id = :id"), {"id": done["id"]}
            ).scalar()
            partials = connection.execute(
                text("SELECT count(*) FROM step_partials WHERE run_id = :id"), {"id": done["id"]}
            ).scalar()
    finally:
        engine.dispose()
    assert (watches, partials) == (0, 0)
