"""Chat builder on the corpus of real requests: pass rate and time per request, offline.

Three sides in one run, each scored by the same checks as the corpus test
(tests/unit/builder/corpus_score.py):

- ``rules``: the offline builder as the chat runs it, without the embedded model (the
  request's language tables, the interpreter, the gallery);
- ``rules_and_model``: the same with the embedded SmolLM2 wording the prompts (off in the
  chat since this measured no gain in pass rate; kept here to keep measuring it);
- ``previous``: the builder before issue 16, run from git's revision ``--previous``
  (default 381e3b2) in a subprocess on an exported copy of that tree, so the old planner
  is not kept in the product.

For each side: the pass rate over all entries, the tuning split and the held-out split
(the requests of tests/unit/builder/corpus/heldout.yaml, collected after the tables were
tuned and not read while tuning them), the share of requests that got a valid workflow, and p50/p95 seconds
per request. The embedded model is loaded once before timing (its load is reported).

Run from the repo root: ``.venv/bin/python benchmarks/chat.py [--no-model] [--model-sample
N]`` (the model side takes seconds per request; a sample is scored beside the rules on the
same sample). Writes
benchmarks/results/chat.json and prints a summary.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
# The repo root replaces this folder on sys.path: benchmarks/queue.py would shadow the
# standard library's queue module.
sys.path[:] = [str(REPO)] + [p for p in sys.path if Path(p or ".").resolve() != REPO / "benchmarks"]

from configurable_agents.builder import Builder, Gallery  # noqa: E402
from configurable_agents.builder.generate import problems_of  # noqa: E402
from configurable_agents.config import config_to_data  # noqa: E402
from configurable_agents.llm import LLMRequest  # noqa: E402
from configurable_agents.settings import load_settings  # noqa: E402
from tests.unit.builder.conftest import drain  # noqa: E402
from tests.unit.builder.corpus_score import load_corpus, score, split, summary  # noqa: E402

RESULT = REPO / "benchmarks" / "results" / "chat.json"
PREVIOUS = "381e3b2"
# What the subprocess runs on the previous tree: each request through that Builder,
# offline, without the model; one JSON line out with the config data and seconds.
# A request the old builder does not answer within this many seconds counts as no workflow
# (one request of the corpus sends its regular expressions into a loop that never ends).
PREVIOUS_TIMEOUT_SECONDS = 10
_PREVIOUS_RUNNER = """
import json, signal, sys, time
from configurable_agents.builder import Builder, Gallery
from configurable_agents.config import config_to_data
from configurable_agents.settings import load_settings


class TimedOut(Exception):
    pass


def stop(signum, frame):
    raise TimedOut


signal.signal(signal.SIGALRM, stop)
settings = load_settings(data_dir=sys.argv[1], llm_provider="local", llm_model="")
builder = Builder(settings, Gallery.load(), fill_budget_seconds=0)
limit = int(sys.argv[2])
out = []
for item in json.load(sys.stdin):
    started = time.perf_counter()
    signal.alarm(limit)
    try:
        turn = builder.turn(item["request"], None, mode="offline")
        while True:
            try:
                next(turn)
            except StopIteration as stop_:
                result = stop_.value
                break
        data = config_to_data(result.config) if result.config is not None else None
        timed_out = False
    except TimedOut:
        data, timed_out = None, True
    finally:
        signal.alarm(0)
    out.append(
        {"id": item["id"], "data": data, "seconds": time.perf_counter() - started,
         "timed_out": timed_out}
    )
print(json.dumps(out))
"""


def _valid(data: dict[str, Any] | None) -> bool:
    return data is not None and problems_of(data)[0] is not None


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def side(
    name: str,
    built: dict[str, tuple[dict[str, Any] | None, float]],
    entries: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Scores and timings of one side: ``built`` maps an entry id to (config data, seconds);
    ``entries`` (default: the whole corpus) are the ones scored."""
    entries = entries if entries is not None else load_corpus()
    scores = {e["id"]: score(e, built[e["id"]][0], _valid(built[e["id"]][0])) for e in entries}
    tuning, held = split(load_corpus())
    tuning = [e for e in tuning if e in entries]
    held = [e for e in held if e in entries]
    seconds = [built[e["id"]][1] for e in entries]
    return {
        "side": name,
        "all": summary(list(scores.values())),
        "tuning": summary([scores[e["id"]] for e in tuning]),
        "held_out": summary([scores[e["id"]] for e in held]),
        "share_with_a_valid_workflow": round(
            sum(_valid(built[e["id"]][0]) for e in entries) / len(entries), 3
        ),
        "p50_seconds": round(statistics.median(seconds), 4),
        "p95_seconds": round(_percentile(seconds, 0.95), 4),
        "failed": sorted(e["id"] for e in tuning if not scores[e["id"]].passed),
    }


def run_builder(
    builder: Builder, entries: list[dict[str, Any]]
) -> dict[str, tuple[dict[str, Any] | None, float]]:
    """Each entry's request through one offline Builder turn."""
    built: dict[str, tuple[dict[str, Any] | None, float]] = {}
    for entry in entries:
        started = time.perf_counter()
        _, result = drain(builder.turn(entry["request"], None, mode="offline"))
        data = config_to_data(result.config) if result.config is not None else None
        built[entry["id"]] = (data, time.perf_counter() - started)
    return built


def run_previous(
    revision: str, data_dir: Path
) -> tuple[dict[str, tuple[dict[str, Any] | None, float]], list[str]]:
    """Every corpus request through the Builder of an earlier revision, in a subprocess
    on an exported copy of that revision's package and examples; also the ids of the
    requests it did not answer within PREVIOUS_TIMEOUT_SECONDS."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", revision, "configurable_agents", "examples"],
        capture_output=True,
        check=True,
    ).stdout
    with tempfile.TemporaryDirectory(prefix="chat-bench-previous-") as folder:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(folder, filter="data")
        requests = [{"id": e["id"], "request": e["request"]} for e in load_corpus()]
        env = {**os.environ, "PYTHONPATH": folder}
        done = subprocess.run(
            [sys.executable, "-c", _PREVIOUS_RUNNER, str(data_dir), str(PREVIOUS_TIMEOUT_SECONDS)],
            input=json.dumps(requests),
            capture_output=True,
            text=True,
            env=env,
            cwd=folder,
            check=True,
        )
    rows = json.loads(done.stdout.strip().splitlines()[-1])
    built = {row["id"]: (row["data"], row["seconds"]) for row in rows}
    return built, [row["id"] for row in rows if row["timed_out"]]


def spread(corpus: list[dict[str, Any]], size: int) -> list[dict[str, Any]]:
    """``size`` entries (all when 0), evenly spaced over the tuning and the held-out split,
    in corpus order."""
    if not size or size >= len(corpus):
        return corpus
    tuning, held = split(corpus)
    share = max(1, round(size * len(held) / len(corpus)))
    chosen = [*_evenly(tuning, size - share), *_evenly(held, share)]
    return [entry for entry in corpus if entry in chosen]


def _evenly(entries: list[dict[str, Any]], size: int) -> list[dict[str, Any]]:
    return [entries[i * len(entries) // size] for i in range(size)] if size else []


def timed(label: str, work: Callable[[], Any]) -> Any:
    started = time.perf_counter()
    value = work()
    print(f"  {label}: {time.perf_counter() - started:.1f} s", flush=True)
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-model", action="store_true", help="skip the embedded-model side")
    parser.add_argument("--previous", default=PREVIOUS, help="git revision of the old builder")
    parser.add_argument(
        "--model-sample",
        type=int,
        default=0,
        help="requests for the embedded-model side, spread over the corpus (0: all)",
    )
    args = parser.parse_args(argv)
    load_before = os.getloadavg()
    result: dict[str, Any] = {
        "benchmark": "chat builder: corpus pass rate and time per request, offline",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_before": [round(value, 2) for value in load_before],
        },
        "corpus_entries": len(load_corpus()),
        "previous_revision": args.previous,
    }
    with tempfile.TemporaryDirectory(prefix="chat-bench-") as folder:
        data_dir = Path(folder)
        settings = load_settings(data_dir=data_dir, llm_provider="local", llm_model="")
        gallery = Gallery.load()
        sides = []
        rules = Builder(settings, gallery, fill_budget_seconds=0)
        corpus = load_corpus()
        rules_built = timed("rules", lambda: run_builder(rules, corpus))
        sides.append(side("rules", rules_built))
        if not args.no_model:
            with_model = Builder(settings, gallery, fill_budget_seconds=20)
            loading = time.perf_counter()
            model = with_model.local_provider()
            if model is not None:
                model.complete(
                    LLMRequest(messages=[{"role": "user", "content": "Hi"}], max_tokens=1)
                )
            result["model_load_seconds"] = round(time.perf_counter() - loading, 3)
            result["model_available"] = model is not None
            # The model takes seconds per request on two shared cores: a sample, spread
            # over the corpus, with the rules scored on the same sample beside it.
            sample = spread(corpus, args.model_sample)
            result["model_sample"] = len(sample)
            built = timed("rules and model", lambda: run_builder(with_model, sample))
            sides.append(side("rules_on_the_model_sample", rules_built, sample))
            sides.append(side("rules_and_model", built, sample))
        built, timed_out = timed("previous", lambda: run_previous(args.previous, data_dir))
        sides.append(side("previous", built))
        result["previous_timed_out"] = timed_out
    result["sides"] = sides
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n")
    for one in sides:
        print(
            f"{one['side']:>16}: pass {one['all']['pass_rate']:.1%} "
            f"(tuning {one['tuning']['pass_rate']:.1%} of {one['tuning']['entries']}, "
            f"held out {one['held_out']['pass_rate']:.1%} of {one['held_out']['entries']}), "
            f"valid {one['share_with_a_valid_workflow']:.0%}, "
            f"p50 {one['p50_seconds'] * 1000:.1f} ms, p95 {one['p95_seconds'] * 1000:.1f} ms"
        )
    if result.get("previous_timed_out"):
        print(
            f"previous: no answer within {PREVIOUS_TIMEOUT_SECONDS} s for {result['previous_timed_out']}"
        )
    print(f"wrote {RESULT.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
