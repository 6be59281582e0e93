"""Stripe exports QA: impossible refunds are rejected like any malformed row."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from chimera.clients import add_client
from chimera.db.engine import session_scope
from chimera.ingest import ingest_file
from chimera.metrics import load_series


def _series(client) -> dict:
    with session_scope() as s:
        return load_series(s, client.company_id)


@pytest.mark.parametrize(("sep", "amount", "refunded", "ok"), [
    (",", "25.00", "30.00", "10.00"),
    (";", "25,00", "30,00", "10,00"),  # a European export: decimal commas, compared as numbers
    (",", "9.50", "10.00", "9.50"),  # 10.00 > 9.50 although "10.00" < "9.50" as text
])
def test_amount_refunded_above_amount_is_rejected_at_its_line(chimera_home: Path, tmp_path: Path, sep: str,
                                                              amount: str, refunded: str, ok: str) -> None:
    rows = [["id", "Created date (UTC)", "Amount", "Amount Refunded", "Currency", "Captured", "Fee", "Status"],
            ["ch_1", "2026-05-01 03:48:05", "40.00" if sep == "," else "40,00", ok, "usd", "true", "0", "Paid"],
            ["ch_2", "2026-05-01 05:00:00", amount, refunded, "usd", "true", "0", "Refunded"],
            ["ch_3", "2026-05-02 05:00:00", amount, amount, "usd", "true", "0", "Refunded"]]  # a full refund: fine
    path = tmp_path / "payments.csv"
    path.write_text("".join(sep.join(r) + "\n" for r in rows), encoding="utf-8")
    client = add_client("c")
    summary = ingest_file(client, path)
    assert [(r.line, r.column, r.value, r.order) for r in summary.rejected] == [(3, "Amount Refunded", refunded,
                                                                                "ch_2")]
    assert "more than" in summary.rejected[0].reason and amount in summary.rejected[0].reason
    series = _series(client)
    assert series["stripe_payments"] == {date(2026, 5, 1): 1, date(2026, 5, 2): 1}  # ch_2 not counted
    assert series["stripe_refunded"][date(2026, 5, 1)] == Decimal(ok.replace(",", "."))
