"""Workflow graphs drawn on the server as SVG: a simple layered layout, top to bottom.

Layers come from the longest path from START over forward edges (back edges of loops are
found by a depth-first search and drawn dashed on the side); nodes in a layer are ordered
by the mean position of their parents to keep edges short. Every label is escaped.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from markupsafe import Markup

from dashboard.workflow_lang import END, START, Graph, GraphEdge

ROW_HEIGHT = 86
NODE_HEIGHT = 40
GAP = 28
MARGIN = 24
CHAR_WIDTH = 7.2
MAX_LABEL = 26


@dataclass
class Placed:
    id: str
    kind: str
    layer: int
    x: float = 0.0
    y: float = 0.0
    width: float = 0.0


def back_edges(graph: Graph) -> set[tuple[str, str]]:
    """Edges that close a cycle (loops), found by depth-first search from START."""
    children: dict[str, list[str]] = {node.id: [] for node in graph.nodes}
    for edge in graph.edges:
        children.setdefault(edge.source, []).append(edge.target)
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    found: set[tuple[str, str]] = set()
    roots = [START] + [node.id for node in graph.nodes if node.id != START]
    for root in roots:
        if root in state:
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        state[root] = 1
        while stack:
            node, index = stack[-1]
            kids = children.get(node, [])
            if index < len(kids):
                stack[-1] = (node, index + 1)
                child = kids[index]
                if state.get(child) == 1:
                    found.add((node, child))
                elif child not in state:
                    state[child] = 1
                    stack.append((child, 0))
            else:
                state[node] = 2
                stack.pop()
    return found


def layout(graph: Graph) -> tuple[dict[str, Placed], set[tuple[str, str]], float, float]:
    """Positions of every node, the back edges, and the canvas size."""
    backs = back_edges(graph)
    forward = [e for e in graph.edges if (e.source, e.target) not in backs]
    parents: dict[str, list[str]] = {node.id: [] for node in graph.nodes}
    for edge in forward:
        parents.setdefault(edge.target, []).append(edge.source)

    layer: dict[str, int] = {}

    def depth(node: str, trail: frozenset[str] = frozenset()) -> int:
        if node in layer:
            return layer[node]
        if node == START or not parents.get(node) or node in trail:
            layer[node] = 0 if node == START else 1
            return layer[node]
        value = 1 + max(depth(p, trail | {node}) for p in parents[node])
        layer[node] = value
        return value

    for node in graph.nodes:
        depth(node.id)
    deepest = max((v for k, v in layer.items() if k != END), default=0)
    layer[END] = max(layer.get(END, 0), deepest + 1)

    rows: dict[int, list[str]] = {}
    for node in graph.nodes:
        rows.setdefault(layer[node.id], []).append(node.id)
    # Two sweeps of barycenter ordering keep crossings down on small graphs.
    position = {node: index for row in rows.values() for index, node in enumerate(row)}
    for _ in range(2):
        for number in sorted(rows):
            row = rows[number]
            if number == 0:
                continue

            keys = {}
            for index, node in enumerate(row):
                ps = [position[p] for p in parents.get(node, []) if p in position]
                keys[node] = sum(ps) / len(ps) if ps else float(index)
            row.sort(key=keys.__getitem__)
            for index, node in enumerate(row):
                position[node] = index

    kinds = {node.id: node.kind for node in graph.nodes}
    placed: dict[str, Placed] = {}
    widths = {
        node.id: max(84.0, min(len(node.id), MAX_LABEL) * CHAR_WIDTH + 30) for node in graph.nodes
    }
    row_widths = {
        number: sum(widths[n] for n in row) + GAP * (len(row) - 1) for number, row in rows.items()
    }
    canvas_width = max(row_widths.values(), default=100) + 2 * MARGIN + 60
    for number, row in rows.items():
        x = (canvas_width - 60 - row_widths[number]) / 2
        for node in row:
            placed[node] = Placed(
                node, kinds[node], number, x, MARGIN + number * ROW_HEIGHT, widths[node]
            )
            x += widths[node] + GAP
    canvas_height = MARGIN * 2 + (max(rows, default=0)) * ROW_HEIGHT + NODE_HEIGHT
    return placed, backs, canvas_width, canvas_height


def _label(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


def render_graph(
    graph: Graph,
    *,
    states: dict[str, str] | None = None,
    dom_id: str = "graph",
    title: str = "Workflow graph",
) -> Markup:
    """The graph as an inline SVG; ``states`` colours nodes (completed, running, failed...)."""
    states = states or {}
    placed, backs, width, height = layout(graph)
    marker = f"{escape(dom_id, quote=True)}-arrow"
    parts = [
        f'<svg class="graph" id="{escape(dom_id, quote=True)}" role="img" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" height="{height:.0f}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>',
        f'<defs><marker id="{marker}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'class="arrowhead"/></marker></defs>',
    ]
    for edge in graph.edges:
        parts.append(_edge(edge, placed, (edge.source, edge.target) in backs, marker))
    for node in placed.values():
        parts.append(_node(node, states.get(node.id, "")))
    parts.append("</svg>")
    return Markup("".join(parts))


def _edge(edge: GraphEdge, placed: dict[str, Placed], back: bool, marker: str) -> str:
    a, b = placed.get(edge.source), placed.get(edge.target)
    if a is None or b is None:
        return ""
    if back:
        # Out of the right side of the source, round the outside, into the target's side.
        x1, y1 = a.x + a.width, a.y + NODE_HEIGHT / 2
        x2, y2 = b.x + b.width, b.y + NODE_HEIGHT / 2
        bulge = max(x1, x2) + 50
        path = f"M{x1:.1f},{y1:.1f} C{bulge:.1f},{y1:.1f} {bulge:.1f},{y2:.1f} {x2:.1f},{y2:.1f}"
        label_x, label_y = bulge - 6, (y1 + y2) / 2
        css = "edge back"
    else:
        x1, y1 = a.x + a.width / 2, a.y + NODE_HEIGHT
        x2, y2 = b.x + b.width / 2, b.y
        if b.y <= a.y:  # same row (a cycle the search did not flag): go round below
            y2 = b.y + NODE_HEIGHT
        mid = (y1 + y2) / 2
        path = f"M{x1:.1f},{y1:.1f} C{x1:.1f},{mid:.1f} {x2:.1f},{mid:.1f} {x2:.1f},{y2:.1f}"
        # Near the target end: labels of edges leaving one router then sit apart.
        label_x, label_y = x1 + (x2 - x1) * 0.8, y1 + (y2 - y1) * 0.72
        css = "edge"
    out = f'<path class="{css}" d="{path}" marker-end="url(#{marker})"/>'
    if edge.label:
        out += (
            f'<text class="edge-label" x="{label_x:.1f}" y="{label_y:.1f}" '
            'text-anchor="middle" paint-order="stroke">'
            f"{escape(_label(edge.label))}</text>"
        )
    return out


def _node(node: Placed, state: str) -> str:
    classes = f"node kind-{escape(node.kind, quote=True)}"
    if state:
        classes += f" state-{escape(state, quote=True)}"
    if node.id in (START, END):
        cx, cy = node.x + node.width / 2, node.y + NODE_HEIGHT / 2
        return (
            f'<g class="{classes} terminal" data-node="{escape(node.id, quote=True)}">'
            f'<ellipse cx="{cx:.1f}" cy="{cy:.1f}" rx="{node.width / 2 - 14:.1f}" ry="16"/>'
            f'<text x="{cx:.1f}" y="{cy + 4:.1f}" text-anchor="middle">{escape(node.id)}</text></g>'
        )
    return (
        f'<g class="{classes}" data-node="{escape(node.id, quote=True)}">'
        f"<title>{escape(node.id)} ({escape(node.kind)})</title>"
        f'<rect x="{node.x:.1f}" y="{node.y:.1f}" width="{node.width:.1f}" '
        f'height="{NODE_HEIGHT}" rx="7"/>'
        f'<text x="{node.x + node.width / 2:.1f}" y="{node.y + 17:.1f}" text-anchor="middle">'
        f"{escape(_label(node.id))}</text>"
        f'<text class="kind" x="{node.x + node.width / 2:.1f}" y="{node.y + 31:.1f}" '
        f'text-anchor="middle">{escape(node.kind)}</text></g>'
    )


def node_order(graph: Graph) -> list[str]:
    """Work nodes in layer order (the progress bar's order)."""
    placed, _, _, _ = layout(graph)
    return [
        p.id
        for p in sorted(placed.values(), key=lambda p: (p.layer, p.x))
        if p.id not in (START, END)
    ]
