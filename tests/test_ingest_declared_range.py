"""The range an order or payment export was made for (`--since` / `--until`): a quiet store's days
without orders inside it are zero, not missing; a range the file contradicts, a day not over yet,
or an analytics export are refused with nothing written."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chimera.cli import _register
from chimera.cli.app import app
from chimera.clients import add_client
from chimera.db.engine import session_scope
from chimera.errors import IngestError
from chimera.ingest import ingest_file
from chimera.metrics import load_series

_register()
runner = CliRunner()
HEADER = ("Name,Email,Financial Status,Created at,Cancelled at,Subtotal,Shipping,Taxes,Total,Discount Amount,"
          "Refunded Amount,Lineitem quantity,Lineitem price,Currency\n")


def _order(name: str, day: date, price: str = "20.00", email: str = "a@example.com", qty: str = "1") -> str:
    return (f"{name},{email},paid,{day} 10:00:00 -0500,,{price},0.00,0.00,{price},0.00,0.00,{qty},{price},USD\n")


def _export(path: Path, *orders: str) -> Path:
    path.write_text(HEADER + "".join(orders))
    return path


def _series(client) -> dict:
    with session_scope() as s:
        return load_series(s, client.company_id)


D = date(2026, 3, 2)  # any past days: the rule does not depend on them


def test_days_after_the_last_order_are_zero_through_until(chimera_home: Path, tmp_path: Path) -> None:
    client = add_client("t")
    path = _export(tmp_path / "o.csv", _order("#1", D), _order("#2", D + timedelta(days=2), "35.50"))
    summary = ingest_file(client, path, until=D + timedelta(days=5))
    series = _series(client)
    assert (summary.first_day, summary.last_day) == (D, D + timedelta(days=5))
    assert [series["orders"][D + timedelta(days=i)] for i in range(6)] == [1, 0, 1, 0, 0, 0]
    assert series["net_sales"][D + timedelta(days=5)] == Decimal("0.00")
    assert series["net_sales"][D + timedelta(days=2)] == Decimal("35.50")


def test_without_a_range_the_quiet_days_stay_missing(chimera_home: Path, tmp_path: Path) -> None:
    client = add_client("t")
    ingest_file(client, _export(tmp_path / "o.csv", _order("#1", D), _order("#2", D + timedelta(days=2))))
    assert sorted(_series(client)["orders"]) == [D, D + timedelta(days=1), D + timedelta(days=2)]


def test_since_gives_zero_days_before_the_first_order(chimera_home: Path, tmp_path: Path) -> None:
    client = add_client("t")
    ingest_file(client, _export(tmp_path / "o.csv", _order("#1", D)), since=D - timedelta(days=3), until=D)
    assert _series(client)["orders"] == {D - timedelta(days=3): 0, D - timedelta(days=2): 0,
                                         D - timedelta(days=1): 0, D: 1}


def test_a_declared_range_replaces_what_an_earlier_export_stored(chimera_home: Path, tmp_path: Path) -> None:
    """The person says the export lists every order of the range: a stored day it has none for had none."""
    client = add_client("t")
    ingest_file(client, _export(tmp_path / "a.csv", _order("#1", D), _order("#2", D + timedelta(days=1))))
    ingest_file(client, _export(tmp_path / "b.csv", _order("#1", D)), since=D, until=D + timedelta(days=1))
    assert _series(client)["orders"] == {D: 1, D + timedelta(days=1): 0}


def test_orders_outside_the_range_refuse_the_file_and_write_nothing(chimera_home: Path, tmp_path: Path) -> None:
    client = add_client("t")
    path = _export(tmp_path / "o.csv", _order("#1", D), _order("#2", D + timedelta(days=4)))
    with pytest.raises(IngestError, match=rf"o\.csv.*orders on {D + timedelta(days=4)}, after --until"):
        ingest_file(client, path, until=D + timedelta(days=2))
    with pytest.raises(IngestError, match=rf"orders on {D}, before --since"):
        ingest_file(client, path, since=D + timedelta(days=1))
    assert _series(client) == {}


def test_a_day_whose_orders_were_all_rejected_is_not_made_zero(chimera_home: Path, tmp_path: Path) -> None:
    client = add_client("t")
    path = _export(tmp_path / "o.csv", _order("#1", D), _order("#2", D + timedelta(days=1), qty="-1"))
    summary = ingest_file(client, path, until=D + timedelta(days=2))
    assert [r.line for r in summary.rejected] == [3]
    assert _series(client)["orders"] == {D: 1, D + timedelta(days=2): 0}  # the rejected day: unknown


def test_an_export_without_orders_needs_both_ends(chimera_home: Path, tmp_path: Path) -> None:
    client = add_client("t")
    path = _export(tmp_path / "o.csv")
    with pytest.raises(IngestError, match="no orders: give both --since and --until"):
        ingest_file(client, path, kind="shopify_orders", until=D)
    ingest_file(client, path, kind="shopify_orders", since=D, until=D + timedelta(days=1))
    series = _series(client)
    assert series["orders"] == {D: 0, D + timedelta(days=1): 0}
    assert series["net_revenue"] == {D: Decimal("0.00"), D + timedelta(days=1): Decimal("0.00")}


def test_a_metric_the_export_cannot_know_stays_missing_on_zero_days(chimera_home: Path, tmp_path: Path) -> None:
    """An older export without `Refunded Amount` says nothing of refunds, on quiet days too."""
    client = add_client("t")
    path = tmp_path / "old.csv"
    path.write_text("Name,Email,Created at,Subtotal,Total,Lineitem quantity,Lineitem price,Currency\n"
                    f"#1,a@example.com,{D} 10:00:00 +0000,20.00,20.00,1,20.00,USD\n")
    ingest_file(client, path, until=D + timedelta(days=1))
    series = _series(client)
    assert series["orders"] == {D: 1, D + timedelta(days=1): 0}
    assert "refunded_amount" not in series


def test_a_day_not_over_yet_is_refused(chimera_home: Path, tmp_path: Path) -> None:
    client = add_client("t")  # the base config's store timezone; a day two ahead of UTC is not over anywhere
    path = _export(tmp_path / "o.csv", _order("#1", D))
    with pytest.raises(IngestError, match="is not over yet"):
        ingest_file(client, path, until=datetime.now(UTC).date() + timedelta(days=2))
    assert _series(client) == {}


def test_stripe_payments_export_quiet_days_are_zero(chimera_home: Path, tmp_path: Path) -> None:
    client = add_client("t")
    path = tmp_path / "stripe.csv"
    path.write_text("id,Created date (UTC),Amount,Amount Refunded,Currency,Captured,Fee,Status\n"
                    f"ch_1,{D} 09:00,10.00,0.00,usd,true,0.59,Paid\n")
    ingest_file(client, path, since=D - timedelta(days=1), until=D + timedelta(days=1))
    series = _series(client)
    assert series["stripe_gross"] == {D - timedelta(days=1): Decimal("0.00"), D: Decimal("10.00"),
                                      D + timedelta(days=1): Decimal("0.00")}


def test_analytics_exports_are_refused_a_range(chimera_home: Path, tmp_path: Path) -> None:
    client = add_client("t")
    path = tmp_path / "ga.csv"
    path.write_text(f"date,sessions,users,transactions,revenue\n{D},100,80,2,40.00\n")
    with pytest.raises(IngestError, match="missing data, never zero"):
        ingest_file(client, path, until=D + timedelta(days=3))
    assert _series(client) == {}


def test_cli_takes_the_range_for_a_file_and_checks_its_order(chimera_home: Path, tmp_path: Path) -> None:
    add_client("t")
    path = _export(tmp_path / "o.csv", _order("#1", D))
    later = str(D + timedelta(days=2))
    bad = runner.invoke(app, ["ingest", str(path), "--client", "t", "--since", later, "--until", str(D)])
    assert bad.exit_code != 0 and f"--until {D} is before --since {later}" in str(bad.exception)
    result = runner.invoke(app, ["ingest", str(path), "--client", "t", "--until", later, "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert (doc["first_day"], doc["last_day"], doc["orders_ingested"]) == (str(D), later, 1)


def test_a_pull_does_not_zero_a_day_whose_orders_were_all_rejected() -> None:
    from chimera.connectors.common import clip
    from chimera.ingest import Aggregate

    agg = Aggregate(kind="shopify_orders", days={D: {"orders": 2, "net_sales": Decimal("40.00")}}, rows_read=3,
                    orders_ingested=2, unknown_days={D + timedelta(days=1)})
    clip(agg, D, D + timedelta(days=2), today=D + timedelta(days=10))
    assert agg.days == {D: {"orders": 2, "net_sales": Decimal("40.00")},
                        D + timedelta(days=2): {"orders": 0, "net_sales": Decimal("0.00")}}
