"""The shared door: signed login cookies both web processes verify, the start-up rule, and the
chat's middleware rules (origins, Host, token, CSRF, framing) on a small app without Gradio."""

from __future__ import annotations

import re
import time

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from chat import door
from chat.server import check_access_rule as chat_access_rule
from configurable_agents import access
from configurable_agents.settings import load_settings

TOKEN = "s3cret-token"


def test_a_login_cookie_holds_no_part_of_the_token_and_verifies_under_it_only() -> None:
    cookie = access.login_cookie(TOKEN)

    assert TOKEN not in cookie
    assert access.cookie_is_valid(TOKEN, cookie)
    assert not access.cookie_is_valid("another-token", cookie)
    issued, _, signature = cookie.partition(".")
    assert not access.cookie_is_valid(TOKEN, f"{int(issued) + 1}.{signature}")
    # One hex digit changed (never to itself: a signature ending in 0 stays the same).
    changed = "1" if signature.endswith("0") else "0"
    assert not access.cookie_is_valid(TOKEN, f"{issued}.{signature[:-1]}{changed}")
    for junk in ("", ".", "abc.def", "1" * 40 + ".x", cookie + "x"):
        assert not access.cookie_is_valid(TOKEN, junk), junk


def test_a_login_cookie_expires() -> None:
    long_ago = time.time() - access.LOGIN_MAX_AGE - 5
    assert not access.cookie_is_valid(TOKEN, access.login_cookie(TOKEN, now=long_ago))
    assert not access.cookie_is_valid(TOKEN, access.login_cookie(TOKEN, now=time.time() + 3600))


def test_bearer_or_cookie_and_nothing_without_a_token() -> None:
    cookie = {access.COOKIE: access.login_cookie(TOKEN)}
    assert access.is_authorised(TOKEN, {"authorization": f"Bearer {TOKEN}"}, {})
    assert access.is_authorised(TOKEN, {}, cookie)
    assert not access.is_authorised(TOKEN, {"authorization": "Bearer nope"}, {})
    assert not access.is_authorised("", {"authorization": "Bearer "}, {access.COOKIE: ""})


def test_the_chat_off_loopback_without_a_token_refuses_to_start(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as stopped:
        chat_access_rule(load_settings(chat_host="0.0.0.0"))
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "CHAT_HOST=0.0.0.0" in err and "DASHBOARD_ACCESS_TOKEN" in err
    chat_access_rule(load_settings(chat_host="0.0.0.0", dashboard_access_token=TOKEN))
    chat_access_rule(load_settings(chat_host="127.0.0.1"))


def door_client(**settings: object) -> TestClient:
    """The chat's door and login in front of a small app standing in for Gradio."""
    app = FastAPI()
    app.state.settings = load_settings(dashboard_port=7861, chat_port=7860, **settings)
    app.include_router(door.router)

    @app.get("/")
    def page() -> dict[str, str]:
        return {"page": "chat"}

    @app.post("/gradio_api/queue/join")
    def join() -> dict[str, str]:
        return {"joined": "yes"}

    app.add_middleware(door.DoorMiddleware, settings=app.state.settings)
    return TestClient(app, base_url="http://127.0.0.1:7860")


def test_only_the_chat_itself_and_the_dashboard_are_allowed_origins() -> None:
    client = door_client()
    for origin in ("http://127.0.0.1:7860", "http://127.0.0.1:7861"):
        assert client.get("/", headers={"Origin": origin}).status_code == 200, origin
    for origin in ("http://localhost:9999", "http://127.0.0.1:8000", "null", "http://evil.test"):
        refused = client.post("/gradio_api/queue/join", json={}, headers={"Origin": origin})
        assert refused.status_code == 403 and "cross-origin" in refused.text, origin
        preflight = client.options(
            "/gradio_api/queue/join",
            headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
        )
        assert preflight.status_code == 403, origin
        assert "access-control-allow-origin" not in preflight.headers


def test_on_loopback_a_foreign_host_name_is_refused() -> None:
    client = door_client()
    assert client.get("/", headers={"Host": "rebound.example:7860"}).status_code == 403
    assert client.get("/", headers={"Host": "localhost:7860"}).status_code == 200


def test_state_changes_need_json_a_bearer_or_the_csrf_token() -> None:
    client = door_client()
    assert client.post("/gradio_api/queue/join", json={}).status_code == 200
    for body, kind in (("{}", "text/plain"), ("a=1", "application/x-www-form-urlencoded")):
        refused = client.post(
            "/gradio_api/queue/join", content=body, headers={"Content-Type": kind}
        )
        assert refused.status_code == 403 and "CSRF" in refused.text, kind
    client.cookies.set(door.CSRF_COOKIE, "t" * 43)
    echoed = client.post(
        "/gradio_api/queue/join",
        content="{}",
        headers={"Content-Type": "text/plain", "X-CSRF-Token": "t" * 43},
    )
    assert echoed.status_code == 200


def test_with_a_token_everything_but_health_and_login_needs_it() -> None:
    client = door_client(chat_host="0.0.0.0", dashboard_access_token=TOKEN)
    page = client.get("/?workflow=3", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/%3Fworkflow%3D3"
    assert client.post("/gradio_api/queue/join", json={}).status_code == 401
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert client.post("/gradio_api/queue/join", json={}, headers=bearer).status_code == 200
    # The dashboard's login cookie opens the chat (same host, another port).
    client.cookies.set(access.COOKIE, access.login_cookie(TOKEN))
    assert client.get("/").json() == {"page": "chat"}


def test_the_chats_login_takes_the_token_with_its_form_token() -> None:
    client = door_client(chat_host="0.0.0.0", dashboard_access_token=TOKEN)
    form = client.get("/login?next=/%3Fworkflow%3D3")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert form.status_code == 200 and csrf

    forged = client.post("/login", data={"token": TOKEN, "csrf_token": "x"})
    assert forged.status_code == 403
    wrong = client.post("/login", data={"token": "nope", "csrf_token": csrf[1]})
    assert wrong.status_code == 401 and "not right" in wrong.text
    good = client.post(
        "/login",
        data={"token": TOKEN, "csrf_token": csrf[1], "next": "/?workflow=3"},
        follow_redirects=False,
    )
    assert good.status_code == 303 and good.headers["location"] == "/?workflow=3"
    assert TOKEN not in good.headers["set-cookie"]
    assert access.cookie_is_valid(TOKEN, client.cookies[access.COOKIE])
    assert client.get("/").status_code == 200


def test_only_the_chat_and_the_dashboard_may_frame_it() -> None:
    policy = door_client().get("/").headers["content-security-policy"]
    assert policy == "frame-ancestors 'self' http://127.0.0.1:7861"
