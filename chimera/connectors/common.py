"""What both API pulls share: keep only the asked days, and store like an export."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl

from chimera.clients import ClientContext
from chimera.ingest import Aggregate, IngestSummary, store_aggregate
from chimera.ingest.coverage import zero_days

PULLED = ("shopify_orders", "stripe_payments")  # a day the API lists nothing for, inside the pull, had nothing

ZERO_DECIMAL = frozenset(
    "bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split()
)  # Stripe currencies whose API amounts are whole units, not cents
THREE_DECIMAL = frozenset("bhd jod kwd omr tnd".split())  # API amounts in thousandths (5.124 KWD is 5124)


def minor_places(currency: str) -> int:
    """Decimal places of a Stripe API amount's minor unit in ``currency`` (0, 2 or 3)."""
    code = currency.strip().lower()
    return 0 if code in ZERO_DECIMAL else 3 if code in THREE_DECIMAL else 2


def minor_to_text(amount: int | None, currency: str) -> str | None:
    """API integer amounts (in the currency's minor unit) as the export's decimal text, exactly."""
    if amount is None:
        return None
    places = minor_places(currency)
    if places == 0:
        return str(int(amount))
    sign = "-" if amount < 0 else ""
    whole, part = divmod(abs(int(amount)), 10**places)
    return f"{sign}{whole}.{part:0{places}d}"


def clip(agg: Aggregate, since: date, until: date, today: date | None = None) -> Aggregate:
    """Only the days asked for (a pull's margins are partial days and must not replace stored ones),
    and every asked day that has begun: the API listing no order or charge for a day means there
    was none (zero, as inside an export's range), and the pull then replaces whatever was stored for
    it. Days not begun yet are left out: for store-local Shopify days, those after yesterday (UTC); so are a
    day the parser left out (``Aggregate.left_out``: Stripe's UTC day still going on) and those after it."""
    agg.days = {d: v for d, v in agg.days.items() if since <= d <= until}
    if agg.customers is not None:
        agg.customers = agg.customers.filter(pl.col("day").is_between(since, until))
    if agg.fill_zero and agg.kind in PULLED:
        today = today or datetime.now(UTC).date()
        last = min(until, today if agg.kind == "stripe_payments" else today - timedelta(days=1))
        zero_days(agg, since, min([last, *(d - timedelta(days=1) for d in agg.left_out)]))  # a partial day: no 0
    return agg


def store_pull(client: ClientContext, agg: Aggregate, api: str, since: date, until: date,
               payload: list[Any]) -> IngestSummary:
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()
    return store_aggregate(client, clip(agg, since, until), f"{api} api {since}..{until}", digest,
                           stated=(since, until))
