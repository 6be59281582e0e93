"""Honest money layouts a QA pass found refused or misread: zero-decimal Stripe amounts in
thousands groups (JPY `2,511`), Shopify exports saved by a European Excel (`150,00`, `;`)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from chimera.ingest.detect import read_header
from chimera.ingest.models import Aggregate
from chimera.ingest.stripe import AMBIGUOUS, aggregate_stripe, read_stripe

STRIPE_HEADER = "id,Created date (UTC),Amount,Amount Refunded,Currency,Fee,Status"


def _stripe(tmp_path: Path, rows: list[str], currency: str = "jpy", sep: str = ",") -> Aggregate:
    path = tmp_path / "stripe.csv"
    body = [r.replace("{cur}", currency) for r in rows]
    path.write_text("\n".join([STRIPE_HEADER.replace(",", sep), *body]) + "\n", encoding="utf-8")
    df, cols = read_stripe(path, read_header(path))
    return aggregate_stripe(df, lambda rows: {}, cols)


def test_zero_decimal_comma_groups_are_whole_amounts(tmp_path: Path) -> None:
    agg = _stripe(tmp_path, ['ch_1,2026-05-01 10:00:00,"2,511",0,{cur},103,Paid',
                             'ch_2,2026-05-01 11:00:00,"12,000",0,{cur},"1,200",Paid',
                             "ch_3,2026-05-01 12:00:00,800,0,{cur},30,Paid"])
    assert not agg.rejected
    day = agg.days[next(iter(agg.days))]
    assert day["stripe_gross"] == Decimal("15311")
    assert day["stripe_fees"] == Decimal("1333")


def test_zero_decimal_dot_groups_are_whole_amounts(tmp_path: Path) -> None:
    agg = _stripe(tmp_path, ["ch_1;2026-05-01 10:00:00;2.511;0;{cur};103;Paid",
                             "ch_2;2026-05-01 11:00:00;12.000;0;{cur};1.200;Paid"], currency="krw", sep=";")
    assert not agg.rejected
    day = agg.days[next(iter(agg.days))]
    assert (day["stripe_gross"], day["stripe_fees"]) == (Decimal("14511"), Decimal("1303"))


def test_zero_decimal_with_both_group_styles_stays_refused(tmp_path: Path) -> None:
    agg = _stripe(tmp_path, ['ch_1,2026-05-01 10:00:00,"2,511",0,{cur},103,Paid',
                             "ch_2,2026-05-01 11:00:00,2.511,0,{cur},103,Paid"])
    assert {r.value for r in agg.rejected if r.reason == AMBIGUOUS} == {"2,511", "2.511"}


def test_two_decimal_currency_groups_without_cents_stay_refused(tmp_path: Path) -> None:
    agg = _stripe(tmp_path, ['ch_1,2026-05-01 10:00:00,"2,511",0,{cur},103,Paid'], currency="usd")
    assert [r.reason for r in agg.rejected] == [AMBIGUOUS]
