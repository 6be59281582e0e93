"""A KPI's value over trailing windows of a series, memoized per window end.

Everything the evaluator judges (today, the day before, weekly baselines, calibration) reads a
window through ``KPIWindows.at(end)``, so each window is summed once however many rules look at it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from chimera.config.models import KPI
from chimera.kpi.formula import Node, Series, evaluate_tree, parse_formula, parse_window, window_days, window_sums

REPEAT = "repeat_purchase_rate"
REPEAT_PRESENCE_METRIC = "orders"
Customers = dict[date, dict[str, int]]


@dataclass(frozen=True)
class WindowValue:
    """The formula over one window: a value, or the reason there is none."""

    end: date
    value: Decimal | None
    denominator: Decimal | None
    missing: dict[str, list[date]] = field(default_factory=dict)
    reason: str | None = None  # None | "missing" | "zero" | "denominator"
    integral: bool = False
    """Every summed metric is a whole number (counts, so a rate of them is binomial)."""

    @property
    def ok(self) -> bool:
        return self.reason is None


def _names(node: Node | None) -> list[str]:
    if node is None:
        return []
    return [node.value] if node.op == "var" else _names(node.left) + _names(node.right)


def is_repeat(spec: KPI) -> bool:
    return spec.formula.strip() == REPEAT


def needed_metrics(spec: KPI) -> list[str]:
    """Base metrics a KPI reads (repeat purchase rate reads customers, and ``orders`` for presence)."""
    return [REPEAT_PRESENCE_METRIC] if is_repeat(spec) else parse_formula(spec.formula).metrics


class KPIWindows:
    """Window values of one KPI over one series (and customers, for repeat purchase rate)."""

    def __init__(self, spec: KPI, series: Series, customers: Customers | None = None) -> None:
        self.spec = spec
        self.days = parse_window(spec.window)
        self.repeat = is_repeat(spec)
        self.formula = None if self.repeat else parse_formula(spec.formula)
        self.ratio = None if self.formula is None else self.formula.ratio
        """The rate the formula judges, through constant factors (``x / y * 100``): its denominator
        is the one ``min_denominator`` and the anomaly score read."""
        self.metrics = needed_metrics(spec)
        self._counts = self.counts_only
        self.series = series
        self.customers = customers
        self._cache: dict[date, WindowValue] = {}
        self._slide: tuple[set[date], Counter[str], list[int]] | None = None
        self.memo: dict[tuple[object, ...], object] = {}
        """Per-end results of rules that read many windows (anomaly scores), shared across days."""

    @property
    def is_ratio(self) -> bool:
        return self.repeat or self.ratio is not None

    @property
    def counts_only(self) -> bool:
        """Every metric summed is a count (``COUNT_METRICS``): only then can a rate of them be
        binomial. Whole money values are no counts: a yen store's discounts over gross sales (or a
        week of whole-dollar refunds) scored as a rate of ~a million 'trials' read as 30-97 sd."""
        # imported here: chimera.ingest's package imports the config loader, which imports this module
        from chimera.ingest.models import COUNT_METRICS

        return all(m in COUNT_METRICS for m in self.metrics)

    @property
    def denominator_label(self) -> str:
        if self.repeat:
            return "customers"
        if self.ratio is None:
            return ""
        return " + ".join(dict.fromkeys(_names(self.ratio.right)))

    @property
    def denominator_unit(self) -> str:
        """How the denominator reads in a note: whole counts, or money (``gross_sales 480.50``)."""
        from chimera.ingest.models import COUNT_METRICS  # see counts_only

        if self.repeat or self.ratio is None:
            return "count"
        return "count" if all(m in COUNT_METRICS for m in _names(self.ratio.right)) else "currency"

    def at(self, end: date) -> WindowValue:
        hit = self._cache.get(end)
        if hit is None:
            hit = self._cache[end] = self._compute(end)
        return hit

    def _compute(self, end: date) -> WindowValue:
        days = window_days(end, self.days)
        sums, missing_days = window_sums(self.series, self.metrics, days)
        if missing_days:
            missing = {m: [d for d in days if d not in self.series.get(m, {})] for m in self.metrics}
            return WindowValue(end, None, None, {m: v for m, v in missing.items() if v}, "missing")
        integral = self._counts and all(s == s.to_integral_value() for s in sums.values())
        if self.repeat:
            value, denominator = self._repeat(days)
            integral = True
        else:
            assert self.formula is not None
            value, denominator = self.formula.evaluate(sums), self._denominator(sums)
        if denominator is not None and denominator < self.spec.min_denominator:
            return WindowValue(end, value, denominator, reason="denominator", integral=integral)
        if value is None:
            return WindowValue(end, None, denominator, reason="zero", integral=integral)
        return WindowValue(end, value, denominator, integral=integral)

    def _denominator(self, sums: dict[str, Decimal]) -> Decimal | None:
        if self.ratio is None:
            return None
        try:
            return evaluate_tree(self.ratio.right, sums)
        except (ArithmeticError, KeyError):
            return None

    def first_day(self, metric: str) -> date | None:
        """The oldest day ``metric`` has data for in the series."""
        key = ("first", metric)
        if key not in self.memo:
            self.memo[key] = min(self.series.get(metric, {}), default=None)
        return self.memo[key]  # type: ignore[return-value]

    def before_data(self, missing: dict[str, list[date]]) -> bool:
        """Every missing day precedes its metric's first day: the data is younger than the window
        (a new store, a source connected lately), not a gap an operator should go and re-ingest."""
        return all((first := self.first_day(m)) is not None and days[-1] < first for m, days in missing.items())

    def _repeat(self, days: list[date]) -> tuple[Decimal | None, Decimal]:
        """Customers with >= 2 orders over the window / customers with >= 1.

        The per-customer counts slide from the previous window (days in, days out) instead of being
        rebuilt, so a 90-day window costs only the days that changed.
        """
        wanted = set(days)
        if self._slide is None or len(self._slide[0] & wanted) < len(wanted) // 2:
            self._slide = (set(), Counter(), [0])
        have, counts, repeaters = self._slide
        for day in sorted(have - wanted):
            self._add_day(day, -1)
        for day in sorted(wanted - have):
            self._add_day(day, +1)
        buyers = len(counts)
        if buyers == 0:
            return None, Decimal(0)
        return Decimal(repeaters[0]) / Decimal(buyers), Decimal(buyers)

    def _add_day(self, day: date, sign: int) -> None:
        assert self._slide is not None
        have, counts, repeaters = self._slide
        for customer, orders in (self.customers or {}).get(day, {}).items():
            if orders <= 0:
                continue
            before = counts[customer]
            after = before + sign * orders
            repeaters[0] += (after >= 2) - (before >= 2)
            if after:
                counts[customer] = after
            else:
                del counts[customer]
        (have.add if sign > 0 else have.discard)(day)

    def data_through(self, as_of: date) -> date | None:
        """The newest day every metric has data for, at most ``max_staleness_days`` before ``as_of``
        (the end ``judge`` evaluates on); None when some metric is stale or absent."""
        newest = self.newest(as_of, self.spec.max_staleness_days + 1)
        ends = [d for d in newest.values() if d is not None]
        return min(ends) if ends and len(ends) == len(newest) else None

    def newest(self, as_of: date, horizon: int) -> dict[str, date | None]:
        """Per metric, the newest day with data in ``(as_of - horizon, as_of]``."""
        out: dict[str, date | None] = {}
        for metric in self.metrics:
            days = self.series.get(metric, {})
            out[metric] = next(
                (as_of - timedelta(days=i) for i in range(horizon) if as_of - timedelta(days=i) in days), None
            )
        return out


def change_pct(spec: KPI, series: Series, as_of: date, days: int, customers: Customers | None = None
               ) -> Decimal | None:
    """Percent change of the formula over the ``days``-day window ending at the KPI's data-through
    day (``KPIWindows.data_through``: analytics a day behind as-of is judged to its newest day, as
    the KPI is) vs the window before.

    None when a metric is stale, either window misses a day, is below ``min_denominator``, or the
    earlier value is zero. Trigger conditions ``change_pct_below: -15, over: 7d`` read this.
    """
    wide = spec.model_copy(update={"window": f"{days}d"})
    windows = KPIWindows(wide, series, customers)
    end = windows.data_through(as_of)
    if end is None:
        return None
    now, before = windows.at(end), windows.at(end - timedelta(days=days))
    if not (now.ok and before.ok) or not before.value:
        return None
    assert now.value is not None
    return (now.value - before.value) / abs(before.value) * 100
