"""Stripe payments exports written by an independent generator (csv module, Decimal sums worked out
from DATA.md / contracts.md: per UTC day of Created; gross over captured paid, refunded, partially
refunded and disputed charges; fees over every row; refunds over captured charges; in a file mixing
currencies, the settled Converted columns), checked to the cent against `chimera metrics --json`."""

from __future__ import annotations

import csv
import io
import json
import random
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chimera.cli import _register
from chimera.cli.app import app
from chimera.clients import add_client
from chimera.ingest.detect import read_header
from chimera.ingest.stripe import aggregate_stripe, read_stripe

_register()
runner = CliRunner()
STATUSES = ["Paid"] * 5 + ["Refunded", "Failed", "Partially refunded", "Disputed", "Uncaptured"]
RATES = {"usd": Decimal(1), "eur": Decimal("1.0833"), "gbp": Decimal("1.2711")}
METRICS = ["stripe_payments", "stripe_succeeded_payments", "stripe_failed_payments", "stripe_gross", "stripe_fees",
           "stripe_refunded"]


def _payments(rng: random.Random, currencies: tuple[str, ...]) -> list[dict]:
    out = []
    for day in range(6):
        for k in range(rng.randint(1, 5)):
            status, cur = rng.choice(STATUSES), rng.choice(currencies)
            amount = Decimal(rng.randint(100, 500000)) / 100
            captured = status not in ("Failed", "Uncaptured")
            refunded = {"Refunded": amount, "Partially refunded": (amount / 3).quantize(Decimal("0.01"))}.get(
                status, Decimal("0.00"))
            conv = (amount * RATES[cur]).quantize(Decimal("0.01")) if captured else Decimal("0.00")
            out.append({"id": f"ch_{day}_{k}", "at": datetime(2026, 2, 27) + timedelta(days=day, seconds=rng.randint(
                0, 86399)), "amount": amount, "refunded": refunded, "cur": cur, "captured": captured, "conv": conv,
                "conv_ref": (refunded * RATES[cur]).quantize(Decimal("0.01")), "status": status,
                "fee": (conv * Decimal("0.029") + Decimal("0.30")).quantize(Decimal("0.01")) if captured else
                Decimal("0.00")})
    return out


def _reference(payments: list[dict], settled: bool) -> dict[str, dict[str, Decimal]]:
    ref: dict[str, dict[str, Decimal]] = {m: defaultdict(Decimal) for m in METRICS}
    for p in payments:
        day = p["at"].date().isoformat()
        ok = p["captured"] and p["status"] not in ("Failed", "Uncaptured")
        ref["stripe_payments"][day] += 1
        ref["stripe_succeeded_payments"][day] += ok
        ref["stripe_failed_payments"][day] += p["status"] == "Failed"
        ref["stripe_gross"][day] += (p["conv"] if settled else p["amount"]) if ok else 0
        ref["stripe_fees"][day] += p["fee"]
        ref["stripe_refunded"][day] += (p["conv_ref"] if settled else p["refunded"]) if p["captured"] else 0
    return {m: dict(v) for m, v in ref.items()}


def _text(value: Decimal, comma: bool, grouped: bool) -> str:
    text = f"{value:,.2f}" if grouped else f"{value:.2f}"
    return text.translate(str.maketrans(",.", ".,")) if comma else text


def _export(path: Path, payments: list[dict], *, created: str, date_format: str, comma: bool = False,
            grouped: bool = False, sep: str = ",", bom: bool = False, crlf: bool = False, seed: int = 0) -> Path:
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=sep, lineterminator="\r\n" if crlf else "\n")
    writer.writerow(["id", created, "Amount", "Amount Refunded", "Currency", "Captured", "Converted Amount",
                     "Converted Amount Refunded", "Converted Currency", "Description", "Fee", "Status",
                     "order_id (metadata)"])
    rows = [[p["id"], p["at"].strftime(date_format), *(_text(p[k], comma, grouped) for k in ("amount", "refunded")),
             p["cur"], str(p["captured"]).lower(), *(_text(p[k], comma, grouped) for k in ("conv", "conv_ref")), "usd",
             f'Order #{i}, gift\nnote; "wrapped"', _text(p["fee"], comma, grouped), p["status"], str(i)]
            for i, p in enumerate(payments)]
    random.Random(seed).shuffle(rows)  # exports list newest first; a sorted sheet does not
    writer.writerows(rows)
    path.write_bytes((("\ufeff" if bom else "") + buf.getvalue()).encode("utf-8"))
    return path


VARIANTS = {
    "new header, ISO": {"created": "Created date (UTC)", "date_format": "%Y-%m-%d %H:%M:%S"},
    "old header, ISO with Z": {"created": "Created (UTC)", "date_format": "%Y-%m-%dT%H:%M:%SZ"},
    "European: ; dd/mm decimal comma, BOM, CRLF": {"created": "Created date (UTC)", "date_format": "%d/%m/%Y %H:%M",
                                                   "comma": True, "sep": ";", "bom": True, "crlf": True},
    "German: dd.mm, 1.234,56": {"created": "Created date (UTC)", "date_format": "%d.%m.%Y %H:%M", "comma": True,
                                "grouped": True, "sep": ";"},
    "US sheet: mm/dd 12-hour, 1,234.56": {"created": "Created date (UTC)", "date_format": "%m/%d/%Y %I:%M %p",
                                          "grouped": True},
    "ISO 12-hour": {"created": "Created date (UTC)", "date_format": "%Y-%m-%d %I:%M:%S %p"},
    "tab separated": {"created": "Created date (UTC)", "date_format": "%Y-%m-%d %H:%M:%S", "sep": "\t"},
}


def _series(client: str) -> dict[str, dict[str, Decimal]]:
    result = runner.invoke(app, ["metrics", "--client", client, "--json"])
    assert result.exit_code == 0, result.output
    got = json.loads(result.stdout)["metrics"]
    return {m: {d: Decimal(str(v)) for d, v in got.get(m, {}).items()} for m in METRICS}


def _parsed(path: Path) -> dict[str, dict[str, Decimal]]:
    """What the ingest would write (the parser's days), without the database: fast enough for many layouts."""
    df, headers = read_stripe(path, read_header(path))
    agg = aggregate_stripe(df, lambda rows: {}, headers)
    assert agg.rejected == [] and not agg.left_out
    return {m: {d.isoformat(): Decimal(str(v[m])) for d, v in agg.days.items() if m in v} for m in METRICS}


@pytest.mark.parametrize("variant", VARIANTS)
def test_generated_stripe_exports_parse_to_the_reference_to_the_cent(tmp_path: Path, variant: str) -> None:
    rng = random.Random(variant)
    payments = _payments(rng, ("usd",))
    path = _export(tmp_path / "payments.csv", payments, **VARIANTS[variant], seed=rng.randint(0, 99))
    assert _parsed(path) == _reference(payments, settled=False)


def test_a_generated_multi_currency_export_ingests_to_the_reference_and_again_the_same(chimera_home: Path,
                                                                                        tmp_path: Path) -> None:
    """Through `chimera ingest` and `chimera metrics --json`: the settled (Converted) amounts, to the
    cent; the same export ingested again replaces, never adds."""
    rng = random.Random(8)
    payments = _payments(rng, ("usd", "eur", "gbp"))
    path = _export(tmp_path / "payments.csv", payments, **VARIANTS["European: ; dd/mm decimal comma, BOM, CRLF"])
    add_client("gen")
    for _ in range(2):
        result = runner.invoke(app, ["ingest", str(path), "--client", "gen", "--json"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["rejected"] == []
    assert _series("gen") == _reference(payments, settled=True)


def test_a_negative_amount_rejects_its_charge_naming_line_and_column(chimera_home: Path, tmp_path: Path) -> None:
    """A charge's Amount is never negative in the payments export (refunds have their own column): an
    edited `-12.30` took 12.30 off the day's gross."""
    add_client("neg")
    path = tmp_path / "payments.csv"
    path.write_text("id,Created date (UTC),Amount,Amount Refunded,Currency,Captured,Fee,Status\n"
                    "ch_1,2026-03-01 10:00:00,-12.30,0.00,usd,true,0.50,Paid\n"
                    "ch_2,2026-03-01 11:00:00,10.00,-1.00,usd,true,0.50,Paid\n"
                    "ch_3,2026-03-01 12:00:00,20.00,0.00,usd,true,0.88,Paid\n", encoding="utf-8")
    result = runner.invoke(app, ["ingest", str(path), "--client", "neg", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [(r["line"], r["column"], r["value"]) for r in doc["rejected"]] == [
        (2, "Amount", "-12.30"), (3, "Amount Refunded", "-1.00")]
    assert _series("neg")["stripe_gross"] == {"2026-03-01": Decimal("20.00")}
