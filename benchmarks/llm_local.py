"""Embedded model throughput: our local provider against llama-cpp-python called directly.

Both sides run the same model file on the same threads, with the same prompt, greedy
decoding and max_tokens, so both write the same tokens. Runs alternate (ours, direct,
ours, direct ...) so that a busy machine slows both alike; the KV cache is reset before
each run so each one evaluates its prompt. The result is the median generated tokens
per second of each side and their ratio (goal: ours >= 0.9 x direct).

Run from the repo root: ``.venv/bin/python benchmarks/llm_local.py``. Writes
benchmarks/results/llm_local.json and prints a summary.

The direct side calls ``Llama.create_chat_completion`` on the Llama object our provider
loaded. A second ``Llama(model_path=...)`` with llama.cpp's defaults is not an option on
this machine kind: its weight repacking for AMX crashes the process on the first prompt
(see ``configurable_agents/llm/local.py``); sharing the object also keeps memory and
caches the same for both sides.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
# The repo root replaces this folder on sys.path: benchmarks/queue.py would shadow the
# standard library's queue module.
sys.path[:] = [str(REPO)] + [p for p in sys.path if Path(p or ".").resolve() != REPO / "benchmarks"]

from configurable_agents.llm import LLMRequest  # noqa: E402
from configurable_agents.llm.local import LocalProvider  # noqa: E402

RESULT = REPO / "benchmarks" / "results" / "llm_local.json"
GOAL = 0.9
PROMPT = [
    {"role": "system", "content": "You are a helpful assistant."},
    {
        "role": "user",
        "content": "Write a short story about a lighthouse keeper who finds a message "
        "in a bottle. Describe the sea, the weather and the keeper's thoughts.",
    },
]


def ours(provider: LocalProvider, max_tokens: int) -> tuple[str, int, float]:
    """Text, generated tokens and seconds through the provider."""
    provider.loaded.llama.reset()
    started = time.perf_counter()
    response = provider.complete(LLMRequest(messages=PROMPT, max_tokens=max_tokens, temperature=0))
    return response.text, response.completion_tokens, time.perf_counter() - started


def direct(llama: Any, max_tokens: int) -> tuple[str, int, float]:
    """Text, generated tokens and seconds from llama-cpp-python's own chat completion."""
    llama.reset()
    started = time.perf_counter()
    completion = llama.create_chat_completion(messages=PROMPT, max_tokens=max_tokens, temperature=0)
    seconds = time.perf_counter() - started
    text = completion["choices"][0]["message"]["content"]
    return text, completion["usage"]["completion_tokens"], seconds


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="measured runs per side")
    parser.add_argument("--warmup", type=int, default=2, help="unmeasured runs per side")
    parser.add_argument("--threads", type=int, default=2, help="llama.cpp threads")
    parser.add_argument("--max-tokens", type=int, default=128)
    args = parser.parse_args(argv)

    started = time.perf_counter()
    provider = LocalProvider(n_threads=args.threads)
    llama = provider.loaded.llama
    load_seconds = time.perf_counter() - started

    sides = {
        "provider": lambda: ours(provider, args.max_tokens),
        "direct": lambda: direct(llama, args.max_tokens),
    }
    for _ in range(args.warmup):
        for run in sides.values():
            run()
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in sides}
    texts: dict[str, set[str]] = {name: set() for name in sides}
    for index in range(args.runs):
        # Each pair runs back to back, in turns first and second, so that load from other
        # processes hits both sides alike.
        order = list(sides) if index % 2 == 0 else list(reversed(sides))
        for name in order:
            text, tokens, seconds = sides[name]()
            texts[name].add(text)
            samples[name].append(
                {"tokens": tokens, "seconds": round(seconds, 4), "tokens_per_s": tokens / seconds}
            )

    medians = {
        name: statistics.median(sample["tokens_per_s"] for sample in runs)
        for name, runs in samples.items()
    }
    # The ratio within each back-to-back pair, then its median: steadier than the ratio of
    # the two medians when the machine is shared.
    pair_ratios = [
        mine["tokens_per_s"] / theirs["tokens_per_s"]
        for mine, theirs in zip(samples["provider"], samples["direct"], strict=True)
    ]
    ratio = statistics.median(pair_ratios)
    result = {
        "benchmark": "llm_local",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "model_file": str(provider.path),
        "threads": args.threads,
        "max_tokens": args.max_tokens,
        "runs_per_side": args.runs,
        "warmup_runs_per_side": args.warmup,
        "load_seconds": round(load_seconds, 3),
        "tokens_per_run": {name: [s["tokens"] for s in runs] for name, runs in samples.items()},
        "median_tokens_per_s": {name: round(value, 1) for name, value in medians.items()},
        "range_tokens_per_s": {
            name: [
                round(min(s["tokens_per_s"] for s in runs), 1),
                round(max(s["tokens_per_s"] for s in runs), 1),
            ]
            for name, runs in samples.items()
        },
        # Greedy decoding: both sides must have written the very same text every run.
        "same_text_every_run": len(texts["provider"] | texts["direct"]) == 1,
        "ratio_provider_to_direct": round(ratio, 3),
        "ratio_method": "median of the per-pair ratios (provider tok/s / direct tok/s)",
        "pair_ratios": [round(value, 3) for value in pair_ratios],
        "ratio_of_medians": round(medians["provider"] / medians["direct"], 3),
        "goal": f"ratio >= {GOAL}",
        "goal_met": ratio >= GOAL,
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(),
            # Both sides share it; the provider sets PASSIVE unless the environment says.
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", ""),
        },
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"embedded model, {args.threads} threads, {args.max_tokens} max tokens, "
        f"median of {args.runs}: provider {medians['provider']:.1f} tok/s, "
        f"direct {medians['direct']:.1f} tok/s, ratio {ratio:.3f} "
        f"({'meets' if ratio >= GOAL else 'misses'} the {GOAL} goal) -> {RESULT.relative_to(REPO)}"
    )
    return result


if __name__ == "__main__":
    main()
