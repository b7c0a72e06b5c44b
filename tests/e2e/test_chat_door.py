"""The chat behind the dashboard's door, as real processes: `python -m chat` on 0.0.0.0 with
DASHBOARD_ACCESS_TOKEN and `python -m dashboard` on loopback with the same token.

Without credentials gradio_client cannot even load the app and every Gradio endpoint that
builds, saves or runs answers 401, on 127.0.0.1 and on the machine's own network address,
and nothing is stored; with the bearer token, or the cookie the dashboard's login sets,
the same calls work. Off loopback without a token the chat does not start. /healthz tells
an anonymous caller only up or down. Foreign origins and form posts without a CSRF token
are refused.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.e2e.conftest import Launcher
from tests.e2e.serviceset import (
    app_database_url,
    process_environment,
    run_until_exit,
    settings_environment,
)

pytestmark = pytest.mark.e2e

TOKEN = "e2e-door-token-7f3a"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
SESSION, YAML, STATUS = 2, 5, 3
# Gradio's endpoints that change something (with the named API of chat/ui.py).
WRITES = (
    ("/gradio_api/call/send", {"data": ["", "Summarize a text", "offline"]}),
    ("/gradio_api/call/apply", {"data": ["", "name: x\n"]}),
    ("/gradio_api/call/save", {"data": [""]}),
    ("/gradio_api/call/run", {"data": ["", "{}"]}),
    ("/gradio_api/run/apply", {"data": ["", "name: x\n"]}),
    ("/gradio_api/queue/join", {"data": ["", "name: x\n"], "fn_index": 0, "session_hash": "s1"}),
)


def network_address() -> str | None:
    """This machine's own non-loopback IPv4 address, if it has one (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))
            address = probe.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


@pytest.fixture(scope="module")
def door_env(module_launcher: Launcher, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    data_dir = tmp_path_factory.mktemp("door") / "var"
    settings_env = settings_environment(
        data_dir, LLM_PROVIDER="local", CHAT_HOST="0.0.0.0", DASHBOARD_ACCESS_TOKEN=TOKEN
    )
    migrated = run_until_exit(
        [sys.executable, "-m", "configurable_agents", "migrate"], process_environment(settings_env)
    )
    assert migrated.returncode == 0, migrated.stdout
    chat = module_launcher.start(settings_env, [sys.executable, "-m", "chat"])
    dashboard = module_launcher.start(settings_env, [sys.executable, "-m", "dashboard"])
    chat.wait_healthy(["chat"], timeout=90)
    dashboard.wait_healthy(["dashboard"], timeout=90)
    return settings_env


def chat_urls(env: dict[str, str]) -> list[str]:
    """The chat on loopback, and on the network address when the machine has one."""
    urls = [f"http://127.0.0.1:{env['CHAT_PORT']}"]
    address = network_address()
    if address:
        urls.append(f"http://{address}:{env['CHAT_PORT']}")
    return urls


def counts(env: dict[str, str]) -> dict[str, int]:
    engine = create_engine(app_database_url(env))
    try:
        with engine.connect() as connection:
            return {
                table: connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
                for table in ("workflows", "chat_sessions", "runs")
            }
    finally:
        engine.dispose()


@pytest.fixture
def unchanged(door_env: dict[str, str]) -> Iterator[None]:
    """Nothing stored by what the test does."""
    before = counts(door_env)
    yield
    assert counts(door_env) == before


def test_off_loopback_without_a_token_the_chat_does_not_start(tmp_path: Any) -> None:
    settings_env = settings_environment(tmp_path / "var", CHAT_HOST="0.0.0.0")
    done = run_until_exit([sys.executable, "-m", "chat"], process_environment(settings_env))

    assert done.returncode == 2, done.stdout
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert lines == [
        "chat: CHAT_HOST=0.0.0.0 is reachable from other machines: set DASHBOARD_ACCESS_TOKEN "
        "(or bind 127.0.0.1)"
    ]


@pytest.mark.usefixtures("unchanged")
def test_gradio_client_without_credentials_is_refused_everywhere(door_env: dict[str, str]) -> None:
    from gradio_client import Client

    for url in chat_urls(door_env):
        from gradio_client.exceptions import AuthenticationError

        with pytest.raises(AuthenticationError, match="credentials were not provided"):
            Client(f"{url}/", verbose=False)
        for path, body in WRITES:
            answer = httpx.post(f"{url}{path}", json=body, timeout=10)
            assert answer.status_code == 401, (url, path, answer.text)
            assert "access token" in answer.json()["detail"]
        for path in ("/config", "/gradio_api/info", "/gradio_api/openapi.json"):
            assert httpx.get(f"{url}{path}", timeout=10).status_code == 401, (url, path)
        page = httpx.get(f"{url}/?workflow=1", timeout=10)
        assert page.status_code == 303 and page.headers["location"].startswith("/login?next=")


def test_gradio_client_with_the_token_builds_saves_and_runs(door_env: dict[str, str]) -> None:
    from gradio_client import Client

    before = counts(door_env)
    client = Client(chat_urls(door_env)[-1] + "/", verbose=False, headers=BEARER)
    built = client.predict("", "Summarize a text", "offline", api_name="/send")
    client.predict(built[SESSION], api_name="/save")
    client.predict(built[SESSION], '{"text": "Cats sleep."}', api_name="/run")

    after = counts(door_env)
    assert after["workflows"] == before["workflows"] + 1
    assert after["runs"] == before["runs"] + 1


def test_the_dashboards_login_opens_the_chat_and_the_chats_login_the_dashboard(
    door_env: dict[str, str],
) -> None:
    dashboard = f"http://127.0.0.1:{door_env['DASHBOARD_PORT']}"
    chat = f"http://127.0.0.1:{door_env['CHAT_PORT']}"
    with httpx.Client(timeout=10) as browser:
        assert browser.get(f"{chat}/config").status_code == 401
        logged_in = browser.post(f"{dashboard}/login", data={"token": TOKEN, "next": "/"})
        assert logged_in.status_code == 303
        cookie = browser.cookies["ca_access"]
        assert TOKEN not in cookie
        # Cookies belong to the host, not the port: the browser sends it to the chat too.
        assert browser.get(f"{chat}/config").status_code == 200
        assert "gradio" in browser.get(f"{chat}/").text.lower()

    with httpx.Client(timeout=10) as browser:
        form = browser.get(f"{chat}/login")
        csrf = form.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        assert (
            browser.post(f"{chat}/login", data={"token": "wrong", "csrf_token": csrf}).status_code
            == 401
        )
        assert (
            browser.post(f"{chat}/login", data={"token": TOKEN, "csrf_token": csrf}).status_code
            == 303
        )
        assert browser.get(f"{dashboard}/api/v1/status").status_code == 200


def test_healthz_says_only_up_or_down_without_the_token(door_env: dict[str, str]) -> None:
    for port in ("CHAT_PORT", "DASHBOARD_PORT"):
        url = f"http://127.0.0.1:{door_env[port]}/healthz"
        anonymous = httpx.get(url, timeout=10).json()
        detailed = httpx.get(url, headers=BEARER, timeout=10).json()
        assert set(anonymous) == {"process", "status", "database", "schema"}, anonymous
        assert anonymous["database"] == {"reachable": True}
        assert anonymous["schema"] == {"at_head": True}
        assert door_env["DATA_DIR"] not in str(anonymous)
        assert isinstance(detailed["pid"], int)
        assert door_env["DATA_DIR"] in detailed["database"]["url"]


@pytest.mark.usefixtures("unchanged")
def test_foreign_origins_and_form_posts_without_a_csrf_token_are_refused(
    door_env: dict[str, str],
) -> None:
    chat = f"http://127.0.0.1:{door_env['CHAT_PORT']}"
    for origin in ("http://localhost:9999", "http://127.0.0.1:1", "null"):
        preflight = httpx.options(
            f"{chat}/gradio_api/call/apply",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
            timeout=10,
        )
        assert preflight.status_code == 403, origin
        assert "access-control-allow-origin" not in preflight.headers
        simple = httpx.post(
            f"{chat}/gradio_api/call/apply",
            content='{"data": ["", "name: x"]}',
            headers={"Origin": origin, "Content-Type": "text/plain", **BEARER},
            timeout=10,
        )
        assert simple.status_code == 403 and "cross-origin" in simple.text
    cookie = {"ca_access": login_cookie(door_env)}
    for kind, body in (
        ("text/plain", '{"data": ["", "name: x"]}'),
        ("application/x-www-form-urlencoded", "data=x"),
    ):
        forged = httpx.post(
            f"{chat}/gradio_api/call/apply",
            content=body,
            headers={"Content-Type": kind},
            cookies=cookie,
            timeout=10,
        )
        assert forged.status_code == 403 and "CSRF" in forged.text, kind
    upload = httpx.post(
        f"{chat}/gradio_api/upload", files={"files": ("a.txt", b"x")}, cookies=cookie, timeout=10
    )
    assert upload.status_code == 403 and "CSRF" in upload.text


def login_cookie(env: dict[str, str]) -> str:
    answer = httpx.post(
        f"http://127.0.0.1:{env['DASHBOARD_PORT']}/login", data={"token": TOKEN}, timeout=10
    )
    return answer.cookies["ca_access"]
