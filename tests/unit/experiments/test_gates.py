"""Gates: parsing, checking, the JUnit file."""

from __future__ import annotations

from xml.etree import ElementTree

import pytest

from configurable_agents.experiments.errors import GateError
from configurable_agents.experiments.gates import check_known, evaluate, junit_xml, parse_gates
from configurable_agents.experiments.statistics import Interval, VariantStats


def stats(name: str, exact: float, cost: float) -> VariantStats:
    return VariantStats(
        name=name,
        rows=2,
        cells=2,
        failed=0,
        scorers={"exact": Interval(exact, exact, exact)},
        pass_rate=exact,
        latency_mean_ms=10.0,
        latency_p95_ms=12.0,
        cost_total=cost * 2,
        cost_per_row=cost,
        judge_cost=0.0,
    )


def test_gates_parse_and_evaluate() -> None:
    gates = parse_gates(["exact>=0.8, cost_per_row<=0.01", "b:latency_p95_ms<20"])
    assert [(g.figure, g.op, g.threshold, g.variant) for g in gates] == [
        ("exact", ">=", 0.8, None),
        ("cost_per_row", "<=", 0.01, None),
        ("latency_p95_ms", "<", 20.0, "b"),
    ]
    results = evaluate(gates, [stats("a", 0.9, 0.02), stats("b", 0.5, 0.001)])
    assert [(r.variant, r.gate.figure, r.passed) for r in results] == [
        ("a", "exact", True),
        ("b", "exact", False),
        ("a", "cost_per_row", False),
        ("b", "cost_per_row", True),
        ("b", "latency_p95_ms", True),
    ]


@pytest.mark.parametrize("text", ["exact=>0.8", "exact>=", ">=0.5", "exact >= high"])
def test_malformed_gates_are_named(text: str) -> None:
    with pytest.raises(GateError, match="is not FIGURE OP NUMBER"):
        parse_gates([text])


def test_unknown_figures_and_variants() -> None:
    with pytest.raises(GateError, match="no figure 'exactt'"):
        check_known(parse_gates(["exactt>=1"]), ["exact"], ["a"])
    with pytest.raises(GateError, match="no variant 'z'"):
        check_known(parse_gates(["z:exact>=1"]), ["exact"], ["a"])


def test_junit_reads_back() -> None:
    results = evaluate(parse_gates(["exact>=0.8"]), [stats("a", 0.9, 0.0), stats("b", 0.5, 0.0)])
    root = ElementTree.fromstring(junit_xml("demo", results))
    suite = root.find("testsuite")
    assert suite is not None and suite.get("tests") == "2" and suite.get("failures") == "1"
    cases = suite.findall("testcase")
    assert [case.get("classname") for case in cases] == ["experiment.demo.a", "experiment.demo.b"]
    assert cases[0].find("failure") is None
    failure = cases[1].find("failure")
    assert failure is not None and "exact = 0.5" in failure.get("message", "")
