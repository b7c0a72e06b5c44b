"""Calculator expressions: arithmetic over numbers and numeric state fields, nothing else.

``price * quantity * 1.2``, ``round(total / count, 2)``: numbers, state field names
(dotted into objects), ``+ - * / // % **``, parentheses and abs/min/max/round. The text
is parsed with Python's parser (which runs nothing) and every node is checked against
that list; evaluation walks the checked tree itself, never ``eval``.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from configurable_agents.config.conditions import get_path
from configurable_agents.config.errors import ExpressionError

MAX_LENGTH = 500
# Results beyond this many bits are refused: 9 ** 9 ** 9 would take minutes.
_MAX_BITS = 4096

FUNCTIONS: dict[str, Callable[..., Any]] = {"abs": abs, "min": min, "max": max, "round": round}
_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type, Callable[[Any], Any]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _check(node: ast.AST, fields: list[str]) -> None:
    if isinstance(node, ast.Expression):
        _check(node.body, fields)
    elif isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise ExpressionError(f"only numbers are allowed, not {node.value!r}")
    elif isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        _check(node.left, fields)
        _check(node.right, fields)
    elif isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        _check(node.operand, fields)
    elif isinstance(node, ast.Name | ast.Attribute):
        dotted = _dotted(node)
        if dotted is None or any(part.startswith("_") for part in dotted.split(".")):
            raise ExpressionError("only state field names (e.g. price, order.total) are allowed")
        fields.append(dotted)
    elif isinstance(node, ast.Call):
        name = node.func.id if isinstance(node.func, ast.Name) else None
        if name not in FUNCTIONS or node.keywords or not node.args:
            raise ExpressionError("the only functions are abs, min, max and round")
        for argument in node.args:
            _check(argument, fields)
    else:
        raise ExpressionError(
            "only numbers, state fields, + - * / // % **, parentheses and "
            "abs/min/max/round are allowed"
        )


@lru_cache(maxsize=256)
def _parse(text: str) -> tuple[ast.Expression, tuple[str, ...]]:
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"the expression is longer than {MAX_LENGTH} characters")
    if not text.strip():
        raise ExpressionError("the expression is empty")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
        detail = getattr(error, "msg", None) or "not an arithmetic expression"
        raise ExpressionError(f"cannot parse the expression: {detail}") from None
    fields: list[str] = []
    _check(tree, fields)
    return tree, tuple(dict.fromkeys(fields))


def expression_fields(text: str) -> list[str]:
    """The dotted state fields an expression reads; raises ExpressionError if not allowed."""
    return list(_parse(text)[1])


def _number(value: Any, what: str) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ExpressionError(f"'{what}' is {type(value).__name__}, not a number")
    return value


def _bounded(value: Any) -> int | float:
    if not isinstance(value, int | float):
        raise ExpressionError("the result is not a real number")
    if isinstance(value, int) and value.bit_length() > _MAX_BITS:
        raise ExpressionError("the result is too large")
    if isinstance(value, float) and not math.isfinite(value):
        raise ExpressionError("the result is not a finite number")
    return value


def _power(base: int | float, exponent: int | float) -> int | float:
    if abs(base) > 1 and abs(exponent) * math.log2(abs(base)) > _MAX_BITS:
        raise ExpressionError("the result is too large")
    return base**exponent


def _walk(node: ast.AST, state: Mapping[str, Any]) -> int | float:
    if isinstance(node, ast.Expression):
        return _walk(node.body, state)
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name | ast.Attribute):
        dotted = _dotted(node) or ""
        return _number(get_path(state, dotted), dotted)
    if isinstance(node, ast.UnaryOp):
        return _UNARY[type(node.op)](_walk(node.operand, state))
    if isinstance(node, ast.Call):
        arguments = [_walk(argument, state) for argument in node.args]
        return FUNCTIONS[node.func.id](*arguments)  # type: ignore[attr-defined]
    assert isinstance(node, ast.BinOp)
    left, right = _walk(node.left, state), _walk(node.right, state)
    if isinstance(node.op, ast.Pow):
        return _bounded(_power(left, right))
    return _bounded(_BINARY[type(node.op)](left, right))


def evaluate_expression(text: str, state: Mapping[str, Any]) -> int | float:
    """The value of an expression over the state; raises ExpressionError."""
    tree, _ = _parse(text)
    try:
        return _walk(tree, state)
    except ZeroDivisionError:
        raise ExpressionError("division by zero") from None
    except (OverflowError, TypeError) as error:
        raise ExpressionError(f"cannot compute the expression: {error}") from None
