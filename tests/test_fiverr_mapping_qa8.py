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
