"""Engine overhead per node against raw LangGraph, and the cost of storing one step.

Both sides run the same linear graph of N llm nodes against the same instant
OpenAI-compatible server on loopback (tests/fakes/openai_server.py), so the HTTP call is
in both; the difference is what the engine adds (rendering, provider, step records,
checkpoints). Raw LangGraph is measured without and with the same SQLite checkpointer.

    python benchmarks/engine.py [--nodes 10] [--runs 30]

Writes benchmarks/results/engine.json.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, TypedDict

ROOT = Path(__file__).resolve().parents[1]
# The repo root replaces this folder on sys.path: benchmarks/queue.py would shadow the
# standard library's queue module.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks"]

from configurable_agents.settings import load_settings  # noqa: E402
from configurable_agents.storage import run_lifecycle  # noqa: E402
from configurable_agents.storage.database import (  # noqa: E402
    create_db_engine,
    make_session_factory,
    session_scope,
)
from configurable_agents.storage.migrations import upgrade_to_head  # noqa: E402
from configurable_agents.storage.repositories import steps, workflows  # noqa: E402
from tests.fakes import FakeLLMServer  # noqa: E402


def workflow_yaml(nodes: int) -> str:
    lines = [
        "schema_version: 1",
        "name: bench-linear",
        "state:",
        "  x0: {type: str, required: true}",
    ]
    lines += [f"  x{i}: {{type: str}}" for i in range(1, nodes + 1)]
    lines += ["nodes:"]
    lines += [
        f'  - {{id: n{i}, kind: llm, prompt: "step {i}: {{x{i - 1}}}", output: x{i}}}'
        for i in range(1, nodes + 1)
    ]
    lines += ["edges:", "  - {from: START, to: n1}"]
    lines += [f"  - {{from: n{i}, to: n{i + 1}}}" for i in range(1, nodes)]
    lines += [f"  - {{from: n{nodes}, to: END}}"]
    return "\n".join(lines) + "\n"


def raw_langgraph(
    base_url: str, nodes: int, runs_count: int, checkpointer: Any = None
) -> list[float]:
    """Seconds per run of the same graph in plain LangGraph, each node one HTTP call."""
    import httpx
    from langgraph.graph import END, START, StateGraph

    State = TypedDict("State", {f"x{i}": str for i in range(nodes + 1)})  # type: ignore[misc]
    client = httpx.Client(timeout=10)

    def make(i: int):  # type: ignore[no-untyped-def]
        def node(state: dict[str, str]) -> dict[str, str]:
            body = {
                "model": "fake-model",
                "messages": [{"role": "user", "content": f"step {i}: {state[f'x{i - 1}']}"}],
            }
            reply = client.post(f"{base_url}/chat/completions", json=body).json()
            return {f"x{i}": reply["choices"][0]["message"]["content"].strip()}

        return node

    graph = StateGraph(State)
    for i in range(1, nodes + 1):
        graph.add_node(f"n{i}", make(i))
    graph.add_edge(START, "n1")
    for i in range(1, nodes):
        graph.add_edge(f"n{i}", f"n{i + 1}")
    graph.add_edge(f"n{nodes}", END)
    app = graph.compile(checkpointer=checkpointer)
    times = []
    for run in range(runs_count):
        config = {"configurable": {"thread_id": f"raw-{run}-{time.time_ns()}"}}
        started = time.perf_counter()
        app.invoke({"x0": "hello"}, config)
        times.append(time.perf_counter() - started)
    client.close()
    return times


def engine_runs(
    base_url: str, nodes: int, runs_count: int, data_dir: Path, tracking_uri: str | None = None
) -> list[float]:
    """Seconds per run through our engine (records steps, checkpoints each step); with a
    tracking URI each run is also handed to MLflow tracking."""
    from configurable_agents.engine.runner import open_engine

    settings = load_settings(
        data_dir=data_dir,
        llm_provider="openai",
        llm_model="fake-model",
        llm_base_url=base_url,
        tracking_enabled=tracking_uri is not None,
        mlflow_tracking_uri=tracking_uri or "",
    )
    engine = create_db_engine(settings.effective_database_url)
    upgrade_to_head(engine, data_dir)
    factory = make_session_factory(engine)
    text = workflow_yaml(nodes)
    with session_scope(factory) as session:
        workflow, version = workflows.save(session, name="bench-linear", config_yaml=text)
        ids = (workflow.id, version.id)
    times = []
    with open_engine(settings, factory) as runner:
        for _ in range(runs_count):
            with session_scope(factory) as session:
                run = run_lifecycle.create(
                    session,
                    workflow_name="bench-linear",
                    workflow_id=ids[0],
                    workflow_version_id=ids[1],
                    inputs={"x0": "hello"},
                )
            started = time.perf_counter()
            outcome = runner.execute(run.id)
            times.append(time.perf_counter() - started)
            assert outcome is not None and outcome.state == "completed", outcome
    engine.dispose()
    return times


def store_step_ms(data_dir: Path, count: int = 300) -> list[float]:
    """Milliseconds to store one finished step (its own transaction) on SQLite."""
    settings = load_settings(data_dir=data_dir)
    engine = create_db_engine(settings.effective_database_url)
    upgrade_to_head(engine, data_dir)
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        run = run_lifecycle.create(session, workflow_name="bench", inputs={})
    times = []
    for i in range(count):
        started = time.perf_counter()
        with session_scope(factory) as session:
            steps.record(
                session,
                run.id,
                node=f"n{i}",
                step_key=f"n{i}#1",
                rendered_prompt="step prompt " * 10,
                raw_output="an answer",
                output={"x": "an answer"},
                prompt_tokens=12,
                completion_tokens=3,
                latency_ms=1.0,
            )
        times.append((time.perf_counter() - started) * 1000)
    engine.dispose()
    return times


def summary(values: list[float], scale: float = 1.0) -> dict[str, float]:
    ordered = sorted(v * scale for v in values)
    return {
        "median": round(statistics.median(ordered), 4),
        "p95": round(ordered[max(0, int(len(ordered) * 0.95) - 1)], 4),
        "mean": round(statistics.fmean(ordered), 4),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, default=10)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()

    from langgraph.checkpoint.sqlite import SqliteSaver

    with tempfile.TemporaryDirectory() as tmp, FakeLLMServer() as server:
        base = Path(tmp)
        # Warm up both paths (imports, connections) before measuring.
        raw_langgraph(server.base_url, args.nodes, 3)
        engine_runs(server.base_url, args.nodes, 3, base / "warm")
        raw = raw_langgraph(server.base_url, args.nodes, args.runs)
        with SqliteSaver.from_conn_string(str(base / "raw-checkpoints.db")) as saver:
            raw_checkpointed = raw_langgraph(server.base_url, args.nodes, args.runs, saver)
        ours = engine_runs(server.base_url, args.nodes, args.runs, base / "engine")
        # MLflow down: nothing listens on this port; tracking must not slow the runs.
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            down_uri = f"http://127.0.0.1:{probe.getsockname()[1]}"
        mlflow_down = engine_runs(server.base_url, args.nodes, args.runs, base / "down", down_uri)
        store = store_step_ms(base / "steps")

    per_node = 1000 / args.nodes
    raw_node = statistics.median(raw) * per_node
    raw_cp_node = statistics.median(raw_checkpointed) * per_node
    ours_node = statistics.median(ours) * per_node
    store_median = statistics.median(store)
    result = {
        "nodes": args.nodes,
        "runs": args.runs,
        "per_node_ms": {
            "raw_langgraph": round(raw_node, 3),
            "raw_langgraph_sqlite_checkpointer": round(raw_cp_node, 3),
            "engine": round(ours_node, 3),
        },
        "per_run_ms": {
            "raw_langgraph": summary(raw, 1000),
            "raw_langgraph_sqlite_checkpointer": summary(raw_checkpointed, 1000),
            "engine": summary(ours, 1000),
        },
        "store_step_ms_sqlite": summary(store),
        "mlflow_down_vs_tracking_off": {
            "tracking_off_run_ms": summary(ours, 1000),
            "mlflow_down_run_ms": summary(mlflow_down, 1000),
            "ratio": round(statistics.median(mlflow_down) / statistics.median(ours), 3),
        },
        "ratio_engine_to_raw": round(ours_node / raw_node, 3),
        "ratio_engine_to_raw_plus_store": round(ours_node / (raw_node + store_median), 3),
        "ratio_engine_to_raw_checkpointed_plus_store": round(
            ours_node / (raw_cp_node + store_median), 3
        ),
        "goals": {
            "engine_per_node <= 1.3 x raw + store": ours_node <= 1.3 * raw_node + store_median,
            "store_step_ms_sqlite median < 2": store_median < 2.0,
            "mlflow down within 10% of tracking off": statistics.median(mlflow_down)
            <= 1.10 * statistics.median(ours),
        },
    }
    out = ROOT / "benchmarks" / "results" / "engine.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
