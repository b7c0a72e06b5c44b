"""The chat's look: the dashboard's colours and system fonts, nothing fetched from the network.

The colours are the dashboard's (dashboard/static/app.css): accent #3b5bdb on #f7f8fa,
text #1d2330, lines #e2e5eb. Fonts are the system stacks the dashboard uses; passing
plain names keeps Gradio from loading any web font.
"""

from __future__ import annotations

from pathlib import Path

import gradio as gr

STATIC_DIR = Path(__file__).resolve().parent / "static"
CSS_PATH = STATIC_DIR / "chat.css"

SANS = ["system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif"]
MONO = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "Liberation Mono", "monospace"]

# The dashboard's accent (Open Color indigo) as a Gradio hue.
ACCENT = gr.themes.Color(
    c50="#edf2ff",
    c100="#dbe4ff",
    c200="#bac8ff",
    c300="#91a7ff",
    c400="#748ffc",
    c500="#5c7cfa",
    c600="#3b5bdb",
    c700="#364fc7",
    c800="#2f44ad",
    c900="#283b8f",
    c950="#1e2c6b",
    name="dashboard-accent",
)
# Greys of the dashboard (Open Color gray, with its own text and line colours).
NEUTRAL = gr.themes.Color(
    c50="#f7f8fa",
    c100="#f1f3f5",
    c200="#e2e5eb",
    c300="#c4cad6",
    c400="#adb5bd",
    c500="#868e96",
    c600="#5f6778",
    c700="#495057",
    c800="#343a40",
    c900="#1d2330",
    c950="#14181f",
    name="dashboard-neutral",
)


def dashboard_theme() -> gr.themes.Base:
    """A Gradio theme in the dashboard's colours with system fonts only."""
    return gr.themes.Base(
        primary_hue=ACCENT,
        secondary_hue=ACCENT,
        neutral_hue=NEUTRAL,
        radius_size=gr.themes.sizes.radius_md,
        font=SANS,
        font_mono=MONO,
    ).set(
        body_background_fill="#f7f8fa",
        body_text_color="#1d2330",
        block_background_fill="#ffffff",
        block_border_color="#e2e5eb",
        border_color_primary="#e2e5eb",
        button_primary_background_fill="#3b5bdb",
        button_primary_background_fill_hover="#364fc7",
        button_primary_text_color="#ffffff",
        button_secondary_background_fill="#ffffff",
        button_secondary_text_color="#3b5bdb",
        button_secondary_border_color="#3b5bdb",
        link_text_color="#3b5bdb",
        link_text_color_visited="#3b5bdb",
        color_accent_soft="#edf2ff",
    )
