"""What the generator knows it wrote: per-day base metrics with DATA.md's definitions, exact.

Tests ingest the generated files and compare against these numbers; they are computed from the
generator's own orders (never by re-reading the files), so a reader bug cannot hide behind them.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

from pydantic import BaseModel

from chimera.demo.catalog import customer
from chimera.demo.orders import Order

DayMetrics = dict[str, Decimal]

SHOPIFY_METRICS = (
    "orders_placed", "orders", "cancelled_orders", "units", "gross_sales", "discounts", "net_sales",
    "shipping", "taxes", "total_sales", "refunded_orders", "refunded_amount", "net_revenue",
)  # fmt: skip
STRIPE_METRICS = (
    "stripe_payments", "stripe_succeeded_payments", "stripe_failed_payments", "stripe_gross",
    "stripe_fees", "stripe_refunded",
)  # fmt: skip
ANALYTICS_METRICS = ("sessions", "users", "ga_transactions", "ga_revenue")
FIVERR_METRICS = (
    "fiverr_orders", "fiverr_completed", "fiverr_cancelled", "fiverr_earnings", "fiverr_delivered",
    "fiverr_delivered_on_time", "fiverr_inquiries", "fiverr_responded_24h",
)  # fmt: skip


def cents(value: int) -> Decimal:
    """Integer cents as an exact two-place Decimal."""
    return Decimal(value).scaleb(-2)


class MalformedRow(BaseModel):
    """A row corrupted on purpose; ingest must reject its whole order."""

    line_number: int
    """Physical line in the file (header = 1; a quoted multi-line Notes field spans lines)."""
    order_name: str
    column: str
    bad_value: str
    problem: str
    """negative_quantity | non_numeric_total | bad_date."""
    true_value: str


class EventTruth(BaseModel):
    """An injected event with the calendar dates it covers."""

    id: str
    start: date
    end: date
    detail: dict[str, str] = {}


class StoreTruth(BaseModel):
    """Expected base metrics per day (keys are the metric names in docs/contracts.md)."""

    shopify: dict[date, DayMetrics]
    """Store-local day -> metrics, every day from the first to the last well-formed order (a day
    without orders in between is zero)."""
    customers: dict[date, dict[str, int]]
    """Store-local day -> {email: orders that day}; cancelled and malformed orders excluded."""
    repeat_customers: int
    """Customers with >= 2 orders over the window (same exclusions)."""
    customers_total: int
    """Customers with >= 1 order over the window."""
    stripe: dict[date, DayMetrics]
    """UTC day of the charge's creation -> metrics (fees and refunds attributed to that day);
    zero-filled between the first and last charge like ``shopify``."""
    analytics: dict[date, DayMetrics]
    """The analytics rows written (absent days are absent here too)."""
    fiverr: dict[date, DayMetrics]
    """Order date -> metrics, zero-filled like ``shopify``: earnings = Amount of completed orders,
    delivered = rows with a Delivered On Time value, inquiries = rows with Response Hours,
    responded_24h = hours < 24 (no value is exactly 24)."""
    malformed: list[MalformedRow]
    events: list[EventTruth]

    @property
    def repeat_purchase_rate(self) -> Decimal:
        return Decimal(self.repeat_customers) / Decimal(self.customers_total or 1)

    def event(self, event_id: str) -> EventTruth | None:
        return next((e for e in self.events if e.id == event_id), None)


def fill_zero_days(days: dict[date, DayMetrics], metrics: tuple[str, ...]) -> dict[date, DayMetrics]:
    """Every day from the first to the last with data; a day without rows inside that range is zero.

    An orders-like export (Shopify, Stripe, Fiverr) covers its whole date range: no order that day
    means zero orders. (Analytics is different: a missing day there is missing data.)
    """
    if not days:
        return {}
    out: dict[date, DayMetrics] = {}
    day, last = min(days), max(days)
    while day <= last:
        out[day] = days.get(day) or dict.fromkeys(metrics, Decimal(0))
        day += timedelta(days=1)
    return out


def shopify_truth(orders: list[Order], start: date) -> tuple[dict[date, DayMetrics], dict[date, dict[str, int]]]:
    """Per-day Shopify base metrics and customer counts from the well-formed orders."""
    acc: dict[date, dict[str, int]] = {}
    cust: dict[date, dict[str, int]] = {}
    for o in orders:
        if o.malformed:
            continue
        day = start + timedelta(days=o.day)
        a = acc.setdefault(day, dict.fromkeys(SHOPIFY_METRICS, 0))
        a["orders_placed"] += 1
        if o.cancelled_at is not None:
            a["cancelled_orders"] += 1
            continue
        a["orders"] += 1
        a["units"] += o.units
        a["gross_sales"] += o.gross
        a["discounts"] += o.discount
        a["net_sales"] += o.subtotal
        a["shipping"] += o.shipping
        a["taxes"] += o.tax1 + o.tax2
        a["total_sales"] += o.total
        a["refunded_orders"] += 1 if o.refund > 0 else 0
        a["refunded_amount"] += o.refund
        email = customer(o.customer).email
        per = cust.setdefault(day, {})
        per[email] = per.get(email, 0) + 1
    counts = ("orders_placed", "orders", "cancelled_orders", "units", "refunded_orders")
    out: dict[date, DayMetrics] = {}
    for day in sorted(acc):
        a = acc[day]
        a["net_revenue"] = a["total_sales"] - a["refunded_amount"]
        out[day] = {k: Decimal(v) if k in counts else cents(v) for k, v in a.items()}
    return fill_zero_days(out, SHOPIFY_METRICS), {d: dict(sorted(cust[d].items())) for d in sorted(cust)}


def repeat_counts(customers: dict[date, dict[str, int]]) -> tuple[int, int]:
    """(customers with >= 2 orders, customers with >= 1) over all days."""
    totals: dict[str, int] = defaultdict(int)
    for per in customers.values():
        for email, n in per.items():
            totals[email] += n
    return sum(1 for n in totals.values() if n >= 2), len(totals)


def stripe_truth(rows: list[list[str]]) -> dict[date, DayMetrics]:
    """Per-UTC-day Stripe metrics from the charge rows as written (layout of STRIPE_COLUMNS)."""
    acc: dict[date, DayMetrics] = {}
    for r in rows:
        day = date.fromisoformat(r[1][:10])
        a = acc.setdefault(day, {k: Decimal(0) for k in STRIPE_METRICS})
        a["stripe_payments"] += 1
        if r[14] == "Failed":
            a["stripe_failed_payments"] += 1
            continue
        a["stripe_succeeded_payments"] += 1
        a["stripe_gross"] += Decimal(r[2])
        a["stripe_fees"] += Decimal(r[11])
        a["stripe_refunded"] += Decimal(r[3])
    return fill_zero_days(acc, STRIPE_METRICS)
