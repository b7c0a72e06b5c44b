"""Small charts drawn on the server as SVG: one line per series over time buckets.

No chart library: a chart here is a few dozen SVG elements a person reads at a glance,
with a <title> on every point for the exact number. Labels are escaped.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from markupsafe import Markup

COLOURS = ("#3b5bdb", "#e8590c", "#2b8a3e", "#ae3ec9", "#1098ad", "#f08c00", "#c92a2a", "#5c940d")
WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 14, 34
MAX_SERIES = 8


def nice_ceiling(value: float) -> float:
    """A round number at or above value (1, 2, 2.5, 5 x 10^n) for the top of the axis."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1) if value >= 1 else 1.0
    while magnitude > value:
        magnitude /= 10
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def line_chart(
    buckets: list[str],
    series: dict[str, list[float]],
    *,
    title: str,
    fmt: Callable[[float], str] = lambda v: f"{v:,.0f}",
) -> Markup:
    """Lines over ``buckets`` (x labels); ``series`` maps a name to one value per bucket."""
    if not buckets or not series:
        return Markup(f'<p class="muted chart-empty">{escape(title)}: no data in this period.</p>')
    names = sorted(series, key=lambda name: -sum(series[name]))[:MAX_SERIES]
    top = nice_ceiling(max((max(series[n]) for n in names), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(buckets) - 1, 1)

    def x(index: int) -> float:
        return LEFT + (index * step if len(buckets) > 1 else plot_w / 2)

    def y(value: float) -> float:
        return TOP + plot_h - (value / top) * plot_h

    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    ]
    for tick in range(5):
        value = top * tick / 4
        ty = y(value)
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{ty:.1f}" y2="{ty:.1f}"/>'
            f'<text class="axis" x="{LEFT - 6}" y="{ty + 4:.1f}" text-anchor="end">'
            f"{escape(fmt(value))}</text>"
        )
    shown = {0, len(buckets) - 1, (len(buckets) - 1) // 2}
    for index in sorted(shown):
        parts.append(
            f'<text class="axis" x="{x(index):.1f}" y="{HEIGHT - 10}" text-anchor="middle">'
            f"{escape(buckets[index])}</text>"
        )
    for number, name in enumerate(names):
        colour = COLOURS[number % len(COLOURS)]
        values = series[name]
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        parts.append(
            f'<polyline class="series" fill="none" stroke="{colour}" stroke-width="2" '
            f'points="{points}"/>'
        )
        for i, v in enumerate(values):
            parts.append(
                f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" fill="{colour}">'
                f"<title>{escape(name)} · {escape(buckets[i])}: {escape(fmt(v))}</title></circle>"
            )
    parts.append("</svg>")
    legend = "".join(
        f'<span class="legend-item"><span class="swatch" style="background:'
        f'{COLOURS[n % len(COLOURS)]}"></span>{escape(name)}</span>'
        for n, name in enumerate(names)
    )
    more = len(series) - len(names)
    if more > 0:
        legend += f'<span class="muted small">and {more} more (in the CSV)</span>'
    return Markup(
        f'<figure class="chart-box">{"".join(parts)}<figcaption>{legend}</figcaption></figure>'
    )


def scatter_chart(
    points: list[tuple[str, float, float]],
    *,
    title: str,
    x_label: str,
    y_label: str,
    x_fmt: Callable[[float], str] = lambda v: f"{v:,.4g}",
    y_fmt: Callable[[float], str] = lambda v: f"{v:,.3g}",
    errors: dict[str, tuple[float, float]] | None = None,
) -> Markup:
    """One labelled point per (name, x, y), with an optional vertical interval per name
    (``errors[name] = (low, high)``): here a variant's score against its cost."""
    if not points:
        return Markup(f'<p class="muted chart-empty">{escape(title)}: nothing to plot yet.</p>')
    errors = errors or {}
    x_top = nice_ceiling(max(x for _, x, _ in points))
    highs = [y for _, _, y in points] + [high for _, high in errors.values()]
    lows = [y for _, _, y in points] + [low for low, _ in errors.values()]
    y_top = nice_ceiling(max(highs))
    y_bottom = min(0.0, min(lows))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(value: float) -> float:
        return LEFT + (value / x_top) * plot_w

    def py(value: float) -> float:
        return TOP + plot_h - ((value - y_bottom) / (y_top - y_bottom or 1.0)) * plot_h

    parts = [
        f'<svg class="chart scatter" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    ]
    for tick in range(5):
        value = y_bottom + (y_top - y_bottom) * tick / 4
        ty = py(value)
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{ty:.1f}" y2="{ty:.1f}"/>'
            f'<text class="axis" x="{LEFT - 6}" y="{ty + 4:.1f}" text-anchor="end">'
            f"{escape(y_fmt(value))}</text>"
        )
    for tick in (0, 2, 4):
        value = x_top * tick / 4
        parts.append(
            f'<text class="axis" x="{px(value):.1f}" y="{HEIGHT - 18}" text-anchor="middle">'
            f"{escape(x_fmt(value))}</text>"
        )
    parts.append(
        f'<text class="axis" x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 4}" '
        f'text-anchor="middle">{escape(x_label)}</text>'
        f'<text class="axis" x="12" y="{TOP + plot_h / 2:.1f}" text-anchor="middle" '
        f'transform="rotate(-90 12 {TOP + plot_h / 2:.1f})">{escape(y_label)}</text>'
    )
    for number, (name, x, y) in enumerate(points):
        colour = COLOURS[number % len(COLOURS)]
        if name in errors:
            low, high = errors[name]
            parts.append(
                f'<line x1="{px(x):.1f}" x2="{px(x):.1f}" y1="{py(low):.1f}" y2="{py(high):.1f}" '
                f'stroke="{colour}" stroke-width="2" opacity="0.5"/>'
            )
        parts.append(
            f'<circle data-point="{escape(name)}" cx="{px(x):.1f}" cy="{py(y):.1f}" r="5" '
            f'fill="{colour}"><title>{escape(name)}: {escape(y_label)} {escape(y_fmt(y))}, '
            f"{escape(x_label)} {escape(x_fmt(x))}</title></circle>"
            f'<text class="axis" x="{px(x) + 8:.1f}" y="{py(y) - 6:.1f}">{escape(name)}</text>'
        )
    parts.append("</svg>")
    legend = "".join(
        f'<span class="legend-item"><span class="swatch" style="background:'
        f'{COLOURS[n % len(COLOURS)]}"></span>{escape(name)}</span>'
        for n, (name, _, _) in enumerate(points)
    )
    return Markup(
        f'<figure class="chart-box">{"".join(parts)}<figcaption>{legend}</figcaption></figure>'
    )
