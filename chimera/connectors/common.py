"""What both API pulls share: keep only the asked days, and store like an export."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from typing import Any

import polars as pl

from chimera.clients import ClientContext
from chimera.ingest import Aggregate, IngestSummary, store_aggregate

ZERO_DECIMAL = frozenset(
    "bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split()
)  # Stripe currencies whose API amounts are whole units, not cents


def minor_to_text(amount: int | None, currency: str) -> str | None:
    """API integer amounts (cents) as the export's decimal text, exactly."""
    if amount is None:
        return None
    if currency.lower() in ZERO_DECIMAL:
        return str(int(amount))
    sign = "-" if amount < 0 else ""
    whole, cents = divmod(abs(int(amount)), 100)
    return f"{sign}{whole}.{cents:02d}"


def clip(agg: Aggregate, since: date, until: date) -> Aggregate:
    """Only the days asked for (a pull's margins are partial days and must not replace stored ones)."""
    agg.days = {d: v for d, v in agg.days.items() if since <= d <= until}
    if agg.customers is not None:
        agg.customers = agg.customers.filter(pl.col("day").is_between(since, until))
    return agg


def store_pull(client: ClientContext, agg: Aggregate, api: str, since: date, until: date,
               payload: list[Any]) -> IngestSummary:
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()
    return store_aggregate(client, clip(agg, since, until), f"{api} api {since}..{until}", digest)
