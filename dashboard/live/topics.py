"""The live stream's topics: each one a partial the pages swap in place (hx-ext=sse).

A topic is rendered once per snapshot, whatever the number of subscribers: the renderer
keeps the latest snapshot's renderings and hands the same string to every stream.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi.templating import Jinja2Templates

from configurable_agents.settings import Settings
from dashboard.live.snapshot import LiveSnapshot
from dashboard.pages.home import key_figures
from dashboard.pages.orchestrator import facts_from_snapshot

PAGE_TOPICS = frozenset({"status", "home", "active", "agents", "orchestrator", "experiments"})
RUN_TOPICS = ("run", "run-steps")
# An experiment page's topics (``?experiment=<id>``): its progress, and a trigger (its
# status and how far it is) on which the page reloads its comparison.
EXPERIMENT_TOPICS = ("experiment", "experiment-state")
DEFAULT_TOPICS = ("status", "home")

_TEMPLATES = {
    "status": "partials/_status.html",
    "home": "partials/_home_live.html",
    "active": "partials/_active_runs.html",
    "agents": "partials/_agents_table.html",
    "orchestrator": "partials/_orchestrator_live.html",
    "run": "partials/_run_progress.html",
    "experiment": "partials/_experiment_progress.html",
    "experiments": "partials/_experiments_live.html",
}


def sse_event(event: str, data: str) -> str:
    """One SSE event; every line of a multi-line payload gets its own data: field."""
    lines = "".join(f"data: {line}\n" for line in data.splitlines() or [""])
    return f"event: {event}\n{lines}\n"


class TopicRenderer:
    """Renders topics of the latest snapshot, each at most once, as ready-to-send events."""

    def __init__(self, templates: Jinja2Templates, settings: Settings) -> None:
        self._templates = templates
        self._settings = settings
        self._snapshot: LiveSnapshot | None = None
        self._cache: dict[tuple[str, str | None], tuple[str, bytes] | None] = {}
        self.renders = 0  # how many renderings were made (one per topic per snapshot)

    def event(
        self, snapshot: LiveSnapshot, topic: str, run_id: str | None = None
    ) -> tuple[str, bytes] | None:
        """(payload, encoded SSE event) of the topic for this snapshot; None: nothing to send.
        ``run_id`` names the subject of a run topic (a run id) or an experiment topic (an
        experiment id).

        The same objects go to every subscriber: a thousand browsers cost one rendering
        and one encoding.
        """
        if snapshot is not self._snapshot:
            self._snapshot, self._cache = snapshot, {}
        key = (topic, run_id if topic in RUN_TOPICS or topic in EXPERIMENT_TOPICS else None)
        if key not in self._cache:
            if topic == "json":
                payload: str | None = json.dumps(snapshot.as_dict(), default=str)
                name = "status"
            else:
                payload, name = self._render(snapshot, topic, run_id), topic
            self._cache[key] = (
                None if payload is None else (payload, sse_event(name, payload).encode())
            )
            self.renders += 1
        return self._cache[key]

    def render(self, snapshot: LiveSnapshot, topic: str, run_id: str | None = None) -> str | None:
        """The topic's payload (HTML, or a trigger value) for this snapshot."""
        found = self.event(snapshot, topic, run_id)
        return found[0] if found else None

    def _render(self, snapshot: LiveSnapshot, topic: str, run_id: str | None) -> str | None:
        context: dict[str, Any] = {"snapshot": snapshot, "settings": self._settings}
        if topic in RUN_TOPICS:
            progress = snapshot.run(run_id) if run_id else None
            if progress is None:
                return None
            if topic == "run-steps":
                # A trigger only: the page fetches the steps table when this changes.
                return f"{progress.state}:{len(progress.steps)}"
            context["progress"] = progress
        elif topic in EXPERIMENT_TOPICS:
            found = snapshot.experiments.get(int(run_id)) if run_id and run_id.isdigit() else None
            if found is None:
                return None
            if topic == "experiment-state":
                # The page reloads its comparison when this changes: on a new status, and
                # about every twentieth of the cells (a report is not free to compute).
                step = max(1, found.total // 20)
                return f"{found.status}:{found.done // step}"
            context["progress"] = found
        elif topic == "experiments":
            context["running"] = list(snapshot.experiments.values())
            context["names"] = snapshot.experiment_names
        elif topic == "home":
            context["figures"] = key_figures(snapshot)
            context["resources"] = snapshot.resources
        elif topic in ("agents", "orchestrator"):
            facts = facts_from_snapshot(snapshot, self._settings)
            context.update(
                facts=facts,
                agents=facts.agents,
                per_worker=facts.per_worker,
                resources=snapshot.resources,
            )
        template = self._templates.get_template(_TEMPLATES[topic])
        return template.render(context)
