"""KPI formulas: arithmetic over window sums of base metrics, parsed without ``eval``.

``orders / sessions`` over 7 days means sum(orders) / sum(sessions) over the 7 days, i.e. a ratio
of sums (the right way to average a rate), never a mean of daily ratios.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal, DivisionByZero, InvalidOperation
from functools import lru_cache
from typing import Any

Series = dict[str, dict[date, Decimal]]
_MAX_DEPTH = 50
_MAX_TOKENS = 200
_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d+)?)|([a-z][a-z0-9_]*)|([-+*/()]))")


@dataclass(frozen=True)
class Node:
    op: str  # "num", "var", "+", "-", "*", "/", "neg"
    value: str = ""
    left: Node | None = None
    right: Node | None = None


class FormulaError(ValueError):
    """A formula that cannot be parsed; ``problem`` says what is wrong where (no formula text),
    ``position`` is the 1-based character it was found at (``len(text) + 1`` at the end)."""

    def __init__(self, text: str, problem: str, position: int) -> None:
        self.text, self.problem, self.position = text, problem, position
        super().__init__(f"formula {text!r}: {problem}")


def _tokens(text: str) -> list[tuple[str, int]]:
    """``(token, 1-based position)`` pairs; anything that is no number, name or operator is an error."""
    pos, out = 0, []
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            start = len(text) - len(text[pos:].lstrip())
            if start >= len(text):
                break  # trailing whitespace
            char = text[start]
            raise FormulaError(text, f"unexpected character {char!r} at position {start + 1}{_hint(char)}", start + 1)
        group = next(i for i, g in enumerate(m.groups()) if g is not None)
        out.append((m.group(group + 1), m.start(group + 1) + 1))
        pos = m.end()
    if len(out) > _MAX_TOKENS:  # the tree is walked recursively: keep it far from the recursion limit
        raise FormulaError(text, f"has more than {_MAX_TOKENS} tokens", out[_MAX_TOKENS][1])
    return out


_HINTS = {
    **dict.fromkeys("÷∕:", " (write division as '/')"),
    **dict.fromkeys("×·⋅", " (write multiplication as '*')"),
    "%": " (percent KPIs are fractions: write orders / sessions with unit: percent, no '%' and no '* 100')",
    ",": " (write numbers with a '.' decimal point and no thousands separator)",
    **dict.fromkeys("[]{}", " (group with '(' and ')')"),
}


def _hint(char: str) -> str:
    """How to write what the character meant, when that is clear."""
    if char.isupper():
        return " (metric names are lower case, like net_sales)"
    return _HINTS.get(char, "")


def _describe(tok: str) -> str:
    return f"number {tok!r}" if tok[0].isdigit() else f"metric {tok!r}" if tok[0].isalpha() else repr(tok)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text, self.tokens, self.i, self.depth = text, _tokens(text), 0, 0

    def peek(self) -> str | None:
        return self.tokens[self.i][0] if self.i < len(self.tokens) else None

    def error(self, problem: str) -> FormulaError:
        """An error at the current token (or at the end)."""
        if self.i < len(self.tokens):
            tok, pos = self.tokens[self.i]
            if self.i and re.fullmatch(r"e\d+", tok) and self.tokens[self.i - 1][0][0].isdigit() and (
                    pos == self.tokens[self.i - 1][1] + len(self.tokens[self.i - 1][0])):
                problem = " (write the number in full, like 1000 for 1e3: formulas take no exponents)"
            return FormulaError(self.text, f"unexpected {_describe(tok)} at position {pos}{problem}", pos)
        end = len(self.text.rstrip()) + 1
        if not self.tokens:
            return FormulaError(self.text, "is empty", end)
        return FormulaError(self.text, f"ends too early after {self.tokens[-1][0]!r}{problem}", end)

    def take(self) -> str:
        tok = self.peek()
        if tok is None:
            raise self.error("")
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
            at = self.tokens[self.i][1]
            op = self.take()
            node = Node(op, left=node, right=self.factor())
            if op == "/" and _always_zero(node.right):
                raise FormulaError(self.text, f"divides by zero at position {at}: its divisor "
                                              f"{render(node.right)!r} is always 0", at)
        return node

    def factor(self) -> Node:
        tok = self.peek()
        if tok is None or tok in ("+", "*", "/", ")"):
            raise self.error(" (expected a metric, a number, '-' or '(')")
        self.i += 1
        self.depth += 1
        if self.depth > _MAX_DEPTH:  # a formula, not a stress test: never a RecursionError
            pos = self.tokens[self.i - 1][1]
            raise FormulaError(self.text, f"nests deeper than {_MAX_DEPTH} at position {pos}", pos)
        try:
            return self._factor(tok)
        finally:
            self.depth -= 1

    def _factor(self, tok: str) -> Node:
        if tok == "(":
            opened = self.tokens[self.i - 1][1]
            node = self.expr()
            if self.peek() != ")":
                raise self.error(f" (expected ')' to close '(' at position {opened})")
            self.i += 1
            return node
        if tok == "-":
            return Node("neg", left=self.factor())
        if tok[0].isdigit():
            return Node("num", tok)
        return Node("var", tok)


@lru_cache(maxsize=512)
def parse_formula(text: str) -> Formula:
    """Parse ``text``; raise ``FormulaError`` (a ``ValueError``) saying what is wrong where."""
    parser = _Parser(text)
    node = parser.expr()
    if parser.peek() is not None:
        raise parser.error(" (expected an operator + - * / or the end)")
    return Formula(text, node)


_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2}


def render(node: Node) -> str:
    """The formula as text with only the parentheses it needs: ``parse_formula(render(n)).root == n``."""
    if node.op in ("num", "var"):
        return node.value
    assert node.left is not None
    if node.op == "neg":
        inner = render(node.left)
        return f"-({inner})" if node.left.op in _PRECEDENCE else f"-{inner}"
    assert node.right is not None
    prec = _PRECEDENCE[node.op]
    left, right = render(node.left), render(node.right)
    if _PRECEDENCE.get(node.left.op, 3) < prec:
        left = f"({left})"
    if _PRECEDENCE.get(node.right.op, 3) <= prec:  # left-associative: a - (b - c) keeps its parentheses
        right = f"({right})"
    return f"{left} {node.op} {right}"


def _always_zero(node: Node | None) -> bool:
    """A divisor without metrics that evaluates to 0 (``0``, ``(2 - 2)``): the KPI could never have a value."""
    if not _constant(node):
        return False
    try:
        return _eval(node, {}) == 0  # type: ignore[arg-type]
    except (ArithmeticError, ValueError):
        return False


def _vars(node: Node | None) -> list[str]:
    if node is None:
        return []
    if node.op == "var":
        return [node.value]
    return _vars(node.left) + _vars(node.right)


def _constant(node: Node | None) -> bool:
    """A sub-formula without metrics (``100``, ``(1 + 2)``)."""
    return node is not None and not _vars(node)


@dataclass(frozen=True)
class Ratio:
    """The formula's rate, once constant scaling is set aside: value = ``scale`` x
    ``left`` / ``right`` + ``offset`` (``refunded_orders / orders * 100``, ``1 - cancelled_orders /
    orders_placed``)."""

    node: Node
    scale: Decimal = Decimal(1)
    offset: Decimal = Decimal(0)

    @property
    def left(self) -> Node:
        assert self.node.left is not None
        return self.node.left

    @property
    def right(self) -> Node:
        assert self.node.right is not None
        return self.node.right

    def rate(self, value: float) -> float:
        """The rate behind a value of the formula."""
        return (value - float(self.offset)) / float(self.scale)


def _factor_out(node: Node) -> tuple[Decimal, Node]:
    """``100 * refunded_orders`` -> (100, refunded_orders): constant factors of a product."""
    if node.op == "*" and node.left is not None and node.right is not None:
        if _constant(node.left) != _constant(node.right):
            const, other = (node.left, node.right) if _constant(node.left) else (node.right, node.left)
            factor, inner = _factor_out(other)
            return factor * _eval(const, {}), inner
    return Decimal(1), node


def _ratio(node: Node) -> Ratio | None:
    """The division under constant factors, divisors, signs and offsets, if any: ``x / y * 100``
    judges the same rate as ``x / y``, with its denominator; ``net_sales / 7`` (a daily mean) is
    no rate of anything (dividing by a constant is scaling). None when the formula is not one."""
    left, right = node.left, node.right
    try:
        if node.op == "neg" and left is not None:
            inner = _ratio(left)
            return inner and replace(inner, scale=-inner.scale, offset=-inner.offset)
        if node.op in ("+", "-", "*", "/") and left is not None and right is not None:
            if _constant(right) and not _constant(left):
                inner, c = _ratio(left), _eval(right, {})
                if inner is None:
                    return None
                s, o = inner.scale, inner.offset
                new = {"+": (s, o + c), "-": (s, o - c), "*": (s * c, o * c), "/": (s / c, o / c)}[node.op]
            elif _constant(left) and not _constant(right) and node.op != "/":
                inner, c = _ratio(right), _eval(left, {})
                if inner is None:
                    return None
                s, o = inner.scale, inner.offset
                new = {"+": (s, c + o), "-": (-s, c - o), "*": (s * c, o * c)}[node.op]
            elif node.op == "/" and not _constant(right):
                (cn, num), (cd, den) = _factor_out(left), _factor_out(right)
                return Ratio(Node("/", left=num, right=den), cn / cd) if cn and cd else None
            else:
                return None
            return replace(inner, scale=new[0], offset=new[1]) if new[0] else None
    except (DivisionByZero, InvalidOperation, ZeroDivisionError):
        return None
    return None


@dataclass(frozen=True)
class Formula:
    text: str
    root: Node

    @property
    def metrics(self) -> list[str]:
        """Base metrics the formula reads (deduplicated, in order)."""
        return list(dict.fromkeys(_vars(self.root)))

    @property
    def ratio(self) -> Ratio | None:
        """The rate this formula judges (see ``_ratio``); None for sums and differences."""
        return _ratio(self.root)

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
