"""Chat builder on the embedded model: time from a request to a saved valid config.

Five fixed requests go through the chat service exactly as the chat page sends them
(message stored, offline builder turn with the embedded SmolLM2 for short texts, reply
stored, then Save), on a fresh SQLite database migrated and seeded with the examples as
the release step does. For each request: the seconds from sending to the saved version,
whether the saved config validates, whether the first config composed validated (before
any fallback to the plain texts), which mode produced it, and how many of the model's
short texts were kept. The model is loaded once before timing (its load is reported).

Run from the repo root: ``.venv/bin/python benchmarks/chat.py [--repeats 3]``. Writes
benchmarks/results/chat.json and prints a summary.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
# The repo root replaces this folder on sys.path: benchmarks/queue.py would shadow the
# standard library's queue module.
sys.path[:] = [str(REPO)] + [p for p in sys.path if Path(p or ".").resolve() != REPO / "benchmarks"]

from configurable_agents.builder import Builder, Gallery  # noqa: E402
from configurable_agents.builder.service import ChatService  # noqa: E402
from configurable_agents.config import validate_text  # noqa: E402
from configurable_agents.llm import LLMRequest  # noqa: E402
from configurable_agents.release import seed_examples  # noqa: E402
from configurable_agents.settings import load_settings  # noqa: E402
from configurable_agents.storage.database import create_db_engine, make_session_factory  # noqa: E402
from configurable_agents.storage.migrations import upgrade_to_head  # noqa: E402

RESULT = REPO / "benchmarks" / "results" / "chat.json"
REQUESTS = [
    "Summarize a text, then translate the summary to French",
    "Write an article about a topic and then review it, at most 3 rounds",
    "Classify a customer message as positive, negative or neutral, then write a reply to it",
    "1. Fetch a web page\n2. Summarize it in three sentences\n3. Save the summary to a file",
    "Draft a product announcement about a product, get it approved by a manager, "
    "then save it to announcement.md",
]


def one(service: ChatService, request: str) -> dict[str, Any]:
    """Send, build, save: the seconds it took and what came out."""
    started = time.perf_counter()
    turn = service.send(None, request, mode="offline")
    while True:
        try:
            next(turn)
        except StopIteration as stop:
            sent = stop.value
            break
    built_at = time.perf_counter()
    session_id = sent.view.session_id
    saved = service.save(session_id).view if sent.view.config is not None else sent.view
    finished = time.perf_counter()
    reply = next(m for m in reversed(sent.view.messages) if m.role == "assistant")
    details = reply.meta.get("details", {})
    return {
        "request": request,
        "seconds_to_saved": round(finished - started, 3),
        "seconds_to_config": round(built_at - started, 3),
        "saved_valid": saved.saved_yaml is not None and validate_text(saved.saved_yaml) == [],
        "first_attempt_valid": bool(details.get("first_try", False)),
        "mode": reply.meta.get("mode"),
        "template": details.get("template"),
        "model_texts_asked": details.get("fill_asked", 0),
        "model_texts_kept": details.get("fill_kept", 0),
        "model_texts_dropped": details.get("fill_dropped", []),
        "workflow": saved.workflow_name,
        "version": saved.workflow_version,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs of the five requests")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="chat-bench-") as folder:
        data_dir = Path(folder)
        settings = load_settings(
            data_dir=data_dir, database_url="", llm_provider="local", llm_model=""
        )
        engine = create_db_engine(settings.effective_database_url)
        upgrade_to_head(engine, data_dir)
        factory = make_session_factory(engine)
        with factory() as session:
            seed_examples(session)
            session.commit()
        builder = Builder(settings, Gallery.load(factory))
        loading = time.perf_counter()
        model = builder.local_provider()
        if model is not None:
            model.complete(LLMRequest(messages=[{"role": "user", "content": "Hi"}], max_tokens=1))
        load_seconds = time.perf_counter() - loading
        service = ChatService(settings, factory, builder)
        runs = [one(service, request) for _ in range(args.repeats) for request in REQUESTS]
        engine.dispose()
    times = [run["seconds_to_saved"] for run in runs]
    per_request = {
        request: round(
            statistics.median(r["seconds_to_saved"] for r in runs if r["request"] == request), 3
        )
        for request in REQUESTS
    }
    asked = sum(run["model_texts_asked"] for run in runs)
    result = {
        "benchmark": "chat builder: request to saved valid config, embedded model (offline mode)",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_before": [round(value, 2) for value in load_before],
        },
        "model_load_seconds": round(load_seconds, 3),
        "repeats": args.repeats,
        "requests": len(REQUESTS),
        "median_seconds_to_saved": round(statistics.median(times), 3),
        "mean_seconds_to_saved": round(statistics.fmean(times), 3),
        "max_seconds_to_saved": round(max(times), 3),
        "median_seconds_per_request": per_request,
        "share_saved_valid": round(sum(run["saved_valid"] for run in runs) / len(runs), 3),
        "share_valid_first_attempt": round(
            sum(run["first_attempt_valid"] for run in runs) / len(runs), 3
        ),
        "share_model_texts_kept": round(sum(run["model_texts_kept"] for run in runs) / asked, 3)
        if asked
        else None,
        "runs": runs,
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"{len(runs)} requests: median {result['median_seconds_to_saved']} s to a saved valid config "
        f"(max {result['max_seconds_to_saved']} s); valid {result['share_saved_valid']:.0%}, "
        f"valid on the first attempt {result['share_valid_first_attempt']:.0%}; model texts kept "
        f"{result['share_model_texts_kept']}; model load {result['model_load_seconds']} s"
    )
    for request, seconds in per_request.items():
        print(f"  {seconds:7.2f} s  {request.splitlines()[0]}")
    print(f"wrote {RESULT.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
