"""JSON over HTTP to an LLM endpoint: the API key from the environment, timeouts,
bounded retries with backoff, errors that say what to fix, and server-sent events."""

from __future__ import annotations

import json
import os
import threading
import time
from abc import abstractmethod
from collections.abc import Callable, Collection, Iterator, Mapping
from typing import Any, ClassVar, TypeVar

import httpx

from configurable_agents.llm.base import (
    DEFAULT_MAX_REPAIRS,
    DEFAULT_TIMEOUT,
    Provider,
    SettingNames,
)
from configurable_agents.llm.errors import (
    LLMAuthError,
    LLMConfigError,
    LLMError,
    LLMHTTPError,
    LLMResponseError,
    LLMTimeoutError,
    LLMUnreachableError,
)
from configurable_agents.llm.pricing import PriceTable
from configurable_agents.llm.retry import RETRYABLE_STATUSES, RetryPolicy, parse_retry_after

CONNECT_TIMEOUT = 10.0
T = TypeVar("T")
AuthHeaders = Callable[[str], dict[str, str]]


_client: httpx.Client | None = None
_client_lock = threading.Lock()


def shared_client() -> httpx.Client:
    """One connection pool for the whole process: a client costs about 20 ms to make
    (its TLS context), too much to pay per workflow node. httpx clients are thread-safe."""
    global _client
    with _client_lock:
        if _client is None:
            _client = httpx.Client()
        return _client


class _Retry(Exception):
    """A failure worth another attempt; ``final`` builds the error if none is left."""

    def __init__(self, final: Callable[[int], LLMError], after: float | None = None) -> None:
        super().__init__("retry")
        self.final = final
        self.after = after


def redact(text: str, secret: str) -> str:
    """``text`` with every occurrence of ``secret`` replaced (servers echo bad keys)."""
    return text.replace(secret, "[redacted]") if secret else text


def server_message(response: httpx.Response) -> str:
    """The error message a server put in its body (OpenAI and Anthropic shapes), or the
    start of the body."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        for value in (error, body.get("message"), body.get("detail")):
            if isinstance(value, str) and value:
                return value
    return response.text.strip()[:300] or response.reason_phrase


class HTTPEndpoint:
    """One LLM endpoint URL. Thread-safe; the key is read from the environment for each
    call and is never stored on this object."""

    def __init__(
        self,
        *,
        provider: str,
        url: str,
        auth_headers: AuthHeaders,
        api_key_env: str,
        key_required: bool,
        retry: RetryPolicy,
        setting_names: SettingNames,
        headers: Mapping[str, str] | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        self.provider = provider
        self.url = url
        self.api_key_env = api_key_env
        self._auth_headers = auth_headers
        self._headers = dict(headers or {})
        self._key_required = key_required
        self._retry = retry
        self._names = setting_names
        self._client = client or shared_client()

    def post(
        self, payload: Mapping[str, Any], timeout: float, no_retry: Collection[int] = ()
    ) -> tuple[Any, int]:
        """POST ``payload`` and return the JSON answer and the number of attempts. Statuses
        in ``no_retry`` raise at once instead of being retried."""

        def send(headers: dict[str, str], key: str) -> Any:
            try:
                response = self._client.post(
                    self.url, json=payload, headers=headers, timeout=_timeouts(timeout)
                )
            except httpx.HTTPError as error:
                raise self._transport_error(error, timeout) from None
            self._check_status(response, key, no_retry)
            try:
                return response.json()
            except ValueError:
                snippet = redact(response.text[:200], key)
                raise LLMResponseError(
                    f"the {self.provider} endpoint {self.url} answered HTTP "
                    f"{response.status_code} with a body that is not JSON: {snippet!r}"
                ) from None

        return self._attempts(send)

    def stream(
        self,
        payload: Mapping[str, Any],
        timeout: float,
        on_event: Callable[[dict], None],
        no_retry: Collection[int] = (),
    ) -> int:
        """POST ``payload`` and hand each server-sent JSON event to ``on_event``; return the
        number of attempts. A stream that breaks after its first event is not retried
        (its text has already been delivered); statuses in ``no_retry`` are not retried."""

        def send(headers: dict[str, str], key: str) -> None:
            deadline = time.monotonic() + timeout
            started = False
            try:
                with self._client.stream(
                    "POST", self.url, json=payload, headers=headers, timeout=_timeouts(timeout)
                ) as response:
                    if response.status_code >= 400:
                        response.read()
                        self._check_status(response, key, no_retry)
                    for event in self._events(_lines(response.iter_bytes())):
                        started = True
                        on_event(event)
                        if time.monotonic() > deadline:
                            raise self._timeout_error(timeout)
            except httpx.HTTPError as error:
                failure = self._transport_error(error, timeout)
                if not (started and isinstance(failure, _Retry)):
                    raise failure from None
                raise LLMResponseError(
                    f"the stream from the {self.provider} endpoint {self.url} broke after it "
                    f"started ({type(error).__name__}: {error})"
                ) from None

        _, attempts = self._attempts(send)
        return attempts

    def _attempts(self, send: Callable[[dict[str, str], str], T]) -> tuple[T, int]:
        headers, key = self._key_headers()
        attempt = 0
        while True:
            attempt += 1
            try:
                return send(headers, key), attempt
            except _Retry as failure:
                if attempt >= self._retry.max_attempts:
                    error = failure.final(attempt)
                    error.attempts = attempt
                    raise error from None
                time.sleep(self._retry.delay(attempt, failure.after))
            except LLMError as error:
                error.attempts = attempt
                raise

    def _key_headers(self) -> tuple[dict[str, str], str]:
        env = self.api_key_env
        if not env:
            if self._key_required:
                raise LLMAuthError(
                    f"the {self.provider} provider needs an API key: set "
                    f"{self._names.api_key_env} to the name of the environment variable "
                    "that holds it",
                    env_var="",
                    provider=self.provider,
                )
            return self._headers, ""
        key = os.environ.get(env, "").strip()
        if not key:
            raise LLMAuthError(
                f"no API key for the {self.provider} provider: the environment variable "
                f"{env} (named by {self._names.api_key_env}) is not set or empty",
                env_var=env,
                provider=self.provider,
            )
        return {**self._headers, **self._auth_headers(key)}, key

    def _check_status(
        self, response: httpx.Response, key: str, no_retry: Collection[int] = ()
    ) -> None:
        status = response.status_code
        if status < 400:
            return
        detail = redact(server_message(response), key)
        if status in (401, 403):
            raise LLMAuthError(
                f"the {self.provider} endpoint {self.url} refused the API key from the "
                f"environment variable {self.api_key_env or '(none configured)'} "
                f"(HTTP {status}: {detail}); check that key or {self._names.api_key_env}",
                env_var=self.api_key_env,
                provider=self.provider,
            )
        if status in RETRYABLE_STATUSES and status not in no_retry:
            raise _Retry(
                lambda attempts: LLMHTTPError(
                    f"the {self.provider} endpoint {self.url} answered HTTP {status} "
                    f"({detail}) to all {attempts} attempts",
                    status_code=status,
                    detail=detail,
                    provider=self.provider,
                ),
                parse_retry_after(response.headers),
            )
        hint = f"; check {self._names.base_url} and {self._names.model}" if status == 404 else ""
        raise LLMHTTPError(
            f"the {self.provider} endpoint {self.url} rejected the request with HTTP "
            f"{status}: {detail}{hint}",
            status_code=status,
            detail=detail,
            provider=self.provider,
        )

    def _transport_error(self, error: httpx.HTTPError, timeout: float) -> Exception:
        if isinstance(error, httpx.TimeoutException) and not isinstance(
            error, httpx.ConnectTimeout
        ):
            # A slow model is not retried: another try would wait as long again.
            return self._timeout_error(timeout)
        if isinstance(error, httpx.TransportError) and not isinstance(
            error, httpx.UnsupportedProtocol | httpx.ProxyError
        ):
            reason = str(error) or type(error).__name__
            return _Retry(
                lambda attempts: LLMUnreachableError(
                    f"cannot reach the {self.provider} endpoint {self.url} ({reason}) after "
                    f"{attempts} attempts; check {self._names.base_url} and that the server "
                    "is running",
                    url=self.url,
                    provider=self.provider,
                )
            )
        return LLMConfigError(
            f"cannot call the {self.provider} endpoint {self.url}: {error}; "
            f"check {self._names.base_url}",
            provider=self.provider,
        )

    def _timeout_error(self, timeout: float) -> LLMTimeoutError:
        return LLMTimeoutError(
            f"the {self.provider} endpoint {self.url} did not answer within {timeout:g} s; "
            f"raise {self._names.timeout} if the model needs longer",
            timeout=timeout,
            provider=self.provider,
        )

    def _events(self, lines: Iterator[bytes]) -> Iterator[dict]:
        # Server-sent events: only the data lines matter to both APIs (each is one JSON).
        done = False
        for line in lines:
            # After [DONE] the body is read to its end (its last chunk): a response left
            # unread makes httpx close the connection, and every call would open a new one.
            if done or not line.startswith(b"data:"):
                continue
            data = line[5:].strip()
            if data == b"[DONE]":
                done = True
                continue
            if not data:
                continue
            try:
                event = json.loads(data)
            except ValueError:
                text = data[:200].decode("utf-8", errors="replace")
                raise LLMResponseError(
                    f"the {self.provider} endpoint {self.url} streamed an event that is not "
                    f"JSON: {text!r}"
                ) from None
            if isinstance(event, dict):
                yield event


def _lines(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The lines of a byte stream, split on LF (a CR before it is stripped with the rest).

    Bytes, not text: an event's JSON is decoded by json.loads itself, and splitting bytes
    costs a fraction of httpx's text decoding and line splitting, which a stream pays for
    every token. A UTF-8 character never contains the byte LF, so no character is cut.
    """
    pending = b""
    for chunk in chunks:
        if pending:
            chunk = pending + chunk
        *complete, pending = chunk.split(b"\n")
        yield from complete
    if pending:
        yield pending


def _timeouts(timeout: float) -> httpx.Timeout:
    return httpx.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT))


class HTTPProvider(Provider):
    """A provider behind an HTTP endpoint. Subclasses give the URL of a base URL, the
    auth headers of a key, and the payload and answer of one call."""

    # The environment variable read when none is configured ("" = no key sent).
    default_api_key_env: ClassVar[str] = ""
    key_required: ClassVar[bool] = False
    extra_headers: ClassVar[Mapping[str, str]] = {}

    def __init__(
        self,
        *,
        model: str,
        base_url: str = "",
        api_key_env: str = "",
        timeout: float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        pricing: PriceTable | None = None,
        max_repairs: int = DEFAULT_MAX_REPAIRS,
        setting_names: SettingNames | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        super().__init__(
            model=model,
            timeout=timeout,
            retry=retry,
            pricing=pricing,
            max_repairs=max_repairs,
            setting_names=setting_names,
        )
        self.endpoint = HTTPEndpoint(
            provider=self.name,
            url=self.endpoint_url(base_url),
            auth_headers=self.auth_headers,
            api_key_env=api_key_env or self.default_api_key_env,
            key_required=self.key_required,
            retry=self.retry,
            setting_names=self.setting_names,
            headers=self.extra_headers,
            client=client,
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(model={self.model!r}, url={self.endpoint.url!r}, "
            f"api_key_env={self.endpoint.api_key_env!r})"
        )

    def endpoint_key(self, model: str) -> tuple[str, ...]:
        """The endpoint is its URL and the model: one server may serve several models."""
        return (self.name, self.endpoint.url, model)

    @staticmethod
    @abstractmethod
    def endpoint_url(base_url: str) -> str:
        """The URL calls go to, from the configured base URL."""

    @staticmethod
    @abstractmethod
    def auth_headers(key: str) -> dict[str, str]:
        """The headers that carry the API key."""
