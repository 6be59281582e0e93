"""Fiverr's column mapping in client.yml: a column name with ` #` (`Order #`) written unquoted is cut
by YAML (` #` starts a comment); the error says so and how to write it."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from chimera.cli import _register
from chimera.cli.app import app
from chimera.clients import add_client
from chimera.settings import client_dir

_register()
runner = CliRunner()


def test_an_unquoted_hash_in_a_mapped_column_name_is_named_with_the_fix(chimera_home: Path, tmp_path: Path) -> None:
    add_client("gig")
    yml = client_dir("gig") / "client.yml"
    yml.write_text(yml.read_text() + "fiverr:\n  date: Order Date\n  amount: Earnings\n  status: Status\n"
                   "  order_id: Order #\n", encoding="utf-8")
    path = tmp_path / "fiverr.csv"
    path.write_text("Order #,Order Date,Earnings,Status\nFO1,2026-03-01,40.00,Completed\n", encoding="utf-8")
    result = runner.invoke(app, ["ingest", str(path), "--client", "gig", "--json"])
    assert result.exit_code != 0
    message = result.output + str(result.exception or "")
    assert "fiverr.order_id names the column 'Order'" in message
    assert "order_id: 'Order #'" in message


def test_a_named_date_with_a_time_is_read_on_its_day(tmp_path: Path) -> None:
    """`Mar 5, 2026, 1:07 PM` (Fiverr's own way of writing an order's date) with client.yml's default
    date_format: it was rejected as 'not ... like Nov 3, 2026' because of its time."""
    from chimera.config.client import FiverrMapping
    from chimera.ingest.detect import read_header
    from chimera.ingest.fiverr import aggregate_fiverr, read_fiverr

    path = tmp_path / "fiverr.csv"
    path.write_text('Order ID,Order Date,Earnings,Status\nFO1,"Mar 5, 2026, 1:07 PM",40.00,Completed\n'
                    'FO2,"Mar 5, 2026 11:59 PM",15.50,completed\nFO3,"6 March 2026 08:00",10.00,Completed\n',
                    encoding="utf-8")
    mapping = FiverrMapping(date="Order Date", amount="Earnings", status="Status", order_id="Order ID")
    agg = aggregate_fiverr(read_fiverr(path, read_header(path), mapping), mapping, lambda rows: {})
    assert agg.rejected == []
    assert {d.isoformat(): str(v["fiverr_earnings"]) for d, v in agg.days.items()} == {
        "2026-03-05": "55.50", "2026-03-06": "10.00"}
