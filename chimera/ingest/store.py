"""Writing an aggregate: one transaction that replaces the covered days, never adds to them.

For the aggregate's source, every MetricPoint of the metrics it gives and every CustomerDay from its
first to its last day is deleted and rewritten, so re-ingesting the same or an overlapping export
gives the same numbers. An order or payment export without a stated range (``--since``/``--until``)
says nothing of how much of its first and last day it lists (a page of the newest orders, a search):
an edge day listing fewer orders than are stored is left out, what is stored kept (``short_edges``).
The caller's session is one transaction: any failure leaves the database as it was.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date, timedelta
from decimal import Decimal

import polars as pl
from sqlalchemy import delete
from sqlmodel import Session, select

from chimera.db.models import Company, CustomerDay, IngestRun, MetricPoint
from chimera.ingest.models import Aggregate

log = logging.getLogger(__name__)

COUNTED = {  # what an order or payment export lists one record of: its metric, and its name in a reason
    "shopify_orders": ("orders_placed", "orders"),
    "stripe_payments": ("stripe_payments", "payments"),
    "fiverr_orders": ("fiverr_orders", "orders"),
}
SHORT_EDGE = ("lists {listed} of the {stored} {noun} stored for this day: an export cut by a page or a filter? "
              "(what is stored is kept; pass --since/--until to replace it)")


def _value(v: Decimal | int) -> str:
    return str(v)


def _zero(v: Decimal | int) -> Decimal | int:
    return Decimal("0.00") if isinstance(v, Decimal) else 0


def metric_rows(agg: Aggregate, company_id: int, run_id: int) -> list[dict]:
    """Rows for every covered day; inside the range, a day without rows is zero when ``fill_zero``."""
    if not agg.days:
        return []
    template = {m: _zero(v) for day in agg.days.values() for m, v in day.items()}
    rows: list[dict] = []
    day, last = agg.first_day, agg.last_day
    assert day is not None and last is not None
    while day <= last:
        values = agg.days.get(day) or (template if agg.fill_zero and day not in agg.unknown_days else {})
        rows += [
            {"company_id": company_id, "metric": m, "day": day, "source": agg.source, "value": _value(v),
             "ingest_run_id": run_id}
            for m, v in sorted(values.items())
        ]
        day += timedelta(days=1)
    return rows


def write_aggregate(
    session: Session, company_id: int, agg: Aggregate, *, file_name: str, fingerprint: str,
    stated: tuple[date | None, date | None] = (None, None),
) -> IngestRun:
    """Record the run and replace the source's rows for the covered days (inside ``session``).
    ``stated``: the range the export was made for (``--since``/``--until``, an API pull's days):
    a stated side says the file lists that edge day whole, so it is replaced like the others."""
    lock_client(session, company_id)
    short = short_edges(session, company_id, agg, stated)
    leave_out(agg, short)
    with ThreadPoolExecutor(max_workers=1) as pool:  # polars builds the customer JSON during the metric writes
        objects = pool.submit(day_objects, agg.customers) if agg.customers is not None else None
        return _write(session, company_id, agg, file_name, fingerprint, short, objects)


def _write(session: Session, company_id: int, agg: Aggregate, file_name: str, fingerprint: str,
           short: dict[date, str], objects: Future[pl.DataFrame] | None) -> IngestRun:
    """``write_aggregate`` after the edge days are settled; ``objects``: the customer JSON being built."""
    run = IngestRun(
        company_id=company_id, source=agg.source, file_name=file_name, fingerprint=fingerprint,
        rows_read=agg.rows_read, orders_ingested=agg.orders_ingested, first_day=agg.first_day,
        last_day=agg.last_day, rejected=[r.model_dump() for r in agg.rejected],
    )
    session.add(run)
    session.flush()
    assert run.id is not None
    agg.kept_days = _stored_gap_days(session, company_id, agg)
    agg.unknown_days |= agg.kept_days
    rows = metric_rows(agg, company_id, run.id)
    if agg.first_day is not None:
        _replace(session, company_id, agg, rows, objects)
    if agg.pending is not None:  # rejected rows' lines were being found while the rows above were written
        agg.settle()
        run.rejected = [r.model_dump() for r in agg.rejected]
    run.metrics_written = len(rows)
    session.add(run)
    log.info("ingest %s: %d rows read, %d rejected, %d metric points, days %s..%s", agg.source,
             agg.rows_read, len(agg.rejected), len(rows), agg.first_day, agg.last_day)
    if agg.kept_days:
        log.warning("ingest %s: %d day(s) inside the export's range have no rows in it; what was stored for them "
                    "is kept (a filtered or partial export?)", agg.source, len(agg.kept_days))
    if short:
        log.warning("ingest %s: %s list fewer records than are stored (a page or a filtered export?); left out, "
                    "what was stored is kept", agg.source, ", ".join(str(d) for d in sorted(short)))
    if agg.cut_days:
        log.warning("ingest %s: the file ends inside a row (truncated download?); %s left out, what was stored "
                    "is kept", agg.source, ", ".join(str(d) for d in sorted(agg.cut_days)))
    return run


def short_edges(session: Session, company_id: int, agg: Aggregate,
                stated: tuple[date | None, date | None] = (None, None)) -> dict[date, str]:
    """The first and last day of an order or payment export that list fewer records than are
    stored for them, and why. Unless its range is stated on that side, nothing says the file lists
    them whole: the newest orders alone (a page, a search) hold only the end of their oldest day,
    and replacing it would cut it short. Inner days are whole (the file goes on past them). One
    query, two days at most. A file with a rejected record is not judged: an edge day counting one
    order fewer for a rejected one still lists them all (it is counted as DATA.md says, like any
    day). Only an edge day with a rejected record is: the others (``Aggregate.rejected_on``) are
    judged as in a clean file, or a bad row anywhere let a partial edge day replace a whole one."""
    counted = COUNTED.get(agg.kind)
    rejected = bool(agg.rejected) or agg.pending is not None
    if counted is None or agg.first_day is None or agg.last_day is None or (rejected and agg.rejected_on is None):
        return {}
    metric, noun = counted
    unjudged = agg.rejected_on if rejected and agg.rejected_on is not None else set()
    edges = [d for d, side in ((agg.first_day, stated[0]), (agg.last_day, stated[1])) if side is None
             and d not in unjudged]
    listed = {d: agg.days[d][metric] for d in edges if metric in agg.days[d]}
    if not listed:
        return {}
    stored = session.exec(select(MetricPoint.day, MetricPoint.value).where(
        MetricPoint.company_id == company_id, MetricPoint.source == agg.source, MetricPoint.metric == metric,
        MetricPoint.day.in_(sorted(listed)),  # type: ignore[attr-defined]
    )).all()
    return {d: SHORT_EDGE.format(listed=listed[d], stored=int(Decimal(v)), noun=noun)
            for d, v in stored if listed[d] < int(Decimal(v))}


def leave_out(agg: Aggregate, days: dict[date, str]) -> None:
    """Take ``days`` out of ``agg`` (metrics and customer-days), naming them in ``left_out``: the
    covered range shrinks past them, so what is stored for them stays."""
    if not days:
        return
    agg.days = {d: v for d, v in agg.days.items() if d not in days}
    if agg.customers is not None:
        agg.customers = agg.customers.filter(~pl.col("day").is_in(sorted(days)))
    agg.left_out = dict(sorted({**agg.left_out, **days}.items()))


def _stored_gap_days(session: Session, company_id: int, agg: Aggregate) -> set[date]:
    """Days inside the export's range that it has no record of, while the database holds the
    source's values for them: kept as stored, not replaced by zeros (or, for analytics, by
    nothing). An export of selected orders, or a re-export missing a day, says nothing of the days
    it leaves out; a full export lists every order, so a day that had orders has rows in it. (A
    stored day of zeros is what the export means anyway: it is not counted as kept.)"""
    if agg.first_day is None or agg.last_day is None:
        return set()
    metrics = sorted({m for values in agg.days.values() for m in values})
    stored = session.exec(select(MetricPoint.day, MetricPoint.value).where(
        MetricPoint.company_id == company_id, MetricPoint.source == agg.source,
        MetricPoint.day >= agg.first_day, MetricPoint.day <= agg.last_day,  # type: ignore[operator]
        MetricPoint.metric.in_(metrics),  # type: ignore[attr-defined]
    )).all()
    return {d for d, v in stored if d not in agg.days and (not agg.fill_zero or Decimal(v) != 0)}


def lock_client(session: Session, company_id: int) -> None:
    """Serialize a client's writes: two ingests at once would both delete the covered days (none yet)
    and both insert them (a unique violation). On Postgres the client's Company row is locked until
    the transaction ends, FOR NO KEY UPDATE so that rows referring to the company can still be
    inserted by others; SQLite ignores it (it has one writer at a time anyway)."""
    session.exec(select(Company.id).where(Company.id == company_id).with_for_update(key_share=True))


def _replace(session: Session, company_id: int, agg: Aggregate, rows: list[dict],
             objects: Future[pl.DataFrame] | None = None) -> None:
    """Replace the covered days' values of the metrics this export gives. A metric it cannot know
    stays as another export of the source left it: a Stripe balance report has no failed attempts,
    so the payments export's counts of them survive it; an older Shopify export without `Refunded
    Amount` leaves the refunds a newer one gave."""
    first, last = agg.first_day, agg.last_day
    metrics = sorted({r["metric"] for r in rows})
    session.execute(
        delete(MetricPoint).where(
            MetricPoint.company_id == company_id, MetricPoint.source == agg.source,
            MetricPoint.day >= first, MetricPoint.day <= last,  # type: ignore[operator]
            MetricPoint.metric.in_(metrics),  # type: ignore[attr-defined]
            MetricPoint.day.not_in(sorted(agg.unknown_days)),  # type: ignore[attr-defined]
        )
    )
    _insert_metrics(session, rows)
    if agg.customers is None:
        return
    session.execute(
        delete(CustomerDay).where(
            CustomerDay.company_id == company_id, CustomerDay.source == agg.source,
            CustomerDay.day >= first, CustomerDay.day <= last,  # type: ignore[operator]
            CustomerDay.day.not_in(sorted(agg.unknown_days)),  # type: ignore[attr-defined]
        )
    )
    _insert_customers(session, company_id, agg, objects)


def _bulk_insert(session: Session, table: str, columns: list[str], rows: list[tuple]) -> None:
    """Insert through the driver's executemany (no ORM work per row): ~600k customer-days per 1M rows."""
    if not rows:
        return
    conn = session.connection()
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"
    conn.exec_driver_sql(sql, rows)


def _is_sqlite(session: Session) -> bool:
    return session.connection().dialect.name == "sqlite"


def _insert_metrics(session: Session, rows: list[dict]) -> None:
    sqlite = _is_sqlite(session)
    cols = ["company_id", "metric", "day", "source", "value", "ingest_run_id"]
    tuples = [tuple(r[c].isoformat() if c == "day" and sqlite else r[c] for c in cols) for r in rows]
    _bulk_insert(session, MetricPoint.__tablename__, cols, tuples)


def _insert_customers(session: Session, company_id: int, agg: Aggregate,
                      objects: Future[pl.DataFrame] | None = None) -> None:
    """One row per day: the day's ``{customer: orders}`` JSON (``day_objects``; pseudonyms are
    hex digests, so they need no escaping; control characters would be read back, see
    ``decode_customers``)."""
    assert agg.customers is not None
    day = pl.col("day").dt.to_string("%Y-%m-%d") if _is_sqlite(session) else pl.col("day")
    per_day = day_objects(agg.customers) if objects is None else objects.result()
    rows = per_day.select(
        pl.lit(company_id).alias("company_id"), pl.lit(agg.source).alias("source"), day, "orders_by_customer"
    ).rows()
    _bulk_insert(session, CustomerDay.__tablename__, ["company_id", "source", "day", "orders_by_customer"], rows)


def day_objects(customers: pl.DataFrame) -> pl.DataFrame:
    """(day, orders_by_customer): each day's ``{customer: orders}`` JSON text, sorted by customer so
    the text is deterministic, built by polars, each day in its own group (in parallel). Rows of
    one order each (the parser's) are counted as runs of the day's sorted pseudonyms; rows already
    counted are summed per customer and day first."""
    customer = customers["customer"]  # a quote or backslash would break the JSON (memchr-fast checks)
    if customer.str.contains('"', literal=True).any() or customer.str.contains("\\", literal=True).any():
        raise ValueError("customer pseudonyms must be plain text (hex digests)")
    if customers["orders"].min() == 1 and customers["orders"].max() == 1:
        runs = pl.col("customer").sort().rle()
        entry = pl.format('"{}":{}', runs.struct.field("value"), runs.struct.field("len"))
    else:
        customers = customers.group_by("day", "customer").agg(pl.col("orders").sum())
        entry = pl.format('"{}":{}', "customer", "orders").sort()  # `"<hex>":n` sorts as its customer
    return (customers.group_by("day")
            .agg(pl.concat_str(pl.lit("{"), entry.str.join(","), pl.lit("}")).alias("orders_by_customer"))
            .sort("day"))
