"""``chimera ingest`` and ``chimera metrics`` as scripts see them (DESIGN.md §7 JSON contract)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from typer.testing import CliRunner

from chimera.cli import _register
from chimera.cli.app import app
from chimera.clients import add_client

_register()
runner = CliRunner()


def _json(args: list[str]) -> dict:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_ingest_json_is_exactly_the_contract(chimera_home: Path, sample_store: Path) -> None:
    add_client("t")
    doc = _json(["ingest", str(sample_store / "orders_export.csv"), "--client", "t", "--json"])
    # the sample store is in New York while client.yml keeps its default UTC: the one extra key says so
    assert set(doc) == {"source", "rows_read", "orders_ingested", "rejected", "first_day", "last_day",
                        "metrics_written", "warnings"}
    assert len(doc["warnings"]) == 1 and "-0400" in doc["warnings"][0] and "America/New_York" in doc["warnings"][0]
    assert doc["source"] == "shopify_orders" and len(doc["rejected"]) == 6
    assert set(doc["rejected"][0]) == {"line", "column", "value", "reason", "order"}
    assert doc["metrics_written"] > 0 and doc["first_day"] < doc["last_day"]


def test_metrics_json_money_counts_and_missing_days(chimera_home: Path, sample_store: Path) -> None:
    add_client("t")
    _json(["ingest", str(sample_store / "orders_export.csv"), "--client", "t", "--json"])
    _json(["ingest", str(sample_store / "analytics_daily.csv"), "--client", "t", "--source", "analytics_daily",
           "--json"])
    expected = {r["date"]: r for r in csv.DictReader((sample_store / "expected_daily.csv").open())}
    days = sorted(expected)
    doc = _json(["metrics", "--client", "t", "--metric", "net_sales", "--metric", "orders", "--metric", "sessions",
                 "--from", days[60], "--to", days[80], "--json"])
    assert doc["client"] == "t" and set(doc["metrics"]) == {"net_sales", "orders", "sessions"}
    net = doc["metrics"]["net_sales"]
    assert list(net) == days[60:81]
    assert all(isinstance(v, str) and Decimal(v) == Decimal(expected[d]["net_sales"]) and len(v.split(".")[1]) == 2
               for d, v in net.items())
    assert all(isinstance(v, int) and v == int(expected[d]["orders"]) for d, v in doc["metrics"]["orders"].items())
    ga_days = {r["date"] for r in csv.DictReader((sample_store / "analytics_daily.csv").open())}
    sessions = doc["metrics"]["sessions"]
    assert set(sessions) == ga_days & set(days[60:81]) and len(sessions) < 21  # the gap is absent, not zero


def test_readable_output_and_one_line_errors(chimera_home: Path, sample_store: Path, tmp_path: Path) -> None:
    add_client("t")
    result = runner.invoke(app, ["ingest", str(sample_store / "orders_export.csv"), "--client", "t"])
    assert result.exit_code == 0 and "6 rejected" in result.stdout and "Lineitem quantity" in result.stdout
    table = runner.invoke(app, ["metrics", "--client", "t"])
    assert table.exit_code == 0 and "net_revenue" in table.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text("foo,bar\n1,2\n")
    env = {**os.environ, "CHIMERA_HOME": str(chimera_home)}
    proc = subprocess.run([sys.executable, "-m", "chimera.cli", "ingest", str(bad), "--client", "t", "--json"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 1 and proc.stdout == ""
    assert "not a known export" in proc.stderr and "Traceback" not in proc.stderr


def test_an_unknown_metric_is_an_error_not_an_empty_answer(chimera_home: Path) -> None:
    """`--metric net_sale` (a typo) must not look like "no data": one line, exit 1, the close name."""
    add_client("t")
    result = runner.invoke(app, ["metrics", "--client", "t", "--metric", "net_sale", "--json"])
    assert result.exit_code == 1 and "did you mean 'net_sales'?" in str(result.exception)
    assert _json(["metrics", "--client", "t", "--metric", "net_sales", "--json"])["metrics"] == {}
