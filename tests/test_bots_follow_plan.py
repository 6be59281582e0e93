"""The bots follow the plan and the person: every step parameter plays.yml documents is read by the
bot under that name, an override's value is what the ChangeSet holds, a key no bot reads is refused,
a step's ``max_*`` caps the change in the decision itself, the free-shipping threshold is 1.3x the
28-day AOV, and the best sellers' prices come from the newest order by ``Created at`` among the
orders ingest accepts."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from agents.bots import BotContext, run_action
from agents.bots.catalog import SPEC, best_sellers, co_purchased_pair
from agents.bots.registry import READS, reads
from agents.bots.shopify_bot import clean_round
from agents.decisions import check_params, override_changes, params_per_step, step_params
from chimera.config.client import Source
from chimera.config.loader import load_config_set
from chimera.errors import DecisionError
from tests.test_decisions_cli import Seeded, _in_home, _one_line, chimera, seeded  # noqa: F401 - fixture

CONFIGS = load_config_set(Path(__file__).resolve().parents[1] / "configs")
HEADER = ["Name", "Email", "Created at", "Cancelled at", "Currency", "Subtotal", "Shipping", "Taxes", "Total",
          "Discount Amount", "Refunded Amount", "Lineitem quantity", "Lineitem name", "Lineitem price",
          "Lineitem sku", "Billing Name"]
HOUSE, MUG, ETH, FILTERS = "JF-HOUSE", "JF-MUG", "JF-ETH", "JF-FILTERS"

# Newest first, as Shopify exports them. #1005's local time reads later than #1004's, but as an
# instant it is earlier (03:00Z vs 03:30Z): #1004's 17.60 is House Blend's current price, although
# both the file's first and last House rows say 16.00. #1002 has a bad price cell (ingest rejects
# the whole order) and #1001 was cancelled: their 90 filters must not make a best seller.
ORDERS: list[tuple[str, str, str, list[tuple[str, int, str]]]] = [
    ("#1005", "2026-10-02 05:00:00 +0200", "", [(HOUSE, 1, "16.00")]),
    ("#1004", "2026-10-01 23:30:00 -0400", "", [(HOUSE, 1, "17.60"), (MUG, 1, "18.00")]),
    ("#1003", "2026-09-20 10:00:00 -0400", "", [(HOUSE, 2, "16.00"), (MUG, 1, "18.00")]),
    ("#1002", "2026-09-15 10:00:00 -0400", "", [(ETH, 1, "21.00"), (FILTERS, 50, "7.5O")]),
    ("#1001", "2026-09-10 10:00:00 -0400", "2026-09-11 09:00:00 -0400", [(ETH, 1, "21.00"), (FILTERS, 40, "7.50")]),
    ("#1000", "2026-09-01 10:00:00 -0400", "", [(ETH, 1, "21.00")]),
]
AS_OF = date(2026, 10, 2)


def _write_orders(path: Path, orders: list[Any]) -> Path:
    """A Shopify export: order-level cells on each order's first row only."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        for name, created, cancelled, lines in orders:
            try:
                subtotal = str(sum(Decimal(price) * qty for _, qty, price in lines))
            except ArithmeticError:
                subtotal = "99.00"
            for i, (sku, qty, price) in enumerate(lines):
                first = i == 0
                w.writerow([name, "buyer@example.com" if first else "", created, cancelled if first else "",
                            "EUR" if first else "", subtotal if first else "", "0.00" if first else "",
                            "0.00" if first else "", subtotal if first else "", "0.00" if first else "",
                            "0.00" if first else "", qty, f"Item {sku}", price, sku,
                            "Ada Buyer" if first else ""])
    return path


def _client(folder: Path, export: Path | None) -> Any:
    sources = [Source(kind="shopify_orders", path=str(export))] if export else []
    return SimpleNamespace(name="t", company_id=0, folder=folder, configs=CONFIGS,
                           config=SimpleNamespace(sources=sources, currency="EUR"))


@pytest.fixture
def shop(tmp_path: Path) -> Any:
    return _client(tmp_path, _write_orders(tmp_path / "orders.csv", ORDERS))


def _run(client: Any, bot: str, action: str, params: dict[str, Any], as_of: date = AS_OF) -> Any:
    return run_action(BotContext(client=client, bot=bot, action=action, play_id="p", play_label="Play",
                                 params=params, as_of=as_of))


# --- F9: best sellers: newest price by Created at, rejected and cancelled orders skipped -----------------


def test_best_sellers_take_the_newest_price_by_instant_and_skip_rejected_orders(shop: Any, tmp_path: Path) -> None:
    got = [(p.sku, str(p.price), p.units) for p in best_sellers(shop, 3)]
    assert got == [(HOUSE, "17.60", 4), (MUG, "18.00", 2), (ETH, "21.00", 1)]
    oldest_first = _client(tmp_path, _write_orders(tmp_path / "reversed.csv", list(reversed(ORDERS))))
    assert [(p.sku, str(p.price), p.units) for p in best_sellers(oldest_first, 3)] == got


def test_a_row_with_an_unquoted_comma_rejects_its_order_not_the_bot(shop: Any, tmp_path: Path) -> None:
    """Was: the catalog scanned without the field count, so one hand-edited row (an unquoted comma in
    a cell) made the bot raise instead of leaving that order out, as ingest does."""
    path = _write_orders(tmp_path / "edited.csv", ORDERS)
    lines = path.read_text(encoding="utf-8").splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("#1000,"))
    lines[at] = lines[at].replace("Item JF-ETH", "Item JF-ETH,99.00")  # one field too many: price and SKU shift
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    edited = _client(tmp_path, path)
    got = [(p.sku, str(p.price), p.units) for p in best_sellers(edited, 3)]
    assert got == [(HOUSE, "17.60", 4), (MUG, "18.00", 2)], "#1000 is rejected, not read as SKU '21.00' at 99.00"


def test_best_sellers_window_ends_on_the_cycle_day(shop: Any) -> None:
    """An order after the cycle's day is not yet sold; 7 days to 10-02 hold #1004 and #1005 only."""
    assert [(p.sku, p.units) for p in best_sellers(shop, 5, AS_OF, 7)] == [(HOUSE, 2), (MUG, 1)]
    assert [(p.sku, str(p.price)) for p in best_sellers(shop, 5, date(2026, 9, 30), 90)] == \
        [(HOUSE, "16.00"), (ETH, "21.00"), (MUG, "18.00")]  # one unit each: by SKU


def test_co_purchased_pair_ignores_rejected_and_cancelled_orders(shop: Any) -> None:
    """ETH+FILTERS is in two orders too (and sorts first) but both are rejected or cancelled."""
    assert sorted(p.sku for p in co_purchased_pair(shop, AS_OF, 90)) == [HOUSE, MUG]


def test_the_catalog_reads_no_personal_column() -> None:
    read = {spelling for spellings in SPEC.values() for spelling in spellings}
    assert "Email" not in read and "Billing Name" not in read
    assert read <= set(HEADER)


# --- F1: what a plan documents, the bot reads; an override changes the ChangeSet -------------------------

ALTERNATIVES: dict[str, tuple[Any, Any]] = {
    "products": ("top_sellers_by_units_90d", "top_viewed_30d"), "count": (3, 1),
    "change_pct": (10, 5), "max_change_pct": (10, 5), "discount_pct": (10, 20), "name": ("auto", "Morning set"),
    "threshold": (60, 70), "currency": ("store", "GBP"), "channel": ("email", "social"),
    "audience": ("lapsed", "new"), "tone": ("warm", "dry"), "variants": (1, 3), "max_words": (200, 3),
    "gig": ("main", "logo"), "packages": (["basic", "standard"], ["basic"]), "price_change_pct": (0, 10),
    "questions": (["How fast?"], "from_cancellations_60d"),
}
"""Two valid values per parameter a bot reads: a parameter added to a bot needs a row here."""


def test_every_step_param_in_plays_yml_is_read_by_its_bot_and_valid() -> None:
    for play in CONFIGS.plays.plays:
        for step in play.job_plan:
            declared = reads(step.bot, step.action)
            if declared is None:  # a brief: every parameter is listed for the person doing it
                continue
            assert set(step.params) <= set(declared), (play.id, step.action, set(step.params) - set(declared))
            problems = {k: declared[k](v) for k, v in step.params.items() if declared[k](v)}
            assert not problems, (play.id, step.action, problems)


@pytest.mark.parametrize("bot_action", sorted(READS), ids=lambda ba: ".".join(ba))
def test_each_declared_param_changes_the_changeset(shop: Any, bot_action: tuple[str, str]) -> None:
    bot, action = bot_action
    declared = READS[bot_action]
    assert set(declared) <= set(ALTERNATIVES), set(declared) - set(ALTERNATIVES)
    base = {k: ALTERNATIVES[k][0] for k in declared}
    before = _run(shop, bot, action, base).model_dump(exclude={"params"})
    for key in declared:
        assert declared[key](ALTERNATIVES[key][1]) is None, key
        after = _run(shop, bot, action, {**base, key: ALTERNATIVES[key][1]}).model_dump(exclude={"params"})
        assert after != before, f"{bot}.{action} ignores {key}"


def test_a_bot_cannot_read_an_undeclared_param(shop: Any) -> None:
    ctx = BotContext(client=shop, bot="shopify_bot", action="update_prices", play_id="p", play_label="P",
                     params={"top_n": 2}, as_of=AS_OF)
    with pytest.raises(LookupError, match="top_n"):
        ctx.param("top_n")


def _as_executed(client: Any, play_id: str, override: dict[str, Any], as_of: date = AS_OF) -> list[Any]:
    """The play's ChangeSets as the job queue runs them: each step's plan params, with the override's
    keys that step accepts (``params_per_step``) merged in."""
    per_step = params_per_step(CONFIGS, play_id, override)
    return [_run(client, s.bot, s.action, {**s.params, **per_step[i]}, as_of)
            for i, s in enumerate(CONFIGS.play(play_id).job_plan)]


def test_override_count_and_change_pct_drive_the_price_changeset(shop: Any) -> None:
    check_params(CONFIGS, "pricing_test", {"count": 2, "change_pct": 5})
    prices, copy = _as_executed(shop, "pricing_test", {"count": 2, "change_pct": 5})
    assert [(c.target, c.before, c.after) for c in prices.changes] == \
        [(f"product:{HOUSE}", "17.60", "18.48"), (f"product:{MUG}", "18.00", "18.90")]
    assert prices.asset.content.count("\n") == 3  # header + 2 rows
    assert copy.asset.content.count("\n## Item ") == 2  # the copy step's count too: the repriced pages
    plan_prices, _ = _as_executed(shop, "pricing_test", {})
    assert len(plan_prices.changes) == 3 and plan_prices.changes[0].after == "19.36"  # 3 products sold, +10 %


def test_a_plan_beyond_its_own_cap_is_held_at_the_cap(shop: Any) -> None:
    cs = _run(shop, "shopify_bot", "update_prices", {"change_pct": 25, "max_change_pct": 10, "count": 1})
    assert cs.changes[0].after == "19.36" and "held at max_change_pct 10" in cs.summary


def test_bundle_copy_describes_the_bundles_own_pair(shop: Any) -> None:
    bundle, copy = _as_executed(shop, "bundle_offer", {"discount_pct": 5})
    assert f"({HOUSE}) at 17.60" in bundle.asset.content and f"({MUG}) at 18.00" in bundle.asset.content
    assert bundle.changes[0].after == "33.82"  # (17.60 + 18.00) x 0.95
    assert f"Item {HOUSE}" in copy.asset.content and f"Item {MUG}" in copy.asset.content
    assert f"Item {ETH}" not in copy.asset.content


# --- the decision refuses what a bot could not follow, in one line, before anything is recorded ----------


@pytest.mark.parametrize(("play", "params", "said"), [
    ("pricing_test", {"change_pct": 50},
     "pricing_test shopify_bot.update_prices change_pct 50 is beyond the cap max_change_pct 10; nothing was recorded"),
    ("pricing_test", {"change_pct": -50}, "change_pct -50 is beyond the cap max_change_pct 10"),
    ("pricing_test", {"max_change_pct": 60, "change_pct": 50},
     "caps max_change_pct at 10: an override may lower it, not raise it to 60; nothing was recorded"),
    ("pricing_test", {"max_change_pct": 5}, "change_pct 10 is beyond the cap max_change_pct 5"),
    ("pricing_test", {"count": "two"}, "count 'two' is not a whole number of at least 1"),
    ("pricing_test", {"top_n": 2}, "has no step parameter 'top_n'"),
    ("bundle_offer", {"size": 3}, "has no step parameter 'size'"),
    ("free_shipping_threshold", {"threshold": "lots"}, "threshold 'lots' is not an amount above 0"),
    ("free_shipping_threshold", {"above_aov_pct": 30}, "has no step parameter 'above_aov_pct'"),
    ("discount_hygiene", {"max_discount_pct": 25}, "caps max_discount_pct at 15"),
])
def test_refused_overrides_say_why_in_one_line(play: str, params: dict[str, Any], said: str) -> None:
    with pytest.raises(DecisionError) as err:
        check_params(CONFIGS, play, params)
    assert said in str(err.value) and "\n" not in str(err.value), str(err.value)


def test_overrides_within_the_plan_are_accepted_and_named() -> None:
    check_params(CONFIGS, "pricing_test", {"max_change_pct": 5, "change_pct": -5})
    check_params(CONFIGS, "discount_hygiene", {"max_discount_pct": 10})  # a brief: a lower cap is fine
    check_params(CONFIGS, "free_shipping_threshold", {"threshold": 60})
    assert override_changes(CONFIGS, "pricing_test", {"count": 2}) == [
        {"step": "shopify_bot.update_prices", "param": "count", "before": 5, "after": 2},
        {"step": "copy_bot.draft_product_descriptions", "param": "count", "before": None, "after": 2}]


def test_a_registered_step_accepts_exactly_what_its_bot_reads() -> None:
    for play in CONFIGS.plays.plays:
        for (name, accepted, _), step in zip(step_params(CONFIGS, play.id), play.job_plan, strict=True):
            declared = reads(step.bot, step.action)
            assert declared is None or accepted == set(declared), (play.id, name)


# --- F2 and the CLI, on the demo client's own data --------------------------------------------------------


@pytest.fixture
def demo(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """The demo client after one weekly cycle a week before its data ends, awaiting decisions (the
    decisions tests' ``seeded`` home)."""
    from chimera.clients import get_client

    home: Seeded = request.getfixturevalue("seeded")
    _in_home(home.home, monkeypatch)
    return SimpleNamespace(home=home.home, ctx=get_client("demo"), as_of=home.as_of - timedelta(days=7),
                           pending=home.pending)


def _aov_28d(demo: SimpleNamespace) -> Decimal:
    """Net sales over orders for the 28 days to the cycle's day, summed here from the stored metrics."""
    from chimera.db.engine import session_scope
    from chimera.metrics import load_series

    with session_scope() as s:
        series = load_series(s, demo.ctx.company_id, ["net_sales", "orders"],
                             start=demo.as_of - timedelta(days=27), end=demo.as_of)
    return sum(series["net_sales"].values(), Decimal(0)) / sum(series["orders"].values(), Decimal(0))


def test_free_shipping_threshold_is_1_3_times_the_28_day_aov_unless_overridden(demo: SimpleNamespace) -> None:
    aov = _aov_28d(demo)
    raw = (aov * Decimal("1.3")).quantize(Decimal("0.01"), ROUND_HALF_UP)
    expected = clean_round(raw, aov)
    assert expected % 5 == 0 and expected > aov and abs(expected - raw) <= Decimal("2.5")
    planned, _copy = _as_executed(demo.ctx, "free_shipping_threshold", {}, demo.as_of)
    assert planned.changes[0].after == str(expected), planned.summary
    assert f"28-day AOV {aov.quantize(Decimal('0.01'))}" in planned.summary
    overridden, copy = _as_executed(demo.ctx, "free_shipping_threshold", {"threshold": 60, "variants": 1},
                                    demo.as_of)
    assert overridden.changes[0].after == "60" and "from 60 USD" in overridden.asset.content
    assert copy.asset.content.count("## Variant ") == 1


def test_clean_round_stays_above_the_aov() -> None:
    assert clean_round(Decimal("53.21"), Decimal("40.93")) == 55
    assert clean_round(Decimal("51.83"), Decimal("39.87")) == 50
    assert clean_round(Decimal("42.40"), Decimal("40.50")) == 45  # 40 would sit below the AOV
    assert clean_round(Decimal("6.40"), Decimal("4.92")) == 6


def test_cli_override_refuses_an_unusable_value_then_the_accepted_one_drives_the_copy(
        demo: SimpleNamespace) -> None:
    from sqlmodel import select

    from chimera.db.engine import session_scope
    from chimera.db.models import Decision

    run_id = demo.pending["winback_email"]
    refused = chimera("override", run_id, "--who", "bob", "--reason", "r", "--params", '{"variants": "two"}')
    line = _one_line(refused)
    assert "variants 'two' is not a whole number of at least 1; nothing was recorded" in line, line
    with session_scope() as s:
        assert s.exec(select(Decision).where(Decision.play_run_id == run_id)).first() is None
    done = chimera("override", run_id, "--who", "bob", "--reason", "one subject line to start",
                   "--params", '{"variants": 1}')
    assert done.code == 0, done.stderr[-2000:]
    (asset,) = (demo.home / "outbox" / "demo").glob(f"{run_id}-0-*draft_copy*")
    text = asset.read_text()
    assert "## Variant 1" in text and "## Variant 2" not in text and "Audience: lapsed_90_180d" in text
