"""GA4 report exports downloaded with the interface in another language (German, Spanish, Portuguese,
Italian): their column names are recognised exactly, never by resemblance (`Neue Nutzer` is not
`Nutzer`, a rate is never a count), and a localized file with a figure column we cannot name says
which metric it did not find instead of leaving it silently missing.
"""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chimera.clients import add_client
from chimera.db.engine import session_scope
from chimera.errors import IngestError
from chimera.ingest import ingest_file
from chimera.ingest.detect import ANALYTICS_COLUMNS, detect_kind, read_header
from chimera.metrics import load_series

_names = itertools.count()
START = date(2026, 3, 1)
LOCALES = {  # date, sessions, users, revenue as GA4 names them in that language
    "de": ("Datum", "Sitzungen", "Nutzer", "Umsatz aus Käufen"),
    "es": ("Fecha", "Sesiones", "Usuarios totales", None),
    "pt": ("Data", "Sessões", "Total de usuários", "Receita de compra"),
    "it": ("Data", "Sessioni", "Utenti totali", None),
}


def _ingest(path: Path) -> dict:
    client = add_client(f"loc{next(_names)}")
    ingest_file(client, path)
    with session_scope() as s:
        return load_series(s, client.company_id)


def _write(tmp_path: Path, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / "ga4.csv"
    path.write_bytes(text.encode(encoding))
    return path


@pytest.mark.parametrize("locale", sorted(LOCALES))
def test_a_ga4_ui_export_in_another_language_gives_its_metrics(chimera_home: Path, tmp_path: Path,
                                                                 locale: str) -> None:
    day, sessions, users, revenue = LOCALES[locale]
    cols = [day, sessions, users, *([revenue] if revenue else [])]
    rows = [f"2026030{d},{100 + d},{80 + d}" + (f",{d}0.50" if revenue else "") for d in (1, 2)]
    series = _ingest(_write(tmp_path, "# GA4\n\n" + ",".join(cols) + "\n" + "\n".join(rows) + "\n"))
    assert series["sessions"] == {START: 101, START + timedelta(1): 102}
    assert series["users"] == {START: 81, START + timedelta(1): 82}
    if revenue:
        assert series["ga_revenue"] == {START: Decimal("10.50"), START + timedelta(1): Decimal("20.50")}


def test_new_users_are_never_users(chimera_home: Path, tmp_path: Path) -> None:
    series = _ingest(_write(tmp_path, "Datum,Sitzungen,Neue Nutzer\n20260301,10,4\n"))
    assert series["sessions"] == {START: 10}
    assert "users" not in series


def test_purchase_revenue_wins_over_total_revenue(chimera_home: Path, tmp_path: Path) -> None:
    text = "Datum,Sitzungen,Nutzer,Gesamtumsatz,Umsatz aus Käufen\n20260301,10,8,99.00,40.00\n"
    assert _ingest(_write(tmp_path, text))["ga_revenue"] == {START: Decimal("40.00")}


def test_matching_ignores_case_and_padding(chimera_home: Path, tmp_path: Path) -> None:
    series = _ingest(_write(tmp_path, " DATUM ; sitzungen ;  UMSATZ AUS KÄUFEN \n01.03.2026;1.234;1.040,50\n"))
    assert series["sessions"] == {START: 1234}
    assert series["ga_revenue"] == {START: Decimal("1040.50")}


def test_a_rate_is_never_transactions_and_the_missing_metrics_are_named(chimera_home: Path, tmp_path: Path) -> None:
    path = _write(tmp_path, "Datum,Sitzungen,Nutzer,Conversion-Rate,Umsatz aus Käufen\n20260301,10,8,2.5%,40.00\n")
    with pytest.raises(IngestError) as err:
        _ingest(path)
    message = str(err.value)
    assert "Conversion-Rate" in message and "transactions (English: transactions" in message
    assert "revenue" not in message.split("no column was found for")[1]


def test_a_french_export_names_the_revenue_it_could_not_read(chimera_home: Path, tmp_path: Path) -> None:
    path = _write(tmp_path, "Date,Sessions,Achats,Revenus générés par les achats\n20260301,10,2,40.00\n")
    with pytest.raises(IngestError) as err:
        _ingest(path)
    message = str(err.value)
    assert "Revenus générés par les achats" in message
    assert "revenue (English: revenue, purchaseRevenue" in message and "Umsatz aus Käufen" in message


def test_an_english_report_with_extra_figures_is_still_read(chimera_home: Path, tmp_path: Path) -> None:
    series = _ingest(_write(tmp_path, "Date,Sessions,Engagement rate,Total users\n20260301,10,0.5,8\n"))
    assert series["users"] == {START: 8}


def test_no_local_name_is_shared_by_two_metrics() -> None:
    seen: dict[str, str] = {}
    for key, names in ANALYTICS_COLUMNS.items():
        for name in names:
            assert seen.setdefault(name.lower(), key) == key, name


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(days=st.lists(st.tuples(st.integers(0, 2_000_000), st.integers(0, 99_999_999)), min_size=1, max_size=6))
def test_german_excel_saves_keep_thousands_and_decimal_commas(chimera_home: Path, tmp_path: Path,
                                                              days: list[tuple[int, int]]) -> None:
    """A German Excel save: `;`, dd.mm.yyyy, `.` thousands, decimal comma, Windows-1252."""
    lines = ["Datum;Sitzungen;Nutzer;Umsatz aus Käufen"]
    for i, (sessions, cents) in enumerate(days):
        money = f"{Decimal(cents) / 100:,.2f}".replace(",", " ").replace(".", ",").replace(" ", ".")
        count = f"{sessions:,}".replace(",", ".")
        lines.append(f"{START + timedelta(i):%d.%m.%Y};{count};{count};{money}")
    path = _write(tmp_path, "\r\n".join(lines) + "\r\n", "cp1252")
    assert detect_kind(path, read_header(path)) == "analytics_daily"
    series = _ingest(path)
    assert series["sessions"] == {START + timedelta(i): s for i, (s, _) in enumerate(days)}
    assert series["ga_revenue"] == {START + timedelta(i): Decimal(c) / 100 for i, (_, c) in enumerate(days)}


@given(start=st.dates(date(2020, 1, 1), date(2030, 12, 1)), n=st.integers(1, 10), day_first=st.booleans())
def test_stripe_reads_slash_dates_by_the_same_rule_as_analytics(start: date, n: int, day_first: bool) -> None:
    """One day-first rule for the product: a Stripe export's date-times decide as their dates would."""
    import polars as pl

    from chimera.ingest.parsing import slash_day_first
    from chimera.ingest.stripe import detect_locale

    fmt = "%d/%m/%Y" if day_first else "%m/%d/%Y"
    days = [start + timedelta(i) for i in range(n)]
    created = pl.Series([f"{d:{fmt}} 03:48" for d in days])
    dates = pl.Series([f"{d:{fmt}}" for d in days])
    assert detect_locale(pl.DataFrame({"created": created}))[1] == slash_day_first(dates, False)
