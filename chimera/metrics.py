"""Reading base metrics back as exact daily series (one client at a time)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlmodel import Session, func, select

from chimera.db.models import MetricPoint

Series = dict[str, dict[date, Decimal]]


def load_series(
    session: Session,
    company_id: int,
    metrics: list[str] | None = None,
    start: date | None = None,
    end: date | None = None,
) -> Series:
    """``{metric: {day: Decimal}}`` for one company; a day with no data is absent, never zero."""
    query = select(MetricPoint.metric, MetricPoint.day, MetricPoint.value).where(
        MetricPoint.company_id == company_id
    )
    if metrics is not None:
        query = query.where(MetricPoint.metric.in_(metrics))  # type: ignore[attr-defined]
    if start is not None:
        query = query.where(MetricPoint.day >= start)
    if end is not None:
        query = query.where(MetricPoint.day <= end)
    out: Series = {}
    for metric, day, value in session.exec(query):
        bucket = out.setdefault(metric, {})
        bucket[day] = bucket.get(day, Decimal(0)) + Decimal(value)
    return out


def data_span(session: Session, company_id: int, metrics: list[str] | None = None) -> tuple[date, date] | None:
    """The first and last day with data of ``metrics`` (any metric when None); None when there is none."""
    query = select(func.min(MetricPoint.day), func.max(MetricPoint.day)).where(MetricPoint.company_id == company_id)
    if metrics is not None:
        query = query.where(MetricPoint.metric.in_(metrics))  # type: ignore[attr-defined]
    first, last = session.exec(query).one()
    return None if first is None or last is None else (first, last)
