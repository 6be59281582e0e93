"""The days an order or payment export covers, as the person who exported it states them.

An export lists orders, not days: a day without orders has no row, so the days after a quiet
store's last order (or before its first) cannot be told from days the export left out, and stay
missing (UNKNOWN KPIs). The range chosen in the export dialog (`--since` / `--until`) says which
days the file lists completely: each such day without a row had nothing, and is written as zero.
An API pull knows its range the same way (``chimera.connectors.common.clip``).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from chimera.errors import IngestError
from chimera.ingest import fiverr, shopify, stripe
from chimera.ingest.future import typo_days
from chimera.ingest.models import Aggregate

KIND_METRICS: dict[str, tuple[list[str], list[str]]] = {  # (counts, money) an export of the kind gives
    "shopify_orders": (shopify.COUNTS, shopify.MONEY),
    "stripe_payments": (stripe.COUNTS, stripe.MONEY),
    "fiverr_orders": (fiverr.COUNTS, fiverr.MONEY),
}
MISSING_NOT_ZERO = ("analytics exports list every day they cover (a day missing from one is missing data, "
                    "never zero): --since/--until apply to order and payment exports")


def zero_days(agg: Aggregate, first: date, last: date) -> Aggregate:
    """Every day from ``first`` to ``last`` without a row in ``agg`` (and not one whose rows were
    all rejected) as zero, for the metrics the export gives (an export without `Refunded Amount`
    still says nothing of refunds)."""
    if first > last:
        return agg
    given = {m: v for values in agg.days.values() for m, v in values.items()}
    if given:
        zero = {m: Decimal("0.00") if isinstance(v, Decimal) else 0 for m, v in given.items()}
    else:
        counts, money = KIND_METRICS[agg.kind]
        zero = {**dict.fromkeys(counts, 0), **dict.fromkeys(money, Decimal("0.00"))}
    day = first
    while day <= last:
        if day not in agg.days and day not in agg.unknown_days:
            agg.days[day] = dict(zero)
        day += timedelta(days=1)
    agg.days = dict(sorted(agg.days.items()))
    return agg


def declare_range(agg: Aggregate, since: date | None, until: date | None, today: date, path: str) -> Aggregate:
    """``agg`` with the stated range's days without orders as zero. Refused (nothing written) for
    an analytics export, for a range whose last day is not over yet (``today`` is the source's
    day: store-local for Shopify, UTC for Stripe), and when the file holds orders outside the
    range: the range stated is then not the export's, and zeros inside it could be wrong too."""
    if since is None and until is None:
        return agg
    if agg.kind not in KIND_METRICS:
        raise IngestError(f"{path}: {MISSING_NOT_ZERO}")
    if until is not None and until >= today:
        raise IngestError(f"{path}: --until {until} is not over yet (today is {today}): its orders may still come; "
                          "give the last whole day")
    held = sorted(set(agg.days) | agg.unknown_days)
    typos = set(typo_days(held))  # an order typed decades ahead is rejected as a typo: no day the export lists
    held = [d for d in held if d not in typos]
    outside = [d for d in held if (since is not None and d < since) or (until is not None and d > until)]
    if outside:
        side = "before --since" if since is not None and outside[0] < since else "after --until"
        raise IngestError(f"{path}: the export has orders on {outside[0]}, {side} "
                          f"({since or '...'} .. {until or '...'}): give the range chosen when exporting, "
                          "or leave --since/--until out")
    first = since or (held[0] if held else None)
    last = until or (held[-1] if held else None)
    if first is None or last is None:
        raise IngestError(f"{path}: the export has no orders: give both --since and --until to record its days as "
                          "days without orders")
    return zero_days(agg, first, last)
