"""Stripe and Shopify API pulls on accounts unlike the sample store: charges in a currency other than
the account's, three-decimal currencies, quiet days. The API's answers are stubbed (no server,
no network); metrics are read back as stored, against a reference computed by hand from the
charges (Stripe API amounts are integers in the currency's minor unit)."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from chimera.clients import add_client, get_client
from chimera.connectors import pull_shopify, pull_stripe, shopify_api, stripe_api
from chimera.connectors.common import clip, minor_to_text
from chimera.db.engine import session_scope
from chimera.ingest import Aggregate
from chimera.metrics import load_series


def _client(name: str, monkeypatch: pytest.MonkeyPatch):
    ctx = add_client(name)
    yml = ctx.folder / "client.yml"
    yml.write_text(yml.read_text() + "connectors:\n  shopify:\n    shop_url: http://127.0.0.1:9\n"
                   "    token_env: T_SHOP\n  stripe:\n    api_base: http://127.0.0.1:9\n    key_env: T_STRIPE\n")
    monkeypatch.setenv("T_SHOP", "shpat_x")
    monkeypatch.setenv("T_STRIPE", "sk_test_x")
    return get_client(name)


def _stub(monkeypatch: pytest.MonkeyPatch, module, name: str, items: list[dict]) -> None:
    monkeypatch.setattr(module, name, lambda cfg, key, since, until: iter(items))


def _series(ctx) -> dict:
    with session_scope() as s:
        return load_series(s, ctx.company_id)


def _at(day: str, hour: int = 12) -> int:
    return calendar.timegm(datetime.fromisoformat(f"{day}T{hour:02d}:00:00").timetuple())


def _charge(n: int, day: str, amount: int, currency: str, *, settled: tuple[int, str, int] | None,
            refunded: int = 0, status: str = "succeeded") -> dict:
    """A charge; ``settled`` = its balance transaction (amount, currency, fee) in the account's currency."""
    balance = None if settled is None else {"amount": settled[0], "currency": settled[1], "fee": settled[2]}
    return {"id": f"ch_{n}", "created": _at(day), "amount": amount, "amount_refunded": refunded,
            "currency": currency, "captured": status == "succeeded", "status": status,
            "refunded": refunded == amount and amount > 0, "balance_transaction": balance}


def test_three_decimal_currencies_are_thousandths() -> None:
    """Stripe: 5.124 KWD is `5124` (BHD, JOD, KWD, OMR, TND); 500 JPY is `500`; 10 USD is `1000`."""
    assert minor_to_text(5120, "kwd") == "5.120"
    assert minor_to_text(-1050, "BHD") == "-1.050"
    assert minor_to_text(500, "jpy") == "500"
    assert minor_to_text(1000, "usd") == "10.00"
    assert minor_to_text(100, "isk") == "1.00"  # ISK stays two-decimal in the API


def test_kwd_account_pull_sums_dinars(chimera_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = _client("kw", monkeypatch)
    _stub(monkeypatch, stripe_api, "fetch_charges", [
        _charge(1, "2026-03-08", 5120, "kwd", settled=(5120, "kwd", 180)),
        _charge(2, "2026-03-08", 12350, "kwd", settled=(12350, "kwd", 390), refunded=2000),
    ])
    pull_stripe(ctx, date(2026, 3, 8), date(2026, 3, 8))
    series = _series(ctx)
    assert series["stripe_gross"] == {date(2026, 3, 8): Decimal("17.470")}
    assert series["stripe_fees"] == {date(2026, 3, 8): Decimal("0.570")}
    assert series["stripe_refunded"] == {date(2026, 3, 8): Decimal("2.000")}


def test_charges_in_other_currencies_sum_in_the_account_currency(chimera_home: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A usd account selling in usd, eur and jpy (presentment currencies): gross, refunds and fees in
    usd, from the balance transactions (as the export's Converted Amount columns); the fee of a jpy
    charge is usd cents, not yen."""
    ctx = _client("fx", monkeypatch)
    _stub(monkeypatch, stripe_api, "fetch_charges", [
        _charge(1, "2026-03-08", 2500, "usd", settled=(2500, "usd", 103)),
        _charge(2, "2026-03-08", 3000, "eur", settled=(3312, "usd", 126), refunded=1000),  # a third refunded
        _charge(3, "2026-03-08", 1000, "jpy", settled=(667, "usd", 49), refunded=1000),  # fully refunded
        _charge(4, "2026-03-08", 4000, "eur", settled=None, status="failed"),
    ])
    pull_stripe(ctx, date(2026, 3, 8), date(2026, 3, 8))
    day = date(2026, 3, 8)
    series = _series(ctx)
    assert series["stripe_gross"] == {day: Decimal("25.00") + Decimal("33.12") + Decimal("6.67")}
    assert series["stripe_fees"] == {day: Decimal("1.03") + Decimal("1.26") + Decimal("0.49")}
    assert series["stripe_refunded"] == {day: Decimal("11.04") + Decimal("6.67")}  # 3312 / 3 = 1104 cents
    assert series["stripe_payments"] == {day: 4} and series["stripe_failed_payments"] == {day: 1}


def test_a_single_foreign_currency_is_summed_in_the_settled_currency(chimera_home: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Only jpy charges on a usd account: yen and usd-cent fees must not be added as if one currency."""
    ctx = _client("jp", monkeypatch)
    _stub(monkeypatch, stripe_api, "fetch_charges", [
        _charge(1, "2026-03-08", 1000, "jpy", settled=(667, "usd", 49)),
        _charge(2, "2026-03-08", 3000, "jpy", settled=(2001, "usd", 88)),
    ])
    pull_stripe(ctx, date(2026, 3, 8), date(2026, 3, 8))
    series = _series(ctx)
    assert series["stripe_gross"] == {date(2026, 3, 8): Decimal("26.68")}
    assert series["stripe_fees"] == {date(2026, 3, 8): Decimal("1.37")}


def test_a_quiet_day_in_a_stripe_pull_is_zero_not_missing(chimera_home: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Pulled 7..10 March with charges on the 8th and 9th only: the 7th and 10th had none (zero, as
    inside an export's range), so payment KPIs are not UNKNOWN for a missing day."""
    ctx = _client("quiet", monkeypatch)
    _stub(monkeypatch, stripe_api, "fetch_charges", [
        _charge(1, "2026-03-08", 2500, "usd", settled=(2500, "usd", 103)),
        _charge(2, "2026-03-09", 1500, "usd", settled=(1500, "usd", 74)),
    ])
    summary = pull_stripe(ctx, date(2026, 3, 7), date(2026, 3, 10))
    assert (summary.first_day, summary.last_day) == (date(2026, 3, 7), date(2026, 3, 10))
    series = _series(ctx)
    assert series["stripe_payments"] == {date(2026, 3, 7): 0, date(2026, 3, 8): 1, date(2026, 3, 9): 1,
                                         date(2026, 3, 10): 0}
    assert series["stripe_gross"][date(2026, 3, 10)] == Decimal("0")


def test_a_pull_replaces_what_was_stored_for_a_day_it_found_empty(chimera_home: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A first pull saw an order on 7 March (later deleted as a test order); pulling the same days
    again must not keep it: re-ingesting replaces, never keeps stale days."""
    ctx = _client("stale", monkeypatch)
    order = {"name": "#1", "email": "a@example.com", "created_at": "2026-03-07T10:00:00-05:00", "currency": "USD",
             "cancelled_at": None, "subtotal_price": "10.00", "total_tax": "0.00", "total_price": "10.00",
             "total_discounts": "0.00", "total_shipping_price_set": {"shop_money": {"amount": "0.00"}},
             "refunds": [], "line_items": [{"quantity": 1, "price": "10.00"}]}
    other = {**order, "name": "#2", "created_at": "2026-03-08T10:00:00-05:00"}
    _stub(monkeypatch, shopify_api, "fetch_orders", [order, other])
    pull_shopify(ctx, date(2026, 3, 7), date(2026, 3, 8))
    assert _series(ctx)["orders"] == {date(2026, 3, 7): 1, date(2026, 3, 8): 1}
    _stub(monkeypatch, shopify_api, "fetch_orders", [other])
    pull_shopify(ctx, date(2026, 3, 7), date(2026, 3, 8))
    assert _series(ctx)["orders"] == {date(2026, 3, 7): 0, date(2026, 3, 8): 1}


def test_days_not_over_are_never_zero_filled() -> None:
    """`--until` in the future, or today (UTC for Stripe, store-local for Shopify): the API lists
    today's records only until the pull, so today is left out, saying why, and never written as 0."""
    agg = Aggregate(kind="stripe_payments", days={}, rows_read=0, orders_ingested=0)
    now = datetime(2026, 3, 6, 9, 0, tzinfo=UTC)
    clipped = clip(agg, date(2026, 3, 5), date(2026, 3, 31), today=now.date(), now=now)
    assert sorted(clipped.days) == [date(2026, 3, 5)]
    assert clipped.days[date(2026, 3, 5)]["stripe_payments"] == 0
    assert list(clipped.left_out) == [date(2026, 3, 6)] and "09:00 UTC" in clipped.left_out[date(2026, 3, 6)]
    agg = Aggregate(kind="shopify_orders", days={}, rows_read=0, orders_ingested=0)
    assert sorted(clip(agg, date(2026, 3, 5), date(2026, 3, 31), today=date(2026, 3, 6)).days) == [date(2026, 3, 5)]
    analytics = Aggregate(kind="analytics_daily", days={}, rows_read=0, orders_ingested=0, fill_zero=False)
    assert clip(analytics, date(2026, 3, 5), date(2026, 3, 6), today=date(2026, 3, 6)).days == {}
    assert clip(analytics, date(2026, 3, 5), date(2026, 3, 6), today=date(2026, 3, 6)).left_out == {}


def test_a_pull_whose_until_is_before_since_is_a_clear_error(chimera_home: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Swapped dates would ask the API for nothing and store nothing, silently: one line, exit 1."""
    from typer.testing import CliRunner

    from chimera.cli import _register
    from chimera.cli.app import app

    _register()
    _client("swap", monkeypatch)
    calls: list[date] = []
    monkeypatch.setattr(stripe_api, "fetch_charges", lambda cfg, key, since, until: calls.append(since) or iter([]))
    result = CliRunner().invoke(app, ["ingest", "--pull", "stripe", "--client", "swap", "--since", "2026-03-10",
                                      "--until", "2026-03-01", "--json"])
    assert result.exit_code == 1 and calls == []  # a ChimeraError: `chimera` prints it as one line
    assert "--until 2026-03-01 is before --since 2026-03-10" in str(result.exception)
    assert _series(get_client("swap")) == {}
