"""What a builder turn reports while it works, and what it ends with."""

from __future__ import annotations

from dataclasses import dataclass, field

from configurable_agents.config import WorkflowConfig

# The modes a reply can say produced it.
MODE_OFFLINE = "offline"
MODE_TEMPLATE = "template"
MODE_EDIT = "edit"
MODE_LLM = "llm"
MODE_COMMAND = "command"


@dataclass(frozen=True)
class Progress:
    """One visible step of the work: ``stage`` is a short word (drafting, checking,
    fixing, planning, matching, filling), ``message`` says it to the user."""

    stage: str
    message: str


@dataclass
class TurnResult:
    """The end of a turn.

    ``config`` is the conversation's config after the turn: the new one when the turn
    produced a valid config, else the previous one (never an invalid config). ``action``
    asks the caller to do what needs the database (save, run, new). ``restore_input``
    means the user's text should go back into the input box (the turn failed).
    """

    reply: str
    config: WorkflowConfig | None
    mode: str
    changed: bool = False
    ok: bool = True
    action: str | None = None
    restore_input: bool = False
    progress: list[str] = field(default_factory=list)
    details: dict[str, object] = field(default_factory=dict)
    # A question whose answer changes the graph: (button label, the message it sends).
    choices: list[tuple[str, str]] = field(default_factory=list)
