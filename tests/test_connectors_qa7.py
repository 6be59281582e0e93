"""API pulls against a scripted local HTTP server (stdlib, 127.0.0.1, free port): Retry-After in
every form RFC 9110 allows or a server may send (seconds, an HTTP date, negative, `nan`), 5xx
retries, answers that are not the API's JSON (a login page, a redirect, another endpoint), and
no credential in any log line or error."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from chimera.clients import add_client, get_client
from chimera.connectors import http as connector_http
from chimera.connectors import pull_shopify, pull_stripe
from chimera.connectors.shopify_api import shop_base
from chimera.db.engine import session_scope
from chimera.errors import IngestError
from chimera.metrics import load_series

TOKEN = "shpat_QA7_token_never_shown"
KEY = "sk_test_QA7_key_never_shown"
Answer = tuple[int, dict[str, str], str]  # status, headers, body


class Script:
    """What the server answers, in order, per path prefix; the last answer repeats. Requests are recorded."""

    def __init__(self) -> None:
        self.answers: dict[str, list[Answer]] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []

    def push(self, prefix: str, *answers: Answer) -> None:
        self.answers.setdefault(prefix, []).extend(answers)

    def next(self, path: str) -> Answer:
        prefix = next(p for p in self.answers if path.startswith(p))
        queue = self.answers[prefix]
        return queue.pop(0) if len(queue) > 1 else queue[0]


def _handler(script: Script) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # http.server calls it for a GET
            script.requests.append((self.path, dict(self.headers)))
            status, headers, body = script.next(self.path)
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(name, value)
            data = body.encode()
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:  # quiet
            return

    return Handler


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    script = Script()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(script))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", script
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every wait the retries ask for, each checked as ``time.sleep`` would check it."""
    recorded: list[float] = []

    def sleep(seconds: float) -> None:
        if not seconds >= 0:  # time.sleep raises ValueError on a negative or nan length
            raise ValueError(f"sleep length {seconds!r}")
        recorded.append(seconds)

    monkeypatch.setattr(connector_http, "sleep", sleep)
    return recorded


def _client(name: str, base: str, monkeypatch: pytest.MonkeyPatch):
    ctx = add_client(name)
    yml = ctx.folder / "client.yml"
    yml.write_text(yml.read_text() + "timezone: Asia/Kathmandu\n" + f"connectors:\n  shopify:\n    shop_url: {base}\n"
                   f"    token_env: QA7_SHOP\n  stripe:\n    api_base: {base}\n    key_env: QA7_STRIPE\n")
    monkeypatch.setenv("QA7_SHOP", TOKEN)
    monkeypatch.setenv("QA7_STRIPE", KEY)
    return get_client(name)


def _series(ctx) -> dict:
    with session_scope() as s:
        return load_series(s, ctx.company_id)


def _order(n: int, created: str, price: str, qty: int, refunded: str | None = None) -> dict:
    """A Shopify Admin API order in a +05:45 store (Kathmandu), one line item, no shipping or tax."""
    total = f"{int(price) * qty}"  # JPY: whole yen
    refunds = [{"transactions": [{"kind": "refund", "status": "success", "amount": refunded}]}] if refunded else []
    return {"name": f"#{n}", "email": f"c{n}@example.com", "created_at": created, "currency": "JPY",
            "cancelled_at": None, "subtotal_price": total, "total_tax": "0", "total_price": total,
            "total_discounts": "0", "total_shipping_price_set": {"shop_money": {"amount": "0"}},
            "refunds": refunds, "line_items": [{"quantity": qty, "price": price}]}


def _page(orders: list[dict], next_url: str | None = None) -> Answer:
    headers = {"Link": f'<{next_url}>; rel="next"'} if next_url else {}
    return 200, headers, json.dumps({"orders": orders})


def test_retry_after_of_any_form_is_a_wait_never_a_crash(chimera_home: Path, server, waits, monkeypatch,
                                                         caplog) -> None:
    """A negative or `nan` Retry-After (seen from misconfigured proxies) made ``time.sleep`` raise
    ValueError: the pull ended in a traceback. An HTTP date is waited until (capped); the pull
    then pages on and stores the orders, with no token in any log line."""
    base, script = server
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    page2 = f"{base}/admin/api/2025-01/orders.json?limit=250&page_info=p2"
    script.push("/admin/api/2025-01/orders.json?status", (429, {"Retry-After": "-1"}, "{}"),
                (429, {"Retry-After": "nan"}, "{}"), (503, {"Retry-After": later}, "{}"),
                _page([_order(1, "2026-03-29T23:50:00+05:45", "1500", 2)], page2))
    script.push("/admin/api/2025-01/orders.json?limit", (502, {}, "{}"),
                _page([_order(2, "2026-03-30T00:10:00+05:45", "800", 1, refunded="300")]))
    caplog.set_level(logging.DEBUG)
    ctx = _client("shop", base, monkeypatch)
    summary = pull_shopify(ctx, date(2026, 3, 29), date(2026, 3, 30))
    assert waits[0] == 0.0 and waits[1] == 1.0  # negative: no wait; nan says nothing: the 2nd back-off (1 s)
    assert 20 <= waits[2] <= 30  # the HTTP date, about 30 s away
    assert len(waits) == 4 and summary.orders_ingested == 2
    series = _series(ctx)
    assert series["total_sales"] == {date(2026, 3, 29): 3000, date(2026, 3, 30): 800}
    assert series["refunded_amount"] == {date(2026, 3, 29): 0, date(2026, 3, 30): 300}
    assert all(h.get("X-Shopify-Access-Token") == TOKEN for _path, h in script.requests)
    assert TOKEN not in caplog.text


@pytest.mark.parametrize("answer, said", [
    ((200, {"Content-Type": "text/html"}, "<html>Log in</html>"), "text/html, not the API's JSON object"),
    ((302, {"Location": "https://shop.example.com/password"}, ""), "redirected to https://shop.example.com/password"),
    ((200, {}, "[]"), "not the API's JSON object"),
    ((200, {}, '{"products": []}'), "no 'orders' list"),
])
def test_an_answer_that_is_not_the_api_is_a_clear_error_and_stores_nothing(
        chimera_home: Path, server, waits, monkeypatch, answer: Answer, said: str) -> None:
    """shop_url set to the shop's own domain (a login page or a redirect), or another endpoint's JSON:
    the pull raised JSONDecodeError / AttributeError, or read "no orders" and stored every day as 0."""
    base, script = server
    script.push("/admin/", answer)
    ctx = _client("shop", base, monkeypatch)
    with pytest.raises(IngestError, match=said) as err:
        pull_shopify(ctx, date(2026, 3, 29), date(2026, 3, 30))
    assert TOKEN not in str(err.value) and base in str(err.value)
    assert _series(ctx) == {}


def test_stripe_pull_that_keeps_failing_names_the_status_never_the_key(chimera_home: Path, server, waits,
                                                                     monkeypatch, caplog) -> None:
    """Every attempt a 503: backs off MAX_ATTEMPTS - 1 times, then an IngestError naming the URL and the
    status; nothing stored, the key in no message and no log line."""
    base, script = server
    script.push("/v1/charges", (503, {}, f'{{"error": "down", "echo": "{KEY}"}}'))
    caplog.set_level(logging.DEBUG)
    ctx = _client("pay", base, monkeypatch)
    with pytest.raises(IngestError, match=r"/v1/charges: still HTTP 503 after 6 attempts") as err:
        pull_stripe(ctx, date(2026, 3, 1), date(2026, 3, 2))
    assert len(waits) == connector_http.MAX_ATTEMPTS - 1 and len(script.requests) == connector_http.MAX_ATTEMPTS
    assert KEY not in str(err.value) and KEY not in caplog.text
    assert all(h.get("Authorization") == f"Bearer {KEY}" for _path, h in script.requests)
    assert _series(ctx) == {}


def test_stripe_answer_without_data_is_refused_not_read_as_no_charges(chimera_home: Path, server, waits,
                                                                      monkeypatch) -> None:
    """`{"object": "balance"}` (api_base pointing elsewhere): not zero charges on every day."""
    base, script = server
    script.push("/v1/charges", (200, {}, '{"object": "balance", "available": []}'))
    ctx = _client("pay", base, monkeypatch)
    with pytest.raises(IngestError, match=r"no 'data' list \(keys: available, object\)"):
        pull_stripe(ctx, date(2026, 3, 1), date(2026, 3, 2))
    assert _series(ctx) == {}


@pytest.mark.parametrize("written, base", [
    ("myshop.myshopify.com", "https://myshop.myshopify.com"),
    ("https://myshop.myshopify.com/admin/", "https://myshop.myshopify.com"),
    (" http://127.0.0.1:8080/ ", "http://127.0.0.1:8080"),
])
def test_shop_url_as_people_copy_it_is_the_api_root(written: str, base: str) -> None:
    """The bare domain Shopify's admin shows failed as "the request could not be sent ... check the
    credential"; a copied admin URL asked /admin/admin/api/... (404)."""
    assert shop_base(written) == base


def test_a_bare_shop_domain_is_asked_over_https(chimera_home: Path, server, waits, monkeypatch) -> None:
    """`127.0.0.1:<port>` without a scheme is asked as https://: the plain-HTTP test server cannot
    answer TLS, so the pull fails connecting (a clear IngestError), no longer refused as unsendable."""
    base, _script = server
    ctx = _client("bare", base.removeprefix("http://"), monkeypatch)
    with pytest.raises(IngestError, match=r"^https://127\.0\.0\.1:\d+/admin/api/2025-01/orders\.json: ") as err:
        pull_shopify(ctx, date(2026, 3, 29), date(2026, 3, 30))
    assert "could not be sent" not in str(err.value) and TOKEN not in str(err.value)


def test_a_next_page_that_repeats_stops_the_pull_instead_of_looping(chimera_home: Path, server, waits,
                                                                     monkeypatch) -> None:
    """A Link header pointing back at a page already read (a misbehaving proxy or cache), or a Stripe
    list whose has_more never ends on the same last id: the pull looped forever, listing the same
    orders again. It stops with an IngestError; nothing is stored."""
    base, script = server
    again = f"{base}/admin/api/2025-01/orders.json?limit=250&page_info=p2"
    script.push("/admin/", _page([_order(1, "2026-03-29T10:00:00+05:45", "100", 1)], again))
    charge = {"id": "ch_1", "created": 1774760400, "amount": 500, "amount_refunded": 0, "currency": "usd",
              "captured": True, "status": "succeeded", "refunded": False, "balance_transaction": {"fee": 30}}
    script.push("/v1/charges", (200, {}, json.dumps({"object": "list", "data": [charge], "has_more": True})))
    ctx = _client("loop", base, monkeypatch)
    with pytest.raises(IngestError, match="sent back a page it had already sent"):
        pull_shopify(ctx, date(2026, 3, 29), date(2026, 3, 30))
    with pytest.raises(IngestError, match="sent back a page it had already sent"):
        pull_stripe(ctx, date(2026, 3, 29), date(2026, 3, 30))
    assert len(script.requests) <= 6 and _series(ctx) == {}
