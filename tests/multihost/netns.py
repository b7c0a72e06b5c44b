"""Machines for the multi-host tests, made of Linux network namespaces (needs root).

The root namespace is the services host: a bridge carries its address on a private /24,
and small TCP forwarders (tests/multihost/forward.py) make the PostgreSQL and Redis that
listen on 127.0.0.1 reachable at that address, as a database server's would be. Each
worker host is a namespace of its own, joined to the bridge by a veth pair, with its own
hostname (a UTS namespace per process tree) and nothing but that link: it reaches the
services only over it, and taking the link down cuts it off as a pulled cable would.

Everything is named after this process's id (``cam<pid>``), so concurrent test runs do
not clash, and :meth:`Network.create` first removes what a killed earlier run left.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

PREFIX = "cam"
_OURS = re.compile(rf"^{PREFIX}(\d+)")


def ip(*args: str, check: bool = True) -> str:
    """Run `ip ARGS`; its output (raises with ip's message when it fails and ``check``)."""
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if check and done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def available() -> str | None:
    """Why namespaces cannot be made here (None when they can)."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    try:
        ip("netns", "list")
    except (OSError, RuntimeError) as error:
        return f"`ip netns` does not work: {error}"
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_leftovers() -> None:
    """Delete namespaces and links of earlier runs whose process is gone."""
    for line in ip("netns", "list").splitlines():
        name = line.split()[0] if line.strip() else ""
        match = _OURS.match(name)
        if match and not _alive(int(match.group(1))):
            kill_namespace_processes(name)
            ip("netns", "del", name, check=False)
    for line in ip("-o", "link", "show").splitlines():
        parts = line.split(":", 2)
        if len(parts) < 2:
            continue
        name = parts[1].strip().split("@")[0]
        match = _OURS.match(name)
        if match and not _alive(int(match.group(1))):
            ip("link", "del", name, check=False)


def namespace_pids(namespace: str) -> list[int]:
    """Every process whose network namespace this is."""
    out = ip("netns", "pids", namespace, check=False)
    return [int(pid) for pid in out.split()]


def kill_namespace_processes(namespace: str, sig: int = signal.SIGKILL) -> list[int]:
    """Send ``sig`` to every process of a namespace (SIGKILL: the machine died)."""
    pids = namespace_pids(namespace)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
    return pids


@dataclass
class Host:
    """A worker machine: a namespace with one link to the services host."""

    name: str
    namespace: str
    address: str
    link: str  # the root namespace's end of its veth pair
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def popen(
        self, argv: Sequence[str], *, env: dict[str, str], cwd: Path, log: Path
    ) -> subprocess.Popen[bytes]:
        """Start a process tree on this host, with the host's name as its hostname."""
        command = [
            "ip",
            "netns",
            "exec",
            self.namespace,
            "unshare",
            "--uts",
            "--",
            "sh",
            "-c",
            'hostname "$0" && exec "$@"',
            self.name,
            *argv,
        ]
        with log.open("ab") as out:
            process = subprocess.Popen(
                command,
                env=env,
                cwd=str(cwd),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes.append(process)
        return process

    def kill_everything(self) -> list[int]:
        """SIGKILL every process on the host (the machine dies); returns their pids."""
        killed = kill_namespace_processes(self.namespace)
        for process in self.processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(5)
        return killed

    def link_down(self) -> None:
        """Cut the host off (its cable pulled): packets to and from it are dropped."""
        ip("link", "set", self.link, "down")

    def link_up(self) -> None:
        ip("link", "set", self.link, "up")


@dataclass
class Network:
    """A bridge on the services host (the root namespace) and worker hosts on it."""

    tag: str = field(default_factory=lambda: f"{PREFIX}{os.getpid()}")
    hosts: list[Host] = field(default_factory=list)

    def __post_init__(self) -> None:
        # A /24 of 10.231.0.0/16 picked by the process id: concurrent runs differ.
        self.subnet = f"10.231.{os.getpid() % 250}"
        self.bridge = f"{self.tag}b"
        self.services_address = f"{self.subnet}.1"

    def create(self, host_names: Sequence[str]) -> Network:
        """The bridge with the services address, and one namespace per worker host."""
        remove_leftovers()
        try:
            ip("link", "add", "name", self.bridge, "type", "bridge")
            ip("addr", "add", f"{self.services_address}/24", "dev", self.bridge)
            ip("link", "set", self.bridge, "up")
            for number, name in enumerate(host_names, start=1):
                self._add_host(name, number)
        except BaseException:
            self.destroy()
            raise
        return self

    def _add_host(self, name: str, number: int) -> Host:
        namespace = f"{self.tag}-{name}"
        outside, inside = f"{self.tag}h{number}", f"{self.tag}p{number}"
        address = f"{self.subnet}.{10 + number}"
        ip("netns", "add", namespace)
        host = Host(name=name, namespace=namespace, address=address, link=outside)
        self.hosts.append(host)  # destroyed with the rest if a later step fails
        ip("link", "add", outside, "type", "veth", "peer", "name", inside)
        ip("link", "set", inside, "netns", namespace)
        ip("link", "set", outside, "master", self.bridge)
        ip("link", "set", outside, "up")
        ip("-n", namespace, "addr", "add", f"{address}/24", "dev", inside)
        ip("-n", namespace, "link", "set", inside, "up")
        ip("-n", namespace, "link", "set", "lo", "up")
        return host

    def host(self, name: str) -> Host:
        return next(host for host in self.hosts if host.name == name)

    def destroy(self) -> None:
        """Kill what runs on the hosts, delete the namespaces, links and bridge."""
        for host in self.hosts:
            host.kill_everything()
            ip("netns", "del", host.namespace, check=False)
            ip("link", "del", host.link, check=False)
        self.hosts.clear()
        ip("link", "del", self.bridge, check=False)
        # A deleted namespace's veth goes with it, but give the kernel a moment.
        time.sleep(0.1)
