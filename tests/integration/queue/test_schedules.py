"""A cron schedule in the workflow config starts one run per tick, however many workers
check it (every worker's Huey scheduler runs the periodic check)."""

from __future__ import annotations

import re
import time
from collections import Counter
from datetime import datetime

import pytest

from configurable_agents.config.loader import load_config
from configurable_agents.queue.schedules import due_ticks
from configurable_agents.storage.repositories import triggers
from tests.fakes.openai_server import FakeLLMServer
from tests.integration.queue.cluster import three_node_workflow
from tests.integration.queue.conftest import ClusterFactory

SCHEDULED = three_node_workflow("every-minute") + (
    'schedules:\n  - {cron: "* * * * *", inputs: {text: "[tick]"}, description: every minute}\n'
)
TICK_LINE = re.compile(r"tick (schedule#0 .+?Z) of every-minute: (?:already )?started run (\w+)")


def test_two_workers_start_one_run_per_tick(
    make_cluster: ClusterFactory, fake_llm: FakeLLMServer
) -> None:
    cluster = make_cluster(fake_llm)
    cluster.store_workflow(SCHEDULED)
    cluster.start_workers(2)

    def a_tick() -> Counter[str] | None:
        seen = Counter(key for key, _ in TICK_LINE.findall(cluster.worker_output()))
        return seen or None

    # Both workers' schedulers queue a check at every minute: each tick is checked twice
    # (the check after the one that handled it finds nothing newer and says nothing).
    cluster.wait_for(a_tick, timeout=150, what="a tick", poll=0.2)
    time.sleep(5)  # the other worker's check of the same minute

    lines = TICK_LINE.findall(cluster.worker_output())
    runs_by_key: dict[str, set[str]] = {}
    for key, run_id in lines:
        runs_by_key.setdefault(key, set()).add(run_id)
    assert all(len(run_ids) == 1 for run_ids in runs_by_key.values()), runs_by_key
    started = {run_id for run_ids in runs_by_key.values() for run_id in run_ids}
    runs = cluster.wait_finished(started)
    scheduled_runs = [run for run in cluster.runs() if run.trigger == "schedule"]
    assert {run.id for run in scheduled_runs} == started
    assert len(scheduled_runs) == len(runs_by_key)
    assert {run.state for run in runs} == {"completed"}
    assert all(run.inputs == {"text": "[tick]"} for run in runs)
    with cluster.session_factory() as session:
        events = triggers.list_events(session, workflow_name="every-minute", kind="schedule")
        assert sorted((e.idempotency_key, e.run_id) for e in events) == sorted(
            (key, next(iter(run_ids))) for key, run_ids in runs_by_key.items()
        )


WEEKDAY_MORNINGS = three_node_workflow("mornings") + (
    'schedules:\n  - {cron: "0 8 * * 1-5", timezone: Europe/Paris, inputs: {text: "[morning]"}}\n'
)


@pytest.mark.parametrize(
    ("now", "due_at"),
    [
        # 08:00 in Paris is 07:00 UTC in winter; a check 40 s later starts that tick.
        ("2026-01-05T07:00:40+00:00", "2026-01-05T07:00:00+00:00"),
        # Summer time: 08:00 in Paris is 06:00 UTC.
        ("2026-07-06T06:01:30+00:00", "2026-07-06T06:00:00+00:00"),
        # Later than the grace period, on a Saturday, or before the time: nothing is due.
        ("2026-01-05T07:05:00+00:00", None),
        ("2026-01-10T07:00:10+00:00", None),
        ("2026-01-05T06:59:59+00:00", None),
    ],
)
def test_a_tick_is_due_shortly_after_its_time_in_its_time_zone(
    now: str, due_at: str | None
) -> None:
    config = load_config(WEEKDAY_MORNINGS, filename="mornings.yaml")

    ticks = due_ticks(config, datetime.fromisoformat(now))

    assert [tick.at for tick in ticks] == ([datetime.fromisoformat(due_at)] if due_at else [])
    if ticks:
        assert ticks[0].key == f"schedule#0 0 8 * * 1-5@{due_at[:19]}Z"
