"""evaluate_kpis over a real database, ``chimera kpis`` (JSON contract, table, errors) and calibration."""

from __future__ import annotations

import json
import math
import random
from datetime import date, timedelta
from decimal import Decimal

import pytest
import yaml
from sqlalchemy import insert
from sqlmodel import select
from typer.testing import CliRunner

from chimera.cli import _register
from chimera.cli.app import app
from chimera.clients import add_client, get_client
from chimera.config.loader import load_config_set
from chimera.db.engine import session_scope
from chimera.db.models import CustomerDay, CycleRun, KPIStatus, MetricPoint, encode_customers
from chimera.kpi.calibrate import apply_calibration, propose_calibration
from chimera.kpi.evaluate import evaluate_kpis, evaluate_series
from chimera.metrics import load_series

START = date(2026, 1, 5)
DAYS = 130
LAST = START + timedelta(days=DAYS - 1)
WEEKDAY = [0.94, 0.91, 0.93, 0.97, 1.04, 1.14, 1.07]


def _seed(company_id: int, drop_from: int | None = None, seed: int = 11) -> None:
    """Shopify-like and analytics-like daily metrics with a weekly pattern (and an optional CR drop)."""
    rng = random.Random(seed)
    points: list[dict] = []
    buyers: list[dict] = []
    for i in range(DAYS):
        d = START + timedelta(days=i)
        sessions = int(2800 * WEEKDAY[i % 7] * rng.uniform(0.96, 1.04))
        p = 0.018 if drop_from is not None and i >= drop_from else 0.024
        orders = max(1, round(sessions * p + rng.gauss(0, math.sqrt(sessions * p))))
        net = Decimal(orders * 38) + Decimal(rng.randint(0, 99)) / 100
        values = {"sessions": sessions, "orders": orders, "orders_placed": orders, "cancelled_orders": 0,
                  "units": orders * 2, "net_sales": net, "gross_sales": net + 20, "discounts": Decimal(20),
                  "total_sales": net * Decimal("1.2"), "refunded_amount": Decimal(10), "refunded_orders": 1}
        points += [{"company_id": company_id, "metric": m, "day": d, "source": "test", "value": str(v)}
                   for m, v in values.items()]
        day_buyers: dict[str, int] = {}
        for j in range(orders):
            key = f"c{(i * 7 + j) % 900}"
            day_buyers[key] = day_buyers.get(key, 0) + 1
        buyers.append({"company_id": company_id, "source": "test", "day": d,
                       "orders_by_customer": encode_customers(day_buyers)})
    with session_scope() as s:
        s.execute(insert(MetricPoint), points)
        s.execute(insert(CustomerDay), buyers)


@pytest.fixture
def client(chimera_home):
    ctx = add_client("acme")
    _seed(ctx.company_id, drop_from=DAYS - 10)
    return get_client("acme")


def test_evaluate_kpis_matches_the_pure_evaluator_and_is_deterministic(client):
    report = evaluate_kpis(client)
    assert report.as_of == LAST and report.run_id is None
    assert [k.id for k in report.kpis] == [k.id for k in client.configs.kpis.kpis]
    with session_scope() as s:
        series = load_series(s, client.company_id)
        assert s.exec(select(KPIStatus)).first() is None  # nothing stored without run_id / store
    for spec in client.configs.kpis.kpis:
        if spec.formula != "repeat_purchase_rate":
            assert report.by_id(spec.id) == evaluate_series(spec, series, LAST, currency=client.config.currency)
    assert evaluate_kpis(client, as_of=LAST) == report
    assert report.by_id("conversion_rate").status in ("WARNING", "CRITICAL")
    assert report.by_id("repeat_purchase_rate").value is not None
    assert report.by_id("fiverr_completion_rate").unknown_reason == "no_data"


def test_store_creates_an_evaluation_run_with_one_status_per_kpi(client):
    report = evaluate_kpis(client, as_of=LAST - timedelta(days=3), store=True)
    with session_scope() as s:
        run = s.get(CycleRun, report.run_id)
        rows = s.exec(select(KPIStatus).where(KPIStatus.run_id == report.run_id)).all()
    assert run is not None and run.kind == "evaluation" and run.as_of == report.as_of
    assert {r.kpi_id: r.status for r in rows} == {k.id: k.status for k in report.kpis}
    conv = next(r for r in rows if r.kpi_id == "conversion_rate")
    assert conv.note == report.by_id("conversion_rate").note and conv.details["unit"] == "percent"


def test_cli_json_is_the_design_contract(client):
    _register()
    result = CliRunner().invoke(app, ["kpis", "--client", "acme", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert set(doc) == {"client", "as_of", "kpis"} and doc["as_of"] == LAST.isoformat()
    keys = {"id", "status", "value", "target", "warning", "critical", "window", "data_through", "note"}
    for k in doc["kpis"]:
        assert set(k) == keys and k["status"] in {"OK", "WARNING", "CRITICAL", "UNKNOWN"}
        assert k["value"] is None or isinstance(k["value"], str)
        assert isinstance(k["target"], str)
    table = CliRunner().invoke(app, ["kpis", "--client", "acme", "--as-of", str(LAST - timedelta(days=1))])
    assert table.exit_code == 0 and "conversion_rate" in table.stdout


@pytest.mark.parametrize("argv", [["--client", "acme", "--as-of", "2026-13-01"], ["--client", "acm", "--json"]])
def test_cli_user_errors_exit_1_with_one_line(chimera_home, monkeypatch, capsys, argv):
    from chimera.cli.app import run

    add_client("acme")
    _register()
    monkeypatch.setattr("sys.argv", ["chimera", "kpis", *argv])
    assert run() == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "Traceback" not in err


def test_calibration_proposes_from_history_and_writes_valid_kpis_yml(client):
    proposals = {p.kpi: p for p in propose_calibration(client, LAST)}
    conv = proposals["conversion_rate"]
    assert conv.enough_history and len(conv.weekly_values) == 8
    med = sorted(conv.weekly_values)[3:5]
    assert conv.proposed["target"] == ((med[0] + med[1]) / 2).quantize(Decimal("0.0001"))
    assert conv.proposed["critical"] <= conv.proposed["warning"] <= conv.proposed["target"]
    assert not proposals["fiverr_response_rate"].enough_history
    assert "need 6" in proposals["fiverr_response_rate"].reason

    path = client.folder / "kpis.yml"
    comments = [line for line in path.read_text().splitlines() if line.lstrip().startswith("#")]
    changed = apply_calibration(client, list(proposals.values()), owner="tester", reason="test calibration")
    assert "conversion_rate" in changed and "fiverr_response_rate" not in changed
    text = path.read_text()
    assert all(c in text.splitlines() for c in comments)  # comments kept
    written = next(k for k in yaml.safe_load(text)["kpis"] if k["id"] == "conversion_rate")
    assert Decimal(str(written["target"])) == conv.proposed["target"]
    assert load_config_set(client.folder).kpi("conversion_rate").warning == conv.proposed["warning"]
    log = (client.folder / "CHANGELOG.md").read_text()
    assert "test calibration" in log and "tester" in log


def test_cli_calibrate_writes_only_when_confirmed(client):
    _register()
    path = client.folder / "kpis.yml"
    before = path.read_text()
    declined = CliRunner().invoke(app, ["kpis", "--client", "acme", "--calibrate"], input="n\n")
    assert declined.exit_code == 0 and path.read_text() == before
    result = CliRunner().invoke(app, ["kpis", "--client", "acme", "--calibrate", "--yes", "--json", "--owner", "me"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert "conversion_rate" in doc["written"] and path.read_text() != before


def test_calibration_keeps_thresholds_of_a_kpi_without_variation(client):
    """The seeded shop never had a cancellation: proposing 0/0/0 would make one cancellation CRITICAL."""
    proposals = {p.kpi: p for p in propose_calibration(client, LAST)}
    cancel = proposals["cancellation_rate"]
    assert cancel.enough_history and cancel.proposed == {}
    assert cancel.reason == "history has no variation (all 0.00%): keeping configured 1.00%/3.00%/5.00%"
    before = client.configs.kpi("cancellation_rate")
    changed = apply_calibration(client, list(proposals.values()), owner="tester", reason="test calibration")
    assert "cancellation_rate" not in changed and "conversion_rate" in changed
    after = load_config_set(client.folder).kpi("cancellation_rate")
    assert (after.target, after.warning, after.critical) == (Decimal("0.01"), Decimal("0.03"), Decimal("0.05"))
    assert before == after
    for p in proposals.values():
        if p.proposed:
            k = load_config_set(client.folder).kpi(p.kpi)
            order = [k.target, k.warning, k.critical]
            assert len(set(order)) == 3 and order in (sorted(order), sorted(order, reverse=True)), p.kpi
