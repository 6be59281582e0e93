"""Storage rules: replace never add, one transaction, nothing personal in the database file."""

from __future__ import annotations

import csv
import io
import os
import random
import re
import stat
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import select

from chimera import settings
from chimera.clients import add_client
from chimera.db.engine import session_scope
from chimera.db.models import CustomerDay, IngestRun, MetricPoint
from chimera.errors import IngestError
from chimera.ingest import ingest_file, store
from chimera.ingest.pseudonymize import pseudonymizer, salt_path
from chimera.metrics import load_series


def _series(client) -> dict:
    with session_scope() as s:
        return load_series(s, client.company_id)


def _counts(client) -> tuple[int, int, int]:
    with session_scope() as s:
        cid = client.company_id
        return (
            len(s.exec(select(MetricPoint).where(MetricPoint.company_id == cid)).all()),
            len(s.exec(select(CustomerDay).where(CustomerDay.company_id == cid)).all()),
            len(s.exec(select(IngestRun).where(IngestRun.company_id == cid)).all()),
        )


def _split(src: Path, dst: Path, keep) -> Path:
    """A copy of a Shopify export with only the records whose Created at day passes ``keep``."""
    with src.open(newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        at = header.index("Created at")
        rows = [r for r in reader if keep(r[at][:10])]
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([header, *rows])
    dst.write_text(buf.getvalue())
    return dst


def test_reingest_replaces_never_adds(chimera_home: Path, store_files: Path) -> None:
    client = add_client("t")
    first = ingest_file(client, store_files / "orders_export.csv")
    before, counts = _series(client), _counts(client)
    again = ingest_file(client, store_files / "orders_export.csv")
    assert _series(client) == before
    assert _counts(client)[:2] == counts[:2] and _counts(client)[2] == counts[2] + 1
    assert again.metrics_written == first.metrics_written


def test_overlapping_exports_give_the_same_metrics(chimera_home: Path, store_files: Path, tmp_path: Path) -> None:
    whole = add_client("whole")
    ingest_file(whole, store_files / "orders_export.csv")
    parts = add_client("parts")
    early = _split(store_files / "orders_export.csv", tmp_path / "a.csv", lambda d: "2025" in d or d < "2026-03-01")
    late = _split(store_files / "orders_export.csv", tmp_path / "b.csv", lambda d: "2026-02-01" <= d)
    ingest_file(parts, late)
    ingest_file(parts, early)  # overlaps February: replaced with identical numbers
    assert _series(parts) == _series(whole)


def test_shuffled_rows_give_the_same_metrics(chimera_home: Path, store_files: Path, tmp_path: Path) -> None:
    """A spreadsheet re-sorted by someone: line items of an order no longer consecutive."""
    src = store_files / "orders_export.csv"
    with src.open(newline="") as fh:
        reader = csv.reader(fh)
        header, rows = next(reader), list(reader)
    first_of = {}
    for r in rows:
        first_of.setdefault(r[0], r)
    heads = [r for r in rows if first_of[r[0]] is r]
    tails = [r for r in rows if first_of[r[0]] is not r]
    random.Random(7).shuffle(tails)
    order = list(reversed(header))  # columns reordered too: matched by name
    idx = [header.index(c) for c in order]
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([order, *([r[i] for i in idx] for r in heads + tails)])
    (tmp_path / "shuffled.csv").write_text(buf.getvalue())
    a, b = add_client("a"), add_client("b")
    ingest_file(a, src)
    summary = ingest_file(b, tmp_path / "shuffled.csv")
    assert _series(a) == _series(b)
    assert {(r.column, r.value, r.order) for r in summary.rejected} == {
        (r.column, r.value, r.order) for r in ingest_file(a, src).rejected
    }


def _records(path: Path) -> tuple[list[str], list[list[list[str]]]]:
    """Header and the orders of a Shopify export, each order its consecutive rows."""
    with path.open(newline="") as fh:
        reader = csv.reader(fh)
        header, orders = next(reader), []
        for row in reader:
            if orders and orders[-1][0][0] == row[0]:
                orders[-1].append(row)
            else:
                orders.append([row])
    return header, orders


def _write_rows(path: Path, header: list[str], orders: list[list[list[str]]]) -> Path:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([header, *(r for o in orders for r in o)])
    path.write_text(buf.getvalue())
    return path


def test_pasted_overlapping_exports_count_each_order_once(
    chimera_home: Path, store_files: Path, tmp_path: Path
) -> None:
    """Two overlapping exports pasted into one file: identical copies of an order count once; an
    order whose copies differ (refunded by the time of the later export) is rejected, never doubled."""
    src = store_files / "orders_export.csv"
    header, orders = _records(src)
    later = [[list(r) for r in order] for order in orders[len(orders) // 2:]]
    refund, money = header.index("Refunded Amount"), header.index("Total")
    changed = next(o for o in later if o[0][money] and not o[0][refund].strip("0."))
    changed[0][refund] = changed[0][money]
    pasted = _write_rows(tmp_path / "pasted.csv", header, orders + later)

    a, b = add_client("a"), add_client("b")
    once = ingest_file(a, src)
    twice = ingest_file(b, pasted)
    name = changed[0][0]
    conflict = [r for r in twice.rejected if r.order == name]
    before = orders[: orders.index(next(o for o in orders if o[0][0] == name))]
    first_line = 2 + sum(1 + sum(c.count("\n") for c in row) for o in before for row in o)  # quoted notes span lines
    assert [(r.column, r.line, r.value) for r in conflict] == [("Name", first_line, name)]  # its first copy
    assert "listed more than once with different rows" in conflict[0].reason
    assert {(r.line, r.order) for r in twice.rejected if r.order != name} == {(r.line, r.order) for r in once.rejected}
    assert twice.orders_ingested == once.orders_ingested - 1
    day = date.fromisoformat(changed[0][header.index("Created at")][:10])
    x, y = _series(a), _series(b)
    for metric in ("units", "gross_sales", "net_sales", "orders"):
        assert {d: v for d, v in y[metric].items() if d != day} == {d: v for d, v in x[metric].items() if d != day}
    assert y["orders"][day] == x["orders"][day] - (0 if changed[0][header.index("Cancelled at")] else 1)


def test_a_copy_right_after_its_original_counts_once(chimera_home: Path, store_files: Path, tmp_path: Path) -> None:
    """The later export starts with the earlier one's last order: the copy follows its original at
    the seam, one run of rows with two order rows; still one order."""
    header, orders = _records(store_files / "orders_export.csv")
    seam = next(i for i in range(len(orders) // 2, len(orders)) if len(orders[i]) > 1)  # a multi-line order
    a, b = add_client("a"), add_client("b")
    once = ingest_file(a, _write_rows(tmp_path / "once.csv", header, orders))
    twice = ingest_file(b, _write_rows(tmp_path / "seam.csv", header, orders[: seam + 1] + orders[seam:]))
    assert _series(a) == _series(b)
    assert twice.orders_ingested == once.orders_ingested
    assert {(r.column, r.order) for r in twice.rejected} == {(r.column, r.order) for r in once.rejected}


@pytest.mark.parametrize("shuffle", [False, True])
def test_order_cells_filled_down_every_line_count_once(
    chimera_home: Path, store_files: Path, tmp_path: Path, shuffle: bool
) -> None:
    """Some export apps repeat the order-level cells (Subtotal, Total, ...) on every line item row:
    still one order with all its lines, in export order or re-sorted."""
    src = store_files / "orders_export.csv"
    header, orders = _records(src)
    order_cols = [header.index(c) for c in ("Email", "Financial Status", "Currency", "Subtotal", "Shipping",
                                            "Taxes", "Total", "Discount Amount", "Refunded Amount", "Cancelled at")]
    rows = []
    for order in orders:
        for row in order:
            filled = list(row)
            for i in order_cols:
                filled[i] = order[0][i]
            rows.append(filled)
    if shuffle:
        random.Random(3).shuffle(rows)
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([header, *rows])
    (tmp_path / "filled.csv").write_text(buf.getvalue())
    a, b = add_client("a"), add_client("b")
    once = ingest_file(a, src)
    filled = ingest_file(b, tmp_path / "filled.csv")
    assert _series(a) == _series(b)
    assert filled.orders_ingested == once.orders_ingested
    assert {(r.column, r.order) for r in filled.rejected} == {(r.column, r.order) for r in once.rejected}


def _filled_down(header: list[str], orders: list[list[list[str]]]) -> list[list[list[str]]]:
    """The orders with their order-level cells repeated on every line item row (some export apps)."""
    cols = [header.index(c) for c in ("Email", "Financial Status", "Currency", "Subtotal", "Shipping", "Taxes",
                                      "Total", "Discount Amount", "Refunded Amount", "Cancelled at")]
    return [[[order[0][i] if i in cols else v for i, v in enumerate(row)] for row in order] for order in orders]


def test_filled_down_exports_pasted_together_count_each_order_once(
    chimera_home: Path, store_files: Path, tmp_path: Path
) -> None:
    """Two overlapping exports of a filled-down layout pasted into one file: every row is an order
    row, so a copy is told by its place (the name's rows again, later in the file), never counted
    twice; an order whose copies disagree (refunded later) is rejected once, at its first copy."""
    header, orders = _records(store_files / "orders_export.csv")
    filled = _filled_down(header, orders)
    later = [[list(r) for r in order] for order in filled[len(filled) // 2:]]
    refund, money = header.index("Refunded Amount"), header.index("Total")
    changed = next(o for o in later if len(o) > 1 and o[0][money] and not o[0][refund].strip("0."))
    for row in changed:
        row[refund] = row[money]
    a, b, c = add_client("a"), add_client("b"), add_client("c")
    once = ingest_file(a, _write_rows(tmp_path / "once.csv", header, filled))
    twice = ingest_file(b, _write_rows(tmp_path / "pasted.csv", header, filled + later))
    same = ingest_file(c, _write_rows(tmp_path / "same.csv", header, filled + filled))
    assert _series(c) == _series(a) and same.orders_ingested == once.orders_ingested
    name = changed[0][0]
    conflict = [r for r in twice.rejected if r.order == name]
    assert [r.column for r in conflict] == ["Name"] and "more than once" in conflict[0].reason
    assert twice.orders_ingested == once.orders_ingested - 1
    day = date.fromisoformat(changed[0][header.index("Created at")][:10])
    x, y = _series(a), _series(b)
    for metric in ("units", "gross_sales", "net_sales"):
        assert {d: v for d, v in y[metric].items() if d != day} == {d: v for d, v in x[metric].items() if d != day}
        assert y[metric][day] < x[metric][day]  # the conflicting order left out, not doubled


def test_filled_down_order_of_alike_lines_sorted_apart_keeps_its_lines(
    chimera_home: Path, store_files: Path, tmp_path: Path
) -> None:
    """A re-sorted filled-down file splits multi-line orders into runs that differ; an order whose
    lines are all alike (two SKUs at one price) falls apart into runs that look like copies, but in
    such a file they are lines: all count."""
    header, orders = _records(store_files / "orders_export.csv")
    filled = _filled_down(header, orders)
    qty, price = header.index("Lineitem quantity"), header.index("Lineitem price")
    twin = next(o for o in filled if len(o) == 2 and o[0][header.index("Cancelled at")] == "")
    twin[1][qty], twin[1][price] = twin[0][qty], twin[0][price]
    rows = [r for o in filled for r in o]
    random.Random(5).shuffle(rows)
    a, b = add_client("a"), add_client("b")
    ingest_file(a, _write_rows(tmp_path / "once.csv", header, filled))
    ingest_file(b, _write_rows(tmp_path / "sorted.csv", header, [[r] for r in rows]))
    assert _series(a) == _series(b)


def test_failure_mid_write_leaves_the_database_unchanged(
    chimera_home: Path, store_files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = add_client("t")
    ingest_file(client, store_files / "analytics_daily.csv")
    before, counts = _series(client), _counts(client)

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(store, "_insert_customers", boom)  # after the metric rows were replaced
    with pytest.raises(RuntimeError):
        ingest_file(client, store_files / "orders_export.csv")
    assert _series(client) == before and _counts(client) == counts


def test_no_personal_data_in_the_database(chimera_home: Path, store_files: Path) -> None:
    client = add_client("t")
    ingest_file(client, store_files / "orders_export.csv")
    ingest_file(client, store_files / "stripe_payments.csv")
    personal: set[str] = set()
    for name in ("orders_export.csv", "stripe_payments.csv"):
        for row in csv.DictReader((store_files / name).open(newline="")):
            for col, value in row.items():
                if value and col != "Name" and any(k in col for k in ("Name", "Phone", "Street", "Address")):
                    personal.add(value)  # Shopify "Name" is the order number, not a person
    assert len(personal) > 1000
    from sqlalchemy import text

    with session_scope() as s:
        s.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    blob = b"".join(p.read_bytes() for p in chimera_home.glob("chimera.db*"))
    assert re.findall(rb"[\w.+-]+@[\w-]+\.[\w.]+", blob) == []  # no email at all, of any customer
    sample = random.Random(3).sample(sorted(personal), 2000)
    assert [v for v in sample if v.encode() in blob] == []
    salt = salt_path("t")
    assert stat.S_IMODE(os.stat(salt).st_mode) == 0o600 and salt.read_bytes() not in blob
    assert salt.parent == settings.secrets_dir()


@pytest.mark.parametrize("legacy_salt", [False, True])
def test_pseudonyms_are_the_standard_hmac_of_the_normalized_email(chimera_home: Path, legacy_salt: bool) -> None:
    """Python's path (copied pad states) and polars-hash's must both give exactly RFC 2104
    HMAC-SHA256 (its first 64 bits), or pseudonyms written by one would not match the other's and
    repeat customers would look new. Salts of 32 raw bytes (earlier versions) are no text: Python hashes them."""
    import hashlib
    import hmac

    import polars as pl

    add_client("hm")
    if legacy_salt:
        salt_path("hm").parent.mkdir(parents=True, exist_ok=True)
        salt_path("hm").write_bytes(bytes(range(200, 232)))
    hashed = pseudonymizer("hm")  # creates the salt on first use
    salt = salt_path("hm").read_bytes()
    assert len(salt) == (32 if legacy_salt else 64)
    emails = ["a@b.co", " Kai.M@Example.COM ", "ünïcode@exämple.de", "x" * 200 + "@long.example"]
    want = [hmac.new(salt, e.strip().lower().encode("utf-8"), hashlib.sha256).hexdigest()[:16] for e in emails]
    assert [hashed(e) for e in emails] == want
    expr = hashed.expr(pl.col("email"))
    assert (expr is None) == legacy_salt
    if expr is not None:
        normalized = pl.DataFrame({"email": [e.strip().lower() for e in emails]})
        assert normalized.select(expr).to_series().to_list() == want
    add_client("other")
    assert hashed("A@B.CO") == hashed("a@b.co") != pseudonymizer("other")("a@b.co")
    assert str(salt) not in repr(hashed) and salt.hex() not in repr(hashed)


@pytest.mark.parametrize("legacy_salt", [False, True])
def test_both_hashing_paths_store_the_same_customers(
    chimera_home: Path, store_files: Path, legacy_salt: bool
) -> None:
    from chimera.ingest.pseudonymize import Pseudonymizer

    client = add_client("paths")
    if legacy_salt:
        salt_path("paths").parent.mkdir(parents=True, exist_ok=True)
        salt_path("paths").write_bytes(bytes(range(32)))
    ingest_file(client, store_files / "orders_export.csv")
    hashed = Pseudonymizer(salt_path("paths").read_bytes())
    with session_scope() as s:
        stored = {c for row in s.exec(select(CustomerDay)).all() for c in row.counts()}
    with (store_files / "orders_export.csv").open(newline="") as fh:
        emails = {r["Email"] for r in csv.DictReader(fh) if r["Email"].strip() and r["Subtotal"].strip()}
    assert stored <= {hashed(e) for e in emails} and len(stored) > 100


def test_fingerprint_is_xxh3_128_of_the_bytes_whatever_the_chunk(tmp_path: Path) -> None:
    import xxhash

    from chimera.ingest.service import fingerprint_file

    data = bytes(random.Random(5).getrandbits(8) for _ in range(100_003))
    path = tmp_path / "f.csv"
    path.write_bytes(data)
    want = xxhash.xxh3_128(data).hexdigest()
    assert fingerprint_file(path) == fingerprint_file(path, chunk=4096) == fingerprint_file(path, chunk=7) == want
    (tmp_path / "empty.csv").write_bytes(b"")
    assert fingerprint_file(tmp_path / "empty.csv") == xxhash.xxh3_128(b"").hexdigest()


def test_unknown_file_says_what_was_expected(chimera_home: Path, tmp_path: Path) -> None:
    client = add_client("t")
    path = tmp_path / "x.csv"
    path.write_text("foo,bar\n1,2\n")
    with pytest.raises(IngestError) as err:
        ingest_file(client, path)
    for expected in ("Created at", "Created date (UTC)", "sessions", "client.yml"):
        assert expected in str(err.value)
    with pytest.raises(IngestError, match="Lineitem quantity"):
        ingest_file(client, path, kind="shopify_orders")


def test_ga4_api_names_and_yyyymmdd(chimera_home: Path, tmp_path: Path) -> None:
    client = add_client("t")
    path = tmp_path / "ga4.csv"
    path.write_text("# GA4 report\n#\ndate,sessions,totalUsers,transactions,purchaseRevenue,keyEvents\n"
                    "20260405,100,80,3,120.5,4\n20260407,90,,2,80.00,3\n")
    summary = ingest_file(client, path)
    series = _series(client)
    assert summary.source == "analytics_daily" and summary.rejected == []
    assert series["sessions"] == {date(2026, 4, 5): 100, date(2026, 4, 7): 90}
    assert series["users"] == {date(2026, 4, 5): 80}  # empty cell: missing, not zero
    assert series["ga_revenue"][date(2026, 4, 5)] == Decimal("120.5")
    assert series["ga_key_events"][date(2026, 4, 7)] == 3


def test_european_stripe_export(chimera_home: Path, tmp_path: Path) -> None:
    client = add_client("t")
    path = tmp_path / "stripe.csv"
    path.write_text(
        "id,Created (UTC),Amount,Amount Refunded,Currency,Captured,Fee,Status\n"
        'ch_1,13/03/2026 23:10,"1.234,50","0,00",eur,true,"35,10",Paid\n'
        'ch_2,13/03/2026 08:00,"10,00","10,00",eur,true,"0,59",Refunded\n'
        'ch_3,02/03/2026 09:00,"5,00","0,00",eur,false,"0,00",Failed\n'
        'ch_4,02/03/2026 09:30,"N/A","0,00",eur,false,"0,00",Failed\n'
    )
    summary = ingest_file(client, path)
    series = _series(client)
    assert series["stripe_gross"][date(2026, 3, 13)] == Decimal("1244.50")
    assert series["stripe_fees"][date(2026, 3, 13)] == Decimal("35.69")
    assert series["stripe_failed_payments"][date(2026, 3, 2)] == 1
    assert [(r.line, r.column, r.value, r.order) for r in summary.rejected] == [(5, "Amount", "N/A", "ch_4")]
    assert series["stripe_payments"][date(2026, 3, 5)] == 0  # a day inside the export without payments


def test_fiverr_needs_a_mapping_then_uses_it(chimera_home: Path, tmp_path: Path) -> None:
    client = add_client("t")
    path = tmp_path / "fiverr.csv"
    path.write_text("Order,When,Earned,State,On time,Reply h\nFO1,04/03/2026,$40.00,Completed,yes,2\n"
                    "FO2,04/03/2026,$15.50,Cancelled,,30\nFO3,05/03/2026,20,completed,no,\n"
                    "FO4,05/03/2026,0,cancelled,,24\n")  # 24 h is not "< 24 h" (DATA.md)
    with pytest.raises(IngestError, match=r"client\.yml"):
        ingest_file(client, path, kind="fiverr_orders")
    yml = client.folder / "client.yml"
    yml.write_text(yml.read_text() + "fiverr:\n  date: When\n  amount: Earned\n  status: State\n"
                   "  order_id: Order\n  date_format: '%d/%m/%Y'\n  delivered_on_time: On time\n"
                   "  response_hours: Reply h\n")
    from chimera.clients import get_client

    summary = ingest_file(get_client("t"), path)
    series = _series(client)
    assert summary.source == "fiverr_orders" and summary.rejected == []
    assert series["fiverr_orders"][date(2026, 3, 4)] == 2
    assert series["fiverr_earnings"][date(2026, 3, 4)] == Decimal("40.00")
    assert series["fiverr_delivered_on_time"] == {date(2026, 3, 4): 1, date(2026, 3, 5): 0}
    assert series["fiverr_responded_24h"] == {date(2026, 3, 4): 1, date(2026, 3, 5): 0}
    assert series["fiverr_inquiries"] == {date(2026, 3, 4): 2, date(2026, 3, 5): 1}


@pytest.mark.postgres
def test_same_numbers_on_postgres(pg_url: str, sample_store: Path) -> None:
    client = add_client("t")
    summary = ingest_file(client, sample_store / "orders_export.csv")
    ingest_file(client, sample_store / "orders_export.csv")  # replace, not add, there too
    expected = list(csv.DictReader((sample_store / "expected_daily.csv").open()))
    series = _series(client)
    assert len(summary.rejected) == 6
    assert sum(series["net_revenue"].values()) == sum(Decimal(r["net_revenue"]) for r in expected)
    assert sum(series["orders"].values()) == sum(int(r["orders"]) for r in expected)
    assert _counts(client)[1] > 0


def test_progress_task_completes(chimera_home: Path, sample_store: Path) -> None:
    from rich.console import Console
    from rich.progress import Progress

    client = add_client("t")
    with Progress(console=Console(file=io.StringIO(), force_terminal=True)) as progress:
        ingest_file(client, sample_store / "analytics_daily.csv", progress=progress)
        task = progress.tasks[0]
    assert task.finished and "analytics_daily.csv" in task.description


def _rewrite(src: Path, dst: Path, *, quoting: int = csv.QUOTE_MINIMAL, newline: str = "\n", bom: bool = False,
             extra_column: bool = False, trailing_blank: bool = False) -> Path:
    """The same records written the way other tools write them."""
    with src.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    if extra_column:  # a column we do not know, first: matched by name, never read
        rows = [["Store Notes" if i == 0 else "x", *r] for i, r in enumerate(rows)]
    buf = io.StringIO()
    csv.writer(buf, lineterminator=newline, quoting=quoting).writerows(rows)
    text = buf.getvalue() + (newline * 2 if trailing_blank else "")
    dst.write_bytes(("\ufeff" if bom else "").encode() + text.encode("utf-8"))
    return dst


@pytest.mark.parametrize("variant", [
    {"newline": "\r\n"}, {"bom": True}, {"quoting": csv.QUOTE_ALL}, {"extra_column": True},
    {"trailing_blank": True}, {"newline": "\r\n", "quoting": csv.QUOTE_ALL, "bom": True},
], ids=["crlf", "bom", "quote-all", "extra-column", "trailing-blank-lines", "excel-style"])
@pytest.mark.parametrize("export", ["orders_export.csv", "stripe_payments.csv", "analytics_daily.csv"])
def test_the_same_export_written_by_other_tools(
    chimera_home: Path, store_files: Path, tmp_path: Path, variant: dict, export: str
) -> None:
    """CRLF, a byte-order mark, every field quoted, an unknown column, blank lines at the end: the
    same metrics to the cent and the same rejections on the same physical lines."""
    src = store_files / export
    a, b = add_client("a"), add_client("b")
    expected = ingest_file(a, src)
    got = ingest_file(b, _rewrite(src, tmp_path / "variant.csv", **variant))
    assert _series(b) == _series(a)
    assert got.orders_ingested == expected.orders_ingested
    assert [(r.line, r.column, r.value, r.order) for r in got.rejected] == [
        (r.line, r.column, r.value, r.order) for r in expected.rejected]


def test_day_objects_count_a_days_repeat_orders_whether_rows_are_orders_or_counted() -> None:
    """The parser hands the store one row per order; the Python hashing path hands it counted
    customer-days: both give each day's same sorted JSON, a customer's repeat orders counted."""
    import polars as pl

    from chimera.db.models import decode_customers

    orders = pl.DataFrame({
        "day": [date(2026, 3, 2), date(2026, 3, 1), date(2026, 3, 1), date(2026, 3, 1), date(2026, 3, 2)],
        "customer": ["bb", "cc", "aa", "cc", "cc"],
        "orders": [1, 1, 1, 1, 1],
    })
    counted = orders.group_by("day", "customer").agg(pl.col("orders").sum())
    per_order, per_day = store.day_objects(orders), store.day_objects(counted)
    assert per_order.equals(per_day)
    assert per_order["orders_by_customer"].to_list() == ['{"aa":1,"cc":2}', '{"bb":1,"cc":1}']
    assert decode_customers(per_order["orders_by_customer"][0]) == {"aa": 1, "cc": 2}
    with pytest.raises(ValueError, match="plain text"):  # a quote would break the day's JSON
        store.day_objects(orders.with_columns(pl.lit('a"b').alias("customer")))
