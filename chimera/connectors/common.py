"""What both API pulls share: keep only the asked days, and store like an export."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import polars as pl

from chimera.as_of import store_zone
from chimera.clients import ClientContext
from chimera.ingest import Aggregate, IngestSummary, store_aggregate
from chimera.ingest import stripe as stripe_parser
from chimera.ingest.coverage import zero_days
from chimera.ingest.store import leave_out

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


def clip(agg: Aggregate, since: date, until: date, today: date | None = None,
         now: datetime | None = None) -> Aggregate:
    """Only the days asked for (a pull's margins are partial days and must not replace stored ones),
    and every asked day that is over: the API listing no order or charge for a day means there was
    none (zero, as inside an export's range), and the pull then replaces whatever was stored for it.
    ``today`` is the source's day going on (UTC for Stripe, store-local for Shopify; default UTC's):
    the API lists its records only until the pull, so it is left out (``Aggregate.left_out``, what
    is stored kept), never zero nor written whole, as an export's day going on is; so are a day the
    parser left out, the days after it, and later days' records. Days not begun are not written."""
    now = now or datetime.now(UTC)
    today = today or now.date()
    agg.days = {d: v for d, v in agg.days.items() if since <= d <= until}
    if agg.customers is not None:
        agg.customers = agg.customers.filter(pl.col("day").is_between(since, until))
    if agg.fill_zero and agg.kind in PULLED:
        going_on = {d for d in agg.days if d > today} | ({today} if since <= today <= until else set())
        if going_on:  # a later day's records (a clock behind the API's) are of a day not over either
            leave_out(agg, dict.fromkeys(sorted(going_on), _unfinished(agg.kind, now)))  # the parser's reason gives way
        last = min([until, today - timedelta(days=1), *(d - timedelta(days=1) for d in agg.left_out)])
        zero_days(agg, since, last)  # a partial day: no 0
    return agg


NOT_OVER = "it was not over when pulled"
"""In the reason of every day left out of a pull as still going on (the CLI words its exit by it)."""


def _unfinished(kind: str, now: datetime) -> str:
    """Why the source's day going on is left out of a pull."""
    what, zone = ("charges", "UTC") if kind == "stripe_payments" else ("orders", "store-local")
    return (f"partial {zone} day: {NOT_OVER} ({now:%H:%M} {zone}), so the API lists only its "
            f"{what} until then; pull it again once it is over")


def source_now(client: ClientContext, kind: str) -> datetime:
    """Now as the pulled source counts days: UTC for Stripe (the parser's clock, so a pull and the
    charges it left out agree), client.yml's timezone for Shopify (store-local days)."""
    now = stripe_parser._now()
    return now if kind == "stripe_payments" else now.astimezone(store_zone(client.config.timezone))


def store_pull(client: ClientContext, agg: Aggregate, api: str, since: date, until: date,
               payload: list[Any], offsets: set[timedelta] | None = None) -> IngestSummary:
    """Store a pull's days (``clip``). ``offsets``: the UTC offsets the records' own times are at
    (Shopify's: the shop's zone, whatever client.yml says; its warning says so): the day going on
    is theirs (the earliest, across daylight saving), else client.yml's, so that a client.yml left
    at UTC neither gets a shop's evening west of UTC written as a whole day nor leaves out a day
    already over east of it."""
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()
    now = source_now(client, agg.kind)
    if offsets:  # the earliest wall clock among them
        now = min((now.astimezone(timezone(o)) for o in offsets), key=lambda t: t.replace(tzinfo=None))
    return store_aggregate(client, clip(agg, since, until, now.date(), now), f"{api} api {since}..{until}", digest,
                           stated=(since, until))
