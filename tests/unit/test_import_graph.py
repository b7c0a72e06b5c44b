"""Dependencies point one way: no import circles among the project's modules, and the
layers import only downwards (config <- engine <- queue; the shared package never imports
the dashboard or the chat app).

Every import counts, including those inside functions (the CLI's lazy ones): a circle
hidden in a function is still a circle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("configurable_agents", "dashboard", "chat")


# dashboard/live.py <-> dashboard/system_view.py: the dashboard restructuring (branch
# `dash`) removes it. Delete this allowance when that branch is merged.
def _modules() -> dict[str, Path]:
    """Every module of the project's packages by dotted name."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def _imported(name: str, path: Path, modules: dict[str, Path]) -> Iterator[str]:
    """The project modules ``name`` imports (``from a import b`` counts ``a.b`` when that
    is a module, else ``a``)."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = name.split(".")
                package = package if is_package else package[:-1]
                package = package[: len(package) - (node.level - 1)]
                base = ".".join([*package, base] if base else package)
            # A name that is not a module of its own is read from ``base``'s namespace.
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            # The nearest enclosing module: `a.b.C` (a class) is module `a.b`.
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                yield target


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: set(_imported(name, path, modules)) for name, path in modules.items()}


def _circles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for child in graph.get(node, ()):
            if child not in index:
                visit(child)
                low[node] = min(low[node], low[child])
            elif child in on_stack:
                low[node] = min(low[node], index[child])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_circles() -> None:
    circles = _circles(_graph())
    assert not circles, "import circles: " + "; ".join(
        " <-> ".join(sorted(circle)) for circle in circles
    )


def _imports_from_to(source: str, targets: tuple[str, ...]) -> list[str]:
    """Every edge from a module under ``source`` to a module under one of ``targets``."""
    return sorted(
        f"{name} -> {target}"
        for name, imported in _graph().items()
        if name == source or name.startswith(source + ".")
        for target in imported
        if any(target == t or target.startswith(t + ".") for t in targets)
    )


def test_the_shared_package_never_imports_the_apps() -> None:
    assert _imports_from_to("configurable_agents", ("dashboard", "chat")) == []


def test_config_imports_neither_engine_nor_queue() -> None:
    layers = ("configurable_agents.engine", "configurable_agents.queue")
    assert _imports_from_to("configurable_agents.config", layers) == []


def test_the_circle_finder_finds_a_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _circles(graph) == [frozenset({"a", "b", "c"})]
