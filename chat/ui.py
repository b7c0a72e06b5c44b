"""The Gradio Blocks of the chat builder."""

from typing import Any

import gradio as gr

from configurable_agents.bootstrap import Database
from configurable_agents.settings import Settings


def list_stored_workflows(database: Database) -> list[list[Any]]:
    """Rows (name, latest version, source, description) of the stored workflows."""
    from configurable_agents.storage.repositories import workflows

    with database.session_factory() as session:
        return [
            [w.name, w.latest_version, w.source, w.description]
            for w in workflows.list_workflows(session, limit=500)
        ]


def workflow_yaml(database: Database, name: str) -> str:
    """The latest config text of a stored workflow."""
    from configurable_agents.storage.repositories import workflows

    with database.session_factory() as session:
        workflow = workflows.get_by_name(session, name)
        if workflow is None:
            return f"# no workflow named {name!r}"
        version = workflows.get_version(session, workflow.id)
        return version.config_yaml if version else ""


def build_ui(settings: Settings, database: Database):  # type: ignore[no-untyped-def]
    with gr.Blocks(title="configurable-agents chat builder") as ui:
        gr.Markdown("## Chat builder\nStart from a stored workflow: pick one to see its config.")
        with gr.Row():
            table = gr.Dataframe(
                headers=["name", "version", "source", "description"],
                value=lambda: list_stored_workflows(database),
                interactive=False,
                label="Stored workflows",
            )
            config = gr.Code(language="yaml", label="Config")
        refresh = gr.Button("Refresh list")
        refresh.click(lambda: list_stored_workflows(database), outputs=table)

        def show(event: gr.SelectData) -> str:
            row = event.row_value if hasattr(event, "row_value") else None
            return workflow_yaml(database, row[0]) if row else ""

        table.select(show, outputs=config)
    return ui
