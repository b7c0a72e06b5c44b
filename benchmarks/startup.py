"""Start-up benchmark of the service set: CLI start, set and single-service readiness, idle RSS.

Run from the repo root: `make bench` (or `.venv/bin/python benchmarks/startup.py`). Writes
benchmarks/results/startup.json and prints a summary. Every start uses a fresh data folder,
as on a fresh machine: the release step migrates and seeds each time.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
# The repo root replaces this folder on sys.path: benchmarks/queue.py would shadow the
# standard library's queue module.
sys.path[:] = [str(REPO)] + [p for p in sys.path if Path(p or ".").resolve() != REPO / "benchmarks"]

import httpx  # noqa: E402
import psutil  # noqa: E402

from tests.e2e.serviceset import (  # noqa: E402
    BIN,
    START_SECONDS,
    ServiceSet,
    health_urls,
    honcho_command,
    kill_all,
    process_environment,
    procfile_commands,
    settings_environment,
    write_env_file,
)

RESULTS = REPO / "benchmarks" / "results" / "startup.json"
WORKER_READY = re.compile(r"^\S+ worker\.\d+\s+\| worker ready", re.MULTILINE)
# The dashboard's /healthz may answer before its pages do: its ready line marks the pages.
DASHBOARD_READY_LINE = re.compile(r"^\S+ dashboard\.\d+\s+\| dashboard ready at", re.MULTILINE)
# What `honcho start <names>` runs to measure one service alone (the release migrates first).
SINGLE_SERVICES = {
    "dashboard": ("release", "dashboard"),
    "chat": ("release", "chat"),
    "mlflow": ("mlflow",),
    "worker": ("release", "worker"),
}
# How often readiness is checked, and how long one health request may wait for its answer.
POLL_SECONDS = 0.05
PROBE_TIMEOUT_SECONDS = 2.0
GOALS = {
    "cli_seconds": 0.5,
    "set_over_slowest_single": 1.15,
    "dashboard_healthz_seconds": 2.0,
    "idle_rss_bytes": 1.2e9,
}


def timed_command(command: Sequence[str], env: dict[str, str], runs: int) -> dict[str, Any]:
    """Wall time of a command that exits by itself, median over ``runs``."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, env=env, cwd=REPO, capture_output=True, check=False)
        times.append(time.perf_counter() - started)
    return {"median_seconds": statistics.median(times), "runs_seconds": times}


class Launch:
    """One `honcho start` on a fresh data folder, timed from the launch."""

    def __init__(
        self, workdir: Path, processes: Sequence[str] = (), data_dir: Path | None = None
    ) -> None:
        self.data_dir = data_dir or Path(tempfile.mkdtemp(dir=workdir)) / "var"
        self.settings_env = settings_environment(self.data_dir, STATUS_TICK_SECONDS="1")
        run_dir = Path(tempfile.mkdtemp(dir=workdir))
        env_file = write_env_file(run_dir / "set.env", self.settings_env)
        log_path = run_dir / "honcho.log"
        with log_path.open("wb") as log:
            self.started = time.perf_counter()
            popen = subprocess.Popen(
                honcho_command(env_file, processes),
                env=process_environment(self.settings_env),
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.popen = popen
        self.set = ServiceSet(self.settings_env, log_path, popen.pid)
        self.set.remember()

    def wait_ready(self, services: Sequence[str]) -> dict[str, float]:
        """Seconds from launch until each service is ready (web: health 200; worker: its line),
        and until the dashboard prints its ready line.

        Each web service has its own probe thread: one probe waiting on a service that has
        bound its port but does not answer yet must not delay noticing another.
        """
        urls = health_urls(self.settings_env, [s for s in services if s != "worker"])
        ready: dict[str, float] = {}
        stop = threading.Event()
        probes = [
            threading.Thread(target=self._probe, args=(name, url, ready, stop), daemon=True)
            for name, url in urls.items()
        ]
        for probe in probes:
            probe.start()
        deadline = self.started + START_SECONDS
        expected = [*services, *(["dashboard_ready_line"] if "dashboard" in services else [])]
        lines = {"worker": WORKER_READY, "dashboard_ready_line": DASHBOARD_READY_LINE}
        try:
            while not all(name in ready for name in expected):
                output = self.set.output()
                for name, line in lines.items():
                    if name in expected and name not in ready and line.search(output):
                        ready[name] = time.perf_counter() - self.started
                if self.popen.poll() is not None or time.perf_counter() > deadline:
                    raise RuntimeError(f"{services} not ready:\n{self.set.output()}")
                time.sleep(POLL_SECONDS)
        finally:
            stop.set()
            for probe in probes:
                probe.join()
        self.set.remember()
        return ready

    def _probe(self, name: str, url: str, ready: dict[str, float], stop: threading.Event) -> None:
        """Poll one health URL until it answers 200, then record the seconds since launch."""
        # One client for all polls: a new httpx client per request costs about 20 ms of CPU
        # (its SSL context), which on two cores took CPU from the very set being measured.
        with httpx.Client(timeout=PROBE_TIMEOUT_SECONDS) as client:
            while not stop.is_set():
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(url).status_code == 200:
                        ready[name] = time.perf_counter() - self.started
                        return
                stop.wait(POLL_SECONDS)

    def stop(self) -> None:
        stopped = self.set.stop()
        kill_all(stopped.left_behind)
        self.popen.wait()


def measure_start(
    workdir: Path,
    services: Sequence[str],
    processes: Sequence[str] = (),
    data_dir: Path | None = None,
    while_up: Callable[[Launch], None] | None = None,
) -> tuple[dict[str, float], Path]:
    """Seconds to ready per service (and "all") of one start, and its data folder."""
    launch = Launch(workdir, processes, data_dir)
    try:
        ready = launch.wait_ready(services)
        ready["all"] = max(ready[name] for name in services)
        if while_up is not None:
            while_up(launch)
        return ready, launch.data_dir
    finally:
        launch.stop()


def group_by_process(tree: list[psutil.Process]) -> dict[int, str]:
    """pid -> Procfile process name for the set's tree.

    "honcho" is honcho itself only; a process under honcho that runs no Procfile line (a
    line that exec'd another program) is "unattributed" rather than added to honcho's share.
    """
    by_command = {
        command.removeprefix("exec "): name for name, command in procfile_commands().items()
    }
    owner: dict[int, str] = {}
    for process in tree:
        with contextlib.suppress(psutil.NoSuchProcess):
            cmdline = process.cmdline()
            # honcho runs each line with `sh -c`; a line starting with `exec` replaces the shell.
            command = cmdline[2] if cmdline[:2] == ["/bin/sh", "-c"] else " ".join(cmdline)
            if command.removeprefix("exec ") in by_command and process.pid not in owner:
                for member in [process, *process.children(recursive=True)]:
                    owner[member.pid] = by_command[command.removeprefix("exec ")]
    root = tree[0].pid if tree else None
    return {
        process.pid: owner.get(process.pid, "honcho" if process.pid == root else "unattributed")
        for process in tree
    }


def memory_by_process(service_set: ServiceSet) -> dict[str, dict[str, int]]:
    """RSS and PSS of the set's process tree, grouped by Procfile process."""
    tree = service_set.remember()
    totals: dict[str, dict[str, int]] = {}
    owners = group_by_process(tree)
    for process in tree:
        with contextlib.suppress(psutil.NoSuchProcess):
            info = process.memory_full_info()
            entry = totals.setdefault(owners[process.pid], {"rss": 0, "pss": 0})
            entry["rss"] += info.rss
            entry["pss"] += getattr(info, "pss", info.rss)
    return totals


def cpu_by_process(service_set: ServiceSet) -> dict[str, float]:
    """CPU seconds (user + system) the set's processes have used so far, by Procfile process."""
    tree = service_set.remember()
    owners = group_by_process(tree)
    totals: dict[str, float] = {}
    for process in tree:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = process.cpu_times()
            name = owners[process.pid]
            totals[name] = totals.get(name, 0.0) + times.user + times.system
    return totals


def median_of(runs: list[dict[str, float]], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="starts per measurement")
    parser.add_argument("--cli-runs", type=int, default=7, help="runs per CLI command")
    parser.add_argument("--settle", type=float, default=15.0, help="seconds idle before RSS")
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="startup-bench-"))
    web = ("dashboard", "chat", "mlflow")
    every = (*web, "worker")
    cli = str(BIN / "configurable-agents")
    result: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            # Other programs' load skews every number: judge the run by it.
            "load_average_before": psutil.getloadavg(),
        },
        "goals": GOALS,
    }
    down_env = process_environment(settings_environment(workdir / "down"))
    result["cli"] = {
        "help": timed_command([cli, "--help"], down_env, args.cli_runs),
        "status_set_down": timed_command([cli, "status"], down_env, args.cli_runs),
    }

    def measure_idle(launch: Launch) -> None:
        up_env = process_environment(launch.settings_env)
        result["cli"]["status_set_up"] = timed_command([cli, "status"], up_env, args.cli_runs)
        time.sleep(args.settle)
        memory = memory_by_process(launch.set)
        result["idle_memory"] = {
            "settle_seconds": args.settle,
            "rss_bytes": sum(entry["rss"] for entry in memory.values()),
            "pss_bytes": sum(entry["pss"] for entry in memory.values()),
            "by_process": memory,
        }

    # Interleaved, so load from anything else on the machine weighs on every kind of start.
    set_runs: list[dict[str, float]] = []
    warm_runs: list[dict[str, float]] = []
    single_runs: dict[str, list[float]] = {name: [] for name in SINGLE_SERVICES}
    start_cpu: list[dict[str, float]] = []
    for attempt in range(args.repeats):
        ready, data_dir = measure_start(
            workdir, every, while_up=lambda launch: start_cpu.append(cpu_by_process(launch.set))
        )
        set_runs.append(ready)
        for name, processes in SINGLE_SERVICES.items():
            single_runs[name].append(measure_start(workdir, [name], processes)[0][name])
        last = attempt == args.repeats - 1
        # A restart on existing data: the schema is at head and the examples are stored.
        ready, _ = measure_start(
            workdir, every, data_dir=data_dir, while_up=measure_idle if last else None
        )
        warm_runs.append(ready)
    result["machine"]["load_average_after"] = psutil.getloadavg()

    set_ready = median_of(set_runs, "all")
    singles = {name: statistics.median(times) for name, times in single_runs.items()}
    slowest = max(singles, key=singles.__getitem__)
    result["set"] = {
        "ready_median_seconds": set_ready,
        "service_ready_median_seconds": {name: median_of(set_runs, name) for name in every},
        "runs": set_runs,
        # CPU seconds spent by each process until the whole set was ready: on two cores the
        # set cannot be ready sooner than their sum over two.
        "cpu_seconds_until_ready": {
            name: statistics.median(run.get(name, 0.0) for run in start_cpu)
            for name in sorted({name for run in start_cpu for name in run})
        },
    }
    result["set_existing_data"] = {
        "ready_median_seconds": median_of(warm_runs, "all"),
        "service_ready_median_seconds": {name: median_of(warm_runs, name) for name in every},
        "runs": warm_runs,
    }
    result["single_service"] = {
        "ready_median_seconds": singles,
        "runs_seconds": single_runs,
        "slowest": slowest,
    }
    result["set_over_slowest_single"] = set_ready / singles[slowest]
    # Worst case: a fresh data folder, where the dashboard waits for the release to migrate.
    result["dashboard_healthz_seconds"] = median_of(set_runs, "dashboard")
    result["dashboard_healthz_existing_data_seconds"] = median_of(warm_runs, "dashboard")
    # When its pages answer: the app is built after /healthz first answers.
    result["dashboard_ready_line_seconds"] = median_of(set_runs, "dashboard_ready_line")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print_summary(result)
    return 0


def print_summary(result: dict[str, Any]) -> None:
    def verdict(value: float, goal: float, lower_is_better: bool = True) -> str:
        return "ok" if (value <= goal if lower_is_better else value >= goal) else "MISSED"

    cli = result["cli"]
    goal = GOALS["cli_seconds"]
    lines = [f"configurable-agents start-up ({result['machine']['cpus']} CPUs)"]
    for name in ("help", "status_set_down", "status_set_up"):
        seconds = cli[name]["median_seconds"]
        lines.append(
            f"  cli {name:<16} {seconds:6.3f} s   goal < {goal} s  {verdict(seconds, goal)}"
        )
    lines.append(
        f"  set ready            {result['set']['ready_median_seconds']:6.2f} s (median, fresh data; "
        f"{result['set_existing_data']['ready_median_seconds']:.2f} s on existing data)"
    )
    cpu = result["set"]["cpu_seconds_until_ready"]
    lines.append(
        f"    CPU until ready    {sum(cpu.values()):6.2f} s: "
        + ", ".join(f"{name} {seconds:.1f}" for name, seconds in cpu.items())
    )
    for name, seconds in result["single_service"]["ready_median_seconds"].items():
        lines.append(f"    {name:<10} alone    {seconds:6.2f} s")
    ratio = result["set_over_slowest_single"]
    lines.append(
        f"  set / slowest single {ratio:6.2f}     goal <= {GOALS['set_over_slowest_single']}  "
        f"{verdict(ratio, GOALS['set_over_slowest_single'])}"
    )
    dashboard = result["dashboard_healthz_seconds"]
    lines.append(
        f"  dashboard /healthz   {dashboard:6.2f} s   goal < {GOALS['dashboard_healthz_seconds']} s  "
        f"{verdict(dashboard, GOALS['dashboard_healthz_seconds'])} (fresh data; "
        f"{result['dashboard_healthz_existing_data_seconds']:.2f} s on existing data)"
    )
    lines.append(
        f"    pages ready        {result['dashboard_ready_line_seconds']:6.2f} s   "
        "(its ready line, fresh data)"
    )
    memory = result["idle_memory"]
    rss = memory["rss_bytes"]
    lines.append(
        f"  idle RSS             {rss / 1e6:6.0f} MB  goal < {GOALS['idle_rss_bytes'] / 1e6:.0f} MB  "
        f"{verdict(rss, GOALS['idle_rss_bytes'])} (PSS {memory['pss_bytes'] / 1e6:.0f} MB)"
    )
    for name, entry in sorted(memory["by_process"].items()):
        lines.append(
            f"    {name:<10} RSS {entry['rss'] / 1e6:6.0f} MB  PSS {entry['pss'] / 1e6:6.0f} MB"
        )
    lines.append(f"  written to {RESULTS.relative_to(REPO)}")
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
