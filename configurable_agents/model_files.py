"""Model files on disk: whether a path is a GGUF model (by its first bytes).

A leaf module, so the settings can check LOCAL_MODEL_PATH at start without importing the
LLM providers.
"""

from __future__ import annotations

from pathlib import Path

GGUF_MAGIC = b"GGUF"


def gguf_problem(path: Path) -> str | None:
    """Why ``path`` is not a GGUF model file, or None when it is one (by its first bytes,
    whatever its name ends with)."""
    if not path.exists():
        return f"{path} does not exist"
    if not path.is_file():
        return f"{path} is not a file"
    try:
        with path.open("rb") as file:
            magic = file.read(len(GGUF_MAGIC))
    except OSError as error:
        return f"{path} cannot be read ({error.strerror})"
    if magic != GGUF_MAGIC:
        return f"{path} is not a GGUF model file (it does not start with {GGUF_MAGIC!r})"
    return None
