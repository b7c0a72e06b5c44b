"""Worker processes forked from one that has already imported everything (as gunicorn's
preload does), so a test can kill -9 workers twenty times without paying twenty
interpreter starts: each forked child is a real `configurable-agents worker` process
(its own pid, database and queue connections, threads), killed for real.

Run as a script, the zygote imports the worker, then reads lines on stdin: ``fork
<log path>`` forks a worker writing to that file and answers its pid on stdout.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.e2e.serviceset import REPO, process_environment
from tests.integration.queue.cluster import READY, READY_SECONDS, STOP_SECONDS, Cluster


class ForkedProcess:
    """The bits of subprocess.Popen the cluster uses, for a child of the zygote."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                os.kill(self.pid, 0)
                # A zombie still answers signal 0: the zygote reaps at once, but read it.
                with open(f"/proc/{self.pid}/stat") as stat:
                    if stat.read().split()[2] == "Z":
                        self.returncode = -1
            except (ProcessLookupError, FileNotFoundError):
                self.returncode = -1
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def wait(self, timeout: float | None = None) -> int:
        deadline = time.monotonic() + (timeout if timeout is not None else 3600)
        while self.poll() is None:
            if time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(str(self.pid), timeout or 0)
            time.sleep(0.02)
        return self.returncode or -1


class Zygote:
    """A preloaded process on a cluster's settings that forks workers on demand."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.queue.zygote"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=process_environment(cluster.settings_env),
            cwd=str(REPO),
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"the zygote did not start: {line!r}")

    def fork_worker(self):  # type: ignore[no-untyped-def]
        """A new worker (not waited for: see WorkerProcess.wait_ready)."""
        from tests.integration.queue.cluster import WorkerProcess

        assert self.process.stdin is not None and self.process.stdout is not None
        log_path = self.cluster.data_dir / f"worker-{len(self.cluster.workers) + 1}.log"
        log_path.touch()
        self.process.stdin.write(f"fork {log_path}\n")
        self.process.stdin.flush()
        pid = int(self.process.stdout.readline())
        worker = WorkerProcess(ForkedProcess(pid), log_path)  # type: ignore[arg-type]
        self.cluster.workers.append(worker)
        return worker

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)


def _serve() -> None:
    from configurable_agents.queue.worker import run_worker  # the preload

    # Children are reaped as they die, so a killed worker leaves no zombie behind.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    print("ready", flush=True)
    for line in sys.stdin:
        command, _, argument = line.strip().partition(" ")
        if command != "fork":
            continue
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            log = os.open(argument, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            os.dup2(log, 1)
            os.dup2(log, 2)
            devnull = os.open(os.devnull, os.O_RDONLY)
            os.dup2(devnull, 0)
            code = 1
            try:
                code = run_worker()
            finally:
                sys.stdout.flush()
                os._exit(code)
        print(pid, flush=True)


__all__ = ["READY", "READY_SECONDS", "STOP_SECONDS", "ForkedProcess", "Path", "Zygote"]

if __name__ == "__main__":
    _serve()
