"""The Gradio Blocks of the chat builder: the conversation beside the live artifact panel.

Above: past conversations, the template gallery and the mode. Left: the chat (a question
the builder asks has its answers as buttons), Save and Run now. Right: the validation
state, the plan (each step, what it reads and writes), the graph (Mermaid), the YAML
(editable) and what the workflow does. Every
handler is a thin call into ``configurable_agents.builder.service``; the session id
lives in a hidden textbox mirrored to the browser's localStorage, as does the unsent
draft, so a reload loses nothing. ``?workflow=<id>`` opens a stored workflow.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gradio as gr

from chat import render
from configurable_agents.bootstrap import Database
from configurable_agents.builder import Builder, Gallery
from configurable_agents.builder.service import ChatService, ChatTurn, ChatView
from configurable_agents.settings import Settings

SESSION_KEY = "configurable-agents-chat-session"
DRAFT_KEY = "configurable-agents-chat-draft"

_REMEMBER_SESSION = f"(id) => {{ localStorage.setItem('{SESSION_KEY}', id || ''); }}"
_REMEMBER_DRAFT = f"(text) => {{ localStorage.setItem('{DRAFT_KEY}', text || ''); }}"
# Run in the browser at load: the remembered session goes to on_load; the draft goes
# straight back into the box (no round trip, so nothing typed meanwhile is overwritten).
_RECALL_SESSION = f"(session) => [localStorage.getItem('{SESSION_KEY}') || '']"
_RECALL_DRAFT = f"() => localStorage.getItem('{DRAFT_KEY}') || ''"


def make_service(settings: Settings, database: Database) -> ChatService:
    """The service the UI talks to, with the gallery read from the database."""
    builder = Builder(settings, Gallery.load(database.session_factory))
    return ChatService(settings, database.session_factory, builder)


def build_ui(
    settings: Settings, database: Database, service: ChatService | None = None
) -> gr.Blocks:
    """The Blocks app (mounted at / by chat.app)."""
    service = service or make_service(settings, database)
    builder = service.builder
    modes = [(mode.label, mode.name) for mode in builder.modes()]

    def gallery_text() -> str:
        return builder.gallery_text()

    def safe_view(session_id: str) -> ChatView | None:
        return service.view(session_id) if service.exists(session_id) else None

    def screen(
        view: ChatView | None, *, text: Any = None, issues: list[str] | None = None
    ) -> tuple:
        """Every output of a handler, in the order of ``outputs`` below. The message box is
        left as it is unless ``text`` is given (a draft survives Save, Run and the rest)."""
        sessions = render.session_choices(service.list_sessions())
        if issues is not None:
            yaml_value: Any = gr.skip()  # keep the user's edit in the editor
        else:
            yaml_value = view.config_yaml if view and view.config_yaml else ""
        return (
            render.chat_messages(view, gallery_text()),
            gr.skip() if text is None else text,
            view.session_id if view else "",
            render.status_html(view, service, issues),
            render.plan_markdown(view),
            render.graph_markdown(view),
            yaml_value,
            render.explanation(view),
            render.inputs_json(view),
            gr.Dropdown(choices=sessions, value=view.session_id if view else None),
        )

    def nothing_yet(what: str) -> tuple:
        gr.Warning(f"There is no workflow to {what} yet: describe one first.")
        return screen(None)

    # --- handlers ------------------------------------------------------------------------

    def on_load(session_id: str, request: gr.Request) -> tuple:
        builder.gallery = Gallery.load(database.session_factory)
        query = dict(request.query_params) if request is not None else {}
        view: ChatView | None = None
        workflow = str(query.get("workflow", "")).strip()
        if workflow.isdigit():
            view = service.open_workflow(int(workflow), current_session=session_id).view
        elif query.get("session") and service.exists(str(query["session"])):
            view = service.view(str(query["session"]))
        else:
            view = safe_view(session_id)
        return screen(view)

    def on_send(session_id: str, text: str, mode: str) -> Iterator[tuple]:
        if not text or not text.strip():
            yield screen(safe_view(session_id), text=text)
            return
        before = safe_view(session_id)
        history = render.chat_messages(before, gallery_text()) if before else []
        history = [*history, {"role": "user", "content": text.strip()}]
        lines: list[str] = []
        skip = (gr.skip(),) * 8
        yield ([*history, render.thought(lines, pending=True)], "", *skip)
        turn = service.send(session_id or None, text, mode=mode)
        try:
            while True:
                event = next(turn)
                lines.append(event.message)
                yield ([*history, render.thought(lines, pending=True)], "", *skip)
        except StopIteration as stop:
            result: ChatTurn = stop.value
        # A failed turn puts the message back so nothing typed is lost.
        yield screen(result.view, text=text if result.restore_input else "")

    def on_choice(session_id: str, mode: str, chosen: gr.SelectData) -> Iterator[tuple]:
        # A button under the builder's question sends its answer as the next message.
        yield from on_send(session_id, str(chosen.value), mode)

    def on_save(session_id: str) -> tuple:
        if not service.exists(session_id):
            return nothing_yet("save")
        return screen(service.save(session_id).view)

    def on_run(session_id: str, inputs: str) -> tuple:
        if not service.exists(session_id):
            return nothing_yet("run")
        return screen(service.run(session_id, inputs or "").view)

    def on_apply(session_id: str, yaml_text: str) -> tuple:
        turn = service.apply_yaml(session_id or None, yaml_text or "")
        return screen(turn.view, issues=turn.issues or None)

    def on_pick(chosen: str | None) -> tuple:
        return screen(safe_view(chosen or ""))

    def on_new() -> tuple:
        return screen(None)

    def on_template(session_id: str, name: str | None) -> Iterator[tuple]:
        if name:
            yield from on_send(session_id, f"start from {name}", builder.default_mode())

    # --- layout --------------------------------------------------------------------------

    with gr.Blocks(title="Chat builder \u00b7 configurable-agents") as ui:
        with gr.Row(elem_classes="ca-head"):
            gr.Markdown("# Chat builder")
            gr.Markdown(
                f'<span class="ca-muted">Describe a workflow; get a config that validates. '
                f'<a href="{settings.dashboard_url}/workflows" target="_blank" rel="noopener">'
                "Workflows in the dashboard</a></span>"
            )
        session_box = gr.Textbox(visible=False, label="Session id")
        # The controls in one row above, so the chat and the artifact panel sit side by
        # side even in the dashboard's frame.
        with gr.Row(equal_height=True, elem_classes="ca-controls"):
            # Custom values: the choices are filled per page, after the app is built.
            sessions = gr.Dropdown(
                label="Past conversations",
                choices=[],
                value=None,
                interactive=True,
                allow_custom_value=True,
                scale=3,
                min_width=200,
            )
            new_button = gr.Button(
                "New conversation", variant="secondary", size="sm", scale=1, min_width=120
            )
            templates = gr.Dropdown(
                label="Start from a template",
                choices=builder.gallery.names,
                value=None,
                interactive=True,
                scale=2,
                min_width=180,
            )
            template_button = gr.Button(
                "Use template", variant="secondary", size="sm", scale=1, min_width=110
            )
            mode = gr.Radio(
                label="Mode",
                choices=modes,
                value=builder.default_mode(),
                interactive=len(modes) > 1,
                scale=3,
                min_width=200,
            )
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=340):
                chatbot = gr.Chatbot(
                    label="Conversation",
                    height=560,
                    layout="bubble",
                    buttons=["copy"],
                    feedback_options=None,
                    group_consecutive_messages=False,
                    elem_id="ca-chatbot",
                )
                # One line to start: Enter sends, Shift+Enter adds a line (it grows to 8).
                text = gr.Textbox(
                    label="Message",
                    show_label=False,
                    placeholder="Describe the workflow, or a change to it, and press Enter",
                    lines=1,
                    max_lines=8,
                    submit_btn=True,
                    elem_id="ca-input",
                )
                with gr.Row():
                    save_button = gr.Button("Save", variant="primary", elem_id="ca-save")
                    run_button = gr.Button("Run now", variant="secondary", elem_id="ca-run")
                with gr.Accordion("Run inputs", open=False):
                    inputs = gr.Code(language="json", label="Inputs (JSON)", value="{}", lines=4)
            with gr.Column(scale=1, min_width=340):
                status = gr.HTML(
                    render.status_html(None, service, ready=False), elem_id="ca-status"
                )
                with gr.Tabs():
                    with gr.Tab("Graph"):
                        graph = gr.Markdown(render.graph_markdown(None), elem_classes="ca-graph")
                    # The plan before the YAML: each step, its kind, what it reads and writes.
                    with gr.Tab("Plan"):
                        plan = gr.Markdown(render.plan_markdown(None), elem_id="ca-plan")
                    with gr.Tab("YAML"):
                        config_code = gr.Code(
                            language="yaml", label="Config (editable)", lines=18, elem_id="ca-yaml"
                        )
                        apply_button = gr.Button("Apply my edits", variant="secondary", size="sm")
                explained = gr.Markdown()

        outputs = [
            chatbot,
            text,
            session_box,
            status,
            plan,
            graph,
            config_code,
            explained,
            inputs,
            sessions,
        ]
        ui.load(None, outputs=[text], js=_RECALL_DRAFT)
        ui.load(
            on_load,
            inputs=[session_box],
            outputs=outputs,
            js=_RECALL_SESSION,
            api_visibility="private",
        )
        text.submit(on_send, inputs=[session_box, text, mode], outputs=outputs, api_name="send")
        chatbot.option_select(
            on_choice, inputs=[session_box, mode], outputs=outputs, api_visibility="private"
        )
        save_button.click(on_save, inputs=[session_box], outputs=outputs, api_name="save")
        run_button.click(on_run, inputs=[session_box, inputs], outputs=outputs, api_name="run")
        apply_button.click(
            on_apply, inputs=[session_box, config_code], outputs=outputs, api_name="apply"
        )
        sessions.input(on_pick, inputs=[sessions], outputs=outputs, api_name="resume")
        new_button.click(on_new, outputs=outputs, api_visibility="private")
        template_button.click(
            on_template, inputs=[session_box, templates], outputs=outputs, api_visibility="private"
        )
        session_box.change(None, inputs=[session_box], js=_REMEMBER_SESSION)
        text.change(None, inputs=[text], js=_REMEMBER_DRAFT)
    # Several people can build at once (Gradio runs one call per event by default); the
    # embedded model takes one generation at a time on its own lock.
    ui.queue(default_concurrency_limit=8)
    return ui
