"""The errors an LLM call can end with: one small hierarchy under :class:`LLMError`.

    LLMError
    ├── LLMConfigError             the provider is configured wrongly
    ├── LLMUnreachableError        the endpoint cannot be reached
    ├── LLMAuthError               the API key is missing or refused
    ├── LLMTimeoutError            no answer within the timeout
    ├── LLMHTTPError               an error status (after retries where they apply)
    ├── LLMResponseError           an answer we cannot read
    ├── LLMRequestError            the request itself is wrong
    └── LLMStructuredOutputError   no JSON matching the schema within the repairs

Every message says what went wrong and which setting to look at. No message ever
contains an API key: keys are read from the environment at call time and any text
a server echoes back is redacted before it reaches an exception.
"""

from __future__ import annotations

from collections.abc import Sequence


class LLMError(Exception):
    """An LLM call failed; ``provider`` names the provider and ``attempts`` the calls made."""

    def __init__(self, message: str, *, provider: str = "", attempts: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.attempts = attempts

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class LLMConfigError(LLMError):
    """The provider is configured wrongly (unknown name, missing base URL or model)."""


class LLMUnreachableError(LLMError):
    """The endpoint could not be reached; the message names the URL and the setting to fix."""

    def __init__(self, message: str, *, url: str, provider: str = "", attempts: int = 0) -> None:
        super().__init__(message, provider=provider, attempts=attempts)
        self.url = url


class LLMAuthError(LLMError):
    """The API key is missing or was refused; names the environment variable, never the key."""

    def __init__(
        self, message: str, *, env_var: str, provider: str = "", attempts: int = 0
    ) -> None:
        super().__init__(message, provider=provider, attempts=attempts)
        self.env_var = env_var


class LLMTimeoutError(LLMError):
    """The model did not answer within the timeout."""

    def __init__(
        self, message: str, *, timeout: float, provider: str = "", attempts: int = 0
    ) -> None:
        super().__init__(message, provider=provider, attempts=attempts)
        self.timeout = timeout


class LLMHTTPError(LLMError):
    """The endpoint answered with an error status (after retries where they apply);
    ``detail`` is the server's own message, with any API key redacted."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        detail: str = "",
        provider: str = "",
        attempts: int = 0,
    ) -> None:
        super().__init__(message, provider=provider, attempts=attempts)
        self.status_code = status_code
        self.detail = detail


class LLMResponseError(LLMError):
    """The endpoint answered, but not with something we can read (bad body, missing fields)."""


class LLMRequestError(LLMError):
    """The request itself is wrong (no messages, unknown role, prompt longer than the context)."""


class LLMStructuredOutputError(LLMError):
    """The model did not produce JSON matching the schema within the allowed repair attempts."""

    def __init__(
        self,
        message: str,
        *,
        errors: Sequence[str],
        last_text: str,
        provider: str = "",
        attempts: int = 0,
    ) -> None:
        super().__init__(message, provider=provider, attempts=attempts)
        self.errors = list(errors)
        self.last_text = last_text
