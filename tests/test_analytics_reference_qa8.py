"""Analytics exports written by an independent generator (csv module, Decimal), checked against
DATA.md: one day per date, GA4 report or API names (`totalUsers`, `purchaseRevenue`, `keyEvents`,
dates `YYYYMMDD`), a missing date stays missing (never zero), a totals row is no day, and days
shared by two exports take the last ingested file's figures, never their sum. (QA8: no bug found;
kept as the reference for these layouts.)"""

from __future__ import annotations

import csv
import io
import json
import random
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chimera.cli import _register
from chimera.cli.app import app
from chimera.clients import add_client
from chimera.ingest.analytics import aggregate_analytics, read_analytics
from chimera.ingest.detect import read_header

_register()
runner = CliRunner()
METRICS = ["sessions", "users", "ga_transactions", "ga_revenue", "ga_key_events"]


def _days(rng: random.Random, start: date, count: int, gaps: bool = True) -> dict[date, dict]:
    out = {}
    for i in range(count):
        if gaps and rng.random() < 0.2:
            continue  # a date the export lacks: missing data
        sessions = rng.randint(200, 20000)
        out[start + timedelta(days=i)] = {"sessions": sessions, "users": sessions * 4 // 5,
                                          "ga_transactions": rng.randint(0, 400),
                                          "ga_revenue": Decimal(rng.randint(0, 5000000)) / 100,
                                          "ga_key_events": rng.randint(0, 900)}
    return out


def _export(path: Path, days: dict[date, dict], *, api: bool = False, sep: str = ",", comma: bool = False,
            total: str = "", comments: bool = False, date_format: str = "", seed: int = 0) -> Path:
    header = (["date", "sessions", "totalUsers", "transactions", "purchaseRevenue", "keyEvents"] if api else
              ["Date", "Sessions", "Total users", "Transactions", "Purchase revenue", "Key events"])

    def money(value: Decimal) -> str:
        return f"{value:.2f}".replace(".", ",") if comma else f"{value:.2f}"

    rows = [[d.strftime(date_format or ("%Y%m%d" if api else "%Y-%m-%d")), *(
        money(v[m]) if m == "ga_revenue" else str(v[m]) for m in METRICS)] for d, v in days.items()]
    random.Random(seed).shuffle(rows)
    sums = [sum(v[m] for v in days.values()) for m in METRICS]
    totals = [money(s) if isinstance(s, Decimal) else str(s) for s in sums]
    if total == "grand total first":
        rows.insert(0, ["Grand total", *totals])
    elif total == "blank last":
        rows.append(["", *totals])
    buf = io.StringIO()
    if comments:  # GA4's download starts with its report's description
        buf.write("# ----------------------------------------\n# Traffic acquisition\n# Property: Shop\n"
                  "# ----------------------------------------\n#\n")
    csv.writer(buf, delimiter=sep, lineterminator="\r\n").writerows([header, *rows])
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def _reference(days: dict[date, dict]) -> dict[str, dict[str, Decimal]]:
    return {m: {d.isoformat(): Decimal(v[m]) for d, v in days.items()} for m in METRICS}


VARIANTS = {
    "report names, ISO dates": {},
    "API names, YYYYMMDD": {"api": True},
    "comments and a Grand total row": {"comments": True, "total": "grand total first"},
    "blank-dated totals row last": {"total": "blank last"},
    "European ; decimal comma, dd.mm.yyyy": {"sep": ";", "comma": True, "date_format": "%d.%m.%Y"},
    "tab separated, mm/dd/yy": {"sep": "\t", "date_format": "%m/%d/%y"},
}


@pytest.mark.parametrize("variant", VARIANTS)
def test_generated_analytics_exports_parse_to_the_reference(tmp_path: Path, variant: str) -> None:
    rng = random.Random(variant)
    days = _days(rng, date(2026, 3, 1), 31)
    path = _export(tmp_path / "analytics.csv", days, **VARIANTS[variant], seed=rng.randint(0, 99))
    header = read_header(path)
    df, cols = read_analytics(path, header)
    agg = aggregate_analytics(df, lambda rows: {}, cols, european=header.separator == ";")
    assert agg.rejected == []
    got = {m: {d.isoformat(): Decimal(str(v[m])) for d, v in agg.days.items() if m in v} for m in METRICS}
    assert got == _reference(days)  # the dates the export lacks are absent, not zero


def test_overlapping_exports_take_the_last_file_for_shared_days_and_never_add(chimera_home: Path,
                                                                              tmp_path: Path) -> None:
    rng = random.Random(8)
    older, newer = _days(rng, date(2026, 3, 1), 20, gaps=False), _days(rng, date(2026, 3, 15), 20, gaps=False)
    first = _export(tmp_path / "older.csv", older, api=True)
    second = _export(tmp_path / "newer.csv", newer)
    add_client("ga")
    for path in (first, second, second):
        result = runner.invoke(app, ["ingest", str(path), "--client", "ga", "--json"])
        assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["metrics", "--client", "ga", "--json"])
    got = json.loads(result.stdout)["metrics"]
    assert {m: {d: Decimal(str(v)) for d, v in got[m].items()} for m in METRICS} == _reference({**older, **newer})
