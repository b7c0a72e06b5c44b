"""The command palette's entries: pages, workflows, recent runs and actions."""

from __future__ import annotations

from sqlalchemy.orm import Session

from configurable_agents.storage.repositories import runs, workflows
from dashboard.render import NAVIGATION
from dashboard.schemas import PaletteItem

RECENT_RUNS = 20
MAX_WORKFLOWS = 500


def palette_items(session: Session) -> list[PaletteItem]:
    """Everything the palette can find, in the order shown for an empty query."""
    items = [
        PaletteItem(kind="page", title=item.label, subtitle=section, url=item.path)
        for section, entries in NAVIGATION
        for item in entries
    ]
    items += [
        PaletteItem(
            kind="action", title="New workflow", subtitle="YAML editor", url="/workflows/new"
        ),
        PaletteItem(
            kind="action", title="Use a template", subtitle="example gallery", url="/templates"
        ),
        PaletteItem(
            kind="action",
            title="Describe a workflow in the chat",
            subtitle="chat builder",
            url="/chat",
        ),
        PaletteItem(
            kind="action",
            title="Failed runs",
            subtitle="runs filtered by state",
            url="/runs?state=failed",
        ),
    ]
    for workflow in workflows.list_workflows(session, limit=MAX_WORKFLOWS):
        items.append(
            PaletteItem(
                kind="action",
                title=f"Run workflow {workflow.name}",
                subtitle="open its run form",
                url=f"/workflows/{workflow.id}#run",
            )
        )
        items.append(
            PaletteItem(
                kind="workflow",
                title=workflow.name,
                subtitle=workflow.description or f"workflow v{workflow.latest_version}",
                url=f"/workflows/{workflow.id}",
            )
        )
    for run in runs.list_runs(session, limit=RECENT_RUNS):
        items.append(
            PaletteItem(
                kind="run",
                title=f"Run {run.id[:8]} · {run.workflow_name}",
                subtitle=run.state.replace("_", " "),
                url=f"/runs/{run.id}",
            )
        )
    return items
