"""Faults for the reliability tests and benchmarks/reliability.py (nothing here imports
pytest): a 5-step workflow whose prompts name their run, kill -9 at random moments with an
account of the LLM calls each kill cut off, queue messages lost, a CLI `resume`."""

from __future__ import annotations

import random
import re
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise

from sqlalchemy import select

from configurable_agents.storage.models import Run, RunStep, utcnow
from tests.e2e.serviceset import REPO, process_environment
from tests.fakes.openai_server import FakeLLMServer, Reply
from tests.integration.queue.cluster import Cluster, WorkerProcess, flush_redis

# The approval workflow of the steering tests, for the approval fault.
from tests.integration.queue.test_steering import APPROVAL as APPROVAL

NODES = ("one", "two", "three", "four", "five")
TOKEN = re.compile(r"\[r\d+\]")


def five_step_workflow(name: str = "five-steps", nodes_: tuple[str, ...] = NODES) -> str:
    """A 5-node LLM chain (or of ``nodes_``); every prompt starts with its node and carries
    the run's token."""
    fields = "".join(f"  {node}_out: {{type: str}}\n" for node in nodes_)
    nodes, previous = [], None
    for node in nodes_:
        after = f" after {{{previous}_out}}" if previous else ""
        nodes.append(
            f'  - {{id: {node}, kind: llm, prompt: "{node} {{text}}{after}", output: {node}_out}}'
        )
        previous = node
    chain = ["START", *nodes_, "END"]
    edges = "".join(f"  - {{from: {a}, to: {b}}}\n" for a, b in pairwise(chain))
    return (
        f"schema_version: 1\nname: {name}\nstate:\n  text: {{type: str, required: true}}\n"
        f"{fields}nodes:\n" + "\n".join(nodes) + f"\nedges:\n{edges}"
    )


def held_at(node: str, gate: threading.Event, delay: float = 0.05) -> Callable[..., Reply]:
    """The fake server's answer: the prompt echoed back, but a request of ``node`` waits
    until ``gate`` is set (so a run is certainly mid-step while a test acts on it)."""

    def respond(request: object) -> Reply:
        text = getattr(request, "last_user_text", "")
        if text.startswith(node):
            gate.wait(60)
        return Reply(text=f"fake reply to: {text[:80]}", delay=delay)

    return respond


def calls_per_step(server: FakeLLMServer) -> Counter[tuple[str, str]]:
    """LLM requests per (run token, node): each prompt starts with its node."""
    counts: Counter[tuple[str, str]] = Counter()
    for request in list(server.requests):
        text = request.last_user_text
        token = TOKEN.search(text)
        if token:
            counts[(token.group(), text.split()[0])] += 1
    return counts


def stored_steps(cluster: Cluster, run_ids: Iterable[str]) -> Counter[tuple[str, str]]:
    """Completed step rows per (run id, node)."""
    with cluster.session_factory() as session:
        rows = session.execute(
            select(RunStep.run_id, RunStep.node).where(
                RunStep.run_id.in_(list(run_ids)), RunStep.state == "completed"
            )
        ).all()
    return Counter((run_id, node) for run_id, node in rows)


@dataclass
class KillLedger:
    """LLM calls a kill cut off: made (the server counted them) but whose step was not
    stored when the worker died. Those, and only those, are made again."""

    tokens: dict[str, str]
    cut_off: Counter[tuple[str, str]] = field(default_factory=Counter)
    kills: int = 0
    kill_times: list[float] = field(default_factory=list)

    def after_kill(self, cluster: Cluster, server: FakeLLMServer, victim: str) -> set[str]:
        """Account for one kill -9 of worker ``victim`` (what is stored is final for it);
        the runs it held."""
        self.kills += 1
        self.kill_times.append(time.monotonic())
        # A request the victim wrote just before dying still reaches the server.
        time.sleep(0.1)
        held = {
            run.id
            for run in cluster.runs(self.tokens)
            if run.state == "running" and run.worker_id == victim
        }
        by_token = {token: run_id for run_id, token in self.tokens.items() if run_id in held}
        stored = stored_steps(cluster, held)
        for (token, node), calls in calls_per_step(server).items():
            run_id = by_token.get(token)
            if run_id is None:
                continue
            expected = 1 + self.cut_off[(token, node)]
            if calls >= expected and stored[(run_id, node)] == 0:
                self.cut_off[(token, node)] += 1
        return held

    def repeated_calls(self, server: FakeLLMServer) -> dict[tuple[str, str], int]:
        """Calls beyond one per step plus one per cut-off call (goal: none)."""
        extra = {}
        for key, calls in calls_per_step(server).items():
            if calls > 1 + self.cut_off[key]:
                extra[key] = calls - 1 - self.cut_off[key]
        return extra


def kill_at_random_moments(
    cluster: Cluster,
    server: FakeLLMServer,
    workflow_id: int,
    *,
    kills: int,
    seed: int,
    pause: tuple[float, float] = (0.3, 1.0),
    batch: int = 4,
    on_kill: Callable[[tuple[datetime, set[str]]], object] | None = None,
) -> KillLedger:
    """Keep runs flowing through two workers and kill -9 one of them ``kills`` times at
    random moments (a replacement is forked each time); returns the ledger of cut-off
    calls. The survivors are left running to finish the runs."""
    from tests.integration.queue.zygote import Zygote

    rng = random.Random(seed)
    ledger = KillLedger(tokens={})
    zygote = Zygote(cluster)
    try:
        workers = [zygote.fork_worker(), zygote.fork_worker()]

        def top_up() -> None:
            unfinished = [r for r in cluster.runs(ledger.tokens) if r.state != "completed"]
            while len(unfinished) < batch:
                token = f"[r{len(ledger.tokens)}]"
                run_id = cluster.start_run(workflow_id, {"text": token})
                ledger.tokens[run_id] = token
                unfinished.append(cluster.run(run_id))

        for _ in range(kills):
            top_up()
            time.sleep(rng.uniform(*pause))
            for worker in workers:
                if not worker.agent_id:
                    _ready_if_started(worker)
            alive = [w for w in workers if w.process.poll() is None and w.agent_id]
            if not alive:  # both replacements still starting: a kill needs a live victim
                workers[0].wait_ready()
                alive = [workers[0]]
            victim = rng.choice(alive)
            killed_at = utcnow()
            victim.kill9()
            held = ledger.after_kill(cluster, server, victim.agent_id)
            if on_kill is not None:
                on_kill((killed_at, held))
            workers.remove(victim)
            workers.append(zygote.fork_worker())
        for worker in workers:
            if not worker.agent_id:
                worker.wait_ready()
    finally:
        zygote.close()
    return ledger


def start_worker_async(cluster: Cluster) -> WorkerProcess:
    """Start a worker without waiting for it to be ready."""
    log_path = cluster.data_dir / f"worker-{len(cluster.workers) + 1}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "configurable_agents", "worker"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=process_environment(cluster.settings_env),
            cwd=str(REPO),
        )
    worker = WorkerProcess(process, log_path)
    cluster.workers.append(worker)
    return worker


def _ready_if_started(worker: WorkerProcess) -> None:
    from tests.integration.queue.cluster import READY

    match = READY.search(worker.output())
    if match:
        worker.agent_id = match.group("id")


def lose_queue_messages(cluster: Cluster) -> int:
    """Drop every message of the run queue (Redis FLUSHDB, or delete the SQLite queue's
    rows); how many the queue held before."""
    url = cluster.queue_url
    if url.startswith("redis"):
        import redis

        client = redis.Redis.from_url(url)
        try:
            held = sum(
                client.zcard(key) if client.type(key) == b"zset" else client.llen(key)
                for key in client.keys("*")
                if client.type(key) in (b"zset", b"list")
            )
        finally:
            client.close()
        flush_redis(url)
        return held
    connection = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=30)
    try:
        held = connection.execute("SELECT count(*) FROM task").fetchone()[0]
        connection.execute("DELETE FROM task")
        connection.commit()
    finally:
        connection.close()
    return held


def queued_count(cluster: Cluster, run_ids: Iterable[str]) -> int:
    with cluster.session_factory() as session:
        return len(
            session.scalars(
                select(Run.id).where(Run.id.in_(list(run_ids)), Run.state == "queued")
            ).all()
        )


def cli(cluster: Cluster, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`configurable-agents ARGS` on the cluster's database and queue."""
    return subprocess.run(
        [sys.executable, "-m", "configurable_agents", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=process_environment(cluster.settings_env),
        cwd=str(REPO),
    )


def popen_cli(cluster: Cluster, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "configurable_agents", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=process_environment(cluster.settings_env),
        cwd=str(REPO),
    )
