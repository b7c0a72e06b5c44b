"""The one door of the web processes (dashboard and chat): the access token and its login.

With DASHBOARD_ACCESS_TOKEN set, a caller is let in when it sends
``Authorization: Bearer <token>`` or the login cookie ``ca_access``. The cookie is signed,
not stored: its value is ``<issued unix time>.<HMAC-SHA256>`` under a key derived from the
token, so every process of the set checks it on its own (no shared session state), it
expires after LOGIN_MAX_AGE seconds, and changing the token logs everybody out. Cookies
belong to a host, not to a port, so the dashboard's login also opens the chat on the same
host (and the chat's login the dashboard).

Off loopback a web process refuses to start without a token (exit code 2, one line).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

from configurable_agents.bootstrap import fail, is_loopback

COOKIE = "ca_access"
# A week: long enough not to nag, short enough that a copied cookie does not work forever.
LOGIN_MAX_AGE = 7 * 24 * 3600
# Clocks of the processes of one set agree; this only absorbs rounding.
_CLOCK_SKEW = 60
_KEY_LABEL = b"configurable-agents login cookie v1"


def check_access_rule(process: str, host: str, host_setting: str, token: str) -> None:
    """Off loopback a web process refuses to start without an access token (exit code 2)."""
    if not is_loopback(host) and not token:
        raise fail(
            process,
            f"{host_setting}={host} is reachable from other machines: "
            "set DASHBOARD_ACCESS_TOKEN (or bind 127.0.0.1)",
            code=2,
        )


def _key(token: str) -> bytes:
    return hmac.new(token.encode(), _KEY_LABEL, hashlib.sha256).digest()


def _signature(token: str, issued: int) -> str:
    return hmac.new(_key(token), f"login:{issued}".encode(), hashlib.sha256).hexdigest()


def login_cookie(token: str, now: float | None = None) -> str:
    """The value of the login cookie issued now (it holds no part of the token)."""
    issued = int(time.time() if now is None else now)
    return f"{issued}.{_signature(token, issued)}"


def cookie_is_valid(token: str, value: str, now: float | None = None) -> bool:
    """Whether a login cookie was issued under this token and has not expired."""
    issued_text, _, signature = value.partition(".")
    if not issued_text.isdigit() or len(issued_text) > 12 or not signature:
        return False
    issued = int(issued_text)
    current = time.time() if now is None else now
    if not (current - LOGIN_MAX_AGE <= issued <= current + _CLOCK_SKEW):
        return False
    return hmac.compare_digest(_signature(token, issued).encode(), signature.encode())


def bearer_is_valid(token: str, authorization: str) -> bool:
    """Whether an Authorization header carries ``Bearer <token>``."""
    if not authorization.lower().startswith("bearer "):
        return False
    return hmac.compare_digest(authorization[7:].strip().encode(), token.encode())


def is_authorised(token: str, headers: Mapping[str, str], cookies: Mapping[str, str]) -> bool:
    """Whether a request carries the token (bearer) or a valid login cookie.

    With no token configured nobody is authorised by this check (callers decide what an
    open process shows)."""
    if not token:
        return False
    if bearer_is_valid(token, headers.get("authorization", "")):
        return True
    return cookie_is_valid(token, cookies.get(COOKIE, ""))


def token_matches(token: str, given: str) -> bool:
    """Constant-time comparison of a typed token with the configured one."""
    return bool(token) and hmac.compare_digest(given.encode(), token.encode())


def cookie_header(token: str, *, secure: bool) -> str:
    """A Set-Cookie value for a fresh login (HttpOnly, SameSite=Strict, Max-Age)."""
    cookie = (
        f"{COOKIE}={login_cookie(token)}; Path=/; Max-Age={LOGIN_MAX_AGE}; HttpOnly; "
        "SameSite=Strict"
    )
    return cookie + "; Secure" if secure else cookie
