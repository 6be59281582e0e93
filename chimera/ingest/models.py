"""What an ingest produces: per-day metrics, customer-days, rejections, and the summary (§7 JSON)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import polars as pl
from pydantic import BaseModel, ConfigDict

KINDS = ("shopify_orders", "stripe_payments", "analytics_daily", "fiverr_orders")
SOURCE_OF_KIND = {
    "shopify_orders": "shopify",
    "stripe_payments": "stripe",
    "analytics_daily": "analytics",
    "fiverr_orders": "fiverr",
}
COUNT_METRICS = frozenset(
    {
        "orders_placed", "orders", "cancelled_orders", "units", "refunded_orders",
        "sessions", "users", "ga_transactions", "ga_key_events",
        "stripe_payments", "stripe_succeeded_payments", "stripe_failed_payments",
        "fiverr_orders", "fiverr_completed", "fiverr_cancelled", "fiverr_delivered",
        "fiverr_delivered_on_time", "fiverr_inquiries", "fiverr_responded_24h",
    }
)  # fmt: skip


MONEY_METRICS = frozenset(
    {
        "gross_sales", "discounts", "net_sales", "shipping", "taxes", "total_sales", "refunded_amount",
        "net_revenue", "ga_revenue", "stripe_gross", "stripe_fees", "stripe_refunded", "fiverr_earnings",
    }
)  # fmt: skip
BASE_METRICS = COUNT_METRICS | MONEY_METRICS  # every name an ingest writes (docs/contracts.md)


class Rejection(BaseModel):
    """One bad cell; its whole order (or row, for row-per-payment sources) was left out."""

    model_config = ConfigDict(extra="forbid")
    line: int
    """1-based physical line in the file (header is line 1); 0 for API pulls."""
    column: str
    value: str
    reason: str
    order: str


class LeftOutDay(BaseModel):
    """A day the file has records of that was not written, and why: only part of it is in the file
    (an export in another time zone than the source's days, a file cut mid-row, a day not over yet).
    What was stored for it is kept; a partial day is never written as if it were whole."""

    model_config = ConfigDict(extra="forbid")
    day: date
    reason: str


class IngestSummary(BaseModel):
    """The result of one ingest, exactly the ``chimera ingest --json`` document plus the run id."""

    model_config = ConfigDict(extra="forbid")
    source: str
    rows_read: int
    orders_ingested: int
    rejected: list[Rejection]
    first_day: date | None
    last_day: date | None
    metrics_written: int
    ingest_run_id: int | None = None
    kept_days: int = 0
    """Days inside the range with no rows in the file whose stored values were kept (shown, not in the JSON)."""
    left_out: list[LeftOutDay] = []
    """Days with records in the file that were not written (partial days), in the JSON only when any."""
    warnings: list[str] = []
    """What the data says about the client's setup that its config does not (a Shopify export's
    offsets that are not client.yml's timezone's): written all the same; in the JSON only when any."""

    def contract(self) -> dict:
        """The DESIGN.md §7 JSON document, plus ``left_out`` when some day of the file was left out
        (a user reading "0 metric points" must see which days and why) and ``warnings`` when any."""
        exclude = {"ingest_run_id", "kept_days"} | {k for k in ("left_out", "warnings") if not getattr(self, k)}
        return self.model_dump(mode="json", exclude=exclude)


DayMetrics = dict[date, dict[str, Decimal | int]]


@dataclass
class Aggregate:
    """Parsed and aggregated content of one export or API pull, before it touches the database.

    ``first_day``/``last_day`` bound the days the data covers; stored rows of ``source`` in that
    range are replaced by ``days`` (and ``customers``). ``fill_zero`` says a day inside the range
    with no rows means "nothing happened" (orders, payments) rather than "no data" (analytics).
    """

    kind: str
    days: DayMetrics
    rows_read: int
    orders_ingested: int
    rejected: list[Rejection] = field(default_factory=list)
    customers: pl.DataFrame | None = None
    """Columns day, customer (pseudonym), orders: one row per order (orders 1) or per customer and
    day; a customer's rows of one day add up. None for sources without customers."""
    fill_zero: bool = True
    unknown_days: set[date] = field(default_factory=set)
    """Days inside the range whose every record was rejected: the file shows something happened but
    counts nothing, so they are neither zero-filled nor replaced (what is stored stays, else missing)."""
    kept_days: set[date] = field(default_factory=set)
    """Days inside the range the export has no record of while the database holds values for
    them (set when stored): kept, not zero-filled; the ingest summary says how many."""
    cut_days: set[date] = field(default_factory=set)
    """The days a file cut mid-row (a truncated download) holds only part of: in ``unknown_days``,
    never written (a partial day judged whole reads as a collapse), what is stored kept."""
    left_out: dict[date, str] = field(default_factory=dict)
    """Days the file has records of that are not written because it holds only part of them, and
    why (``IngestSummary.left_out``); what is stored for them stays."""
    whole_range: tuple[date, date] | None = None
    """For an export written in a time zone other than its source's days (Stripe's UTC): the first
    and last source day its range covers whole; only those are written (``--since``/``--until``
    then name the export's own days: see ``stripe.whole_days``)."""
    pending: Callable[[], list[Rejection]] | None = None
    """Rejections still being located in the file (physical lines); ``settle`` waits for them."""
    rejected_on: set[date] | None = None
    """The days the rejected records are on (``store.short_edges`` judges the other edge days as in a
    file without rejections); None when unknown: a rejected record without a readable date, or a
    parser that does not say."""

    def settle(self) -> None:
        """Fill ``rejected`` with work still running in the background (no-op when there is none)."""
        if self.pending is not None:
            self.rejected, self.pending = self.pending(), None

    @property
    def source(self) -> str:
        return SOURCE_OF_KIND[self.kind]

    @property
    def first_day(self) -> date | None:
        return min(self.days) if self.days else None

    @property
    def last_day(self) -> date | None:
        return max(self.days) if self.days else None
