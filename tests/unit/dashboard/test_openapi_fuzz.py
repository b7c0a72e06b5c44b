"""Property-based test of the JSON API from its own OpenAPI schema (schemathesis).

Every operation is called with generated valid and invalid requests (a seeded, bounded
number per operation) on a temporary database holding the shipped examples, and every
answer is checked: no server error, a status code the schema documents, a body the schema
describes. Registration is left out: it fetches the URL it is given, and generated URLs
must not leave this machine (tests/unit/dashboard/test_hygiene.py covers its bounds).
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from configurable_agents.bootstrap import Database
from configurable_agents.settings import load_settings
from configurable_agents.storage.database import create_db_engine, make_session_factory
from configurable_agents.storage.migrations import upgrade_to_head
from tests.conftest import free_port
from tests.unit.dashboard.conftest import SUMMARIZE_YAML, store_run, store_workflow

# Bounded for the suite (about a minute on two cores); scripts/fuzz_api.sh runs it wider.
MAX_EXAMPLES = 12
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]


def build_app(data_dir: Path) -> Any:
    """The dashboard on a migrated temporary database with a workflow and two runs."""
    from dashboard.app import create_app

    dashboard_settings = load_settings(
        data_dir=data_dir,
        chat_port=free_port(),
        mlflow_port=free_port(),
        status_tick_seconds=5,
    )
    engine = create_db_engine(dashboard_settings.effective_database_url)
    upgrade_to_head(engine, dashboard_settings.data_path)
    database = Database(engine=engine, session_factory=make_session_factory(engine))
    workflow_id = store_workflow(database, SUMMARIZE_YAML)
    store_run(database, workflow_id, state="completed")
    store_run(database, workflow_id, state="awaiting_approval")
    return create_app(dashboard_settings, database)


# Built when the module is collected: schemathesis's fixture-based loader does not run
# under pytest 9. The folder goes when the test process ends.
_DATA_DIR = Path(tempfile.mkdtemp(prefix="ca-fuzz-"))
atexit.register(shutil.rmtree, _DATA_DIR, ignore_errors=True)
schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", build_app(_DATA_DIR)).exclude(
    path="/api/v1/agents/register"
)


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_answers_as_its_schema_says(case: Any) -> None:
    case.call_and_validate(checks=CHECKS)
