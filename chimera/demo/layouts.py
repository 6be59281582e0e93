"""Column layouts of the exports the demo generator writes, and the small formatters they share.

The layouts copy the real exporters' headers (DATA.md) column for column, so that whatever reads
a real export reads the demo's the same way, and the demo never needs ../shared.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

SHOPIFY_COLUMNS: tuple[str, ...] = (
    "Name", "Email", "Financial Status", "Paid at", "Fulfillment Status", "Fulfilled at",
    "Accepts Marketing", "Currency", "Subtotal", "Shipping", "Taxes", "Total", "Discount Code",
    "Discount Amount", "Shipping Method", "Created at", "Lineitem quantity", "Lineitem name",
    "Lineitem price", "Lineitem compare at price", "Lineitem sku", "Lineitem requires shipping",
    "Lineitem taxable", "Lineitem fulfillment status", "Billing Name", "Billing Street",
    "Billing Address1", "Billing Address2", "Billing Company", "Billing City", "Billing Zip",
    "Billing Province", "Billing Country", "Billing Phone", "Shipping Name", "Shipping Street",
    "Shipping Address1", "Shipping Address2", "Shipping Company", "Shipping City", "Shipping Zip",
    "Shipping Province", "Shipping Country", "Shipping Phone", "Notes", "Note Attributes",
    "Cancelled at", "Payment Method", "Payment Reference", "Refunded Amount", "Vendor",
    "Outstanding Balance", "Employee", "Location", "Device ID", "Id", "Tags", "Risk Level", "Source",
    "Lineitem discount", "Tax 1 Name", "Tax 1 Value", "Tax 2 Name", "Tax 2 Value", "Tax 3 Name",
    "Tax 3 Value", "Tax 4 Name", "Tax 4 Value", "Tax 5 Name", "Tax 5 Value", "Phone",
    "Receipt Number", "Duties", "Billing Province Name", "Shipping Province Name", "Payment ID",
    "Payment Terms Name", "Next Payment Due At", "Payment References",
)  # fmt: skip
"""Shopify orders export, today's 79 columns in Shopify's order."""

STRIPE_COLUMNS: tuple[str, ...] = (
    "id", "Created date (UTC)", "Amount", "Amount Refunded", "Currency", "Captured",
    "Converted Amount", "Converted Amount Refunded", "Converted Currency", "Decline Reason",
    "Description", "Fee", "Refunded date (UTC)", "Statement Descriptor", "Status", "Seller Message",
    "Taxes On Fee", "Card ID", "Customer ID", "Customer Description", "Customer Email", "Invoice ID",
    "Transfer", "order_id (metadata)",
)  # fmt: skip
"""Stripe payments export (new header ``Created date (UTC)``) with one metadata column."""

ANALYTICS_COLUMNS: tuple[str, ...] = ("date", "sessions", "users", "transactions", "revenue")
"""GA4 daily report export."""

FIVERR_COLUMNS: tuple[str, ...] = (
    "Order ID", "Order Date", "Buyer", "Gig", "Amount", "Status", "Delivered On Time",
    "Response Hours",
)  # fmt: skip
"""The demo's Fiverr export (Fiverr documents none; the client maps these names in client.yml)."""

FIVERR_DATE_FORMAT = "%m/%d/%Y"

COL = {name: i for i, name in enumerate(SHOPIFY_COLUMNS)}
"""Shopify column name -> position."""

STORE_TZ = ZoneInfo("America/New_York")


@lru_cache(maxsize=1 << 17)
def money(cents: int) -> str:
    """``1234`` -> ``"12.34"`` (exact; the generator keeps money in integer cents; cached because
    a few thousand distinct amounts make up most of a million rows)."""
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


def half_up(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded half-up, for non-negative integers (cent rounding)."""
    return (2 * numerator + denominator) // (2 * denominator)


_CLOCK = tuple(f"{h:02d}:{m:02d}:{s:02d}" for h in range(24) for m in range(60) for s in range(60))
"""``HH:MM:SS`` for every second of a day (5 MB once; formatting a million stamps stays cheap)."""


class TimeFormatter:
    """Formats UTC epoch seconds as store-local ``2026-04-05 21:06:21 -0400`` or UTC text.

    The offset is looked up once per UTC hour (DST switches fall on hour boundaries), so a million
    timestamps format quickly while the -0500/-0400 change still lands on the right second.
    """

    def __init__(self, tz: ZoneInfo = STORE_TZ) -> None:
        self.tz = tz
        self._offsets: dict[int, tuple[int, str]] = {}
        self._days: dict[int, str] = {}

    def _offset(self, ts: int) -> tuple[int, str]:
        hour = ts // 3600
        hit = self._offsets.get(hour)
        if hit is None:
            local = datetime.fromtimestamp(hour * 3600, self.tz)
            off = local.utcoffset()
            assert off is not None
            hit = (int(off.total_seconds()), local.strftime("%z"))
            self._offsets[hour] = hit
        return hit

    def _clock(self, secs: int) -> str:
        day, rest = divmod(secs, 86400)
        text = self._days.get(day)
        if text is None:
            text = datetime.fromtimestamp(day * 86400, UTC).strftime("%Y-%m-%d ")
            self._days[day] = text
        return text + _CLOCK[rest]

    def local(self, ts: int) -> str:
        off, text = self._offset(ts)
        return f"{self._clock(ts + off)} {text}"

    def local_day(self, ts: int) -> int:
        """Store-local calendar day as days since 1970-01-01."""
        return (ts + self._offset(ts)[0]) // 86400

    def utc(self, ts: int) -> str:
        return self._clock(ts)
