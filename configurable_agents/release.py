"""The release step: migrate to head, then seed the example workflows not yet stored.

Under honcho every process must stay up (honcho stops the set when any exits, even with
code 0), so after its work the release process waits quietly for the set to stop.
"""

from __future__ import annotations

import signal
import threading
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from configurable_agents.settings import Settings
from configurable_agents.storage.database import make_session_factory, session_scope
from configurable_agents.storage.migrations import migration_lock, upgrade_to_head
from configurable_agents.storage.models import Workflow
from configurable_agents.storage.repositories import workflows

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"


@dataclass
class ReleaseResult:
    """What the release step did."""

    revision: str
    seeded: list[str] = field(default_factory=list)
    already_stored: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def example_files(directory: Path = EXAMPLES_DIR) -> list[Path]:
    """The example workflow files, in name order."""
    return sorted(directory.glob("*.yaml"))


def read_example(path: Path) -> tuple[str, str, str]:
    """(name, description, text) of an example file."""
    import yaml

    text = path.read_text(encoding="utf-8")
    data = yaml.safe_load(text) or {}
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        raise ValueError(f"{path}: an example needs a top-level `name`")
    return data["name"], str(data.get("description") or ""), text


def _stored_names(session: Session) -> set[str]:

    names = set()
    for name in session.scalars(select(Workflow.name)):
        # Deleted workflows keep their name before "~deleted~": a deleted example stays deleted.
        names.add(name.split("~deleted~")[0])
    return names


def seed_examples(
    session: Session, directory: Path = EXAMPLES_DIR
) -> tuple[list[str], list[str], list[str]]:
    """Store each example whose name is not stored yet; returns (seeded, already, skipped)."""

    stored = _stored_names(session)
    seeded, already, skipped = [], [], []
    for path in example_files(directory):
        try:
            name, description, text = read_example(path)
        except (ValueError, OSError) as error:
            skipped.append(f"{path.name}: {error}")
            continue
        if name in stored:
            already.append(name)
            continue
        workflows.create(
            session, name=name, config_yaml=text, description=description, source="example"
        )
        stored.add(name)
        seeded.append(name)
    return seeded, already, skipped


def run_release(
    settings: Settings, engine: Engine, examples_dir: Path = EXAMPLES_DIR
) -> ReleaseResult:
    """Migrate and seed under the migration lock, so concurrent releases do it once."""

    lock_dir = settings.ensure_data_dir()
    state = upgrade_to_head(engine, lock_dir)
    with migration_lock(engine, lock_dir), session_scope(make_session_factory(engine)) as session:
        seeded, already, skipped = seed_examples(session, examples_dir)
    return ReleaseResult(
        revision=state.head, seeded=seeded, already_stored=already, skipped=skipped
    )


def wait_for_stop() -> None:
    """Block until SIGTERM or SIGINT (honcho sends them when the set stops)."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    while not stop.wait(1.0):
        pass
