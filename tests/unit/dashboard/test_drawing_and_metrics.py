"""Server-made SVG (workflow graphs, charts) and the metrics behind the charts and CSV."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from configurable_agents.bootstrap import Database
from configurable_agents.release import EXAMPLES_DIR
from dashboard.charts import LEFT, TOP, line_chart, nice_ceiling, scatter_chart
from dashboard.graph_svg import back_edges, layout, node_order, render_graph
from dashboard.queries import metrics
from dashboard.workflow_lang import Graph, GraphEdge, GraphNode, check, graph_of
from tests.unit.dashboard.conftest import store_run, store_workflow


def example(name: str) -> Graph:
    return graph_of(check((EXAMPLES_DIR / name).read_text()))


def test_loops_are_drawn_as_back_edges_and_layers_go_down() -> None:
    graph = example("write_review_loop.yaml")
    assert back_edges(graph) == {("again", "write")}
    placed, _, _, _ = layout(graph)
    assert placed["START"].layer == 0
    assert (
        placed["write"].layer < placed["review"].layer < placed["again"].layer < placed["END"].layer
    )
    svg = render_graph(graph)
    assert svg.count('class="edge back"') == 1
    assert "(max 3)" in svg  # the loop's bound is on its back edge


def test_parallel_branches_share_a_layer() -> None:
    placed, _, _, _ = layout(example("pros_and_cons.yaml"))
    assert placed["pros"].layer == placed["cons"].layer
    assert placed["weigh"].layer == placed["pros"].layer + 1
    assert placed["pros"].x != placed["cons"].x


def test_router_routes_are_labelled() -> None:
    svg = str(render_graph(example("sentiment_router.yaml")))
    labels = re.findall(r'<text class="edge-label"[^>]*>([^<]+)</text>', svg)
    assert "default" in labels and len(labels) >= 3


def test_node_order_follows_the_layers() -> None:
    assert node_order(example("translate_summary.yaml")) == ["summarize", "translate"]


def test_node_states_colour_the_graph_and_labels_are_escaped() -> None:
    graph = Graph(
        nodes=[GraphNode("START", "start"), GraphNode('a"<x>', "llm"), GraphNode("END", "end")],
        edges=[GraphEdge("START", 'a"<x>', "<when>"), GraphEdge('a"<x>', "END")],
    )
    svg = str(render_graph(graph, states={'a"<x>': "failed"}, dom_id='g"1'))
    assert "<x>" not in svg and "<when>" not in svg
    assert "&lt;x&gt;" in svg and 'data-node="a&quot;&lt;x&gt;"' in svg
    assert "state-failed" in svg and 'id="g&quot;1"' in svg


def test_chart_axis_tops_are_round_numbers() -> None:
    assert [nice_ceiling(v) for v in (0, 0.003, 0.7, 1, 37, 420, 9000)] == [
        1.0,
        0.005,
        1.0,
        1.0,
        50.0,
        500.0,
        10000.0,
    ]


def test_a_chart_draws_one_line_per_series_and_escapes_names() -> None:
    svg = str(line_chart(["d1", "d2", "d3"], {"<b>": [1, 2, 3], "other": [0, 0, 1]}, title="Cost"))
    assert svg.count("<polyline") == 2
    assert "<b>" not in svg and "&lt;b&gt;" in svg
    assert "no data" in str(line_chart([], {}, title="Cost"))


def test_a_scatter_places_each_variant_by_cost_and_score_with_its_interval() -> None:
    svg = str(
        scatter_chart(
            [("<cheap>", 0.0, 1.0), ("dear", 0.02, 0.5)],
            title="exact against cost",
            x_label="cost per row",
            y_label="exact",
            errors={"dear": (0.25, 0.75)},
        )
    )
    assert "<cheap>" not in svg and "&lt;cheap&gt;" in svg
    cheap = re.search(r'data-point="&lt;cheap&gt;" cx="([\d.]+)" cy="([\d.]+)"', svg)
    dear = re.search(r'data-point="dear" cx="([\d.]+)" cy="([\d.]+)"', svg)
    assert cheap and dear
    # Cost 0 sits on the left axis, the top score on the top line; dearer is right and lower.
    assert float(cheap.group(1)) == LEFT and float(cheap.group(2)) == TOP
    assert float(dear.group(1)) > LEFT and float(dear.group(2)) > TOP
    assert svg.count("<circle") == 2 and svg.count('opacity="0.5"') == 1  # one interval
    assert "nothing to plot" in str(scatter_chart([], title="t", x_label="x", y_label="y"))


def add_steps(factory: sessionmaker[Session]) -> None:
    """Two workflows, two models, steps today and yesterday."""
    database = Database(engine=factory.kw["bind"], session_factory=factory)
    workflow_id = store_workflow(database)
    now = datetime.now(UTC)
    for days, model, cost in (
        (0, "gpt-4o-mini", 0.002),
        (0, "smollm2", 0.0),
        (1, "gpt-4o-mini", 0.004),
    ):
        moment = now - timedelta(days=days)
        store_run(
            database,
            workflow_id,
            state="completed",
            created_at=moment,
            steps=[
                {
                    "node": "summarize",
                    "model": model,
                    "prompt_tokens": 10,
                    "completion_tokens": 5,
                    "cost": cost,
                    "latency_ms": 100.0 + days * 100,
                    "started_at": moment,
                    "finished_at": moment,
                }
            ],
        )


def test_metrics_group_by_day_and_model_on_both_databases(
    session_factory: sessionmaker[Session],
) -> None:
    add_steps(session_factory)
    with session_factory() as session:
        by_model = metrics(session, range_="7d", group_by="model")
        by_workflow = metrics(session, range_="7d", group_by="workflow")
        hourly = metrics(session, range_="24h", group_by="model")
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    assert len(by_model.buckets) == 8 and by_model.buckets[-1] == today
    cost = by_model.series("cost")
    assert cost["gpt-4o-mini"][-1] == 0.002 and cost["gpt-4o-mini"][-2] == 0.004
    assert cost["smollm2"][-1] == 0.0
    assert by_workflow.totals()["tokens"] == 45
    assert by_workflow.series("latency_ms")["summarize"][-2] == 200.0
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:00", b) for b in hourly.buckets)
    assert sum(row.steps for row in hourly.rows) == 2


def test_metrics_page_charts_and_csv(client: TestClient, dashboard_database: Database) -> None:
    add_steps(dashboard_database.session_factory)
    page = client.get("/metrics?range=7d&group=model").text
    assert page.count('<svg class="chart"') == 3
    assert "gpt-4o-mini" in page and "$0.00600" in page

    download = client.get("/metrics.csv?range=7d&group=model")
    assert download.headers["content-type"].startswith("text/csv")
    assert 'filename="metrics-model-7d.csv"' in download.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(download.text)))
    assert {row["model"] for row in rows} == {"gpt-4o-mini", "smollm2"}
    assert round(sum(float(row["cost_usd"]) for row in rows), 6) == 0.006
    assert client.get("/metrics?range=1y").status_code == 400


def test_metrics_page_without_steps_says_so(client: TestClient) -> None:
    page = client.get("/metrics").text
    assert "No steps in this period" in page and '<svg class="chart"' not in page
