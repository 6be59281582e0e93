"""Money reads in the client's currency's own smallest unit wherever a person sees it: a yen store's
revenue read 231,880.00 and its AOV 4,312.57, and dinars got their fils only when the value
happened to have 3 decimals. Stored values and JSON keep their precision; only the text changes."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import insert

from chimera.cli.cmd_metrics import render_value
from chimera.cli.render import client_currency, play_panel
from chimera.clients import ClientContext, add_client, get_client
from chimera.config.loader import load_config_set
from chimera.config.models import AllOf, BelowCondition, StatusCondition
from chimera.db.engine import session_scope
from chimera.db.models import MetricPoint
from chimera.evidence.record import log_evidence, log_manual_play, record_json, shown_value, shown_values
from chimera.kpi.calibrate import propose_for_series
from chimera.kpi.evaluate import evaluate_series
from chimera.kpi.fmt import fmt, fmt_apart, fmt_stored, quantize
from chimera.kpi.formula import Series
from chimera.plays.models import KPIView
from chimera.plays.trigger import evaluate_trigger
from chimera.report import render_report, trend_figure
from chimera.report.charts import TrendPoint
from graphs.ui_models import kpi_table, trigger_text
from tests.test_cli_contracts import chimera
from tests.test_report_unseen_qa5 import _money_shop, _rendered, _row

START = date(2026, 3, 2)  # a Monday
GROUPED_CENTS = re.compile(r"\b\d{1,3}(?:,\d{3})+\.\d\d\b")  # 231,880.00: money read in cents


# --------------------------------------------------------------------------- fmt


@pytest.mark.parametrize(("value", "currency", "shown"), [
    ("231880.00", "JPY", "231,880"),
    ("4312.57", "JPY", "4,313"),
    ("4312.50", "jpy", "4,313"),        # half-up, any case
    ("4312.49", "KRW", "4,312"),
    ("12345.67", "USD", "12,345.67"),   # 2-decimal currencies unchanged
    ("12345.6", "EUR", "12,345.60"),
    ("1012.3", "KWD", "1,012.300"),     # 3 places whatever the value's own
    ("5.1245", "BHD", "5.125"),
    ("7", "OMR", "7.000"),
    ("0.5", "JOD", "0.500"),
    ("10.0005", "TND", "10.001"),
    ("1012.335", None, "1,012.335"),    # no currency: the value's own places decide, as before
    ("4312.57", None, "4,312.57"),
    ("-0.4", "JPY", "0"),
])
def test_money_reads_in_the_currency_s_smallest_unit(value: str, currency: str | None, shown: str) -> None:
    assert fmt(Decimal(value), "currency", currency) == shown
    assert fmt_stored(value, "currency", currency) == shown


def test_other_units_ignore_the_currency() -> None:
    for unit, value in (("percent", "0.020050"), ("count", "1234"), ("ratio", "1.8950")):
        assert fmt(Decimal(value), unit, "JPY") == fmt(Decimal(value), unit)


def test_stored_money_keeps_its_precision() -> None:
    """The reported value keeps cents (fils for dinars): only its text is whole yen."""
    assert quantize(Decimal("4312.5714"), "currency", "JPY") == Decimal("4312.57")
    assert quantize(Decimal("13.04891"), "currency", "KWD") == Decimal("13.049")
    assert quantize(Decimal("1012.335"), "currency") == Decimal("1012.335")  # no currency: as before


def test_a_yen_value_apart_from_a_threshold_gets_tenths() -> None:
    """4,312.6 yen is not '4,313, below target 4,313'."""
    assert fmt_apart(Decimal("4312.57"), "currency", [Decimal(4313)], currency="JPY") == "4,312.6"
    assert fmt_apart(Decimal("4312.57"), "currency", [Decimal(5000)], currency="JPY") == "4,313"


# --------------------------------------------------------------------------- the evaluator


def _aov_series(price: Decimal, days: int = 70) -> Series:
    series: Series = {"net_sales": {}, "orders": {}}
    for i in range(days):
        day, orders = START + timedelta(days=i), Decimal(40 + i % 7)
        series["orders"][day] = orders
        series["net_sales"][day] = orders * price + (i % 3)  # a fraction of a yen in the AOV
    return series


def test_a_yen_aov_note_reads_whole_yen_and_its_value_keeps_cents() -> None:
    spec = load_config_set().kpi("aov").model_copy(update={
        "target": Decimal(5000), "warning": Decimal(4000), "critical": Decimal(3000)})
    series = _aov_series(Decimal("4312.57"))
    as_of = START + timedelta(days=69)
    r = evaluate_series(spec, series, as_of, currency="JPY")
    assert r.value is not None and r.value == r.value.quantize(Decimal("0.01")) and r.value % 1
    shown = fmt(r.value, "currency", "JPY")
    assert shown == f"{r.value.quantize(Decimal(1), 'ROUND_HALF_UP'):,}"
    assert r.note.startswith(f"aov {shown} over 7d") and "target 5,000, above warning 4,000" in r.note, r.note
    assert not re.search(r"\d\.\d", r.note), r.note
    assert evaluate_series(spec, series, as_of).value == r.value  # no currency: same stored value


def test_a_dinar_aov_keeps_its_fils() -> None:
    """A ratio in a 3-decimal currency read in hundredths (13.05) beside sums in fils."""
    spec = load_config_set().kpi("aov")
    series = _aov_series(Decimal("13.049"))
    r = evaluate_series(spec, series, START + timedelta(days=69), currency="KWD")
    assert r.value is not None and -r.value.as_tuple().exponent == 3
    assert f"aov {fmt(r.value, 'currency', 'KWD')} over 7d" in r.note and re.search(r"aov \d+\.\d{3} ", r.note)


def test_calibration_reasons_read_in_yen() -> None:
    spec = load_config_set().kpi("aov")
    series = _aov_series(Decimal("4312.57"))
    p = propose_for_series(spec, series, START + timedelta(days=69), currency="JPY")
    assert p.enough_history and p.proposed["target"] == p.proposed["target"].to_integral_value()
    assert f"to {START + timedelta(days=69)} {fmt(p.proposed['target'], 'currency', 'JPY')}, spread" in p.reason
    assert not re.search(r"\d\.\d", p.reason.split(", spread")[0].split(" to ")[-1]), p.reason


# --------------------------------------------------------------------------- trigger, panels, chat


def test_trigger_clauses_read_whole_yen() -> None:
    view = KPIView(id="aov", status="WARNING", value=Decimal("3999.50"), target=Decimal(5000),
                   warning=Decimal(4000), critical=Decimal(3000), unit="currency")
    trigger = AllOf(all=[StatusCondition(kpi="aov", status=["WARNING"]), BelowCondition(kpi="aov", below=4500)])
    result = evaluate_trigger(trigger, {"aov": view}, currency="JPY")
    assert result.clauses == ["aov is WARNING (4,000 vs warning 4,000)", "aov is 4,000, below 4,500"]
    usd = evaluate_trigger(trigger, {"aov": view})
    assert usd.clauses[1] == "aov is 3,999.50, below 4,500.00"  # no currency: as before


def test_a_play_panel_and_the_chat_tables_read_whole_yen() -> None:
    info = {"value": "4312.57", "unit": "currency", "status": "WARNING", "target": "5000", "warning": "4500",
            "critical": "3000"}
    panel = _rendered(lambda c: c.print(play_panel({
        "rank": 1, "label": "L", "owner": "o", "play_run_id": "id1", "reason": "r", "why_rank": "w",
        "evidence_kpis": ["aov"], "delay_days": 3, "reversible": True, "kpi_values": {"aov": info}}, "JPY")),
        width=200)
    assert "aov: 4,313 (WARNING; target 5,000, warning 4,500, critical 3,000)" in panel, panel
    table = kpi_table([{"id": "aov", "label": "AOV", "status": "WARNING", "unit": "currency", "value": "4312.57",
                        "target": "5000", "note": "n"}], "JPY")
    assert "| 4,313 | 5,000 |" in table, table
    assert trigger_text({"kpi": "aov", "below": "4500"}, {"aov": "currency"}, currency="JPY") == "`aov` below 4,500"


# --------------------------------------------------------------------------- a yen store end to end


@pytest.fixture
def yen_shop(chimera_home: Path) -> ClientContext:
    return _money_shop("yen", "JPY", ["4980", "12800", "3300", "985"])


def test_a_yen_store_reads_whole_yen_in_kpis_metrics_and_the_report(yen_shop: ClientContext) -> None:
    assert client_currency(yen_shop.name) == "JPY"
    doc = chimera("kpis", "--client", yen_shop.name, "--json").json()
    units = {k.id: k.unit for k in yen_shop.configs.kpis.kpis}
    money = [k for k in doc["kpis"] if units[k["id"]] == "currency" and k["value"] is not None]
    assert {k["id"] for k in money} >= {"net_sales", "aov"}
    aov = next(k for k in money if k["id"] == "aov")
    assert Decimal(aov["value"]) % 1, aov  # the JSON keeps the AOV's cents
    text = chimera("kpis", "--client", yen_shop.name)
    assert text.code == 0, text.stderr
    assert not GROUPED_CENTS.search(text.stdout), text.stdout
    judged = [k for k in money if k["status"] != "UNKNOWN"]
    assert judged, money
    for k in money:
        shown = fmt(Decimal(k["value"]), "currency", "JPY")
        assert shown in text.stdout, (k["id"], shown)
        assert k not in judged or k["note"].startswith(f"{k['id']} {shown} over"), (k["id"], k["note"])
    html = render_report(yen_shop)
    for k in money:
        assert _row(html, k["id"])[2] == f"{fmt(Decimal(k['value']), 'currency', 'JPY')} JPY"
    metrics = chimera("metrics", "--client", yen_shop.name, "--metric", "net_sales")
    assert metrics.code == 0 and not re.search(r"\d\.\d", metrics.stdout), metrics.stdout
    stored = chimera("metrics", "--client", yen_shop.name, "--metric", "net_sales", "--json").json()
    assert all(v.endswith(".00") for v in stored["metrics"]["net_sales"].values())  # JSON as before


def test_chart_hovers_read_whole_yen() -> None:
    spec = load_config_set().kpi("aov")
    points = [TrendPoint(day=START + timedelta(days=i), status="WARNING", value=Decimal(v))
              for i, v in enumerate(["4312.57", "4312.49", "980.50"])]
    line = next(t for t in trend_figure(spec, points, "JPY").data if t.name == f"{spec.label} ({spec.window})")
    assert list(line.customdata) == ["4,313 JPY", "4,312 JPY", "981 JPY"]


def test_metrics_text_keeps_every_place_a_sum_has() -> None:
    assert render_value("net_sales", Decimal("231880.00"), "JPY") == "231880"
    assert render_value("net_sales", Decimal("231880.50"), "JPY") == "231880.5"  # exact, not rounded away
    assert render_value("net_sales", Decimal("1012.3"), "KWD") == "1012.300"
    assert render_value("net_sales", Decimal("231880.00")) == "231880.00"


# --------------------------------------------------------------------------- evidence


def _yen_client(name: str, currency: str, price: Decimal, factor: Decimal, executed: date) -> ClientContext:
    ctx = add_client(name)
    (ctx.folder / "client.yml").write_text(f"name: {name}\ncurrency: {currency}\nsources: []\n", encoding="utf-8")
    rows = []
    for i in range(140):
        day = START + timedelta(days=i)
        orders = 40 + i % 7
        sales = orders * price * (factor if day >= executed else 1) + Decimal(i % 3)
        rows += [{"company_id": ctx.company_id, "metric": m, "day": day, "source": "shopify_orders",
                  "value": str(v)} for m, v in (("orders", orders), ("net_sales", sales))]
    with session_scope() as s:
        s.execute(insert(MetricPoint), rows)
    return get_client(name)


@pytest.mark.parametrize(("currency", "price", "places"), [("JPY", Decimal("4312.57"), 2),
                                                            ("KWD", Decimal("13.049"), 3)])
def test_evidence_before_and_after_read_in_the_currency(chimera_home: Path, currency: str, price: Decimal,
                                                        places: int) -> None:
    executed = START + timedelta(days=98)
    ctx = _yen_client(currency.lower(), currency, price, Decimal("1.2"), executed)
    with session_scope() as s:
        run = log_manual_play(s, ctx, "pricing_test", executed, kpis=["aov"])
        (rec,) = [record_json(r) for r in log_evidence(s, ctx, run, executed + timedelta(days=35))]
    assert rec["before"] is not None and -Decimal(rec["before"]).as_tuple().exponent == places  # stored
    before, after = shown_values(rec, currency)
    assert before == fmt(Decimal(rec["before"]), "currency", currency)
    assert after == fmt(Decimal(rec["after"]), "currency", currency)
    assert f"aov {before} over" in rec["reason"] and f"vs {after} over" in rec["reason"], rec["reason"]
    assert shown_value(rec["before"], "currency") == f"{Decimal(rec['before']):,}"  # no currency: as stored
