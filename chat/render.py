"""What the page shows for a conversation: chat messages, the artifact panel, the session
list. Plain functions from the service's ChatView to the values Gradio components take."""

from __future__ import annotations

import html
from typing import Any

from configurable_agents.builder.commands import HELP
from configurable_agents.builder.explain import describe_plan, explain
from configurable_agents.builder.lift import lift
from configurable_agents.builder.service import ChatService, ChatView, SessionSummary, sample_inputs
from configurable_agents.config import to_mermaid

_SEP = " \u00b7 "
WELCOME = (
    "Hello! Tell me what your workflow should do and I will build a config that validates, "
    "show it on the right, and save it for the dashboard.\n\n" + HELP
)


def welcome(gallery_text: str) -> list[dict[str, Any]]:
    """The first message of a new conversation."""
    return [{"role": "assistant", "content": f"{WELCOME}\n\n{gallery_text}"}]


def thought(lines: list[str], *, pending: bool) -> dict[str, Any]:
    """The collapsible "working" message that shows a turn's progress."""
    return {
        "role": "assistant",
        "content": "\n".join(f"- {line}" for line in lines) or "- starting",
        "metadata": {
            "title": "Working: " + (lines[-1] if lines else "starting")
            if pending
            else "Steps taken",
            "status": "pending" if pending else "done",
        },
    }


def chat_messages(view: ChatView | None, gallery_text: str) -> list[dict[str, Any]]:
    """The conversation as Gradio chat messages (progress as done "thoughts")."""
    if view is None or not view.messages:
        return welcome(gallery_text)
    shown: list[dict[str, Any]] = []
    for message in view.messages:
        if message.role == "user":
            shown.append({"role": "user", "content": message.content})
            continue
        progress = message.meta.get("progress") or []
        if progress:
            shown.append(thought(list(progress), pending=False))
        shown.append({"role": "assistant", "content": message.content})
    last = view.messages[-1]
    if last.role == "assistant" and last.meta.get("choices"):
        # Only the question still open gets its answers as buttons.
        shown[-1]["options"] = list(last.meta["choices"])
    return shown


def status_html(
    view: ChatView | None,
    service: ChatService,
    issues: list[str] | None = None,
    *,
    ready: bool = True,
) -> str:
    """The validation state and where the workflow is saved (``data-ready`` once the page's
    conversation is loaded)."""
    return _status(view, service, issues).replace("<div ", f'<div data-ready="{int(ready)}" ', 1)


def _status(view: ChatView | None, service: ChatService, issues: list[str] | None) -> str:
    if issues:
        items = "".join(f"<li>{html.escape(issue)}</li>" for issue in issues[:12])
        return (
            '<div class="ca-status invalid" data-validation="invalid">'
            '<p><span class="bad">Your edit does not validate</span>; the config below is still '
            f"the last valid one.</p><ul>{items}</ul></div>"
        )
    config = view.config if view else None
    if config is None:
        return (
            '<div class="ca-status" data-validation="none"><p>No workflow yet: describe one '
            "in the chat, or start from a template.</p></div>"
        )
    parts = [
        f'<span class="ok">\u2714 Valid</span> \u00b7 <strong>{html.escape(config.name)}</strong>'
    ]
    if view and view.workflow_id is not None and view.workflow_version is not None:
        url = html.escape(service.workflow_url(view.workflow_id))
        state = "unsaved changes" if view.unsaved else "saved"
        parts.append(
            f'{state} \u00b7 <a href="{url}" target="_blank" rel="noopener" data-saved-link>'
            f"{html.escape(view.workflow_name or config.name)} v{view.workflow_version} in the dashboard</a>"
        )
    else:
        parts.append("not saved yet")
    return f'<div class="ca-status valid" data-validation="valid"><p>{_SEP.join(parts)}</p></div>'


def graph_markdown(view: ChatView | None) -> str:
    """The workflow drawn as a Mermaid flowchart."""
    config = view.config if view else None
    if config is None:
        return "*The graph of the workflow appears here.*"
    return f"```mermaid\n{to_mermaid(config)}```"


def explanation(view: ChatView | None) -> str:
    config = view.config if view else None
    return explain(config) if config is not None else ""


def plan_markdown(view: ChatView | None) -> str:
    """The workflow as a plan: each step with its kind and what it reads and writes."""
    config = view.config if view else None
    if config is None:
        return "*The plan of the workflow appears here.*"
    plan = lift(config)
    return describe_plan(plan) if plan is not None else explain(config)


def session_choices(sessions: list[SessionSummary]) -> list[tuple[str, str]]:
    """Dropdown choices (label, id) for past conversations, the most recent first."""
    return [(f"{item.title} \u00b7 {item.updated_at:%Y-%m-%d %H:%M}", item.id) for item in sessions]


def inputs_json(view: ChatView | None) -> str:
    return sample_inputs(view.config if view else None)
