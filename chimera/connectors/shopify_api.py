"""Shopify Admin REST orders -> the same line-item frame as the export -> the same daily metrics.

``GET {shop}/admin/api/{version}/orders.json?status=any&created_at_min=..&created_at_max=..``
with ``X-Shopify-Access-Token``; pages follow the ``Link: <...>; rel="next"`` header (page_info
cursors). The pull asks a day of margin on each side (timestamps are store-local) and keeps
only the days asked for.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import httpx
import polars as pl

from chimera.clients import ClientContext
from chimera.config.client import ShopifyAPI
from chimera.connectors.common import store_pull
from chimera.connectors.http import PageCursors, credential, get_json, listed, redacted_errors, safe_url
from chimera.errors import IngestError
from chimera.ingest import IngestSummary
from chimera.ingest.frame import ROW
from chimera.ingest.pseudonymize import pseudonymizer
from chimera.ingest.shopify import RAW, aggregate_shopify
from chimera.ingest.zone_check import order_warnings

PAGE = 250
_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


def next_link(response: httpx.Response) -> str | None:
    """The next page's URL from the ``Link`` header, resolved against the page's own (a relative
    link: httpx refused it, blaming the credential); IngestError for a link to another server, which
    the access token (a header of every request) would follow."""
    match = _NEXT.search(response.headers.get("Link", ""))
    if not match:
        return None
    here = response.request.url
    url = here.join(match.group(1).strip())
    if (url.scheme, url.host, url.port) != (here.scheme, here.host, here.port):
        raise IngestError(f"{safe_url(here.copy_with(query=None))}: the next page's link is on another server "
                          f"({safe_url(url.copy_with(query=None))}): not followed, the access token would go with "
                          "it; check the shop_url in client.yml connectors (the shop's https://<shop>.myshopify.com)")
    return str(url)


def shop_base(shop_url: str) -> str:
    """The shop's API root from client.yml's ``shop_url`` as people copy it: the bare domain Shopify's
    admin shows (`myshop.myshopify.com`: httpx refused it as a request it cannot send, blaming the
    credential), or with the admin's path (`.../admin`); never with ``user:pass@``."""
    base = safe_url(shop_url.strip()).rstrip("/")
    if "://" not in base:
        base = f"https://{base}"
    return base.removesuffix("/admin")


def fetch_orders(cfg: ShopifyAPI, token: str, since: date, until: date) -> Iterator[dict[str, Any]]:
    base = shop_base(cfg.shop_url)  # the token travels in the header only
    url: str | None = f"{base}/admin/api/{cfg.api_version}/orders.json"
    params: dict[str, Any] | None = {
        "status": "any", "limit": PAGE,
        "created_at_min": f"{since - timedelta(days=1)}T00:00:00Z",
        "created_at_max": f"{until + timedelta(days=2)}T00:00:00Z",
    }
    pages = PageCursors(safe_url(url))
    with httpx.Client(headers={"X-Shopify-Access-Token": token}, timeout=30.0) as http:
        while url:
            pages.advance(url)
            body, response = get_json(http, url, params)
            yield from listed(body, "orders", safe_url(url.split("?")[0]))
            url, params = next_link(response), None  # a page_info URL carries its own query


def _money(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def _total(amounts: list[Any]) -> str:
    """The sum of API amounts as text; a value that is no number as it is written, for the parser to
    reject the order at that column (it ended the pull in a decimal.InvalidOperation traceback)."""
    total = Decimal("0.00")
    for amount in amounts:
        try:
            total += Decimal(str(amount or 0))
        except InvalidOperation:
            return str(amount)
    return str(total)


def _shipping(order: dict[str, Any]) -> str | None:
    shop = (order.get("total_shipping_price_set") or {}).get("shop_money") or {}
    if shop.get("amount") is not None:
        return str(shop["amount"])
    return _total([s.get("price") for s in order.get("shipping_lines") or []])


def _refunded(order: dict[str, Any]) -> str:
    """Successful refund transactions, in the shop's currency (the order's other money fields are).
    A transaction is in the currency the customer paid in (a multi-currency store's presentment
    currency): it is converted at the order's own rate, its total in both currencies; without one,
    written with its currency, so that the order is rejected saying so, never summed as shop money."""
    shop = str(order.get("currency") or "").strip().upper()
    amounts = []
    for refund in order.get("refunds") or []:
        for tx in refund.get("transactions") or []:
            if tx.get("kind") == "refund" and tx.get("status") == "success":
                paid_in = str(tx.get("currency") or "").strip().upper()
                converted = paid_in and shop and paid_in != shop
                amounts.append(_in_shop_money(order, tx.get("amount"), paid_in) if converted else tx.get("amount"))
    return _total(amounts)


def _in_shop_money(order: dict[str, Any], amount: Any, currency: str) -> Any:
    """``amount`` of ``currency`` in the shop's currency at the order's rate (``total_price_set``:
    shop_money / presentment_money), rounded half up to the shop amount's decimals; as written with
    its currency when the order gives no such rate."""
    both = order.get("total_price_set") or {}
    shop, shown = both.get("shop_money") or {}, both.get("presentment_money") or {}
    try:
        if str(shown.get("currency_code") or "").strip().upper() != currency:
            raise InvalidOperation
        shop_total, shown_total = Decimal(str(shop["amount"])), Decimal(str(shown["amount"]))
        exponent = shop_total.as_tuple().exponent
        quantum = Decimal(1).scaleb(exponent if isinstance(exponent, int) else -2)
        return (Decimal(str(amount)) * shop_total / shown_total).quantize(quantum, rounding=ROUND_HALF_UP)
    except (KeyError, InvalidOperation, ZeroDivisionError):
        return f"{amount} {currency}"


def order_rows(order: dict[str, Any]) -> list[dict[str, str | None]]:
    """One row per line item, order-level fields on the first row only (as the export has them)."""
    email = order.get("email") or (order.get("customer") or {}).get("email")
    head = {
        "email": email, "currency": order.get("currency"), "cancelled_at": order.get("cancelled_at"),
        "subtotal": _money(order.get("subtotal_price")), "shipping": _shipping(order),
        "taxes": _money(order.get("total_tax")), "total": _money(order.get("total_price")),
        "discount": _money(order.get("total_discounts")), "refunded": _refunded(order),
    }
    items = order.get("line_items") or [{"quantity": 0, "price": "0.00"}]
    rows = []
    for i, item in enumerate(items):
        row = dict.fromkeys(RAW) | (head if i == 0 else {})
        row |= {"name": order.get("name"), "created_at": order.get("created_at"),
                "quantity": None if item.get("quantity") is None else str(item["quantity"]),
                "price": _money(item.get("price"))}
        rows.append(row)
    return rows


def _rows_of(order: Any) -> list[dict[str, str | None]]:
    """``order_rows``; IngestError when the item is not an order as the Admin API writes it (an object
    whose line items, refunds and shipping are objects): another service's answer ended the pull in
    an AttributeError traceback."""
    try:
        return order_rows(order)
    except (AttributeError, TypeError):
        name = order.get("name") if isinstance(order, dict) else None
        raise IngestError(f"{'order ' + repr(name) if isinstance(name, str) else 'an item'} of the API's answer is "
                          "not an order as the Shopify Admin API writes it (an object whose line items, refunds "
                          "and shipping are objects): nothing stored; check the shop_url and api_version in "
                          "client.yml connectors") from None


def orders_frame(orders: list[dict[str, Any]]) -> pl.DataFrame:
    rows = [row for order in orders for row in _rows_of(order)]
    schema = dict.fromkeys(RAW, pl.String)
    return pl.DataFrame(rows, schema=schema).with_row_index(ROW)


def _offsets(orders: list[dict[str, Any]]) -> set[timedelta]:
    """The UTC offsets of the orders' ``created_at`` (the shop's zone; a bad one is rejected when parsed)."""
    found = set()
    for order in orders:
        try:
            offset = datetime.fromisoformat(str(order.get("created_at"))).utcoffset()
        except ValueError:
            continue
        if offset is not None and abs(offset) < timedelta(days=1):
            found.add(offset)
    return found


def pull_shopify(client: ClientContext, since: date, until: date) -> IngestSummary:
    """Orders created between ``since`` and ``until`` (store-local days), stored as source shopify."""
    cfg = client.config.connectors.shopify
    if cfg is None:
        raise IngestError(
            f"client {client.name!r} has no Shopify connector: add to its client.yml\n"
            "connectors:\n  shopify:\n    shop_url: https://<shop>.myshopify.com\n    token_env: SHOPIFY_ACCESS_TOKEN"
        )
    with redacted_errors():
        token = credential(client.name, cfg.token_env, "Shopify")
        orders = list(fetch_orders(cfg, token, since, until))
    agg = aggregate_shopify(orders_frame(orders), pseudonymizer(client.name), lambda rows: {})
    summary = store_pull(client, agg, "shopify", since, until, orders, _offsets(orders))
    # the store's days are client.yml's: a shop whose offsets say otherwise is told, as a file ingest is
    return summary.model_copy(update={"warnings": order_warnings(client.config.timezone, orders)})
