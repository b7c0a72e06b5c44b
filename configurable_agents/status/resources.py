"""What the machine and the set's processes use: CPU, memory, disk under DATA_DIR, RSS.

Read with psutil, as plain functions over plain arguments, so the dashboard's resource
watch calls them every RESOURCES_INTERVAL_SECONDS and tests call them without a server.

How the processes of the set are found (``service_processes``): a web service is the
process listening on its port (dashboard, chat, MLflow: each port is in the settings), and
a worker is known by the pid it registered as an agent on this host. Both hold whether
the set runs under honcho, under another supervisor, or one service at a time by hand.
A process's resident memory includes its children's (MLflow's server runs its app in a
child process; a worker may run tools in one).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from configurable_agents.settings import Settings

MB = 1024 * 1024


@dataclass(frozen=True)
class Thresholds:
    """Past these a reading carries a warning."""

    cpu_percent: float = 90.0
    memory_percent: float = 90.0
    disk_free_bytes: int = 1024 * MB
    process_rss_bytes: int = 2048 * MB

    @classmethod
    def from_settings(cls, settings: Settings) -> Thresholds:
        """The thresholds the RESOURCES_* settings set."""
        return cls(
            cpu_percent=settings.resources_cpu_warn_percent,
            memory_percent=settings.resources_memory_warn_percent,
            disk_free_bytes=settings.resources_disk_free_warn_mb * MB,
            process_rss_bytes=settings.resources_process_rss_warn_mb * MB,
        )


@dataclass(frozen=True)
class ProcessUsage:
    """One process of the set and the memory it holds (with its children)."""

    name: str
    pid: int
    rss_bytes: int


@dataclass(frozen=True)
class Resources:
    """One reading of the machine and the set's processes."""

    taken_at: datetime
    cpu_percent: float
    memory_percent: float
    memory_used_bytes: int
    memory_total_bytes: int
    disk_path: str
    disk_free_bytes: int
    disk_total_bytes: int
    processes: tuple[ProcessUsage, ...] = ()
    thresholds: Thresholds = field(default_factory=Thresholds)

    @property
    def cpu_high(self) -> bool:
        """CPU at or past its threshold."""
        return self.cpu_percent >= self.thresholds.cpu_percent

    @property
    def memory_high(self) -> bool:
        """Memory in use at or past its threshold."""
        return self.memory_percent >= self.thresholds.memory_percent

    @property
    def disk_low(self) -> bool:
        """Free disk under DATA_DIR below its threshold."""
        return self.disk_free_bytes < self.thresholds.disk_free_bytes

    def process_high(self, usage: ProcessUsage) -> bool:
        """One process holding at least the RSS threshold."""
        return usage.rss_bytes >= self.thresholds.process_rss_bytes

    @property
    def warnings(self) -> tuple[str, ...]:
        """One sentence per reading past its threshold (empty: all is well)."""
        limits = self.thresholds
        found = []
        if self.cpu_high:
            found.append(f"CPU at {self.cpu_percent:.0f}% (warning at {limits.cpu_percent:.0f}%)")
        if self.memory_high:
            found.append(
                f"memory at {self.memory_percent:.0f}% (warning at {limits.memory_percent:.0f}%)"
            )
        if self.disk_low:
            found.append(
                f"only {self.disk_free_bytes // MB} MB free under {self.disk_path} "
                f"(warning below {limits.disk_free_bytes // MB} MB)"
            )
        found += [
            f"{usage.name} holds {usage.rss_bytes // MB} MB "
            f"(warning at {limits.process_rss_bytes // MB} MB)"
            for usage in self.processes
            if self.process_high(usage)
        ]
        return tuple(found)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (the status API and the live stream send this)."""
        return {
            "taken_at": self.taken_at.isoformat(),
            "cpu_percent": self.cpu_percent,
            "memory_percent": self.memory_percent,
            "memory_used_bytes": self.memory_used_bytes,
            "memory_total_bytes": self.memory_total_bytes,
            "disk_path": self.disk_path,
            "disk_free_bytes": self.disk_free_bytes,
            "disk_total_bytes": self.disk_total_bytes,
            "processes": [
                {"name": p.name, "pid": p.pid, "rss_bytes": p.rss_bytes} for p in self.processes
            ],
            "warnings": list(self.warnings),
            "thresholds": asdict(self.thresholds),
        }

    def fingerprint(self) -> tuple[Any, ...]:
        """The reading at the precision the pages show, so noise does not republish."""
        return (
            round(self.cpu_percent),
            round(self.memory_percent),
            self.disk_free_bytes // (100 * MB),
            tuple((p.name, p.pid, p.rss_bytes // MB) for p in self.processes),
            self.warnings,
        )


def existing_folder(path: Path) -> Path:
    """``path`` or its nearest existing parent (DATA_DIR may not be made yet)."""
    for candidate in (path, *path.parents):
        if candidate.is_dir():
            return candidate
    return Path(os.sep)


def listening_pids(ports: Iterable[int]) -> dict[int, int]:
    """{port: pid} of the local processes listening on these TCP ports (that we may see)."""
    wanted = set(ports)
    found: dict[int, int] = {}
    try:
        connections = psutil.net_connections(kind="tcp")
    except psutil.AccessDenied:  # some platforms list sockets only for root
        return found
    for connection in connections:
        if (
            connection.status == psutil.CONN_LISTEN
            and connection.laddr
            and connection.laddr.port in wanted
            and connection.pid is not None
        ):
            found.setdefault(connection.laddr.port, connection.pid)
    return found


def service_processes(ports: Mapping[str, int], worker_pids: Sequence[int]) -> dict[str, list[int]]:
    """{service name: pids}: web services by the port they listen on, workers by their pid."""
    by_port = listening_pids(ports.values())
    found = {name: [by_port[port]] for name, port in ports.items() if port in by_port}
    if worker_pids:
        found["worker"] = sorted(set(worker_pids))
    return found


def resident_memory(pid: int) -> int | None:
    """RSS of a process and its descendants, in bytes; None when it is gone."""
    try:
        process = psutil.Process(pid)
        total = process.memory_info().rss
        for child in process.children(recursive=True):
            try:
                total += child.memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue  # a child that ended between the two calls holds nothing
        return total
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def collect_resources(
    data_dir: Path,
    processes: Mapping[str, Sequence[int]],
    thresholds: Thresholds | None = None,
) -> Resources:
    """One reading: CPU since the previous call, memory, disk under ``data_dir``, each RSS.

    CPU is psutil's figure since its previous call, so a caller reading every few seconds
    gets the mean over that interval without waiting here.
    """
    memory = psutil.virtual_memory()
    folder = existing_folder(data_dir)
    disk = psutil.disk_usage(str(folder))
    usages = []
    for name, pids in processes.items():
        for pid in pids:
            rss = resident_memory(pid)
            if rss is not None:
                label = name if len(pids) == 1 else f"{name} {pid}"
                usages.append(ProcessUsage(label, pid, rss))
    cpu = psutil.cpu_percent(interval=None)
    return Resources(
        taken_at=datetime.now(UTC),
        cpu_percent=cpu,
        memory_percent=memory.percent,
        memory_used_bytes=memory.total - memory.available,
        memory_total_bytes=memory.total,
        disk_path=str(folder),
        disk_free_bytes=disk.free,
        disk_total_bytes=disk.total,
        processes=tuple(usages),
        thresholds=thresholds or Thresholds(),
    )
