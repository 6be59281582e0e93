"""API pulls QA: the source's day still going on (UTC for Stripe, store-local for Shopify) is left
out of a pull, never written as 0 nor as a whole day, and what is stored for it stays; credentials
as editors save them."""

from __future__ import annotations

import calendar
import json
import logging
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from chimera.clients import add_client, get_client
from chimera.connectors import http as connector_http
from chimera.connectors import pull_shopify, pull_stripe, shopify_api, stripe_api
from chimera.db.engine import session_scope
from chimera.errors import IngestError
from chimera.ingest import stripe
from chimera.kpi.evaluate import load_customers
from tests import test_connectors as tc
from tests import test_connectors_qa7 as qa7
from tests.test_cli_contracts import chimera
from tests.test_connector_secrets import SINCE, _client_yml, _nowhere
from tests.test_unseen_connectors import _series, _stub

fake_api = tc.fake_api  # the fake Shopify / Stripe API (127.0.0.1) and the recorded retry waits
waits = tc.waits
server = qa7.server  # a scripted local server (stdlib, 127.0.0.1)


def _client(name: str, monkeypatch: pytest.MonkeyPatch, timezone: str = "UTC"):
    ctx = add_client(name)
    yml = ctx.folder / "client.yml"
    yml.write_text(yml.read_text() + f"timezone: {timezone}\nconnectors:\n  shopify:\n    shop_url: http://127.0.0.1:9\n"
                   "    token_env: T_SHOP\n  stripe:\n    api_base: http://127.0.0.1:9\n    key_env: T_STRIPE\n")
    monkeypatch.setenv("T_SHOP", "shpat_x")
    monkeypatch.setenv("T_STRIPE", "sk_test_x")
    return get_client(name)


def _charge(n: int, when: datetime, amount: int) -> dict:
    return {"id": f"ch_{n}", "created": calendar.timegm(when.utctimetuple()), "amount": amount,
            "amount_refunded": 0, "currency": "usd", "captured": True, "status": "succeeded", "refunded": False,
            "balance_transaction": {"amount": amount, "currency": "usd", "fee": 30}}


def _order(name: str, created_at: str) -> dict:
    return {"name": name, "email": "a@example.com", "created_at": created_at, "currency": "USD",
            "cancelled_at": None, "subtotal_price": "10.00", "total_tax": "0.00", "total_price": "10.00",
            "total_discounts": "0.00", "total_shipping_price_set": {"shop_money": {"amount": "0.00"}},
            "refunds": [], "line_items": [{"quantity": 1, "price": "10.00"}]}


@pytest.mark.parametrize("charges_today", [0, 1])
def test_a_stripe_pull_at_9_utc_leaves_today_out_and_keeps_what_is_stored(
        chimera_home: Path, monkeypatch: pytest.MonkeyPatch, charges_today: int) -> None:
    """Pulled at 09:00 UTC through today: today is neither 0 (no charge yet) nor its first hours as a
    whole day; a later pull, once the day is over, writes it."""
    now = datetime(2026, 3, 6, 9, 0, tzinfo=UTC)
    today, yesterday = now.date(), now.date() - timedelta(days=1)
    monkeypatch.setattr(stripe, "_now", lambda: now)
    ctx = _client("s", monkeypatch)
    full_day = [_charge(1, datetime(2026, 3, 6, 8, 0, tzinfo=UTC), 4000),
                _charge(2, datetime(2026, 3, 6, 15, 0, tzinfo=UTC), 6000)]
    _stub(monkeypatch, stripe_api, "fetch_charges", full_day)
    monkeypatch.setattr(stripe, "_now", lambda: now + timedelta(days=1))  # the 6th, pulled on the 7th
    pull_stripe(ctx, today, today)
    assert _series(ctx)["stripe_gross"] == {today: Decimal("100.00")}

    monkeypatch.setattr(stripe, "_now", lambda: now)  # a pull at 09:00 on the 6th
    _stub(monkeypatch, stripe_api, "fetch_charges", full_day[:charges_today])
    summary = pull_stripe(ctx, yesterday, today)
    assert [d.day for d in summary.left_out] == [today] and "09:00 UTC" in summary.left_out[0].reason
    series = _series(ctx)
    assert series["stripe_gross"] == {yesterday: Decimal("0"), today: Decimal("100.00")}  # stored value kept
    assert series["stripe_payments"] == {yesterday: 0, today: 2}


def test_a_shopify_pull_leaves_the_store_day_going_on_out(chimera_home: Path, monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    """02:00 UTC on 6 March is 21:00 on 5 March in New York: the store's 5th is not over (its orders
    so far are not the day's), the 4th is (no order: 0); UTC's yesterday is not the store's."""
    monkeypatch.setattr(stripe, "_now", lambda: datetime(2026, 3, 6, 2, 0, tzinfo=UTC))
    ctx = _client("ny", monkeypatch, "America/New_York")
    _stub(monkeypatch, shopify_api, "fetch_orders", [_order("#1", "2026-03-03T12:00:00-05:00"),
                                                     _order("#2", "2026-03-05T09:00:00-05:00")])
    summary = pull_shopify(ctx, date(2026, 3, 3), date(2026, 3, 6))
    assert [d.day for d in summary.left_out] == [date(2026, 3, 5)]
    assert "store-local" in summary.left_out[0].reason
    assert _series(ctx)["orders"] == {date(2026, 3, 3): 1, date(2026, 3, 4): 0}


def test_a_shopify_pull_east_of_utc_writes_the_store_day_already_over(chimera_home: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """20:00 UTC on 5 March is 05:00 on 6 March in Tokyo: the store's 5th is over and written (0 without
    orders), its 6th (orders of its first hours only) left out."""
    monkeypatch.setattr(stripe, "_now", lambda: datetime(2026, 3, 5, 20, 0, tzinfo=UTC))
    ctx = _client("jp", monkeypatch, "Asia/Tokyo")
    _stub(monkeypatch, shopify_api, "fetch_orders", [_order("#1", "2026-03-06T01:00:00+09:00")])
    summary = pull_shopify(ctx, date(2026, 3, 4), date(2026, 3, 6))
    assert [d.day for d in summary.left_out] == [date(2026, 3, 6)]
    assert _series(ctx)["orders"] == {date(2026, 3, 4): 0, date(2026, 3, 5): 0}


# --------------------------------------------------------------------------- credentials as editors save them


@pytest.mark.parametrize("data", [
    lambda key: ("\ufeff" + key + "\r\n").encode(),  # Notepad's UTF-8 with a byte-order mark
    lambda key: (key + "\r\n").encode("utf-16"),  # PowerShell 5's `echo key > file`: UTF-16 with a BOM
])
def test_a_secrets_file_saved_with_a_byte_order_mark_works(chimera_home: Path, fake_api, waits, monkeypatch,
                                                           caplog, data) -> None:
    """The key was read with its BOM (`Bearer \\ufeffsk_...`) and httpx ended the pull in a
    UnicodeEncodeError traceback; a UTF-16 file in a UnicodeDecodeError one."""
    caplog.set_level(logging.DEBUG)
    base, calls = fake_api
    _client_yml("shop", f"  stripe:\n    api_base: {base}\n    key_env: T_STRIPE\n")
    monkeypatch.delenv("T_STRIPE", raising=False)
    secrets = connector_http.settings.secrets_dir()
    secrets.mkdir(parents=True, exist_ok=True)
    (secrets / "shop.T_STRIPE").write_bytes(data(tc.KEY))
    pull = chimera("pull", "stripe", "--client", "shop", *SINCE)
    assert pull.code == 0, pull.stderr
    assert calls and waits == []
    _nowhere(tc.KEY, chimera_home, caplog, pull.stdout, pull.stderr)


@pytest.mark.parametrize("written", ["“{key}”", "{key}\u200b", "{key}é"])
def test_a_key_with_characters_no_key_has_is_one_line_without_it(chimera_home: Path, fake_api, waits, monkeypatch,
                                                                 caplog, written: str) -> None:
    """Curly quotes or a zero-width space copied with the key: one line naming where it is, no traceback."""
    caplog.set_level(logging.DEBUG)
    base, calls = fake_api
    _client_yml("shop", f"  stripe:\n    api_base: {base}\n    key_env: T_STRIPE\n")
    secret = "sk_test_SECRET777"
    monkeypatch.setenv("T_STRIPE", written.format(key=secret))
    pull = chimera("pull", "stripe", "--client", "shop", *SINCE)
    line = pull.one_line_error()
    assert "T_STRIPE" in line and "characters no key has" in line
    assert calls == [] and waits == []
    _nowhere(secret, chimera_home, caplog, pull.stdout, pull.stderr)


def test_a_secrets_file_that_is_not_text_is_named_not_a_traceback(chimera_home: Path, monkeypatch) -> None:
    ctx = _client("bin", monkeypatch)
    monkeypatch.delenv("T_STRIPE", raising=False)
    secrets = connector_http.settings.secrets_dir()
    secrets.mkdir(parents=True, exist_ok=True)
    (secrets / "bin.T_STRIPE").write_bytes(b"\x80\x81sk_test_SECRET\xff")
    with pytest.raises(IngestError, match=r"bin\.T_STRIPE is not text"):
        pull_stripe(ctx, date(2026, 3, 1), date(2026, 3, 2))


# --------------------------------------------------------------------------- re-pulls


@pytest.mark.parametrize("api", ["stripe", "shopify"])
def test_overlapping_re_pulls_store_what_one_pull_of_the_whole_range_does(chimera_home: Path, fake_api, waits,
                                                                          monkeypatch, api: str) -> None:
    """Pulled in overlapping pieces, in any order and twice, against the local fake API: the same
    metrics (and customers) as one pull of the whole range; nothing doubled, nothing lost at the seams."""
    base, _calls = fake_api
    monkeypatch.setenv("T_SHOP", tc.TOKEN)
    monkeypatch.setenv("T_STRIPE", tc.KEY)
    pull = pull_stripe if api == "stripe" else pull_shopify
    whole, pieces = tc._client("whole", base), tc._client("pieces", base)
    first, last = date(2026, 3, 6), date(2026, 3, 11)
    pull(whole, first, last)
    for since, until in [(date(2026, 3, 8), date(2026, 3, 11)), (first, date(2026, 3, 8)),
                         (date(2026, 3, 7), date(2026, 3, 9)), (date(2026, 3, 8), date(2026, 3, 8))]:
        pull(pieces, since, until)
    assert _series(pieces) == _series(whole) and _series(whole)
    assert _customers(pieces) == _customers(whole) and (api == "stripe" or _customers(whole))
    pull(whole, first, last)
    assert _series(pieces) == _series(whole)
    assert _customers(pieces) == _customers(whole)


def _customers(ctx) -> dict:
    """Each day's customers' order counts (pseudonyms differ per client: compared by shape)."""
    with session_scope() as s:
        days = load_customers(s, ctx.company_id, date(2026, 1, 1), date(2026, 12, 31))
    return {d: sorted(c.values()) for d, c in days.items()}


# --------------------------------------------------------------------------- Shopify next links


def test_a_relative_next_link_is_the_next_page_of_the_same_shop(chimera_home: Path, server, monkeypatch) -> None:
    base, script = server
    ctx = qa7._client("rel", base, monkeypatch)
    script.push("/admin/api/", qa7._page([qa7._order(1, "2026-03-07T10:00:00+05:45", "100", 1)],
                                         "/admin/api/2024-01/orders.json?limit=250&page_info=p2"),
                qa7._page([qa7._order(2, "2026-03-07T11:00:00+05:45", "300", 1)]))
    pull_shopify(ctx, date(2026, 3, 7), date(2026, 3, 7))
    assert len(script.requests) == 2 and "page_info=p2" in script.requests[1][0]
    assert _series(ctx)["orders"] == {date(2026, 3, 7): 2}


def test_a_next_link_to_another_server_is_not_followed_with_the_token(chimera_home: Path, server, monkeypatch,
                                                                      caplog) -> None:
    """Every request carries the access token: a Link to elsewhere (a proxy's, a hostile answer) would hand
    it over. Refused, nothing stored, the token in no message."""
    caplog.set_level(logging.DEBUG)
    base, script = server
    ctx = qa7._client("far", base, monkeypatch)
    script.push("/admin/api/", qa7._page([qa7._order(1, "2026-03-07T10:00:00+05:45", "100", 1)],
                                         "https://collector.example/admin/api/2024-01/orders.json?page_info=p2"))
    with pytest.raises(IngestError, match="another server") as err:
        pull_shopify(ctx, date(2026, 3, 7), date(2026, 3, 7))
    assert len(script.requests) == 1 and qa7.TOKEN not in str(err.value) + caplog.text
    assert _series(ctx) == {}


# --------------------------------------------------------------------------- Stripe answers of another shape


@pytest.mark.parametrize(("item", "said"), [
    ({"object": "charge", "amount": 100}, "no id"),
    ("ch_1", "a str, not an object"),
    ({"id": "ch_1", "created": "2026-03-07T10:00:00Z", "amount": 100}, "created is not a Unix time"),
    ({"id": "ch_1", "created": 1772877600, "amount": "12.50", "currency": "usd"}, "amount is not an integer"),
    ({"id": "ch_1", "created": 1772877600, "amount": 1250, "currency": "usd",
      "balance_transaction": {"fee": 0.39, "currency": "usd"}}, "balance_transaction.fee"),
])
def test_a_charge_not_as_the_api_writes_it_is_a_clear_error_not_a_traceback(chimera_home: Path, server, waits,
                                                                            monkeypatch, item, said: str) -> None:
    """A proxy's or mock's answer with a `data` list of something else: one error naming what is wrong,
    nothing stored (it ended in KeyError / TypeError, or compared text with numbers)."""
    base, script = server
    ctx = qa7._client("odd", base, monkeypatch)
    good = {"id": "ch_0", "created": 1772877600, "amount": 500, "amount_refunded": 0, "currency": "usd",
            "captured": True, "status": "succeeded", "balance_transaction": {"fee": 45, "currency": "usd",
                                                                              "amount": 500}}
    script.push("/v1/charges", (200, {}, json.dumps({"object": "list", "data": [good, item], "has_more": False})))
    with pytest.raises(IngestError, match="not a charge as the Stripe API writes it") as err:
        pull_stripe(ctx, date(2026, 3, 7), date(2026, 3, 7))
    assert said in str(err.value) and qa7.KEY not in str(err.value)
    assert _series(ctx) == {}


# --------------------------------------------------------------------------- JSON cut short


@pytest.mark.parametrize("api", ["shopify", "stripe"])
def test_json_cut_short_is_retried_then_read(chimera_home: Path, server, waits, monkeypatch, caplog, api: str) -> None:
    """A JSON answer that does not parse (a proxy cut it) is a fault on the way, not a wrong URL: tried
    again, and the pull goes on; the log names the fault, never the credential."""
    caplog.set_level(logging.DEBUG)
    base, script = server
    ctx = qa7._client(f"cut{api}", base, monkeypatch)
    if api == "shopify":
        path, whole = "/admin/", qa7._page([qa7._order(1, "2026-03-07T10:00:00+05:45", "100", 1)])
    else:
        charge = {"id": "ch_1", "created": 1772877600, "amount": 500, "amount_refunded": 0, "currency": "usd",
                  "captured": True, "status": "succeeded", "balance_transaction": {"fee": 45, "currency": "usd"}}
        path, whole = "/v1/charges", (200, {}, json.dumps({"data": [charge], "has_more": False}))
    script.push(path, (200, {}, whole[2][: len(whole[2]) // 2]), whole)
    (pull_shopify if api == "shopify" else pull_stripe)(ctx, date(2026, 3, 7), date(2026, 3, 7))
    assert len(script.requests) == 2 and len(waits) == 1
    assert "cut short" in caplog.text and qa7.TOKEN not in caplog.text and qa7.KEY not in caplog.text
    assert _series(ctx)["stripe_gross" if api == "stripe" else "orders"] == {
        date(2026, 3, 7): Decimal("5.00") if api == "stripe" else 1}


def test_json_that_never_parses_says_so_not_check_the_url(chimera_home: Path, server, waits, monkeypatch) -> None:
    base, script = server
    ctx = qa7._client("cutall", base, monkeypatch)
    script.push("/v1/charges", (200, {}, '{"object": "list", "data": [{"id": "ch_1", "amou'))
    with pytest.raises(IngestError, match=r"still JSON that does not parse \(cut short\?\) after 6 attempts"):
        pull_stripe(ctx, date(2026, 3, 7), date(2026, 3, 7))
    assert _series(ctx) == {}


# --------------------------------------------------------------------------- Shopify answers of another shape


def test_a_shopify_refund_or_shipping_amount_that_is_no_number_rejects_its_order(chimera_home: Path, server, waits,
                                                                                 monkeypatch) -> None:
    """A refund transaction's or shipping line's amount that is no number rejects that order (column
    and value named) like a bad export cell; it ended the pull in a decimal.InvalidOperation traceback."""
    base, script = server
    ctx = qa7._client("badamt", base, monkeypatch)
    refund = {**qa7._order(2, "2026-03-07T11:00:00+05:45", "300", 1), "refunds": [
        {"transactions": [{"kind": "refund", "status": "success", "amount": "1O0"}]}]}
    shipping = {**qa7._order(3, "2026-03-07T12:00:00+05:45", "300", 1), "total_shipping_price_set": None,
                "shipping_lines": [{"price": "n/a"}]}
    script.push("/admin/", qa7._page([qa7._order(1, "2026-03-07T10:00:00+05:45", "100", 1), refund, shipping]))
    summary = pull_shopify(ctx, date(2026, 3, 7), date(2026, 3, 7))
    assert sorted((r.order, r.column, r.value) for r in summary.rejected) == [
        ("#2", "Refunded Amount", "1O0"), ("#3", "Shipping", "n/a")]
    assert _series(ctx)["orders"] == {date(2026, 3, 7): 1}


@pytest.mark.parametrize("order", [
    "#1",
    {**qa7._order(1, "2026-03-07T10:00:00+05:45", "100", 1), "line_items": ["sku-1"]},
    {**qa7._order(1, "2026-03-07T10:00:00+05:45", "100", 1), "refunds": [["re_1"]]},
])
def test_an_item_that_is_not_an_order_is_a_clear_error_not_a_traceback(chimera_home: Path, server, waits,
                                                                       monkeypatch, order) -> None:
    base, script = server
    ctx = qa7._client("notorder", base, monkeypatch)
    script.push("/admin/", (200, {}, json.dumps({"orders": [order]})))
    with pytest.raises(IngestError, match="not an order as the Shopify Admin API writes it"):
        pull_shopify(ctx, date(2026, 3, 7), date(2026, 3, 7))
    assert _series(ctx) == {}


def test_a_refund_in_the_customers_currency_is_counted_in_the_shops(chimera_home: Path, server, waits,
                                                                    monkeypatch) -> None:
    """A multi-currency store: the order's totals are shop money (JPY), its refund transaction is in the
    currency the customer paid (EUR). Converted at the order's own rate, never added as yen; without a
    rate the order is rejected, its value shown with its currency."""
    base, script = server
    ctx = qa7._client("fx", base, monkeypatch)
    sold = {**qa7._order(1, "2026-03-07T10:00:00+05:45", "1500", 1),
            "presentment_currency": "EUR",
            "total_price_set": {"shop_money": {"amount": "1500", "currency_code": "JPY"},
                                "presentment_money": {"amount": "9.30", "currency_code": "EUR"}},
            "refunds": [{"transactions": [{"kind": "refund", "status": "success", "amount": "3.10",
                                           "currency": "EUR"}]}]}
    unknown = {**sold, "name": "#2", "total_price_set": None}
    script.push("/admin/", qa7._page([sold, unknown]))
    summary = pull_shopify(ctx, date(2026, 3, 7), date(2026, 3, 7))
    assert _series(ctx)["refunded_amount"] == {date(2026, 3, 7): Decimal("500")}  # 3.10 / 9.30 of 1500 yen
    assert [(r.order, r.column, r.value) for r in summary.rejected] == [("#2", "Refunded Amount", "3.10 EUR")]


@pytest.mark.parametrize(("now", "orders", "written", "left"), [
    # 02:00 UTC on 6 March is 21:00 on the 5th at -05:00: that day is not over, the 4th is
    (datetime(2026, 3, 6, 2, 0, tzinfo=UTC), ["2026-03-03T12:00:00-05:00", "2026-03-05T09:00:00-05:00"],
     {date(2026, 3, 3): 1, date(2026, 3, 4): 0}, [date(2026, 3, 5)]),
    # 20:00 UTC on 5 March is 05:00 on the 6th at +09:00: the 5th is over (0), the 6th's first hours left out
    (datetime(2026, 3, 5, 20, 0, tzinfo=UTC), ["2026-03-03T12:00:00+09:00", "2026-03-06T01:00:00+09:00"],
     {date(2026, 3, 3): 1, date(2026, 3, 4): 0, date(2026, 3, 5): 0}, [date(2026, 3, 6)]),
])
def test_a_shopify_pull_with_client_yml_left_at_utc_judges_days_by_the_shops_offsets(
        chimera_home: Path, monkeypatch: pytest.MonkeyPatch, now: datetime, orders: list[str],
        written: dict, left: list[date]) -> None:
    """The API writes times in the shop's zone whatever client.yml says (the pull warns): the day going on
    is the shop's, so its evening west of UTC is not written whole, nor its morning east of UTC."""
    monkeypatch.setattr(stripe, "_now", lambda: now)
    ctx = _client("utcyml", monkeypatch)
    _stub(monkeypatch, shopify_api, "fetch_orders", [_order(f"#{n}", at) for n, at in enumerate(orders)])
    summary = pull_shopify(ctx, date(2026, 3, 3), date(2026, 3, 6))
    assert [d.day for d in summary.left_out] == left and summary.warnings
    assert _series(ctx)["orders"] == written


@pytest.mark.parametrize(("written", "root"), [
    ("https://api.stripe.com/v1", "https://api.stripe.com"),
    ("https://api.stripe.com/v1/", "https://api.stripe.com"),
    ("api.stripe.com", "https://api.stripe.com"),
    (" http://127.0.0.1:8080 ", "http://127.0.0.1:8080"),
])
def test_stripe_api_base_as_people_copy_it_is_the_api_root(written: str, root: str) -> None:
    assert stripe_api.api_root(written) == root


def test_a_stripe_api_base_with_the_version_path_pulls(chimera_home: Path, server, waits, monkeypatch) -> None:
    base, script = server
    ctx = qa7._client("v1", f"{base}/v1/", monkeypatch)
    script.push("/v1/charges", (200, {}, json.dumps({"data": [], "has_more": False})))
    pull_stripe(ctx, date(2026, 3, 7), date(2026, 3, 7))
    assert [path.split("?")[0] for path, _headers in script.requests] == ["/v1/charges"]


def test_a_stripe_page_that_says_more_follow_but_lists_none_stores_nothing(chimera_home: Path, server, waits,
                                                                            monkeypatch) -> None:
    """`has_more` with an empty `data`: the rest of the listing cannot be asked for. Stopping there stored
    the charges so far as whole days, and the days after them as zero."""
    base, script = server
    ctx = qa7._client("more", base, monkeypatch)
    charge = {"id": "ch_1", "created": 1772877600, "amount": 500, "amount_refunded": 0, "currency": "usd",
              "captured": True, "status": "succeeded", "balance_transaction": {"fee": 45, "currency": "usd"}}
    script.push("/v1/charges", (200, {}, json.dumps({"data": [charge], "has_more": True})),
                (200, {}, json.dumps({"data": [], "has_more": True})))
    with pytest.raises(IngestError, match="said more charges follow but sent none"):
        pull_stripe(ctx, date(2026, 3, 6), date(2026, 3, 8))
    assert "starting_after=ch_1" in script.requests[1][0] and _series(ctx) == {}
