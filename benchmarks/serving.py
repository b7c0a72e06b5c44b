"""Serving benchmark: time to first token through /v1/chat/completions streaming, side by side
with calling the same scripted LLM server directly, and runs per second of the run API's
sync mode with 2 worker processes; in one run.

Run from the repo root: `.venv/bin/python benchmarks/serving.py`. Starts the release step,
the dashboard and two workers (SQLite database and queue in a temporary folder) against the
scripted OpenAI-compatible server (tests/fakes/openai_server.py), which waits
FIRST_TOKEN_DELAY before its first token. Writes benchmarks/results/serving.json.

- first token: the official `openai` client, streaming, from sending the request to the
  first chunk with content; directly to the scripted server, then through the dashboard
  (which queues a run, a worker executes it and publishes the tokens, the dashboard follows
  the run and forwards them). "added" is the median through the dashboard minus the median
  direct; the goal is under 50 ms.
- sync throughput: CLIENTS threads each POST /api/v1/workflows/echo/runs with
  ``"mode": "sync"`` in a loop; completed runs per second over the whole burst.
"""

from __future__ import annotations

import sys
from pathlib import Path

# benchmarks/queue.py would shadow the standard library's queue (ThreadPoolExecutor uses it).
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from datetime import datetime  # noqa: E402
from typing import Any  # noqa: E402

import httpx  # noqa: E402
import openai  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.e2e.serviceset import process_environment, settings_environment  # noqa: E402
from tests.fakes.openai_server import FakeLLMServer, RecordedRequest, Reply  # noqa: E402
from tests.fakes.workflows import echo_workflow, fake_llm_settings  # noqa: E402

RESULTS = REPO / "benchmarks" / "results" / "serving.json"
FIRST_TOKEN_DELAY = 0.2
GOALS = {"added_first_token_ms": 50.0}
ECHO = echo_workflow()


def respond(request: RecordedRequest) -> Reply:
    """A fixed wait before the first token (streamed requests), then the prompt back."""
    streaming = isinstance(request.body, dict) and bool(request.body.get("stream"))
    return Reply(
        text=f"echo: {request.last_user_text}",
        delay=FIRST_TOKEN_DELAY if streaming else 0.0,
        chunk_delay=0.005 if streaming else 0.0,
    )


LAST_IDS: list[str] = []


def first_token_ms(client: openai.OpenAI, model: str) -> float:
    started = time.perf_counter()
    stream = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "how fast"}], stream=True
    )
    try:
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                if model.startswith("workflow/"):
                    LAST_IDS.append(chunk.id)
                return (time.perf_counter() - started) * 1000
    finally:
        stream.close()
    raise AssertionError("no content chunk")


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median": round(statistics.median(ordered), 1),
        "p90": round(ordered[int(0.9 * (len(ordered) - 1))], 1),
        "min": round(ordered[0], 1),
        "max": round(ordered[-1], 1),
    }


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=REPO)


def wait_until(check: Any, what: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{what} did not happen within {timeout} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--sync-runs", type=int, default=100)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    load_at_start = os.getloadavg()

    with FakeLLMServer(default=respond) as llm, tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "var"
        settings_env = settings_environment(
            data_dir,
            **fake_llm_settings(llm.base_url),
            WORKER_CONCURRENCY="1",
            LOG_LEVEL="WARNING",
        )
        env = process_environment(settings_env)
        python = sys.executable
        done = subprocess.run(
            [python, "-m", "configurable_agents", "release"], env=env, capture_output=True
        )
        assert done.returncode == 0, done.stdout + done.stderr
        url = f"http://127.0.0.1:{settings_env['DASHBOARD_PORT']}"
        processes = [start([python, "-m", "dashboard"], env, Path(tmp) / "dashboard.log")]
        processes += [
            start([python, "-m", "configurable_agents", "worker"], env, Path(tmp) / f"w{n}.log")
            for n in range(2)
        ]
        try:
            wait_until(lambda: httpx.get(f"{url}/healthz").status_code == 200, "dashboard up")
            wait_until(
                lambda: httpx.get(f"{url}/api/v1/status").json()["workers_alive"] >= 2,
                "two workers alive",
            )
            http = httpx.Client(base_url=url, timeout=60)
            assert http.post("/api/v1/workflows", json={"config_yaml": ECHO}).status_code == 201

            direct = openai.OpenAI(base_url=llm.base_url, api_key="x")
            served = openai.OpenAI(base_url=f"{url}/v1", api_key="x")
            first_token_ms(served, "workflow/echo")  # warm up: imports, graph compiled once
            direct_ms, served_ms = [], []
            for _ in range(args.samples):
                # Interleaved, so a change in machine load weighs on both sides alike.
                direct_ms.append(first_token_ms(direct, "fake-model"))
                served_ms.append(first_token_ms(served, "workflow/echo"))

            # Where the added time goes, from the stamps of the runs the dashboard served.
            pickup, setup = [], []
            for completion_id in LAST_IDS[-args.samples :]:
                run_id = completion_id.removeprefix("chatcmpl-")
                run = http.get(f"/api/v1/runs/{run_id}").json()
                step = http.get(f"/api/v1/runs/{run_id}/steps").json()[0]
                stamp = datetime.fromisoformat
                pickup.append(
                    (stamp(run["started_at"]) - stamp(run["created_at"])).total_seconds() * 1000
                )
                setup.append(
                    (stamp(step["started_at"]) - stamp(run["started_at"])).total_seconds() * 1000
                )

            def sync_run(index: int) -> str:
                answer = http.post(
                    "/api/v1/workflows/echo/runs",
                    json={"inputs": {"text": f"run {index}"}, "mode": "sync"},
                )
                return (
                    answer.json()["state"] if answer.status_code == 200 else str(answer.status_code)
                )

            started = time.perf_counter()
            with ThreadPoolExecutor(args.clients) as pool:
                states = list(pool.map(sync_run, range(args.sync_runs)))
            elapsed = time.perf_counter() - started
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(30)

    added = statistics.median(served_ms) - statistics.median(direct_ms)
    completed = states.count("completed")
    report = {
        "benchmark": "serving",
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_at_start": [round(load, 2) for load in load_at_start],
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "setup": {
            "first_token_delay_ms": FIRST_TOKEN_DELAY * 1000,
            "workers": 2,
            "worker_concurrency": 1,
            "database": "sqlite",
            "queue": "sqlite",
            "samples": args.samples,
        },
        "first_token_ms": {
            "direct": summary(direct_ms),
            "through_v1_chat_completions": summary(served_ms),
            "added_median": round(added, 1),
            "ratio_median": round(statistics.median(served_ms) / statistics.median(direct_ms), 3),
            "breakdown_median_ms": {
                "run_created_to_started_by_a_worker": round(statistics.median(pickup), 1),
                "run_started_to_step_started": round(statistics.median(setup), 1),
            },
        },
        "sync_mode": {
            "runs": len(states),
            "clients": args.clients,
            "completed": completed,
            "other_answers": sorted({s for s in states if s != "completed"}),
            "seconds": round(elapsed, 2),
            "runs_per_second": round(completed / elapsed, 1),
        },
        "goals": GOALS,
        "met": {"added_first_token_ms": added < GOALS["added_first_token_ms"]},
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report["first_token_ms"], indent=2))
    print(json.dumps(report["sync_mode"], indent=2))
    print(f"wrote {args.output}; goals met: {report['met']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
