"""QA 5 of the bots and their ChangeSets on catalogs, stores and params never seen before.

Each test reproduces one finding: product names with quotes, commas, emoji or 500 characters broke
the hand-written price table (and with it the revert's swap); yen and dinar prices were rounded to
cents; a zero or negative price was "changed"; a discount over 100 % priced a bundle below zero; an
export ingest refuses (mixed currencies) was read as a catalog; products without a SKU shared one
target; an override's ``"5.0"`` made the bot raise while ``"abc"`` surfaced as a decimal traceback
and ``"basic"`` became five packages; an outbox name with NUL or ``:`` failed or escaped its
meaning; a step that cannot be undone did not say so in its ChangeSet; a play whose last step
failed stayed ``executing`` (not revertible)."""

from __future__ import annotations

import csv
import io
import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import select

from agents.bots import BotContext, run_action
from agents.bots.catalog import best_sellers, minor_unit
from agents.bots.registry import READS
from agents.bots.shopify_bot import new_price
from agents.decisions import check_params
from chimera.changesets import Asset, Change, ChangeSet, DryRunAdapter, inverse
from chimera.errors import DecisionError, IngestError
from tests.test_bots_follow_plan import ALTERNATIVES, CONFIGS, HEADER, _client

AS_OF = date(2026, 10, 2)
WHEN = "2026-10-01 10:00:00 +0000"


def _export(path: Path, orders: list[tuple[str, list[tuple[str, int, str, str]]]], currency: Any = "EUR") -> Path:
    """A Shopify export of orders ``(name, [(sku, qty, price, item name)])`` placed the day before
    ``AS_OF``; ``currency`` is one code, or a code per order name."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        for name, lines in orders:
            try:
                subtotal = str(sum(Decimal(price) * qty for _, qty, price, _ in lines))
            except ArithmeticError:
                subtotal = "99.00"
            code = currency if isinstance(currency, str) else currency[name]
            for i, (sku, qty, price, item) in enumerate(lines):
                order = [name, "b@example.com", WHEN, "", code, subtotal, "0", "0", subtotal, "0", "0"]
                if i:
                    order = [name, "", WHEN] + [""] * 8
                w.writerow([*order, qty, item, price, sku, "A Buyer" if not i else ""])
    return path


def _run(client: Any, bot: str, action: str, params: dict[str, Any], play_id: str = "p") -> ChangeSet:
    return run_action(BotContext(client=client, bot=bot, action=action, play_id=play_id, play_label="Play",
                                 params=params, as_of=AS_OF))


def _shop(tmp_path: Path, orders: list[Any], currency: Any = "EUR", store: str = "EUR") -> Any:
    client = _client(tmp_path, _export(tmp_path / "orders.csv", orders, currency))
    client.config.currency = store
    return client


def _table(cs: ChangeSet) -> list[dict[str, str]]:
    assert cs.asset is not None
    return list(csv.DictReader(io.StringIO(cs.asset.content)))


# --- 1. names a person typed: the price table stays a real CSV, and its undo swaps the right cells -----

NAMES = {
    "MUG-1": 'Café ☕ "Best" mug, large 🚀',
    "TEA,2": "Thé vert\n(100 g)",
    "LONG-3": "Ünïcödé " + "very long title " * 40 + "🚀",
}


def test_awkward_names_keep_the_price_table_a_csv_and_the_undo_exact(tmp_path: Path) -> None:
    """Was: rows were written by hand (``"{name}"``): a quote in a name, a comma in a SKU or a line
    break split the row, so the table read back other prices and the revert swapped the wrong cells."""
    lines = [(sku, 3 - i, f"{10 + i}.00", name) for i, (sku, name) in enumerate(NAMES.items())]
    shop = _shop(tmp_path, [("#1", lines)])
    cs = _run(shop, "shopify_bot", "update_prices", {"change_pct": 10, "count": 5})
    rows = _table(cs)
    assert [(r["sku"], r["name"]) for r in rows] == list(NAMES.items())
    by_target = {c.target: c for c in cs.changes}
    for row in rows:
        change = by_target[f"product:{row['sku']}"]
        assert (row["price_before"], row["price_after"]) == (change.before, change.after)
    undo = inverse(cs, "k")
    assert [(r["sku"], r["name"], r["price_before"], r["price_after"], r["units_sold"]) for r in _table(undo)] == \
        [(r["sku"], r["name"], r["price_after"], r["price_before"], r["units_sold"]) for r in rows]
    assert inverse(undo, "revert:k").asset == cs.asset  # undoing the undo gives back the same bytes


# --- 2. money in the currency's minor unit, never below zero, never past the cap ----------------------


@pytest.mark.parametrize(("currency", "prices"), [("JPY", ["1234", "999"]), ("KWD", ["12.345", "1.005"]),
                                                  ("EUR", ["19.99", "5.05"])])
def test_prices_round_in_the_currencys_minor_unit(tmp_path: Path, currency: str, prices: list[str]) -> None:
    """Was: every price was rounded to cents: 1234 yen + 5 % gave 1295.70 yen, 12.345 dinars gave 12.96."""
    unit = minor_unit(currency)
    assert unit == {"JPY": Decimal(1), "KWD": Decimal("0.001"), "EUR": Decimal("0.01")}[currency]
    shop = _shop(tmp_path, [("#1", [("A", 2, prices[0], "A"), ("B", 1, prices[1], "B")])], currency, store="USD")
    cs = _run(shop, "shopify_bot", "update_prices", {"change_pct": 5, "count": 2})
    for change, price in zip(cs.changes, prices, strict=True):
        before = Decimal(price)
        assert change.before == str(before.quantize(unit))
        assert change.after == str((before * Decimal("1.05")).quantize(unit, ROUND_HALF_UP))
    bundle = _run(shop, "shopify_bot", "create_bundle", {"products": "top_sellers_by_units_90d", "discount_pct": 7})
    total = sum(Decimal(p) for p in prices)
    assert bundle.changes[0].after == str((total * Decimal("0.93")).quantize(unit, ROUND_HALF_UP))



@pytest.mark.parametrize(("currency", "given", "after"), [("JPY", "4999.5", "5000"), ("KWD", "12.3456", "12.346"),
                                                         ("USD", "60.555", "60.56"), ("USD", 60, "60")])
def test_a_threshold_set_by_a_person_is_an_amount_of_the_currency(tmp_path: Path, currency: str, given: Any,
                                                                   after: str) -> None:
    """Was: an override's 4999.5 yen threshold was kept as is (no yen has halves)."""
    shop = _shop(tmp_path, [], store=currency)
    cs = _run(shop, "shopify_bot", "set_free_shipping_threshold", {"threshold": given})
    assert cs.changes[0].after == after and f"free shipping from {after} {currency}" in cs.summary
    assert ("minor units" in cs.summary) == (str(given) != after)

@given(units=st.integers(min_value=1, max_value=10**7), pct=st.decimals(min_value=-100, max_value=100, places=2),
       extra=st.decimals(min_value=0, max_value=20, places=1), currency=st.sampled_from(["JPY", "KWD", "USD"]))
def test_a_new_price_is_in_minor_units_not_below_zero_nor_past_the_cap(units: int, pct: Decimal, extra: Decimal,
                                                                       currency: str) -> None:
    """Was: half-up cents could pass the cap (0.05 + 10 % = 0.055 -> 0.06, a 20 % change)."""
    unit = minor_unit(currency)
    price = units * unit
    cap = abs(pct) + extra
    after = new_price(price, pct, cap, currency)
    assert after >= 0 and after == after.quantize(unit) and after.as_tuple().exponent == unit.as_tuple().exponent
    assert abs(after - price) <= price * cap / 100
    assert abs(after - price * (1 + pct / 100)) < unit  # the nearest minor unit, or the one before the cap


def test_a_price_at_zero_or_below_is_left_out_and_said_so(tmp_path: Path) -> None:
    """Was: a free sample (0.00) was "changed" to 0.00 (-0.00 at -100 %), a credit line at -5.00 to -5.25."""
    shop = _shop(tmp_path, [("#1", [("FREE", 5, "0.00", "Sample"), ("CREDIT", 4, "-5.00", "Credit"),
                                    ("MUG", 1, "12.00", "Mug")])])
    cs = _run(shop, "shopify_bot", "update_prices", {"change_pct": -10, "count": 5})
    assert [(c.target, c.before, c.after) for c in cs.changes] == [("product:MUG", "12.00", "10.80")]
    assert [r["sku"] for r in _table(cs)] == ["MUG"]
    assert "left out, no price to change: FREE at 0.00, CREDIT at -5.00" in cs.summary
    assert cs.summary.startswith("change the price of 1 products by -10%")


@pytest.mark.parametrize(("play", "params", "said"), [
    ("bundle_offer", {"discount_pct": 150}, "discount_pct 150 is not a number (percent off) from 0 to 100"),
    ("bundle_offer", {"discount_pct": -5}, "discount_pct -5 is not a number (percent off) from 0 to 100"),
    ("pricing_test", {"change_pct": -150, "max_change_pct": 200}, "change_pct -150 is not a number (percent) of"),
])
def test_a_change_below_zero_is_refused_by_the_decision_and_the_bot(tmp_path: Path, play: str,
                                                                    params: dict[str, Any], said: str) -> None:
    """Was: 150 % off was accepted and priced the bundle at -15.00."""
    with pytest.raises(DecisionError, match="percent"):
        check_params(CONFIGS, play, params)
    shop = _shop(tmp_path, [("#1", [("A", 1, "10.00", "A"), ("B", 1, "20.00", "B")])])
    step = CONFIGS.play(play).job_plan[0]
    with pytest.raises(DecisionError) as err:
        _run(shop, step.bot, step.action, {**step.params, **params})
    assert said in str(err.value) and "nothing was applied" in str(err.value) and "\n" not in str(err.value)


# --- 3. the export read as ingest reads it -----------------------------------------------------------


def test_an_export_ingest_refuses_for_mixed_currencies_is_no_catalog(tmp_path: Path) -> None:
    """Was: a yen order beside euro orders made a price table of both (ingest refuses the file)."""
    shop = _shop(tmp_path, [("#1", [("A", 2, "10.00", "A")]), ("#2", [("B", 1, "1000", "B")])],
                 {"#1": "EUR", "#2": "JPY"})
    with pytest.raises(IngestError, match="mixes currencies"):
        _run(shop, "shopify_bot", "update_prices", {"change_pct": 5})
    same = _shop(tmp_path, [("#1", [("A", 2, "10.00", "A")]), ("#2", [("B", 1, "1.00", "B")])],
                 {"#1": "eur", "#2": " EUR "})  # one currency, written two ways
    assert [p.sku for p in best_sellers(same, 5)] == ["A", "B"]


def test_products_without_a_sku_are_told_apart_by_name(tmp_path: Path) -> None:
    """Was: every product without a SKU was ``product:`` (one target for two products, so a later
    run's revert check took them for one); a padded SKU was another product."""
    shop = _shop(tmp_path, [("#1", [("", 3, "10.00", "Mug"), ("", 2, "20.00", "Jug"), (" A ", 1, "5.00", "Cup"),
                                    ("", 1, "1.00", "")]),
                            ("#2", [("A", 1, "5.50", "Cup")])])
    cs = _run(shop, "shopify_bot", "update_prices", {"change_pct": 10, "count": 5})
    targets = [c.target for c in cs.changes]
    assert targets == ["product name:Mug", "product:A", "product name:Jug"]  # ties by SKU or name
    assert [r["units_sold"] for r in _table(cs)] == ["3", "2", "2"]  # ` A ` and `A` are one product



@pytest.mark.parametrize("dropped", [("Lineitem sku",), ("Lineitem name",), ("Lineitem sku", "Lineitem name")])
def test_an_export_without_the_sku_or_name_column_is_read(tmp_path: Path, dropped: tuple[str, ...]) -> None:
    """Ingest needs neither column; the bot raised ColumnNotFoundError without either. The other one
    names the product (a SKU as its name too); without both no product can be named, so none is."""
    full = _export(tmp_path / "full.csv", [("#1", [("A", 2, "10.00", "Mug"), ("B", 1, "20.00", "Jug")]),
                                           ("#2", [("A", 1, "10.00", "Mug"), ("B", 1, "20.00", "Jug")])])
    rows = list(csv.reader(full.open(encoding="utf-8")))
    keep = [i for i, col in enumerate(rows[0]) if col not in dropped]
    trimmed = tmp_path / "trimmed.csv"
    with trimmed.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([[row[i] for i in keep] for row in rows])
    shop = _client(tmp_path, trimmed)
    prices = _run(shop, "shopify_bot", "update_prices", {"change_pct": 10})
    bundle = _run(shop, "shopify_bot", "create_bundle", {})
    if len(dropped) == 2:
        assert prices.changes == [] and bundle.changes[0].after is None
        return
    named = {"Lineitem sku": ["product name:Mug", "product name:Jug"], "Lineitem name": ["product:A", "product:B"]}
    assert [c.target for c in prices.changes] == named[dropped[0]]
    assert [r["name"] for r in _table(prices)] == (["Mug", "Jug"] if "Lineitem name" not in dropped else ["A", "B"])
    assert bundle.changes[0].after == "27.00" and " +  bundle" not in bundle.summary

def test_duplicate_skus_are_one_product_at_its_newest_price(tmp_path: Path) -> None:
    orders = [("#1", [("A", 2, "10.00", "Mug"), ("A", 1, "12.00", "Mug large")]), ("#2", [("A", 1, "11.00", "Mug v2")])]
    shop = _shop(tmp_path, orders)
    (prod,) = best_sellers(shop, 5)
    assert (prod.sku, prod.name, str(prod.price), prod.units) == ("A", "Mug v2", "11.00", 4)
    bundle = _run(shop, "shopify_bot", "create_bundle", {})
    assert bundle.changes[0].after is None and bundle.summary.startswith("bundle at 10% off: no products found")


def test_an_export_without_orders_changes_nothing_and_says_so(tmp_path: Path) -> None:
    """Was: an empty catalog proposed "the 0-item bundle 'auto' (price 0.00)"."""
    shop = _shop(tmp_path, [])
    prices = _run(shop, "shopify_bot", "update_prices", {})
    assert prices.changes == [] and "no products found" in prices.summary and len(_table(prices)) == 0
    bundle = _run(shop, "shopify_bot", "create_bundle", {})
    assert "0-item" not in bundle.summary and "'auto'" not in bundle.summary and "0.00" not in bundle.summary
    copy = _run(shop, "copy_bot", "draft_product_descriptions", {})
    assert "No products found" in copy.asset.content
    picked = _run(shop, "shopify_bot", "update_prices", {"products": "top_viewed_30d"})
    assert picked.summary == "change prices by 10%: top_viewed_30d: not computable from the exports; a person " \
                             "picks the products"  # no export is missing: none says which products were viewed


# --- 4. params from a plan or an override: the same value in any type, a bad one in one line -----------


@pytest.mark.parametrize("count", ["2", 2.0, "2.0"])
def test_a_count_given_as_text_or_float_is_the_count(tmp_path: Path, count: Any) -> None:
    """The decision accepts ``"2.0"`` (a whole number); the bot raised ValueError on ``int("2.0")``."""
    check_params(CONFIGS, "pricing_test", {"count": count})
    shop = _shop(tmp_path, [("#1", [("A", 3, "10.00", "A"), ("B", 2, "20.00", "B"), ("C", 1, "30.00", "C")])])
    want = _run(shop, "shopify_bot", "update_prices", {"count": 2}).changes
    assert _run(shop, "shopify_bot", "update_prices", {"count": count}).changes == want
    copy = _run(shop, "copy_bot", "draft_copy", {"variants": count})
    assert copy.asset.content.count("## Variant ") == 2



def test_more_copy_variants_than_ready_headlines_never_repeat_one(tmp_path: Path) -> None:
    """Was: variant 6 repeated variant 1's headline word for word (an A/B test of the same copy)."""
    from agents.bots.copy_bot import HEADLINES

    shop = _shop(tmp_path, [])
    text = _run(shop, "copy_bot", "draft_copy", {"variants": len(HEADLINES) + 2}).asset.content
    headlines = [line for line in text.splitlines() if line.startswith("Headline: ")]
    assert len(headlines) == len(set(headlines)) == len(HEADLINES) + 2

@pytest.mark.parametrize(("bot", "action", "params", "said"), [
    ("shopify_bot", "update_prices", {"change_pct": "abc"}, "change_pct 'abc' is not a number"),
    ("shopify_bot", "update_prices", {"change_pct": True}, "change_pct True is not a number"),
    ("shopify_bot", "update_prices", {"change_pct": float("nan")}, "change_pct nan is not a number"),
    ("shopify_bot", "update_prices", {"count": -1}, "count -1 is not a whole number of at least 1"),
    ("shopify_bot", "update_prices", {"max_change_pct": -5}, "max_change_pct -5 is not a number of at least 0"),
    ("shopify_bot", "update_prices", {"products": ["a"]}, "products ['a'] is not non-empty text"),
    ("shopify_bot", "set_free_shipping_threshold", {"threshold": -5}, "threshold -5 is not an amount above 0"),
    ("copy_bot", "draft_copy", {"variants": -2}, "variants -2 is not a whole number"),
    ("copy_bot", "draft_product_descriptions", {"max_words": 0}, "max_words 0 is not a whole number"),
    ("fiverr_bot", "refresh_gig_packages", {"packages": "basic"}, "packages 'basic' is not a non-empty list"),
    ("fiverr_bot", "refresh_gig_packages", {"packages": []}, "packages [] is not a non-empty list"),
    ("fiverr_bot", "update_gig_faq", {"questions": [""]}, "questions [''] is not a non-empty list"),
])
def test_a_value_the_bot_cannot_use_stops_the_step_in_one_line(tmp_path: Path, bot: str, action: str,
                                                               params: dict[str, Any], said: str) -> None:
    """Was: a decimal traceback (``InvalidOperation``), or a ChangeSet built on it: "-2 variants",
    a gig with the packages b, a, s, i, c, "top -1 by units"."""
    shop = _shop(tmp_path, [("#1", [("A", 1, "10.00", "A")])])
    with pytest.raises(DecisionError) as err:
        _run(shop, bot, action, params)
    assert f"p {bot}.{action}: step param {said}" in str(err.value) and "\n" not in str(err.value), str(err.value)


def test_no_value_is_the_bots_default(tmp_path: Path) -> None:
    shop = _shop(tmp_path, [("#1", [("A", 1, "10.00", "A")])])
    for (bot, action), declared in sorted(READS.items()):
        nulls, unset = dict.fromkeys(declared), {}
        if action == "set_free_shipping_threshold":  # its default formula reads the database
            nulls["threshold"] = unset["threshold"] = 60
        assert _run(shop, bot, action, nulls).summary == _run(shop, bot, action, unset).summary, (bot, action)


def test_a_change_at_its_cap_is_not_held_and_beyond_it_keeps_its_direction(tmp_path: Path) -> None:
    shop = _shop(tmp_path, [("#1", [("A", 1, "10.00", "A")])])
    at = _run(shop, "shopify_bot", "update_prices", {"change_pct": "-10", "max_change_pct": "10"})
    assert at.changes[0].after == "9.00" and "held" not in at.summary
    beyond = _run(shop, "shopify_bot", "update_prices", {"change_pct": -12.5, "max_change_pct": 10.0})
    assert beyond.changes[0].after == "9.00" and "held at max_change_pct 10.0; the plan asked -12.5" in beyond.summary


# --- 5. what cannot be undone says so, before approval and in its record -------------------------------


@pytest.mark.parametrize(("bot", "action"), [("email_bot", "schedule_campaign"),
                                             ("shopify_bot", "simplify_checkout_settings")])
def test_a_step_that_cannot_be_undone_says_so_in_its_changeset(tmp_path: Path, bot: str, action: str) -> None:
    shop = _shop(tmp_path, [])
    cs = _run(shop, bot, action, {"topic": "x"})
    assert not cs.reversible and "cannot be undone automatically" in cs.summary
    assert "cannot be undone automatically" in cs.asset.content
    reversible = _run(shop, "email_bot", "draft_campaign", {})
    assert reversible.reversible and "cannot be undone" not in reversible.summary


# --- 6. dry run: nothing leaves the machine, every asset stays in the outbox ---------------------------


@pytest.fixture
def no_sockets(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Any connection attempt (any library, any host) is recorded and refused."""
    tried: list[Any] = []

    def connect(self: socket.socket, address: Any) -> None:
        tried.append(address)
        raise OSError("network is off in this test")

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect)
    monkeypatch.setattr(socket, "create_connection", lambda address, *a, **k: connect(None, address))  # type: ignore[arg-type]
    return tried


def test_every_bot_and_brief_runs_without_the_network(tmp_path: Path, no_sockets: list[Any]) -> None:
    shop = _shop(tmp_path, [("#1", [("A", 2, "10.00", "A"), ("B", 1, "20.00", "B")])])
    ran = 0
    for bot in CONFIGS.agents.bots:
        for action in bot.actions:
            declared = READS.get((bot.id, action.name), {})
            params = {k: ALTERNATIVES[k][0] for k in declared} | {"threshold": 60}
            params = {k: v for k, v in params.items() if k in declared} if declared else {"topic": "x"}
            cs = _run(shop, bot.id, action.name, params)
            ran += cs.asset is not None
    assert ran == sum(len(b.actions) for b in CONFIGS.agents.bots) and no_sockets == []


@pytest.fixture
def company(chimera_home: Path) -> int:
    from chimera.clients import add_client

    return add_client("shop").company_id


@pytest.mark.parametrize("filename", ["../../escaped.md", "/etc/passwd", "a/b/../c.csv", "a:b.md", "nul\x00.md", "..",
                                      "C:\\Users\\x\\y.md", "é" * 300 + ".md", ".hidden"])
def test_an_outbox_name_stays_in_the_outbox_on_any_file_system(chimera_home: Path, company: int,
                                                               no_sockets: list[Any], filename: str) -> None:
    """Was: NUL made the write fail (ValueError), ``:`` and ``\\`` were kept (a Windows stream or a
    folder), 300 accented letters made a name past 255 bytes (OSError)."""
    from chimera import settings
    from chimera.db.engine import session_scope

    key = "run/../1:0:EXECUTE"
    cs = ChangeSet(bot="copy_bot", action="draft_copy", summary="s", asset=Asset(filename=filename, content="x\n"))
    with session_scope() as s:
        result = DryRunAdapter().apply(s, company, "shop", key, cs, None)
    path = Path(result.asset_path)
    outbox = settings.outbox_dir("shop").resolve()
    assert path.resolve().parent == outbox and path.read_text(encoding="utf-8") == "x\n"
    assert len(path.name.encode()) <= 255 and path.name.isascii()
    assert all(c.isalnum() or c in "-_." for c in path.name) and not path.name.startswith(".")
    assert [p.name for p in outbox.iterdir()] == [path.name]  # no .tmp left, nothing beside it
    assert no_sockets == []


def test_two_long_names_never_share_a_file(chimera_home: Path, company: int) -> None:
    from chimera.db.engine import session_scope

    paths = set()
    with session_scope() as s:
        for tail in ("a", "b"):
            asset = Asset(filename="x" * 300 + tail + ".md", content=tail)
            cs = ChangeSet(bot="b", action="a", summary="s", asset=asset)
            paths.add(DryRunAdapter().apply(s, company, "shop", f"k-{tail}", cs, None).asset_path)
            paths.add(DryRunAdapter().apply(s, company, "shop", f"k:{tail}" + "y" * 300, cs, None).asset_path)
    assert len(paths) == 4 and all(Path(p).read_text() in ("a", "b") for p in paths)


def test_apply_twice_then_revert_twice_writes_each_asset_once(tmp_path: Path, chimera_home: Path,
                                                              company: int) -> None:
    """The same job applied twice changes nothing twice; its undo puts back exactly the prices before."""
    from chimera.db.engine import session_scope
    from chimera.db.models import AppliedChange

    shop = _shop(tmp_path, [("#1", [(sku, 1, "10.00", name) for sku, name in NAMES.items()])], "KWD")
    cs = _run(shop, "shopify_bot", "update_prices", {"change_pct": 10})
    adapter = DryRunAdapter()
    with session_scope() as s:
        first = adapter.apply(s, company, "shop", "job:1", cs, None)
        again = adapter.apply(s, company, "shop", "job:1", cs.model_copy(update={"summary": "other"}), None)
        undo = adapter.apply(s, company, "shop", "revert:job:1", inverse(cs, "job:1"), None)
        undo_again = adapter.apply(s, company, "shop", "revert:job:1", inverse(cs, "job:1"), None)
        rows = s.exec(select(AppliedChange)).all()
        assert sorted(r.idempotency_key for r in rows) == ["job:1", "revert:job:1"]
        assert ChangeSet.model_validate(rows[0].changeset) == cs  # the first application is the record
    assert (first.applied, again.applied, undo.applied, undo_again.applied) == (True, False, True, False)
    assert again.asset_path == first.asset_path and undo_again.asset_path == undo.asset_path
    original = Path(first.asset_path).read_bytes()
    assert original == cs.asset.content.encode()
    restored = list(csv.DictReader(io.StringIO(Path(undo.asset_path).read_text(encoding="utf-8"))))
    assert [(f"product:{r['sku']}", r["price_after"]) for r in restored] == [(c.target, c.before) for c in cs.changes]
    assert all(r["price_after"] == "10.000" for r in restored)  # dinars: three decimals, as before
    assert len(list(Path(first.asset_path).parent.iterdir())) == 2


# --- 7. a bot raising mid-play -----------------------------------------------------------------------

PRICE_DAY = date(2026, 10, 18)


@dataclass
class Failed:
    home: Path
    run_id: str


@pytest.fixture(scope="module")
def failed_play(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Failed]:
    """The demo client's pricing_test approved while its last step's bot raises."""
    from agents.bots import registry
    from chimera.db.engine import dispose_all
    from chimera.demo.demo_client import ensure_demo_client
    from graphs.service import run_cycle
    from tests.test_decisions_cli import _in_home, chimera

    def boom(ctx: BotContext) -> ChangeSet:
        raise RuntimeError("copy service exploded")

    with pytest.MonkeyPatch.context() as mp:
        home = tmp_path_factory.mktemp("failed-play-home")
        _in_home(home, mp)
        ensure_demo_client()
        pending = {p.play_id: p.play_run_id for p in run_cycle("demo", as_of=PRICE_DAY).pending}
        registry._load()
        mp.setitem(registry.ACTIONS, ("copy_bot", "draft_product_descriptions"), boom)
        assert chimera("approve", pending["pricing_test"], "--who", "alice").code == 0
        yield Failed(home, pending["pricing_test"])
        dispose_all()


@pytest.fixture
def failed(failed_play: Failed, monkeypatch: pytest.MonkeyPatch) -> Failed:
    from tests.test_decisions_cli import _in_home

    _in_home(failed_play.home, monkeypatch)
    return failed_play


def _steps(run_id: str) -> list[Any]:
    from chimera.db.engine import session_scope
    from chimera.db.models import AppliedChange, Job

    with session_scope() as s:
        jobs = s.exec(select(Job).where(Job.play_run_id == run_id, Job.bot != "").order_by(Job.step)).all()
        applied = {a.job_id: a for a in s.exec(select(AppliedChange)).all()}
        out = [(j.bot, j.action, j.status, j.error, applied.get(j.id)) for j in jobs]
        for *_, row in out:
            if row is not None:
                s.expunge(row)
        return out


def test_a_bot_raising_fails_its_job_clearly_and_keeps_the_earlier_step(failed: Failed) -> None:
    (prices, copy) = _steps(failed.run_id)
    assert prices[:3] == ("shopify_bot", "update_prices", "succeeded") and prices[4] is not None
    assert Path(prices[4].asset_path).is_file() and prices[4].reversible
    assert copy[:4] == ("copy_bot", "draft_product_descriptions", "failed", "RuntimeError: copy service exploded")
    assert copy[4] is None  # nothing recorded for the failed step
    outbox = failed.home / "outbox" / "demo"
    assert [p.name for p in outbox.iterdir() if failed.run_id in p.name] == [Path(prices[4].asset_path).name]


def test_a_play_whose_last_step_failed_is_failed_and_its_earlier_step_revertible(failed: Failed) -> None:
    from chimera.db.engine import session_scope
    from chimera.db.models import PlayRun
    from tests.test_decisions_cli import chimera

    with session_scope() as s:
        assert s.get(PlayRun, failed.run_id).status == "failed"
    done = chimera("play", "revert", failed.run_id, "--reason", "copy failed", "--on", "2026-10-20", "--json")
    assert done.code == 0, done.stderr
    assert [r["action"] for r in json.loads(done.stdout)["reverted"]] == ["update_prices"]



def test_a_worker_losing_the_race_writes_nothing_over_the_winners_asset(chimera_home: Path, company: int,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: a second worker that found no record wrote its own asset over the first one's before its
    insert hit the unique key: the outbox then held the loser's table under the winner's record."""
    from chimera.db.engine import session_scope
    from chimera.db.models import AppliedChange

    winner = ChangeSet(bot="b", action="a", summary="first", asset=Asset(filename="t.md", content="first\n"))
    with session_scope() as s:
        won = DryRunAdapter().apply(s, company, "shop", "job:7", winner, None)
    real = __import__("chimera.changesets", fromlist=["_applied"])._applied
    calls = iter([None])  # the loser's first look finds nothing: the winner commits just after it
    monkeypatch.setattr("chimera.changesets._applied", lambda session, key: next(calls, None) or real(session, key))
    loser = winner.model_copy(update={"summary": "second", "asset": Asset(filename="t.md", content="second\n")})
    with session_scope() as s:
        lost = DryRunAdapter().apply(s, company, "shop", "job:7", loser, None)
    assert (won.applied, lost.applied, lost.asset_path) == (True, False, won.asset_path)
    assert Path(won.asset_path).read_text() == "first\n"
    with session_scope() as s:
        assert [r.changeset["summary"] for r in s.exec(select(AppliedChange))] == ["first"]


@pytest.mark.parametrize(("bot", "action", "params"), [
    ("shopify_bot", "set_free_shipping_threshold", {"threshold": 60}),
    ("fiverr_bot", "refresh_gig_packages", {}), ("fiverr_bot", "update_gig_faq", {})])
def test_an_undo_never_removes_a_value_no_export_knew(tmp_path: Path, bot: str, action: str,
                                                      params: dict[str, Any]) -> None:
    """Was: before None for the store's free-shipping threshold or a gig's packages, so the undo
    sheet said "(none: remove it)", taking away a threshold or packages that were there before."""
    cs = _run(_shop(tmp_path, []), bot, action, params)
    sheet = inverse(cs, "k").asset.content
    assert "remove it" not in sheet and "set back what it was before this change" in sheet
    new_bundle = ChangeSet(bot="shopify_bot", action="create_bundle", summary="b",
                           changes=[Change(target="bundle:new", field="price", before=None, after="9.00")])
    assert "- bundle:new price: 9.00 -> (none: remove it)\n" in inverse(new_bundle, "k").asset.content


def test_an_asset_that_cannot_be_written_leaves_no_record_and_no_partial_file(chimera_home: Path, company: int,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A full disk mid-write: the step fails, its transaction drops the record, and no ``.tmp`` half
    of the asset is left in the outbox (was: a partial ``.tmp`` stayed beside the assets)."""
    from chimera import settings
    from chimera.db.engine import session_scope
    from chimera.db.models import AppliedChange

    def full(self: Path, target: Path) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "replace", full)
    cs = ChangeSet(bot="b", action="a", summary="s", asset=Asset(filename="t.md", content="x" * 10_000))
    with pytest.raises(OSError, match="No space left"), session_scope() as s:
        DryRunAdapter().apply(s, company, "shop", "job:9", cs, None)
    with session_scope() as s:
        assert s.exec(select(AppliedChange)).all() == []
    assert list(settings.outbox_dir("shop").iterdir()) == []


def _ingest_and_catalog(path: Path) -> tuple[tuple[int, Decimal, int], tuple[int, Decimal, int]]:
    """(units, gross sales, orders) as ingest counts them, and as the catalog's order lines hold them."""
    from agents.bots.catalog import order_lines
    from chimera.ingest.detect import read_header
    from chimera.ingest.shopify import read_shopify

    days = read_shopify(path, read_header(path), lambda email: email, lambda rows: {}).days.values()
    ingest = (sum(int(d.get("units", 0)) for d in days), sum(Decimal(str(d.get("gross_sales", 0))) for d in days),
              sum(int(d.get("orders", 0)) for d in days))
    lines = order_lines(_client(path.parent, path))
    catalog = (int(lines["qty"].sum()), sum(Decimal(str(p)) * q for p, q in zip(lines["price"], lines["qty"],
                                                                               strict=True)),
               lines["_order"].n_unique())
    return ingest, catalog


def test_the_catalog_counts_what_ingest_counts_on_a_messy_export(tmp_path: Path) -> None:
    """Rows ingest rejects (a bad price, a negative quantity, a date typo decades ahead), a cancelled
    order and a pasted copy of an order: the catalog's lines hold the same units, sales and orders."""
    path = _export(tmp_path / "messy.csv", [
        ("#1", [("A", 2, "10.00", "Mug"), ("B", 1, "20.00", "Jug")]), ("#2", [("A", 5, "1O.00", "Mug")]),
        ("#3", [("B", -1, "20.00", "Jug")]), ("#4", [("C", 7, "3.00", "Cup")]), ("#5", [("C", 9, "3.00", "Cup")]),
        ("#6", [("D", 1, "4.50", "Tin")]), ("#1", [("A", 2, "10.00", "Mug"), ("B", 1, "20.00", "Jug")])])
    text = path.read_text(encoding="utf-8").splitlines()
    text = [line.replace(WHEN + ",,", WHEN + ",2026-10-01 12:00:00 +0000,") if line.startswith("#4,") else
            line.replace("2026-10-01", "2062-10-01") if line.startswith("#5,") else line for line in text]
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    ingest, catalog = _ingest_and_catalog(path)
    assert catalog == ingest and ingest[0] == 4  # #1 once (2 + 1) and #6 (1): nothing else counts
    assert [p.sku for p in best_sellers(_client(tmp_path, path), 5)] == ["A", "B", "D"]


def test_the_catalog_counts_what_ingest_counts_on_a_whole_store(store_files: Path) -> None:
    ingest, catalog = _ingest_and_catalog(store_files / "orders_export.csv")
    assert catalog == ingest and ingest[0] > 0


@given(names=st.lists(st.tuples(st.text(max_size=30), st.text(max_size=80)), min_size=1, max_size=4))
def test_any_sku_and_name_survive_the_price_table_and_its_undo(names: list[tuple[str, str]]) -> None:
    """Whatever a person typed (quotes, commas, line breaks, emoji, NUL): the table reads back the
    same cells, its undo swaps exactly the two price columns, and the undo of the undo is the table.
    Was: a lone carriage return in a name was written unquoted and split the row for every reader."""
    from agents.bots.catalog import Product
    from agents.bots.shopify_bot import price_table

    rows = [(Product(sku=sku, name=name, price=Decimal("10.00"), units=i + 1), Decimal("11.00"))
            for i, (sku, name) in enumerate(names)]
    cs = ChangeSet(bot="shopify_bot", action="update_prices", summary="s",
                   asset=Asset(filename="p-price-table.csv", content=price_table(rows)))
    from agents.bots.sheet import text_cell as cell  # a line break is one; a formula start gets its '

    read = list(csv.reader(io.StringIO(cs.asset.content)))
    assert read[1:] == [[cell(p.sku), cell(p.name), "10.00", "11.00", str(p.units)] for p, _ in rows]
    undo = inverse(cs, "k")
    assert list(csv.reader(io.StringIO(undo.asset.content)))[1:] == \
        [[cell(p.sku), cell(p.name), "11.00", "10.00", str(p.units)] for p, _ in rows]
    assert inverse(undo, "revert:k").asset == cs.asset


@given(key=st.text(max_size=300), filename=st.text(max_size=300))
def test_any_key_and_asset_name_make_a_safe_outbox_name(key: str, filename: str) -> None:
    from chimera.changesets import _safe_name

    name = _safe_name(key, filename)
    assert name.isascii() and all(c.isalnum() or c in "-_." for c in name), name
    assert 0 < len(name) <= 180 and not name.startswith(".") and name not in (".", "..")
    assert (Path("/outbox") / name).parent == Path("/outbox")
