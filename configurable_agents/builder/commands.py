"""Short messages that are commands rather than descriptions: save, run, undo, help,
templates, start from a template, start over, keep it as it is."""

from __future__ import annotations

import re
from dataclasses import dataclass

HELP = """Describe the workflow in plain words, step by step, for example:

- *Summarize a text, then translate the summary to French*
- *Write an article about a topic and then review it, at most 3 rounds*
- *1. Fetch a web page 2. Summarize it 3. Save it to a file*

Then change it turn by turn: *add a step that translates the summary to German*,
*make the review loop at most 5 times*, *remove the translate step*, *rename it to
news-digest*. Other commands: *templates* (the gallery), *start from <template>*,
*save*, *run*, *undo*, *start over*."""


@dataclass(frozen=True)
class Command:
    """A recognised command and its argument (a template name)."""

    name: str
    argument: str = ""


_POLITE = r"^(?:please\s+|ok,?\s+|okay,?\s+|now\s+)*"
_PATTERNS = [
    (
        "help",
        re.compile(
            _POLITE + r"(?:help|\?|what can you do\??|how does this work\??)\s*[.!]?$", re.I
        ),
    ),
    (
        "templates",
        re.compile(
            _POLITE
            + r"(?:show|list|see)?\s*(?:me\s+)?(?:the\s+)?(?:templates|gallery|examples)\s*[.!?]?$",
            re.I,
        ),
    ),
    (
        "template",
        re.compile(
            _POLITE + r"(?:start|begin)\s+(?:from|with)\s+(?:the\s+)?(?:template\s+)?"
            r"(?P<arg>.+?)(?:\s+(?:template|example))?\s*[.!]?$",
            re.I,
        ),
    ),
    (
        "template",
        re.compile(
            _POLITE + r"(?:use|load|open)\s+(?:the\s+)?(?:(?:template|example)\s+(?P<arg>.+?)|"
            r"(?P<arg2>.+?)\s+(?:template|example))\s*[.!]?$",
            re.I,
        ),
    ),
    (
        "save",
        re.compile(
            _POLITE
            + r"save(?:\s+(?:it|this|that|the workflow|the config|workflow))?(?:\s+now)?\s*[.!]?$",
            re.I,
        ),
    ),
    (
        "run",
        re.compile(_POLITE + r"run(?:\s+(?:it|this|that|the workflow))?(?:\s+now)?\s*[.!]?$", re.I),
    ),
    (
        "undo",
        re.compile(
            _POLITE + r"(?:undo|go back|revert)(?:\s+(?:that|it|the last change))?\s*[.!]?$", re.I
        ),
    ),
    (
        # The answer "no change" to a question the builder asked.
        "keep",
        re.compile(
            _POLITE
            + r"(?:keep (?:it|this|that)(?: as it is)?|leave it(?: as it is)?|no change)\s*[.!]?$",
            re.I,
        ),
    ),
    (
        "new",
        re.compile(_POLITE + r"(?:start over|start again|new workflow|reset|clear)\s*[.!]?$", re.I),
    ),
]


def parse(text: str) -> Command | None:
    """The command a message is, or None when it is a description or a change."""
    stripped = " ".join(text.strip().split())
    for name, pattern in _PATTERNS:
        match = pattern.match(stripped)
        if match:
            groups = match.groupdict()
            argument = groups.get("arg") or groups.get("arg2") or ""
            return Command(name, argument.strip())
    return None
