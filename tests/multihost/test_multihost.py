"""Workers on several machines, for real: each worker host is a network namespace that
reaches PostgreSQL, Redis and the LLM server over its own link, set up as the README's
"Production on several machines" says (the same .env, `honcho start worker`).

- Kill every process of one host mid-load: all 100 runs complete on the other host, and
  no step runs twice.
- Take one host's link down for longer than the lease, then bring it back: the other host
  takes its runs over (a new claim epoch each) and the cut-off worker, back on the network,
  writes nothing more.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest
from sqlalchemy import select, text

from configurable_agents.storage.models import Run
from tests.integration.queue.cluster import three_node_workflow
from tests.integration.queue.test_exactly_once import requests_per_run_and_node
from tests.multihost.machines import (
    LEASE_SECONDS,
    Machines,
    dashboard_agents,
    host_of,
    kill_host_mid_load,
    steps_by_run,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

RUNS = 100
NODES = ["one", "three", "two"]


def test_a_host_killed_mid_load_loses_no_run_and_repeats_no_step(machines: Machines) -> None:
    killed = kill_host_mid_load(machines, RUNS)

    assert len(killed.killed_pids) >= 2, killed.killed_pids  # honcho and its worker
    assert killed.held, "h1 held no run when it died"
    assert Counter(run.state for run in killed.runs) == {"completed": RUNS}
    for run_id, steps in steps_by_run(machines, list(killed.tokens)).items():
        assert sorted(step.node for step in steps) == NODES, (run_id, steps)
    requests = requests_per_run_and_node(machines.llm)
    for run in killed.runs:
        token = killed.tokens[run.id]
        if run.id in killed.held:
            # What h1 had stored was not executed again (a step in flight, never stored,
            # may run again on h2).
            for node in killed.stored_at_kill[run.id]:
                assert requests[(token, node)] == 1, (run.id, node)
        else:
            assert all(requests[(token, node)] == 1 for node in NODES), run.id
    # The runs h1 held were taken over by h2. A run whose last write h1 had already sent
    # when it died may end as h1's (PostgreSQL commits what it received): that is no loss
    # and no repeat, so only "taken over" for the rest is asserted.
    held_by = Counter(host_of(run.worker_id) for run in killed.runs if run.id in killed.held)
    assert held_by["h2"] >= 1 and held_by["h2"] >= held_by["h1"], held_by
    # What an operator watches: the dashboard lists h2's worker alive, h1's not.
    agents = {host_of(str(a["id"])): a["liveness"] for a in dashboard_agents(machines)}
    assert agents["h2"] == "alive" and agents["h1"] != "alive", agents


def test_a_host_cut_off_longer_than_the_lease_writes_nothing_when_it_comes_back(
    machines: Machines,
) -> None:
    cluster = machines.cluster
    h1, h2 = machines.hosts["h1"], machines.hosts["h2"]
    h1.start()
    workflow_id = cluster.store_workflow(three_node_workflow())
    tokens = {cluster.start_run(workflow_id, {"text": f"[c{i}]"}): f"[c{i}]" for i in range(12)}
    run_ids = list(tokens)

    def h1_mid_run() -> list[Run] | None:
        held = [run for run in cluster.runs(run_ids) if run.state == "running"]
        stored = steps_by_run(machines, [run.id for run in held])
        return held if any(stored.values()) else None

    cluster.wait_for(h1_mid_run, timeout=60, what="h1 to be mid-run", poll=0.02)
    h1.host.link_down()
    cut_at = time.monotonic()
    with cluster.session_factory() as session:
        held = {
            run.id: run.epoch
            for run in session.scalars(select(Run).where(Run.id.in_(run_ids)))
            if run.state == "running"
        }
    written_before = {
        step.id for steps in steps_by_run(machines, run_ids).values() for step in steps
    }
    h2.start()  # the other host takes over once the leases run out

    def taken_over() -> bool:
        # Each run h1 held is claimed again, unless h1's last commit for it (sent before
        # the cut) finished it.
        runs = {run.id: run for run in cluster.runs(list(held))}
        return all(
            runs[run_id].epoch > epoch or runs[run_id].state == "completed"
            for run_id, epoch in held.items()
        )

    try:
        cluster.wait_for(taken_over, timeout=60, what="h2 to claim h1's runs", poll=0.1)
    except AssertionError as error:
        raise AssertionError(f"{error}\n{diagnose(machines)}") from None
    # Cut off for longer than the lease, whatever the take-over took.
    time.sleep(max(0.0, cut_at + 2 * LEASE_SECONDS - time.monotonic()))
    h1.host.link_up()
    runs = cluster.wait_finished(run_ids, timeout=120)
    # h1 is back: give it time to try its next writes (its next step's answer comes in
    # about LLM_DELAY; a lease renewal every LEASE_SECONDS / 3).
    time.sleep(2 * LEASE_SECONDS)

    assert held, "h1 held no run when its link went down"
    assert Counter(run.state for run in cluster.runs(run_ids)) == {"completed": len(run_ids)}
    taken = {run.id for run in runs if run.id in held and run.epoch > held[run.id]}
    assert taken, "h2 took none of h1's runs over"
    for run in runs:
        if run.id in taken:
            assert host_of(run.worker_id) == "h2"
    for run_id, steps in steps_by_run(machines, run_ids).items():
        assert sorted(step.node for step in steps) == NODES, (run_id, steps)
        # Every step h1 stored under the epoch it lost was stored before the cut.
        stale = [s for s in steps if run_id in held and s.epoch == held[run_id]]
        assert {s.id for s in stale} <= written_before, (run_id, stale)
    # Back on the network, h1 found its claims stale and stopped; it finished none of them.
    about = _lines_about(h1.output(), held)
    assert "is stale" in about, h1.output()[-3000:]
    assert not any(f"run {run_id} completed" in about for run_id in taken), about


def _lines_about(output: str, run_ids: dict[str, int]) -> str:
    """The lines of a host's log that name one of these runs."""
    return "\n".join(
        line for line in output.splitlines() if any(run_id in line for run_id in run_ids)
    )


def diagnose(machines: Machines) -> str:
    """What the database sessions wait for, and the hosts' logs (for a failed wait)."""
    with machines.cluster.engine.connect() as connection:
        sessions = connection.execute(
            text(
                "SELECT client_addr, state, wait_event_type, wait_event, "
                "now() - xact_start AS open_for, left(query, 120) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).all()
    lines = [" | ".join(str(v) for v in row) for row in sessions]
    logs = [f"--- {name}\n{host.output()[-3000:]}" for name, host in machines.hosts.items()]
    return "sessions:\n" + "\n".join(lines) + "\n" + "\n".join(logs)
