"""The live view of a run in the terminal (rich): a bar, one row per finished step, and the
answer of each running llm step as its tokens arrive."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn
from rich.table import Table
from rich.text import Text

from configurable_agents.storage.models import RunStep


class RunProgress:
    """A context manager whose ``step_finished`` is the engine's step callback and ``token``
    its token callback."""

    # The tail of a running step's answer shown under the table.
    WRITING_CHARS = 400

    def __init__(self, run_id: str, nodes: list[str]) -> None:
        self.run_id = run_id
        self.nodes = nodes
        self.console = Console(stderr=True)
        self.table = Table(title=f"run {run_id}", title_justify="left", expand=False)
        for column in ("#", "node", "kind", "state", "tokens", "ms", "output"):
            self.table.add_column(column)
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
        )
        self.task = self.progress.add_task("nodes", total=len(nodes) or None)
        self.seen: set[str] = set()
        self.writing: dict[str, str] = {}
        self.writing_view = Text()
        self.live = Live(
            Group(self.progress, self.table, self.writing_view),
            console=self.console,
            refresh_per_second=8,
            transient=False,
        )

    def __enter__(self) -> RunProgress:
        self.live.__enter__()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.live.__exit__(kind, error, tb)

    def token(self, node: str, piece: str) -> None:
        """A piece of a running llm step's answer: shown as it arrives (engine thread)."""
        self.writing[node] = self.writing.get(node, "") + piece
        self._show_writing()

    def _show_writing(self) -> None:
        view = Text()
        for node, text in self.writing.items():
            view.append(f"{node} ", style="bold cyan")
            view.append(text[-self.WRITING_CHARS :] + "\n")
        self.writing_view.plain = ""
        self.writing_view.append_text(view)

    def step_finished(self, step: RunStep) -> None:
        """Add the step's row and advance the bar over distinct nodes."""
        if self.writing.pop(step.node, None) is not None:
            self._show_writing()
        shown = step.error_message or ("" if step.output is None else str(step.output))
        style = {"completed": "green", "failed": "red"}.get(step.state, "yellow")
        # A tool call of a tool-using node: shown under its node's name, not counted as
        # the node being done.
        call = step.kind == "tool_call"
        tool = (step.input or {}).get("tool", "") if call else ""
        self.table.add_row(
            str(step.seq),
            escape(f"{step.node}/{tool}" if call else step.node),
            step.kind,
            f"[{style}]{step.state}[/]",
            str(step.prompt_tokens + step.completion_tokens),
            f"{step.latency_ms:.1f}",
            escape(shown[:80]),
        )
        if not call and step.node not in self.seen:
            self.seen.add(step.node)
            if self.nodes:
                self.progress.update(self.task, completed=min(len(self.seen), len(self.nodes)))
