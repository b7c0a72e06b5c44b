"""Keep credentials out of conversations and generated configs.

A user may paste an API key into the chat; it is replaced before the message is stored or
sent to a model, and a generated config that carries anything key-like is refused (the
repair loop asks the model to use an ``api_key_env`` name instead).
"""

from __future__ import annotations

import re
from typing import Any

from configurable_agents.config.names import looks_like_secret

REDACTED = "[redacted key]"
_KEY = re.compile(
    r"(?:\b(?:sk|pk|rk)[-_](?:[A-Za-z0-9]+[-_])*[A-Za-z0-9]{12,}"
    r"|\b(?:ghp|gho|ghs|github_pat)_[A-Za-z0-9_]{12,}"
    r"|\bxox[abprs]-[A-Za-z0-9-]{10,}"
    r"|\bAKIA[0-9A-Z]{12,}"
    r"|\bAIza[0-9A-Za-z_-]{20,}"
    r"|\b[Bb]earer\s+[A-Za-z0-9._~+/-]{12,}=*)"
)


def redact(text: str) -> tuple[str, int]:
    """The text with every key-like token replaced, and how many were replaced."""
    return _KEY.subn(REDACTED, text)


def secret_paths(data: Any, path: str = "") -> list[str]:
    """The paths in config data whose text holds something that looks like a credential."""
    found: list[str] = []
    if isinstance(data, dict):
        for key, value in data.items():
            found += secret_paths(value, f"{path}.{key}" if path else str(key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += secret_paths(value, f"{path}[{index}]")
    elif isinstance(data, str):
        tokens = data.split()
        # A lone long run of letters and digits reads like a key; URLs and paths do not.
        lone = len(tokens) == 1 and re.fullmatch(r"[A-Za-z0-9_-]{20,}", tokens[0]) is not None
        if _KEY.search(data) or (lone and looks_like_secret(tokens[0])):
            found.append(path or "<config>")
    return found
