"""Stripe charges -> the same rows as the payments export -> the same daily metrics.

``GET {api}/v1/charges?created[gte]=..&created[lt]=..&limit=100&starting_after=<last id>`` with a
Bearer key, paging while ``has_more``; fees come from the expanded balance transaction. Amounts
are integers in the currency's minor unit and become the export's decimal text exactly.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
import polars as pl

from chimera.clients import ClientContext
from chimera.config.client import StripeAPI
from chimera.connectors.common import minor_to_text, store_pull
from chimera.connectors.http import PageCursors, credential, get_json, listed, redacted_errors, safe_url
from chimera.errors import IngestError
from chimera.ingest import IngestSummary
from chimera.ingest.detect import STRIPE_COLUMNS
from chimera.ingest.frame import ROW
from chimera.ingest.stripe import aggregate_stripe

PAGE = 100


def _epoch(day: date) -> int:
    return calendar.timegm(day.timetuple())


def api_root(api_base: str) -> str:
    """The API's root from client.yml's ``api_base`` as people copy it from Stripe's docs: with the
    version path (`https://api.stripe.com/v1`: it asked /v1/v1/charges, a 404 blamed on the key) or
    without a scheme (`api.stripe.com`: a request httpx cannot send); never with ``user:pass@``."""
    base = safe_url(api_base.strip()).rstrip("/")
    if "://" not in base:
        base = f"https://{base}"
    return base.removesuffix("/v1")


def fetch_charges(cfg: StripeAPI, key: str, since: date, until: date) -> Iterator[dict[str, Any]]:
    params: dict[str, Any] = {
        "created[gte]": _epoch(since), "created[lt]": _epoch(until + timedelta(days=1)),
        "limit": PAGE, "expand[]": "data.balance_transaction",
    }
    url = f"{api_root(cfg.api_base)}/v1/charges"  # credentials travel in the header only
    pages = PageCursors(url)
    with httpx.Client(headers={"Authorization": f"Bearer {key}"}, timeout=30.0) as http:
        while True:
            pages.advance(str(params.get("starting_after", "")))
            body, _ = get_json(http, url, params)
            data = [checked(charge, url) for charge in listed(body, "data", url)]
            yield from data
            if not body.get("has_more"):
                return
            if not data:  # no last id to go on from: stopping here would store a partial listing as whole days
                raise IngestError(f"{url}: the API said more charges follow but sent none, so the rest cannot be "
                                  "asked for: nothing stored, try again later")
            params = {**params, "starting_after": data[-1]["id"]}


_INTEGERS = ("created", "amount", "amount_refunded")  # the API's amounts are integers in minor units


def checked(charge: Any, where: str) -> dict[str, Any]:
    """``charge`` when it is a charge as the API writes it (an object with a string ``id``, integer
    ``created`` and amounts, a string currency, fees and converted amounts as integers); IngestError
    naming what is not, without its value: an answer of another service or version (a proxy's, a
    mock's) ended the pull in a KeyError or TypeError traceback, or summed text as money."""
    problem = _problem(charge)
    if problem:
        name = charge.get("id") if isinstance(charge, dict) and isinstance(charge.get("id"), str) else None
        raise IngestError(f"{where}: {'charge ' + repr(name) if name else 'an item'} of the answer is not a charge "
                          f"as the Stripe API writes it ({problem}): nothing stored; check the api_base in "
                          "client.yml connectors")
    return charge


def _problem(charge: Any) -> str | None:
    if not isinstance(charge, dict):
        return f"a {type(charge).__name__}, not an object"
    if not isinstance(charge.get("id"), str) or not charge["id"]:
        return "no id"
    if not isinstance(charge.get("created"), int):
        return "created is not a Unix time"
    for key in _INTEGERS[1:]:
        if charge.get(key) is not None and not isinstance(charge[key], int):
            return f"{key} is not an integer amount"
    if charge.get("currency") is not None and not isinstance(charge["currency"], str):
        return "currency is not a currency code"
    balance = charge.get("balance_transaction")
    if isinstance(balance, dict):
        for key in ("amount", "fee"):
            if balance.get(key) is not None and not isinstance(balance[key], int):
                return f"balance_transaction.{key} is not an integer amount"
        if balance.get("currency") is not None and not isinstance(balance["currency"], str):
            return "balance_transaction.currency is not a currency code"
    return None


def _status(charge: dict[str, Any]) -> str:
    """The export's Status: a succeeded charge never captured (an authorization held, or expired
    and released) is `Uncaptured` there, no success: counted as one it read as a paid order."""
    if charge.get("status") == "failed":
        return "Failed"
    if charge.get("status") != "succeeded":
        return str(charge.get("status") or "").title()
    if not charge.get("captured", True):
        return "Uncaptured"
    return "Refunded" if charge.get("refunded") or charge.get("amount_refunded") else "Paid"


def charge_row(charge: dict[str, Any]) -> dict[str, str | None]:
    """The export's row for one charge. The expanded balance transaction is in the currency the
    charge settled in (the account's): its fee, and the charge's amount converted (the export's
    ``Converted Amount`` / ``Converted Currency``), are written in that currency's minor unit, not
    the charge's (a fee of 49 on a jpy charge settled in usd is 0.49 usd, not 49)."""
    currency = str(charge.get("currency") or "")
    balance = charge.get("balance_transaction")
    balance = balance if isinstance(balance, dict) else {}
    settled = str(balance.get("currency") or currency)
    created = datetime.fromtimestamp(int(charge["created"]), UTC).strftime("%Y-%m-%d %H:%M:%S")
    converted = balance.get("amount")
    return {
        "id": charge.get("id"), "created": created, "currency": currency,
        "amount": minor_to_text(charge.get("amount"), currency),
        "refunded": minor_to_text(charge.get("amount_refunded") or 0, currency),
        "captured": "true" if charge.get("captured") else "false",
        "fee": minor_to_text(balance.get("fee") or 0, settled), "status": _status(charge),
        "converted_amount": None if converted is None else minor_to_text(converted, settled),
        "converted_refunded": None if converted is None else minor_to_text(_refunded_converted(charge, converted),
                                                                             settled),
        "converted_currency": str(balance["currency"]) if balance.get("currency") else None,
    }


def _refunded_converted(charge: dict[str, Any], converted: int) -> int:
    """The refunded part of the converted amount, in the settled currency's minor unit: all of it
    for a full refund, else the same share of it (rounded half up)."""
    amount, refunded = int(charge.get("amount") or 0), int(charge.get("amount_refunded") or 0)
    if refunded == 0 or amount == 0:
        return 0
    if refunded >= amount:
        return int(converted)
    share = Decimal(refunded) * Decimal(int(converted)) / Decimal(amount)
    return int(share.quantize(Decimal(1), rounding=ROUND_HALF_UP))


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
    with redacted_errors():
        key = credential(client.name, cfg.key_env, "Stripe")
        charges = list(fetch_charges(cfg, key, since, until))
    agg = aggregate_stripe(charges_frame(charges), lambda rows: {})
    return store_pull(client, agg, "stripe", since, until, charges)
