"""Quality gates: ``exact>=0.8,cost_per_row<=0.01`` checked against a report's figures,
and the JUnit XML a CI server reads.

A gate is ``[variant:]figure OP number`` with OP one of >=, <=, >, <, ==. The figure is a
scorer's name (its mean) or one of pass_rate, cost_per_row, cost_total, latency_mean_ms,
latency_p95_ms, judge_cost. Without a variant the gate applies to every variant.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from xml.etree import ElementTree

from configurable_agents.experiments.errors import GateError
from configurable_agents.experiments.statistics import FIGURES, VariantStats

_GATE = re.compile(
    r"^\s*(?:(?P<variant>[A-Za-z0-9_.-]+):)?(?P<figure>[A-Za-z0-9_.-]+)\s*"
    r"(?P<op>>=|<=|==|>|<)\s*(?P<number>-?[0-9]+(?:\.[0-9]+)?(?:[eE]-?[0-9]+)?)\s*$"
)
_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "==": operator.eq,
}


@dataclass(frozen=True)
class Gate:
    """One threshold."""

    text: str
    figure: str
    op: str
    threshold: float
    variant: str | None = None


@dataclass(frozen=True)
class GateResult:
    """A gate checked on one variant."""

    gate: Gate
    variant: str
    value: float | None
    passed: bool

    @property
    def message(self) -> str:
        shown = "no value" if self.value is None else f"{self.value:.6g}"
        verdict = "passed" if self.passed else "FAILED"
        return f"{self.variant}: {self.gate.figure} = {shown} (gate {self.gate.op} {self.gate.threshold:g}) {verdict}"

    def to_dict(self) -> dict[str, object]:
        return {
            "gate": self.gate.text,
            "variant": self.variant,
            "figure": self.gate.figure,
            "value": self.value,
            "passed": self.passed,
        }


def parse_gates(texts: Iterable[str]) -> list[Gate]:
    """Gates from ``a>=1,b<=2`` strings (several may be given); GateError names the bad part."""
    gates = []
    for text in texts:
        for part in text.split(","):
            if not part.strip():
                continue
            match = _GATE.match(part)
            if match is None:
                raise GateError(
                    f"gate {part.strip()!r} is not FIGURE OP NUMBER (e.g. exact>=0.8, cost_per_row<=0.01)"
                )
            gates.append(
                Gate(
                    part.strip(),
                    match["figure"],
                    match["op"],
                    float(match["number"]),
                    match["variant"],
                )
            )
    return gates


def check_known(gates: Sequence[Gate], scorers: Sequence[str], variants: Sequence[str]) -> None:
    """GateError when a gate names a figure or variant the experiment does not have."""
    known = [*scorers, *FIGURES]
    for gate in gates:
        if gate.figure not in known:
            raise GateError(
                f"gate {gate.text!r}: no figure {gate.figure!r}; figures: {', '.join(known)}"
            )
        if gate.variant is not None and gate.variant not in variants:
            raise GateError(
                f"gate {gate.text!r}: no variant {gate.variant!r}; variants: {', '.join(variants)}"
            )


def evaluate(gates: Sequence[Gate], stats: Sequence[VariantStats]) -> list[GateResult]:
    """Each gate on each variant it applies to; a figure without a value fails its gate."""
    results = []
    for gate in gates:
        for variant in stats:
            if gate.variant is not None and gate.variant != variant.name:
                continue
            value = variant.figure(gate.figure)
            passed = value is not None and _OPS[gate.op](value, gate.threshold)
            results.append(GateResult(gate, variant.name, value, passed))
    return results


def junit_xml(experiment: str, results: Sequence[GateResult]) -> str:
    """A JUnit XML document: one test case per gate and variant, failures for failed gates."""
    failures = sum(not result.passed for result in results)
    suites = ElementTree.Element("testsuites")
    suite = ElementTree.SubElement(
        suites,
        "testsuite",
        name=f"experiment {experiment}",
        tests=str(len(results)),
        failures=str(failures),
        errors="0",
    )
    for result in results:
        case = ElementTree.SubElement(
            suite,
            "testcase",
            classname=f"experiment.{experiment}.{result.variant}",
            name=result.gate.text,
        )
        if not result.passed:
            failure = ElementTree.SubElement(
                case, "failure", message=result.message, type="GateFailed"
            )
            failure.text = result.message
    return ElementTree.tostring(suites, encoding="unicode", xml_declaration=True)
