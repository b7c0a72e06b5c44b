"""System resources: one psutil reading of the machine, DATA_DIR's disk and given processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from configurable_agents.status.resources import (
    MB,
    Thresholds,
    collect_resources,
    existing_folder,
    listening_pids,
    service_processes,
)


def test_a_reading_holds_the_machine_the_disk_and_each_process(tmp_path: Path) -> None:
    # Thresholds no reading reaches: the machine may well be busy while tests run.
    calm = Thresholds(
        cpu_percent=101, memory_percent=101, disk_free_bytes=0, process_rss_bytes=2**60
    )
    reading = collect_resources(tmp_path, {"dashboard": [os.getpid()]}, calm)
    assert 0.0 <= reading.cpu_percent <= 100.0 and 0.0 < reading.memory_percent <= 100.0
    assert 0 < reading.memory_used_bytes <= reading.memory_total_bytes
    assert 0 < reading.disk_free_bytes <= reading.disk_total_bytes
    assert reading.disk_path == str(tmp_path)
    [usage] = reading.processes
    assert usage.name == "dashboard" and usage.pid == os.getpid() and usage.rss_bytes > 10 * MB
    data = reading.as_dict()
    assert data["processes"][0]["rss_bytes"] == usage.rss_bytes and data["warnings"] == []


def test_a_process_counts_its_children_and_a_gone_one_is_left_out(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        time.sleep(0.3)
        alone = collect_resources(tmp_path, {"x": [child.pid]}).processes[0].rss_bytes
        with_child = collect_resources(tmp_path, {"me": [os.getpid()]}).processes[0].rss_bytes
        assert with_child >= alone > 0
    finally:
        child.kill()
        child.wait()
    gone = collect_resources(tmp_path, {"worker": [child.pid, os.getpid()]})
    assert [usage.pid for usage in gone.processes] == [os.getpid()]
    assert gone.processes[0].name == f"worker {os.getpid()}"  # several pids: named by pid


def test_thresholds_turn_readings_into_warnings(tmp_path: Path) -> None:
    strict = Thresholds(
        cpu_percent=0.0,
        memory_percent=0.001,
        disk_free_bytes=10**18,
        process_rss_bytes=1,
    )
    reading = collect_resources(tmp_path, {"dashboard": [os.getpid()]}, strict)
    assert reading.cpu_high and reading.memory_high and reading.disk_low
    text = " | ".join(reading.warnings)
    assert "CPU at" in text and "memory at" in text and "free under" in text
    assert "dashboard holds" in text and len(reading.warnings) == 4


def test_the_disk_is_read_where_data_dir_will_be(tmp_path: Path) -> None:
    assert existing_folder(tmp_path / "not" / "yet") == tmp_path
    reading = collect_resources(tmp_path / "not" / "yet", {})
    assert reading.disk_path == str(tmp_path) and reading.processes == ()


def test_web_services_are_found_by_their_port_and_workers_by_pid() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert listening_pids([port]) == {port: os.getpid()}
        found = service_processes({"chat": port, "mlflow": 1}, worker_pids=[42, 42, 7])
    assert found == {"chat": [os.getpid()], "worker": [7, 42]}
