"""Stripe charges -> the same rows as the payments export -> the same daily metrics.

``GET {api}/v1/charges?created[gte]=..&created[lt]=..&limit=100&starting_after=<last id>`` with a
Bearer key, paging while ``has_more``; fees come from the expanded balance transaction. Amounts
are integers in the currency's minor unit and become the export's decimal text exactly.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import polars as pl

from chimera.clients import ClientContext
from chimera.config.client import StripeAPI
from chimera.connectors.common import minor_to_text, store_pull
from chimera.connectors.http import credential, get_json
from chimera.errors import IngestError
from chimera.ingest import IngestSummary
from chimera.ingest.detect import STRIPE_COLUMNS
from chimera.ingest.frame import ROW
from chimera.ingest.stripe import aggregate_stripe

PAGE = 100


def _epoch(day: date) -> int:
    return calendar.timegm(day.timetuple())


def fetch_charges(cfg: StripeAPI, key: str, since: date, until: date) -> Iterator[dict[str, Any]]:
    params: dict[str, Any] = {
        "created[gte]": _epoch(since), "created[lt]": _epoch(until + timedelta(days=1)),
        "limit": PAGE, "expand[]": "data.balance_transaction",
    }
    url = f"{cfg.api_base.rstrip('/')}/v1/charges"
    with httpx.Client(headers={"Authorization": f"Bearer {key}"}, timeout=30.0) as http:
        while True:
            body, _ = get_json(http, url, params)
            data = body.get("data", [])
            yield from data
            if not body.get("has_more") or not data:
                return
            params = {**params, "starting_after": data[-1]["id"]}


def _status(charge: dict[str, Any]) -> str:
    if charge.get("status") == "failed":
        return "Failed"
    if charge.get("status") != "succeeded":
        return str(charge.get("status") or "").title()
    return "Refunded" if charge.get("refunded") or charge.get("amount_refunded") else "Paid"


def charge_row(charge: dict[str, Any]) -> dict[str, str | None]:
    currency = str(charge.get("currency") or "")
    balance = charge.get("balance_transaction")
    fee = balance.get("fee") if isinstance(balance, dict) else 0
    created = datetime.fromtimestamp(int(charge["created"]), UTC).strftime("%Y-%m-%d %H:%M:%S")
    return {
        "id": charge.get("id"), "created": created, "currency": currency,
        "amount": minor_to_text(charge.get("amount"), currency),
        "refunded": minor_to_text(charge.get("amount_refunded") or 0, currency),
        "captured": "true" if charge.get("captured") else "false",
        "fee": minor_to_text(fee or 0, currency), "status": _status(charge),
    }


def charges_frame(charges: list[dict[str, Any]]) -> pl.DataFrame:
    schema = dict.fromkeys(STRIPE_COLUMNS, pl.String)
    return pl.DataFrame([charge_row(c) for c in charges], schema=schema).with_row_index(ROW)


def pull_stripe(client: ClientContext, since: date, until: date) -> IngestSummary:
    """Charges created between ``since`` and ``until`` (UTC days), stored as source stripe."""
    cfg = client.config.connectors.stripe
    if cfg is None:
        raise IngestError(
            f"client {client.name!r} has no Stripe connector: add to its client.yml\n"
            "connectors:\n  stripe:\n    key_env: STRIPE_API_KEY"
        )
    key = credential(client.name, cfg.key_env, "Stripe")
    charges = list(fetch_charges(cfg, key, since, until))
    agg = aggregate_stripe(charges_frame(charges), lambda rows: {})
    return store_pull(client, agg, "stripe", since, until, charges)
