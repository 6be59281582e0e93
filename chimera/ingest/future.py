"""Dates that have not begun anywhere yet, far past the rest of an export: typos, refused.

One order typed 2062 instead of 2026 made its export cover 36 years: every day in between was
written as a day without sales, and the KPIs were judged in 2062. Such a date is a bad cell like
any other: its order (charge, analytics day) is rejected with file line, column, value and reason,
and the rest is ingested. A date is refused only when the clock says no timezone has reached it
(UTC+14) *and* it lies more than ``GAP`` past the export's dates kept before it: an export whose
dates run on from the past (a generated store, a machine whose clock is behind) is taken as it is.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

import polars as pl

from chimera.ingest.frame import Check

GAP = timedelta(days=7)
EARLIEST_OFFSET = timedelta(hours=14)  # Kiribati's: the first place a calendar day begins


def _now() -> datetime:
    return datetime.now(UTC)


def typo_days(days: Iterable[date | None], now: datetime | None = None) -> list[date]:
    """The days of ``days`` not begun anywhere at ``now`` that lie more than ``GAP`` past the
    newest day kept before them (a day already begun is always kept; so is a future day close to
    the days kept, which is how an export runs on when this machine's clock is behind)."""
    limit = ((now or _now()) + EARLIEST_OFFSET).date()
    typos: list[date] = []
    kept: date | None = None
    for day in sorted({d for d in days if d is not None}):
        if day <= limit or kept is None or day - kept <= GAP:
            kept = day
        else:
            typos.append(day)
    return typos


def reason() -> str:
    return (f"a date after today ({_now().date()}), more than {GAP.days} days past the export's other dates: "
            "a typo? (left out; check the date, or this machine's clock)")


def future_check(column: str, day: pl.Expr, days: pl.Series | Iterable[date | None], mask: pl.Expr | None = None
                 ) -> Check | None:
    """The Check refusing ``column``'s typo dates (``day`` is its parsed date), None when there is none."""
    typos = typo_days(days)
    if not typos:
        return None
    bad = day.is_in(pl.Series(typos, dtype=pl.Date).implode()).fill_null(False)
    return Check(column, bad if mask is None else mask & bad, reason())


__all__ = ["GAP", "future_check", "typo_days"]
