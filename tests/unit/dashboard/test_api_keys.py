"""API keys: required by the run API and /v1 off loopback (or by API_KEYS_REQUIRED), kept as
hashes, shown once; the access token still works for people."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from configurable_agents.bootstrap import Database
from configurable_agents.cli import main
from configurable_agents.settings import Settings, load_settings
from configurable_agents.storage.database import session_scope
from configurable_agents.storage.repositories import api_keys
from tests.conftest import free_port
from tests.unit.dashboard.conftest import SUMMARIZE_YAML

PEOPLE_TOKEN = "a-token-for-people"


def app_client(settings: Settings, database: Database) -> TestClient:
    from dashboard.app import create_app

    return TestClient(create_app(settings, database))


def settings_for(data_dir: Path, **values: object) -> Settings:
    return load_settings(
        data_dir=data_dir, chat_port=free_port(), mlflow_port=free_port(), **values
    )


@pytest.fixture
def off_loopback(data_dir: Path, dashboard_database: Database) -> Iterator[TestClient]:
    """The app as it runs bound to 0.0.0.0 (which needs an access token)."""
    settings = settings_for(data_dir, dashboard_host="0.0.0.0", dashboard_access_token=PEOPLE_TOKEN)
    with app_client(settings, dashboard_database) as client:
        stored = client.post(
            "/api/v1/workflows",
            json={"config_yaml": SUMMARIZE_YAML},
            headers={"Authorization": f"Bearer {PEOPLE_TOKEN}"},
        )
        assert stored.status_code == 201, stored.text
        yield client


def new_key(database: Database, name: str) -> str:
    with session_scope(database.session_factory) as session:
        return api_keys.create(session, name)[1]


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def start_run(client: TestClient, headers: dict[str, str]) -> int:
    return client.post(
        "/api/v1/workflows/summarize/runs",
        json={"inputs": {"text": "hello"}},
        headers=headers,
    ).status_code


def test_off_loopback_missing_wrong_and_revoked_keys_are_refused(
    off_loopback: TestClient, dashboard_database: Database
) -> None:
    key = new_key(dashboard_database, "reports")

    assert start_run(off_loopback, {}) == 401
    assert off_loopback.get("/v1/models").status_code == 401
    assert start_run(off_loopback, bearer(key[:-1] + ("A" if key[-1] != "A" else "B"))) == 401
    assert off_loopback.get("/v1/models", headers=bearer("ca_" + "x" * 43)).status_code == 401
    answer = off_loopback.get("/api/v1/runs/nope/events")
    assert answer.status_code == 401 and "API key" in answer.json()["detail"]

    assert start_run(off_loopback, bearer(key)) == 201
    models = off_loopback.get("/v1/models", headers=bearer(key))
    assert models.status_code == 200
    assert "workflow/summarize" in {model["id"] for model in models.json()["data"]}

    with session_scope(dashboard_database.session_factory) as session:
        api_keys.revoke(session, "reports")
    assert start_run(off_loopback, bearer(key)) == 401
    assert off_loopback.get("/v1/models", headers=bearer(key)).status_code == 401


def test_off_loopback_the_access_token_still_works_for_people(off_loopback: TestClient) -> None:
    assert start_run(off_loopback, bearer(PEOPLE_TOKEN)) == 201
    login = off_loopback.post(
        "/login", data={"token": PEOPLE_TOKEN, "next": "/settings"}, follow_redirects=False
    )
    assert login.status_code == 303
    # Logged in by cookie: the pages and the API answer without a header.
    assert off_loopback.get("/settings").status_code == 200
    assert off_loopback.get("/v1/models").status_code == 200


def test_an_api_key_does_not_open_the_pages(
    off_loopback: TestClient, dashboard_database: Database
) -> None:
    key = new_key(dashboard_database, "script")
    page = off_loopback.get("/settings", headers=bearer(key), follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/login")


def test_on_loopback_keys_are_optional_unless_required(
    data_dir: Path, dashboard_database: Database
) -> None:
    with app_client(settings_for(data_dir), dashboard_database) as client:
        assert client.get("/v1/models").status_code == 200
    required = settings_for(data_dir, api_keys_required=True)
    key = new_key(dashboard_database, "local")
    with app_client(required, dashboard_database) as client:
        assert client.get("/v1/models").status_code == 401
        assert client.get("/v1/models", headers=bearer(key)).status_code == 200
        # Only the run API and /v1 are guarded: the pages stay open on loopback.
        assert client.get("/settings").status_code == 200


def test_keys_are_used_once_noted_and_never_stored_in_clear(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATA_DIR", str(data_dir))
    monkeypatch.delenv("DATABASE_URL", raising=False)

    assert main(["keys", "create", "ci"]) == 0
    key = capsys.readouterr().out.strip()
    assert key.startswith("ca_") and len(key) >= 40
    assert main(["keys", "create", "ci"]) == 2
    assert "already exists" in capsys.readouterr().err

    assert main(["keys", "list"]) == 0
    listed = capsys.readouterr().out
    assert "ci" in listed and key[:11] in listed and key not in listed

    # The database file and its write-ahead log: every byte SQLite wrote.
    database_file = b"".join(
        path.read_bytes() for path in sorted(data_dir.glob("configurable_agents.db*"))
    )
    assert key.encode() not in database_file
    assert key[11:].encode() not in database_file
    assert hashlib.sha256(key.encode()).hexdigest().encode() in database_file

    assert main(["keys", "revoke", "ci"]) == 0
    assert main(["keys", "revoke", "ci"]) == 2
    assert "no live API key named 'ci'" in capsys.readouterr().err


def test_the_settings_page_shows_a_new_key_once_and_revokes_it(
    client: TestClient, dashboard_database: Database
) -> None:
    csrf = client.get("/settings").cookies.get("ca_csrf") or client.cookies.get("ca_csrf")
    created = client.post("/settings/keys", data={"name": "dashboard-made", "csrf_token": csrf})
    assert created.status_code == 201
    shown = created.text.split("<code data-key>")[1].split("</code>")[0]
    assert shown.startswith("ca_")
    with session_scope(dashboard_database.session_factory) as session:
        assert api_keys.verify(session, shown) is not None

    again = client.get("/settings")
    assert "dashboard-made" in again.text and shown not in again.text

    taken = client.post("/settings/keys", data={"name": "dashboard-made", "csrf_token": csrf})
    assert taken.status_code == 409 and "already exists" in taken.text
    revoked = client.post(
        "/settings/keys/dashboard-made/revoke", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert revoked.status_code in (303, 200)
    with session_scope(dashboard_database.session_factory) as session:
        assert api_keys.verify(session, shown) is None
