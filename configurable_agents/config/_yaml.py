"""YAML to plain data, keeping the line and column of every key and value.

PyYAML composes a node tree with marks; we build the data ourselves from it so each
path (``('nodes', 2, 'prompt')``) keeps its place, duplicate keys are caught (PyYAML keeps
the last silently) and only plain JSON-like scalars come out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from configurable_agents.config.errors import ConfigIssue, format_path

Path = tuple[str | int, ...]

MAX_VALUES = 50_000
_TAG = "tag:yaml.org,2002:"
_CONSTRUCTED = {f"{_TAG}{name}" for name in ("str", "int", "float", "bool", "null")}
# Kept as their text: a date written unquoted is meant as text in a workflow.
_AS_TEXT = {f"{_TAG}timestamp", f"{_TAG}value"}


@dataclass(frozen=True)
class Mark:
    """A 1-based line and column."""

    line: int
    column: int


@dataclass
class Problem:
    """Something wrong found while reading: where, the path it concerns, and what."""

    mark: Mark | None
    path: Path
    message: str


def problem_issues(problems: list[Problem], file: str) -> list[ConfigIssue]:
    """Reading problems as issues of ``file`` (file:line:col: path: message)."""
    return [
        ConfigIssue(
            file,
            problem.mark.line if problem.mark else None,
            problem.mark.column if problem.mark else None,
            format_path(problem.path),
            problem.message,
        )
        for problem in problems
    ]


@dataclass
class MarkedData:
    """Plain data plus the place of each value and each mapping key."""

    data: Any
    values: dict[Path, Mark] = field(default_factory=dict)
    keys: dict[Path, Mark] = field(default_factory=dict)

    def mark_of(self, path: Path, *, key: bool = False) -> Mark | None:
        """The mark of a key (``key=True``) or value; for a path that does not exist (a
        missing key), the mark of the nearest enclosing value."""
        if key and path in self.keys:
            return self.keys[path]
        for end in range(len(path), -1, -1):
            mark = self.values.get(path[:end])
            if mark is not None:
                return mark
        return None


class _TooLarge(Exception):
    pass


def _mark(node: Node) -> Mark:
    return Mark(node.start_mark.line + 1, node.start_mark.column + 1)


class _Builder:
    def __init__(self, loader: yaml.SafeLoader, result: MarkedData, problems: list[Problem]):
        self.loader = loader
        self.result = result
        self.problems = problems
        self.count = 0

    def build(self, node: Node, path: Path) -> Any:
        self.count += 1
        if self.count > MAX_VALUES:
            raise _TooLarge
        self.result.values[path] = _mark(node)
        if isinstance(node, MappingNode):
            return self._mapping(node, path)
        if isinstance(node, SequenceNode):
            if node.tag != f"{_TAG}seq":
                self._unsupported(node, path)
            return [self.build(item, (*path, index)) for index, item in enumerate(node.value)]
        return self._scalar(node, path)

    def _unsupported(self, node: Node, path: Path) -> None:
        self.problems.append(Problem(_mark(node), path, f"unsupported YAML tag '{node.tag}'"))

    def _scalar(self, node: Node, path: Path) -> Any:
        if _SURROGATE.search(node.value):
            # A "\\ud800" escape in a double-quoted string: no encoding can carry it.
            self.problems.append(
                Problem(
                    _mark(node),
                    path,
                    "a \\u escape makes a lone surrogate; write the character itself",
                )
            )
            return _SURROGATE.sub("\ufffd", node.value)
        if node.tag in _AS_TEXT:
            return node.value
        if node.tag not in _CONSTRUCTED:
            self._unsupported(node, path)
            return node.value
        return self.loader.construct_object(node)

    def _mapping(self, node: MappingNode, path: Path) -> dict[str, Any]:
        if node.tag != f"{_TAG}map":
            self._unsupported(node, path)
        seen: dict[str, Mark] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag == f"{_TAG}merge":
                continue
            mark = _mark(key_node)
            if _SURROGATE.search(key_node.value):
                self.problems.append(
                    Problem(mark, path, "a \\u escape in a key makes a lone surrogate")
                )
                key_node.value = _SURROGATE.sub("\ufffd", key_node.value)
            if key_node.value in seen:
                first = seen[key_node.value]
                self.problems.append(
                    Problem(
                        mark,
                        (*path, key_node.value),
                        f"duplicate key '{key_node.value}' (first at line {first.line})",
                    )
                )
            else:
                seen[key_node.value] = mark
        try:
            # Resolves `<<: *anchor` merges; explicit keys override merged ones.
            self.loader.flatten_mapping(node)
        except yaml.MarkedYAMLError as error:
            self.problems.append(Problem(_mark(node), path, f"YAML merge error: {error.problem}"))
        data: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                self.problems.append(
                    Problem(
                        _mark(key_node), path, "a key must be plain text, not a list or mapping"
                    )
                )
                continue
            key_path = (*path, key_node.value)
            # Last wins, as in PyYAML: explicit keys override merged ones (duplicates are
            # reported above).
            self.result.keys[key_path] = _mark(key_node)
            data[key_node.value] = self.build(value_node, key_path)
        return data


def _syntax_problem(error: yaml.YAMLError) -> Problem:
    if isinstance(error, yaml.MarkedYAMLError):
        mark = error.problem_mark or error.context_mark
        where = Mark(mark.line + 1, mark.column + 1) if mark else None
        message = error.problem or "invalid YAML"
        if error.context:
            message = f"{message} ({error.context})"
        return Problem(where, (), f"YAML syntax error: {message}")
    return Problem(None, (), f"YAML syntax error: {error}")


# What YAML's reader refuses (yaml.reader.Reader.NON_PRINTABLE): C0 and C1 controls but
# tab, newline, carriage return and NEL; DEL; surrogates; U+FFFE and U+FFFF.
_NON_PRINTABLE = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)
MAX_CHARACTER_PROBLEMS = 20
_SURROGATE = re.compile("[\ud800-\udfff]")


def unprintable_problems(text: str) -> list[Problem]:
    """One located problem per character YAML cannot read (the first 20), else none."""
    problems: list[Problem] = []
    for found in _NON_PRINTABLE.finditer(text):
        start = found.start()
        line = text.count("\n", 0, start) + 1
        column = start - (text.rfind("\n", 0, start) + 1) + 1
        code = ord(found.group())
        what = "a NUL character" if code == 0 else f"the control character U+{code:04X}"
        if 0xD800 <= code <= 0xDFFF:
            what = f"a lone surrogate U+{code:04X}"
        elif code in (0xFFFE, 0xFFFF):
            what = f"the non-character U+{code:04X}"
        problems.append(
            Problem(Mark(line, column), (), f"{what} cannot appear in YAML text; delete it")
        )
        if len(problems) >= MAX_CHARACTER_PROBLEMS:
            break
    return problems


def parse_marked(text: str) -> tuple[MarkedData | None, list[Problem]]:
    """The data of a single-document YAML text with the marks of every part, and the
    problems found (characters YAML cannot read, syntax errors, duplicate keys,
    unsupported tags)."""
    unreadable = unprintable_problems(text)
    if unreadable:
        # PyYAML's reader would stop at the first with an unlocated ReaderError.
        return None, unreadable
    loader = yaml.SafeLoader(text)
    problems: list[Problem] = []
    try:
        root = loader.get_single_node()
        if root is None:
            return MarkedData(None), problems
        result = MarkedData(None)
        result.data = _Builder(loader, result, problems).build(root, ())
        return result, problems
    except yaml.YAMLError as error:
        return None, [_syntax_problem(error)]
    except _TooLarge:
        return None, [Problem(Mark(1, 1), (), f"the config has more than {MAX_VALUES} values")]
    finally:
        loader.dispose()
