"""Shopify and Stripe pulls against a local fake API (uvicorn in a thread, 127.0.0.1, free port):
pagination, 429 + Retry-After, 500 then success, same metrics as the export, no token leaks."""

from __future__ import annotations

import csv
import io
import logging
import socket
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI, Request, Response

from chimera.clients import add_client, get_client
from chimera.connectors import http as connector_http
from chimera.connectors import pull_shopify, pull_stripe
from chimera.db.engine import session_scope
from chimera.errors import IngestError
from chimera.ingest import ingest_file
from chimera.metrics import load_series

TOKEN = "shpat_SECRET_test_token_123"
KEY = "sk_test_SECRET_key_456"

ORDERS = [  # Shopify Admin API order objects (only the fields a connector reads, plus noise)
    {"name": "#1001", "email": "Ann@Example.com", "created_at": "2026-03-07T23:30:00-05:00", "currency": "USD",
     "cancelled_at": None, "subtotal_price": "37.00", "total_tax": "3.28", "total_price": "46.23",
     "total_discounts": "0.00", "total_shipping_price_set": {"shop_money": {"amount": "5.95"}},
     "refunds": [], "line_items": [{"quantity": 1, "price": "21.00"}, {"quantity": 1, "price": "16.00"}],
     "billing_address": {"name": "Ann Example", "phone": "+1 555 0100"}},
    {"name": "#1002", "email": "bob@example.com", "created_at": "2026-03-08T03:10:00-04:00", "currency": "USD",
     "cancelled_at": None, "subtotal_price": "43.20", "total_tax": "3.83", "total_price": "52.98",
     "total_discounts": "4.80", "total_shipping_price_set": {"shop_money": {"amount": "5.95"}},
     "refunds": [{"transactions": [{"kind": "refund", "status": "success", "amount": "10.00"},
                                   {"kind": "refund", "status": "failure", "amount": "99.00"}]}],
     "line_items": [{"quantity": 3, "price": "16.00"}]},
    {"name": "#1003", "email": "ann@example.com", "created_at": "2026-03-08T12:00:00-04:00", "currency": "USD",
     "cancelled_at": "2026-03-08T13:00:00-04:00", "subtotal_price": "7.50", "total_tax": "0.67",
     "total_price": "14.12", "total_discounts": "0.00",
     "total_shipping_price_set": {"shop_money": {"amount": "5.95"}},
     "refunds": [{"transactions": [{"kind": "refund", "status": "success", "amount": "14.12"}]}],
     "line_items": [{"quantity": 1, "price": "7.50"}]},
    {"name": "#1004", "email": "ann@example.com", "created_at": "2026-03-08T18:45:00-04:00", "currency": "USD",
     "cancelled_at": None, "subtotal_price": "36.00", "total_tax": "3.19", "total_price": "39.19",
     "total_discounts": "0.00", "total_shipping_price_set": {"shop_money": {"amount": "0.00"}},
     "refunds": [], "line_items": [{"quantity": 2, "price": "18.00"}]},
]
CHARGES = [  # Stripe charge objects, newest first as the API lists them
    {"id": f"ch_{i}", "created": 1772900000 + i * 20000, "amount": 2500 + i * 111,
     "amount_refunded": 500 if i % 4 == 1 else 0, "currency": "usd", "captured": i % 5 != 3,
     "status": "failed" if i % 5 == 3 else "succeeded", "refunded": False,
     "balance_transaction": {"fee": 0 if i % 5 == 3 else 103 + i}}
    for i in range(12, 0, -1)
]


def _export_csv(path: Path) -> Path:
    header = ["Name", "Email", "Created at", "Cancelled at", "Subtotal", "Shipping", "Taxes", "Total",
              "Discount Amount", "Refunded Amount", "Lineitem quantity", "Lineitem price", "Currency"]
    rows = []
    for o in ORDERS:
        stamp = o["created_at"].replace("T", " ")
        stamp = stamp[:-6] + " " + stamp[-6:].replace(":", "")
        refunded = sum(float(t["amount"]) for r in o["refunds"] for t in r["transactions"] if t["status"] == "success")
        for i, item in enumerate(o["line_items"]):
            head = [o["cancelled_at"] or "", o["subtotal_price"], o["total_shipping_price_set"]["shop_money"]["amount"],
                    o["total_tax"], o["total_price"], o["total_discounts"], f"{refunded:.2f}"] if i == 0 else [""] * 7
            rows.append([o["name"], o["email"], stamp, *head, str(item["quantity"]), item["price"],
                         o["currency"] if i == 0 else ""])
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([header, *rows])
    path.write_text(buf.getvalue())
    return path


def _fake_api(calls: list[str]) -> FastAPI:
    app = FastAPI()
    flaky = {"429": True, "500": True}

    @app.get("/admin/api/{version}/orders.json")
    def orders(request: Request, response: Response, page_info: str | None = None):
        calls.append(str(request.url))
        if request.headers.get("X-Shopify-Access-Token") != TOKEN:
            return Response(status_code=401)
        if flaky["429"]:
            flaky["429"] = False
            return Response(status_code=429, headers={"Retry-After": "2"})
        page = int(page_info or 0)
        if page == 1 and flaky["500"]:
            flaky["500"] = False
            return Response(status_code=500)
        if page == 0:
            assert request.query_params["status"] == "any" and "created_at_min" in request.query_params
        if page + 1 < 2:
            base = str(request.url).split("?")[0]
            response.headers["Link"] = f'<{base}?limit=2&page_info={page + 1}>; rel="next"'
        return {"orders": ORDERS[page * 2 : page * 2 + 2]}

    @app.get("/v1/charges")
    def charges(request: Request):
        calls.append(str(request.url))
        if request.headers.get("Authorization") != f"Bearer {KEY}":
            return Response(status_code=401)
        q = request.query_params
        data = [c for c in CHARGES if int(q["created[gte]"]) <= c["created"] < int(q["created[lt]"])]
        if "starting_after" in q:
            data = data[[c["id"] for c in data].index(q["starting_after"]) + 1 :]
        return {"object": "list", "data": data[:5], "has_more": len(data) > 5}

    return app


@pytest.fixture
def fake_api() -> Iterator[tuple[str, list[str]]]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    calls: list[str] = []
    server = uvicorn.Server(uvicorn.Config(_fake_api(calls), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}", calls
    server.should_exit = True
    thread.join(timeout=5)


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    recorded: list[float] = []
    monkeypatch.setattr(connector_http, "sleep", recorded.append)
    return recorded


def _client(name: str, base: str):
    ctx = add_client(name)
    yml = ctx.folder / "client.yml"
    yml.write_text(yml.read_text() + f"connectors:\n  shopify:\n    shop_url: {base}\n    token_env: T_SHOP\n"
                   f"  stripe:\n    api_base: {base}\n    key_env: T_STRIPE\n")
    return get_client(name)


def _series(ctx) -> dict:
    with session_scope() as s:
        return load_series(s, ctx.company_id)


def test_shopify_pull_matches_the_export(chimera_home: Path, fake_api, waits, monkeypatch, caplog, tmp_path) -> None:
    base, calls = fake_api
    monkeypatch.setenv("T_SHOP", TOKEN)
    caplog.set_level(logging.DEBUG)
    api = _client("api", base)
    summary = pull_shopify(api, date(2026, 3, 7), date(2026, 3, 8))
    assert waits[0] == 2.0 and len(waits) == 2  # Retry-After honoured, then a back-off after the 500
    assert len([c for c in calls if "orders.json" in c]) == 4  # 429, page 0, 500, page 1
    assert summary.orders_ingested == len(ORDERS) and summary.rejected == []
    # the client keeps client.yml's default UTC while the shop's times are New York's: the pull says so
    assert len(summary.warnings) == 1 and "America/New_York" in summary.warnings[0]
    export = add_client("export")
    ingest_file(export, _export_csv(tmp_path / "orders_export.csv"))
    assert _series(api) == _series(export)
    assert _series(api)["orders"] == {date(2026, 3, 7): 1, date(2026, 3, 8): 2}
    assert TOKEN not in caplog.text
    blob = b"".join(p.read_bytes() for p in chimera_home.glob("chimera.db*"))
    assert TOKEN.encode() not in blob and b"example.com" not in blob


def test_stripe_pull_pages_and_matches_the_export(chimera_home: Path, fake_api, waits, monkeypatch, caplog,
                                                  tmp_path) -> None:
    from chimera.connectors.stripe_api import charge_row

    base, calls = fake_api
    monkeypatch.setenv("T_STRIPE", KEY)
    caplog.set_level(logging.DEBUG)
    api = _client("api", base)
    first, last = date(2026, 3, 7), date(2026, 3, 10)
    summary = pull_stripe(api, first, last)
    assert len([c for c in calls if "/v1/charges" in c]) >= 3 and any("starting_after" in c for c in calls)
    rows = [charge_row(c) for c in CHARGES]
    rows = [r for r in rows if first.isoformat() <= r["created"][:10] <= last.isoformat()]
    assert summary.orders_ingested == len(rows)
    header = ["id", "Created date (UTC)", "Amount", "Amount Refunded", "Currency", "Captured", "Fee", "Status"]
    keys = ["id", "created", "amount", "refunded", "currency", "captured", "fee", "status"]
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([header, *([r[k] for k in keys] for r in rows)])
    (tmp_path / "stripe.csv").write_text(buf.getvalue())
    export = add_client("export")
    ingest_file(export, tmp_path / "stripe.csv")
    assert _series(api) == _series(export)
    assert KEY not in caplog.text
    assert KEY.encode() not in b"".join(p.read_bytes() for p in chimera_home.glob("chimera.db*"))


def test_missing_credential_and_connector_are_clear(chimera_home: Path, monkeypatch) -> None:
    monkeypatch.delenv("T_SHOP", raising=False)
    ctx = _client("c", "http://127.0.0.1:9")
    with pytest.raises(IngestError, match="T_SHOP"):
        pull_shopify(ctx, date(2026, 3, 1), date(2026, 3, 2))
    with pytest.raises(IngestError, match="no Stripe connector"):
        pull_stripe(add_client("d"), date(2026, 3, 1), date(2026, 3, 2))


def test_wrong_token_is_not_retried_and_not_echoed(chimera_home: Path, fake_api, waits, monkeypatch) -> None:
    base, _calls = fake_api
    monkeypatch.setenv("T_STRIPE", "sk_wrong_SECRET")
    with pytest.raises(IngestError) as err:
        pull_stripe(_client("api", base), date(2026, 3, 7), date(2026, 3, 8))
    assert "401" in str(err.value) and "sk_wrong_SECRET" not in str(err.value) and waits == []
