"""KPI formulas: arithmetic over window sums of base metrics, parsed without ``eval``.

``orders / sessions`` over 7 days means sum(orders) / sum(sessions) over the 7 days, i.e. a ratio
of sums (the right way to average a rate), never a mean of daily ratios.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, DivisionByZero, InvalidOperation
from functools import lru_cache
from typing import Any

Series = dict[str, dict[date, Decimal]]
_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d+)?)|([a-z][a-z0-9_]*)|([-+*/()]))")


@dataclass(frozen=True)
class Node:
    op: str  # "num", "var", "+", "-", "*", "/", "neg"
    value: str = ""
    left: Node | None = None
    right: Node | None = None


def _tokens(text: str) -> list[str]:
    pos, out = 0, []
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ValueError(f"cannot read formula {text!r} at position {pos}")
        out.append(next(g for g in m.groups() if g is not None))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, tokens: list[str]) -> None:
        self.tokens, self.i = tokens, 0

    def peek(self) -> str | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> str:
        tok = self.peek()
        if tok is None:
            raise ValueError("formula ends too early")
        self.i += 1
        return tok

    def expr(self) -> Node:
        node = self.term()
        while self.peek() in ("+", "-"):
            op = self.take()
            node = Node(op, left=node, right=self.term())
        return node

    def term(self) -> Node:
        node = self.factor()
        while self.peek() in ("*", "/"):
            op = self.take()
            node = Node(op, left=node, right=self.factor())
        return node

    def factor(self) -> Node:
        tok = self.take()
        if tok == "(":
            node = self.expr()
            if self.take() != ")":
                raise ValueError("missing ')'")
            return node
        if tok == "-":
            return Node("neg", left=self.factor())
        if tok[0].isdigit():
            return Node("num", tok)
        if tok[0].isalpha():
            return Node("var", tok)
        raise ValueError(f"unexpected {tok!r}")


@lru_cache(maxsize=512)
def parse_formula(text: str) -> Formula:
    parser = _Parser(_tokens(text))
    node = parser.expr()
    if parser.peek() is not None:
        raise ValueError(f"unexpected {parser.peek()!r} in formula {text!r}")
    return Formula(text, node)


def _vars(node: Node | None) -> list[str]:
    if node is None:
        return []
    if node.op == "var":
        return [node.value]
    return _vars(node.left) + _vars(node.right)


@dataclass(frozen=True)
class Formula:
    text: str
    root: Node

    @property
    def metrics(self) -> list[str]:
        """Base metrics the formula reads (deduplicated, in order)."""
        return list(dict.fromkeys(_vars(self.root)))

    @property
    def numerator(self) -> list[str]:
        """Metrics of the top-level numerator (all metrics when the formula is not a ratio)."""
        return list(dict.fromkeys(_vars(self.root.left))) if self.root.op == "/" else self.metrics

    @property
    def denominator(self) -> list[str]:
        """Metrics of the top-level denominator (empty when the formula is not a ratio)."""
        return list(dict.fromkeys(_vars(self.root.right))) if self.root.op == "/" else []

    def evaluate(self, values: dict[str, Decimal]) -> Decimal | None:
        """The formula's value, or None when a denominator is zero or a metric is absent."""
        try:
            return _eval(self.root, values)
        except (KeyError, DivisionByZero, InvalidOperation, ZeroDivisionError):
            return None

    def denominator_value(self, values: dict[str, Decimal]) -> Decimal | None:
        """Value of the top-level denominator (None when the formula is not a ratio)."""
        if self.root.op != "/":
            return None
        try:
            return _eval(self.root.right, values)  # type: ignore[arg-type]
        except (KeyError, DivisionByZero, InvalidOperation, ZeroDivisionError):
            return None


def _decimal_divide(a: Decimal, b: Decimal) -> Decimal:
    if b == 0:
        raise ZeroDivisionError
    return a / b


def evaluate_tree(node: Node, values: dict[str, Any], number: Callable[[str], Any] = Decimal,
                  divide: Callable[[Any, Any], Any] = _decimal_divide) -> Any:
    """Evaluate a formula tree on any arithmetic values: Decimals (exact, the default) or numpy
    arrays (one element per bootstrap draw); ``number`` builds constants, ``divide`` decides x / 0."""
    if node.op == "num":
        return number(node.value)
    if node.op == "var":
        return values[node.value]
    if node.op == "neg":
        return -evaluate_tree(node.left, values, number, divide)  # type: ignore[arg-type]
    a = evaluate_tree(node.left, values, number, divide)  # type: ignore[arg-type]
    b = evaluate_tree(node.right, values, number, divide)  # type: ignore[arg-type]
    if node.op == "+":
        return a + b
    if node.op == "-":
        return a - b
    if node.op == "*":
        return a * b
    return divide(a, b)


def _eval(node: Node, values: dict[str, Decimal]) -> Decimal:
    return evaluate_tree(node, values)


def window_days(end: date, days: int) -> list[date]:
    """The ``days`` calendar days ending at ``end`` (inclusive), oldest first."""
    return [end - timedelta(days=days - 1 - i) for i in range(days)]


def window_sums(series: Series, metrics: list[str], days: list[date]) -> tuple[dict[str, Decimal], list[date]]:
    """Sum each metric over ``days``; also return the days on which any metric is missing."""
    missing = sorted({d for m in metrics for d in days if d not in series.get(m, {})})
    sums = {m: sum((series.get(m, {}).get(d, Decimal(0)) for d in days), Decimal(0)) for m in metrics}
    return sums, missing


def parse_window(window: str) -> int:
    """``"7d"`` -> 7."""
    return int(window.rstrip("d"))
