"""Writing an aggregate: one transaction that replaces the covered days, never adds to them.

For the aggregate's source, every MetricPoint and CustomerDay from its first to its last day is
deleted and rewritten, so re-ingesting the same or an overlapping export gives the same numbers.
The caller's session is one transaction: any failure leaves the database as it was.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal

import polars as pl
from sqlalchemy import delete, insert
from sqlmodel import Session

from chimera.db.models import CustomerDay, IngestRun, MetricPoint
from chimera.ingest.models import Aggregate

log = logging.getLogger(__name__)


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
        values = agg.days.get(day) or (template if agg.fill_zero else {})
        rows += [
            {"company_id": company_id, "metric": m, "day": day, "source": agg.source, "value": _value(v),
             "ingest_run_id": run_id}
            for m, v in sorted(values.items())
        ]
        day += timedelta(days=1)
    return rows


def write_aggregate(
    session: Session, company_id: int, agg: Aggregate, *, file_name: str, fingerprint: str
) -> IngestRun:
    """Record the run and replace the source's rows for the covered days (inside ``session``)."""
    run = IngestRun(
        company_id=company_id, source=agg.source, file_name=file_name, fingerprint=fingerprint,
        rows_read=agg.rows_read, orders_ingested=agg.orders_ingested, first_day=agg.first_day,
        last_day=agg.last_day, rejected=[r.model_dump() for r in agg.rejected],
    )
    session.add(run)
    session.flush()
    assert run.id is not None
    rows = metric_rows(agg, company_id, run.id)
    if agg.first_day is not None:
        _replace(session, company_id, agg, rows)
    run.metrics_written = len(rows)
    session.add(run)
    log.info("ingest %s: %d rows read, %d rejected, %d metric points, days %s..%s", agg.source,
             agg.rows_read, len(agg.rejected), len(rows), agg.first_day, agg.last_day)
    return run


def _replace(session: Session, company_id: int, agg: Aggregate, rows: list[dict]) -> None:
    first, last = agg.first_day, agg.last_day
    session.execute(
        delete(MetricPoint).where(
            MetricPoint.company_id == company_id, MetricPoint.source == agg.source,
            MetricPoint.day >= first, MetricPoint.day <= last,  # type: ignore[operator]
        )
    )
    if rows:
        session.execute(insert(MetricPoint), rows)
    if agg.customers is None:
        return
    session.execute(
        delete(CustomerDay).where(
            CustomerDay.company_id == company_id, CustomerDay.source == agg.source,
            CustomerDay.day >= first, CustomerDay.day <= last,  # type: ignore[operator]
        )
    )
    _insert_customers(session, company_id, agg)


def _insert_customers(session: Session, company_id: int, agg: Aggregate) -> None:
    """Bulk insert through the driver's executemany: a million-row export has ~600k customer-days."""
    assert agg.customers is not None
    if agg.customers.height == 0:
        return
    conn = session.connection()
    sqlite = conn.dialect.name == "sqlite"
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    sql = (
        f"INSERT INTO {CustomerDay.__tablename__} (company_id, source, day, customer, orders) "
        f"VALUES ({', '.join([mark] * 5)})"
    )
    day = pl.col("day").dt.to_string("%Y-%m-%d") if sqlite else pl.col("day")
    rows = agg.customers.select(
        pl.lit(company_id).alias("company_id"), pl.lit(agg.source).alias("source"), day, "customer", "orders"
    ).rows()
    conn.exec_driver_sql(sql, rows)
