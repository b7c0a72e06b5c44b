"""The machines of the multi-host tests and benchmarks/reliability_multihost.py: the
services host (the root namespace: PostgreSQL and Redis reachable on its bridge address,
the dashboard, the LLM server) and two worker hosts in network namespaces, set up as the
README's "Production on several machines" walkthrough says, torn down afterwards whatever
happened (nothing here imports pytest)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import select

from configurable_agents.storage.models import Run, RunStep
from tests.conftest import free_port
from tests.e2e.serviceset import REPO, process_environment, settings_environment
from tests.fakes.openai_server import FakeLLMServer, Reply
from tests.integration.queue.cluster import Cluster, flush_redis, three_node_workflow
from tests.multihost import netns

READY = re.compile(r"worker ready: (?P<id>\S+) consuming")
# Bounds that only end a broken test; a healthy start is far quicker.
START_SECONDS = 60.0
# Short leases so a dead host is noticed within seconds.
LEASE_SECONDS = 3
WORKER_CONCURRENCY = 3
# Every answer of the LLM server takes this long: runs are in flight when a host fails.
LLM_DELAY = 0.1


@dataclass
class WorkerHost:
    """A worker machine: its namespace, its folder (Procfile and the shared .env) and its
    `honcho start worker` process tree."""

    host: netns.Host
    folder: Path
    env: dict[str, str]
    log: Path = field(init=False)
    agent_ids: list[str] = field(default_factory=list)
    _seen: int = 0

    def __post_init__(self) -> None:
        self.log = self.folder / "honcho.log"

    def launch(self) -> None:
        """`honcho start worker` on this host, as its systemd unit would (not waiting)."""
        self._seen = len(READY.findall(self.output()))
        honcho = str(Path(sys.executable).parent / "honcho")
        self.host.popen([honcho, "start", "worker"], env=self.env, cwd=self.folder, log=self.log)

    def wait_ready(self) -> str:
        """The id of the worker :meth:`launch` started, once it is ready."""
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            ready = READY.findall(self.output())
            if len(ready) > self._seen:
                self.agent_ids.append(ready[-1])
                return ready[-1]
            time.sleep(0.1)
        raise AssertionError(f"no worker ready on {self.host.name}:\n{self.output()[-4000:]}")

    def start(self) -> str:
        """Launch the worker and wait until it is ready; its id."""
        self.launch()
        return self.wait_ready()

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@dataclass
class Machines:
    """The services host's view: the database (as the dashboard and API use it), the LLM
    server, the dashboard's URL, and the worker hosts."""

    cluster: Cluster
    llm: FakeLLMServer
    dashboard_url: str
    hosts: dict[str, WorkerHost]
    network: netns.Network


def _wait_for_line(process: subprocess.Popen[bytes], log: Path, text: str) -> None:
    deadline = time.monotonic() + START_SECONDS
    while text not in log.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"never printed {text!r}:\n{log.read_text()[-3000:]}")
        time.sleep(0.05)


def echo_reply(delay: float) -> Callable[..., Reply]:
    """The LLM server's answer: the prompt echoed back (so each request names its run)."""

    def respond(request: object) -> Reply:
        text = getattr(request, "last_user_text", "")
        return Reply(text=f"fake reply to: {text[:80]}", delay=delay)

    return respond


@contextmanager
def running_machines(
    tmp_path: Path, postgres_url: str, queue_redis_url: str, llm_delay: float = LLM_DELAY
) -> Iterator[Machines]:
    """The services host and two worker hosts (h1, h2), workers not started yet."""
    flush_redis(queue_redis_url)
    network = netns.Network()
    started: list[subprocess.Popen[bytes]] = []
    llm: FakeLLMServer | None = None
    cluster: Cluster | None = None
    try:
        network.create(["h1", "h2"])
        services = network.services_address
        # PostgreSQL and Redis on the services host's address, as on a database server.
        pg_port, redis_port = free_port(), free_port()
        pg_target = re.match(r".*@([^/]+)/", postgres_url)
        assert pg_target, postgres_url
        forward_log = tmp_path / "forward.log"
        with forward_log.open("wb") as out:
            forwarder = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.multihost.forward",
                    f"{services}:{pg_port}={pg_target.group(1)}",
                    f"{services}:{redis_port}=127.0.0.1:6379",
                ],
                cwd=str(REPO),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        started.append(forwarder)
        _wait_for_line(forwarder, forward_log, "forwarding")
        llm = FakeLLMServer(default=echo_reply(llm_delay), host=services).__enter__()

        # The services host: migrations (the release step) and the dashboard.
        cluster = Cluster(tmp_path / "services", postgres_url, queue_redis_url)
        dashboard_port = free_port()
        dashboard_env = process_environment(
            {
                **cluster.settings_env,
                "DASHBOARD_PORT": str(dashboard_port),
                "PYTHONPATH": str(REPO),
            }
        )
        dashboard_log = tmp_path / "dashboard.log"
        with dashboard_log.open("wb") as out:
            dashboard = subprocess.Popen(
                [sys.executable, "-m", "dashboard"],
                env=dashboard_env,
                cwd=str(REPO),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        started.append(dashboard)
        _wait_for_line(dashboard, dashboard_log, "dashboard ready at")

        # The one .env every worker host gets, naming the services host by its address.
        database = postgres_url.replace(pg_target.group(1), f"{services}:{pg_port}")
        queue = queue_redis_url.replace("127.0.0.1:6379", f"{services}:{redis_port}")
        shared = settings_environment(
            Path("var"),
            DATABASE_URL=database,
            QUEUE_URL=queue,
            LLM_PROVIDER="openai",
            LLM_BASE_URL=llm.base_url,
            LLM_MODEL="fake-model",
            TRACKING_ENABLED="false",
            RUN_LEASE_SECONDS=str(LEASE_SECONDS),
            WORKER_HEARTBEAT_TTL="1",
            WORKER_CONCURRENCY=str(WORKER_CONCURRENCY),
            LOG_LEVEL="INFO",
            PYTHONPATH=str(REPO),
        )
        hosts = {}
        for host in network.hosts:
            folder = tmp_path / host.name
            folder.mkdir()
            shutil.copy(REPO / "Procfile", folder / "Procfile")
            (folder / ".env").write_text("".join(f"{k}={v}\n" for k, v in shared.items()))
            env = {k: v for k, v in process_environment({}).items() if k != "PYTHONPATH"}
            hosts[host.name] = WorkerHost(host, folder, env)
        yield Machines(cluster, llm, f"http://127.0.0.1:{dashboard_port}", hosts, network)
    finally:
        network.destroy()
        for process in started:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
        if llm is not None:
            llm.__exit__(None, None, None)
        if cluster is not None:
            cluster.engine.dispose()
        flush_redis(queue_redis_url)


def dashboard_agents(machines: Machines) -> list[dict[str, object]]:
    """The workers as the dashboard lists them (what an operator watches)."""
    return httpx.get(f"{machines.dashboard_url}/api/v1/agents", timeout=10).json()


def host_of(agent_id: str | None) -> str:
    """The host a worker id names (``worker-<host>-<pid>``)."""
    return agent_id.split("-")[1] if agent_id else ""


def steps_by_run(machines: Machines, run_ids: list[str]) -> dict[str, list[RunStep]]:
    """The stored steps of each run."""
    with machines.cluster.session_factory() as session:
        rows = session.scalars(select(RunStep).where(RunStep.run_id.in_(run_ids))).all()
    found: dict[str, list[RunStep]] = {run_id: [] for run_id in run_ids}
    for step in rows:
        found[step.run_id].append(step)
    return found


@dataclass
class HostKilled:
    """What killing a worker host mid-load left: the runs, the ones the dead host held and
    the nodes they had stored when it died."""

    tokens: dict[str, str]
    held: set[str]
    stored_at_kill: dict[str, set[str]]
    killed_pids: list[int]
    killed_at: datetime
    runs: list[Run]


def kill_host_mid_load(
    machines: Machines, runs: int, *, victim: str = "h1", timeout: float = 180.0
) -> HostKilled:
    """Start the workers of every host, start ``runs`` runs of a 3-node workflow, SIGKILL
    every process of ``victim`` while it executes runs, and wait until every run ended."""
    cluster = machines.cluster
    for host in machines.hosts.values():
        host.launch()
    for host in machines.hosts.values():
        host.wait_ready()
    workflow_id = cluster.store_workflow(three_node_workflow())
    tokens = {cluster.start_run(workflow_id, {"text": f"[r{i}]"}): f"[r{i}]" for i in range(runs)}
    run_ids = list(tokens)

    def victim_busy() -> bool:
        # Every thread of the victim's worker busy, one run with a step stored at least.
        held = [
            run.id
            for run in cluster.runs(run_ids)
            if run.state == "running" and host_of(run.worker_id) == victim
        ]
        return len(held) >= WORKER_CONCURRENCY and any(steps_by_run(machines, held).values())

    cluster.wait_for(victim_busy, timeout=60, what=f"{victim} to be executing runs", poll=0.02)
    killed_at = datetime.now(UTC)
    killed = machines.hosts[victim].host.kill_everything()
    held = {
        run.id
        for run in cluster.runs(run_ids)
        if run.state == "running" and host_of(run.worker_id) == victim
    }
    stored = {
        run_id: {step.node for step in steps}
        for run_id, steps in steps_by_run(machines, list(held)).items()
    }
    finished = cluster.wait_finished(run_ids, timeout=timeout)
    return HostKilled(tokens, held, stored, killed, killed_at, finished)
