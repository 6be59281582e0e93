"""Orders -> export rows, in the exporters' own shapes (Shopify line items, Stripe charges)."""

from __future__ import annotations

import csv
import io
import re
from functools import lru_cache
from operator import itemgetter

import numpy as np

from chimera.demo.catalog import (
    CURRENCY,
    DECLINES,
    DESCRIPTOR,
    NOTES,
    PRODUCTS,
    SHIPPING,
    STORE_NAME,
    TAXES,
    VENDOR,
    customer,
)
from chimera.demo.layouts import SHOPIFY_COLUMNS, TimeFormatter, money
from chimera.demo.orders import Order

_ALPHABET = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"))
_B62 = "".join(_ALPHABET.tolist())


_SPECIAL = re.compile(r'[,"\r\n]').search


def quote(value: str) -> str:
    """A CSV field as ``csv.writer`` (QUOTE_MINIMAL) writes it."""
    if _SPECIAL(value):
        return '"' + value.replace('"', '""') + '"'
    return value


class _Template:
    """One CSV line in SHOPIFY_COLUMNS order from ``{column: "{key}" or literal}``; empty elsewhere.

    Rendered with ``%`` and a tuple (about twice as fast as ``str.format`` on 79 fields), which
    matters for the million-row benchmark export.
    """

    def __init__(self, fields: dict[str, str]) -> None:
        unknown = set(fields) - set(SHOPIFY_COLUMNS)
        assert not unknown, unknown
        cells = [fields.get(col, "") for col in SHOPIFY_COLUMNS]
        keys = [c[1:-1] for c in cells if c.startswith("{")]
        self.text = ",".join("%s" if c.startswith("{") else c.replace("%", "%%") for c in cells)
        self.values = itemgetter(*keys)

    def render(self, values: dict[str, object]) -> str:
        return self.text % self.values(values)


_ITEM = {
    "Name": "{name}", "Email": "{email}", "Created at": "{created}", "Lineitem quantity": "{qty}",
    "Lineitem name": "{pname}", "Lineitem price": "{price}", "Lineitem sku": "{sku}",
    "Lineitem requires shipping": "true", "Lineitem taxable": "true",
    "Lineitem fulfillment status": "{istatus}", "Vendor": quote(VENDOR), "Lineitem discount": "0.00",
}  # fmt: skip
_CONTINUATION = _Template(_ITEM)
"""Later rows of an order: Name, Email, Created at and the line item only (as Shopify)."""
_FIRST = _Template({
    **_ITEM,
    "Financial Status": "{status}", "Paid at": "{paid}", "Fulfillment Status": "{fstatus}",
    "Fulfilled at": "{fulfilled}", "Accepts Marketing": "{marketing}", "Currency": CURRENCY,
    "Subtotal": "{subtotal}", "Shipping": "{shipping}", "Taxes": "{taxes}", "Total": "{total}",
    "Discount Code": "{code}", "Discount Amount": "{discount}", "Shipping Method": "{method}",
    "Billing Name": "{cname}", "Billing Street": "{street}", "Billing Address1": "{street}",
    "Billing City": "{city}", "Billing Zip": "{zip}", "Billing Province": "{province}",
    "Billing Country": "US", "Billing Phone": "{phone}", "Shipping Name": "{cname}",
    "Shipping Street": "{street}", "Shipping Address1": "{street}", "Shipping City": "{city}",
    "Shipping Zip": "{zip}", "Shipping Province": "{province}", "Shipping Country": "US",
    "Shipping Phone": "{phone}", "Notes": "{note}", "Cancelled at": "{cancelled}",
    "Payment Method": "{gateway}", "Payment Reference": "{ref}", "Refunded Amount": "{refunded}",
    "Outstanding Balance": "0.00", "Id": "{oid}", "Risk Level": "Low", "Source": "web",
    "Tax 1 Name": quote(TAXES[0][0]), "Tax 1 Value": "{tax1}", "Tax 2 Name": quote(TAXES[1][0]),
    "Tax 2 Value": "{tax2}", "Phone": "{phone}", "Billing Province Name": "{pname_full}",
    "Shipping Province Name": "{pname_full}", "Payment ID": "{payid}", "Payment References": "{payid}",
})  # fmt: skip
"""An order's first row: the line item plus every order-level field."""
_PRODUCT_CELLS = tuple((quote(p.name), quote(p.sku)) for p in PRODUCTS)
_NOTES = {note: quote(note) for note in NOTES}


@lru_cache(maxsize=1 << 16)
def _customer_cells(number: int) -> dict[str, str]:
    c = customer(number)
    return {
        "email": quote(c.email),
        "cname": quote(c.name),
        "street": quote(c.street),
        "city": quote(c.city.name),
        "zip": c.zip,
        "province": c.city.province,
        "phone": c.phone,
        "pname_full": quote(c.city.province_name),
        "marketing": "yes" if c.accepts_marketing else "no",
    }


def shopify_lines(order: Order, tf: TimeFormatter) -> list[str]:
    """The order's CSV lines (no line ends): one per line item, order-level fields on the first."""
    cust = _customer_cells(order.customer)
    name = order.name
    created = tf.local(order.created)
    fulfilled = order.fulfilled_at is not None
    istatus = "fulfilled" if fulfilled else "pending"
    if order.cancelled_at is not None or order.refund == order.total:
        status = "refunded"
    elif order.refund:
        status = "partially_refunded"
    else:
        status = "paid"
    product, qty, unit_cents = order.items[0]
    pname, sku = _PRODUCT_CELLS[product]
    values = {
        **cust,
        "name": name,
        "created": created,
        "qty": qty,
        "pname": pname,
        "price": money(unit_cents),
        "sku": sku,
        "istatus": istatus,
        "status": status,
        "paid": tf.local(order.paid_at),
        "fstatus": "fulfilled" if fulfilled else "unfulfilled",
        "fulfilled": tf.local(order.fulfilled_at) if order.fulfilled_at is not None else "",
        "subtotal": money(order.subtotal),
        "shipping": money(order.shipping),
        "taxes": money(order.tax1 + order.tax2),
        "total": money(order.total),
        "code": order.code,
        "discount": money(order.discount),
        "method": SHIPPING[1 if order.express else 0][0],
        "note": _NOTES.get(order.note) or quote(order.note),
        "cancelled": tf.local(order.cancelled_at) if order.cancelled_at is not None else "",
        "gateway": "PayPal Express Checkout" if order.paypal else "Stripe",
        "ref": f"c{3118000000 + order.seq * 17}.1",
        "refunded": money(order.refund),
        "oid": 6403118000000 + order.seq * 17,
        "tax1": money(order.tax1),
        "tax2": money(order.tax2),
        "payid": f"{name}.1",
    }
    lines = [_FIRST.render(values)]
    for product, qty, unit_cents in order.items[1:]:
        values["pname"], values["sku"] = _PRODUCT_CELLS[product]
        values["qty"], values["price"] = qty, money(unit_cents)
        lines.append(_CONTINUATION.render(values))
    return lines


def shopify_rows(order: Order, tf: TimeFormatter) -> list[list[str]]:
    """The order's rows as cell lists (parsed back from ``shopify_lines``; for edits and tests)."""
    return list(csv.reader(io.StringIO("\n".join(shopify_lines(order, tf)) + "\n")))


def _customer_id(number: int) -> str:
    """A stable ``cus_`` id per customer (base 62 of a scrambled number)."""
    x = (number * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) % (62**14)
    chars = []
    for _ in range(14):
        x, r = divmod(x, 62)
        chars.append(_B62[r])
    return "cus_" + "".join(chars)


def stripe_rows(orders: list[Order], rng: np.random.Generator, tf: TimeFormatter) -> list[list[str]]:
    """Charges of the card-paid orders (plus failed attempts before some), newest first."""
    card_orders = [o for o in orders if not o.paypal]
    tokens = rng.integers(0, len(_ALPHABET), (len(card_orders) * 2, 48))
    rows: list[tuple[int, int, list[str]]] = []
    for k, o in enumerate(card_orders):
        c = customer(o.customer)
        ch = "ch_" + "".join(_ALPHABET[tokens[2 * k, :24]].tolist())
        card = "card_" + "".join(_ALPHABET[tokens[2 * k, 24:]].tolist())
        amount = money(o.total)
        common = [STORE_NAME + " order " + o.name, DESCRIPTOR]
        cus = _customer_id(o.customer)
        if o.failed_decline is not None:
            reason, message = DECLINES[o.failed_decline]
            fail_id = "ch_" + "".join(_ALPHABET[tokens[2 * k + 1, :24]].tolist())
            rows.append((o.failed_at, 0, [
                fail_id, tf.utc(o.failed_at), amount, "0.00", "usd", "false", amount, "0.00", "usd",
                reason, common[0], "0.00", "", common[1], "Failed", message, "0.00", card, cus, "",
                c.email, "", "", o.name,
            ]))  # fmt: skip
        fee = money((o.total * 29 + 500) // 1000 + 30)
        refunded = money(o.refund)
        status = "Refunded" if o.refund == o.total else "Paid"
        refunded_on = tf.utc(o.refunded_at) if o.refunded_at is not None else ""
        rows.append((o.paid_at, 1, [
            ch, tf.utc(o.paid_at), amount, refunded, "usd", "true", amount, refunded, "usd", "",
            common[0], fee, refunded_on, common[1], status, "Payment complete.", "0.00", card, cus, "",
            c.email, "", "", o.name,
        ]))  # fmt: skip
    rows.sort(key=lambda r: (r[0], r[1]), reverse=True)
    return [r[2] for r in rows]
