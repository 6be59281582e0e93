"""The day a command judges when no ``--as-of`` is given: the newest day whose data is complete.

An export taken at 10:00 holds that day's first ten hours; judged as a whole day, it reads as a
sharp fall (7-day revenue one day short, a 1-day KPI far below target) and would trigger plays on
nothing. A day is *in progress* when any source's newest ingest of it ran while the day was
still going on in the store's timezone (``client.yml`` ``timezone``); the default as-of is then
the day before, and the command says so. Only the day during which the ingest ran can be in
progress: data dated after the ingest (a generated store, a wrong clock) is taken as it is. A day
that only some sources reach while the others end the day before is left out too (``_cut_off``).
The day stays in the database (``chimera metrics`` shows it, ``--as-of`` judges it); the next
export replaces it whole.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel
from sqlmodel import Session, func, select

from chimera.db.models import IngestRun, MetricPoint
from chimera.errors import ChimeraError

if TYPE_CHECKING:
    from chimera.clients import ClientContext

FURTHEST_AHEAD = timezone(timedelta(hours=14), "UTC+14")
"""The first timezone to reach a day (Line Islands): a day it has not reached has begun nowhere."""


SPARSE = frozenset({"fiverr"})
"""Sources with rows only on days with records (a gig's orders): a day without one is no gap."""

STORE_DAYS = frozenset({"shopify"})
"""Sources whose days are the store's own (its orders): a day one of them reaches after it ended is no
other clock's spill-over (Stripe's UTC day, an analytics property in another zone), so a source
ending the day before it lags (GA4 is often a day behind)."""


class DefaultDay(BaseModel):
    """The default as-of and, when the newest day was left out, which day and why."""

    day: date | None
    """The day to judge; None when the client has no data at all."""
    left_out: date | None = None
    """The newest day with data, when it was still in progress at its last ingest."""
    note: str = ""


def store_zone(name: str) -> tzinfo:
    """The store's timezone; UTC when the name is unknown to this machine's timezone database
    (configs are validated, so only a machine without tz data gets here)."""
    if name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def default_day(session: Session, company_id: int, timezone: str = "UTC") -> DefaultDay:
    """The newest day with any metric, or the day before it when that day was in progress, or
    when it is only partly there (see ``_cut_off``): then the day before is checked for being in
    progress too (a store west of UTC exporting in its evening has Stripe's next UTC day, and its
    own day still going on)."""
    ends = dict(session.exec(select(MetricPoint.source, func.max(MetricPoint.day)).where(
        MetricPoint.company_id == company_id).group_by(MetricPoint.source)).all())
    if not ends:
        return DefaultDay(day=None)
    newest = max(ends.values())
    zone = store_zone(timezone)
    progress = _in_progress(session, company_id, newest, zone, timezone)
    if progress:
        return DefaultDay(day=newest - timedelta(days=1), left_out=newest, note=progress)
    cut = _cut_off(ends, newest)
    if cut is None:
        return DefaultDay(day=newest)
    assert cut.day is not None
    progress = _in_progress(session, company_id, cut.day, zone, timezone)
    if not progress:
        return cut
    return DefaultDay(day=cut.day - timedelta(days=1), left_out=newest, note=f"{cut.note}; and {progress}")


def _in_progress(session: Session, company_id: int, day: date, zone: tzinfo, timezone: str) -> str:
    """Why ``day`` is left out when some source's data for it was ingested before it ended, else ""."""
    start = datetime.combine(day, time(), zone)
    end = datetime.combine(day + timedelta(days=1), time(), zone)  # 23 or 25 h across DST
    during = [at for at in _latest_ingests(session, company_id, day) if start <= at < end]
    if not during:
        return ""
    last = max(during).astimezone(zone)
    before = day - timedelta(days=1)
    return (f"{day} is left out: its data was ingested at {last:%H:%M} ({timezone}), before the day ended; "
            f"judging {before} (re-ingest after the day ends, or pass --as-of {day})")


def _cut_off(ends: dict[str, date], newest: date) -> DefaultDay | None:
    """The newest day left out when some sources have it and the others end the day before: the
    exports were cut at different moments (Stripe's UTC day runs hours past the store's midnight),
    so that day holds a few hours of one source. Judged, its 7-day windows would mix a partial day
    with whole ones; a source further behind is stale instead (its KPIs say so). A ``SPARSE``
    source ending the day before says nothing: that day may just have had no order. Nor does one
    behind a ``STORE_DAYS`` source that has the day: Shopify's day, ingested after it ended (else
    ``_in_progress``), is whole, and analytics a day behind it is lag its KPIs allow for
    (``max_staleness_days``); every day was judged a day late, 'at most part of a day'."""
    before = newest - timedelta(days=1)
    have = sorted(s for s, d in ends.items() if d == newest)
    lack = sorted(s for s, d in ends.items() if d == before and s not in SPARSE)
    if not lack or STORE_DAYS.intersection(have):
        return None
    return DefaultDay(day=before, left_out=newest, note=(
        f"{newest} is left out: only {', '.join(have)} {'has' if len(have) == 1 else 'have'} data for it "
        f"({', '.join(lack)} {'ends' if len(lack) == 1 else 'end'} {before}), so it is at most part of a day; "
        f"judging {before} (pass --as-of {newest} to judge it)"))


def _latest_ingests(session: Session, company_id: int, day: date) -> list[datetime]:
    """Per source, when the data it now holds for ``day`` was first ingested (UTC): the newest
    ingest covering the day decides the data, and the same bytes ingested again by a later cycle
    are no newer (its first ingest is when the export was taken, at the latest)."""
    runs = session.exec(select(IngestRun.source, IngestRun.fingerprint, IngestRun.created_at).where(
        IngestRun.company_id == company_id, IngestRun.status == "succeeded",
        IngestRun.first_day <= day, IngestRun.last_day >= day,  # type: ignore[operator]
    ).order_by(IngestRun.created_at)).all()  # type: ignore[arg-type]
    current = {source: fingerprint for source, fingerprint, _ in runs}  # the newest run's, per source
    first: dict[str, datetime] = {}
    for source, fingerprint, at in runs:
        if fingerprint == current[source] and source not in first:
            first[source] = at if at.tzinfo else at.replace(tzinfo=UTC)
    return list(first.values())


def default_as_of(session: Session, company_id: int, timezone: str = "UTC") -> date:
    """``default_day``'s day, or today in the store's timezone for a client without data (the UTC
    date would be a day the store has not reached yet, west of UTC in its evening)."""
    return default_day(session, company_id, timezone).day or datetime.now(store_zone(timezone)).date()


def not_happened(session: Session, company_id: int, client: str, day: date, option: str,
                 zone: tzinfo = FURTHEST_AHEAD, advice: str = "pass a day that has begun") -> str:
    """Why ``day`` has not happened yet ("" when it has): it is after both today (on ``zone``'s
    clock) and the client's newest data. Generated stores may be dated after the clock, hence the
    newest data day also counts as past. ``chimera play log`` and every ``--as-of`` say it alike."""
    today = datetime.now(zone).date()
    newest = session.exec(select(func.max(MetricPoint.day)).where(MetricPoint.company_id == company_id)).one()
    if day <= max(today, newest or today):
        return ""
    where = f"{today} in {zone.tzname(None)}, the first timezone to reach a day" if zone is FURTHEST_AHEAD \
        else str(today)
    data = f"{client}'s newest data ({newest})" if newest else f"any data of {client}"
    return f"{option} {day} has not happened yet: it is after today ({where}) and after {data}; {advice}"


def refuse_unreached(session: Session, company_id: int, client: str, day: date | None,
                     option: str = "--as-of") -> None:
    """Refuse an as-of no timezone has reached and no data reaches: its KPIs and evidence would
    judge days not exported yet as gaps, and a cycle would store verdicts on them (F8)."""
    if day is None:
        return
    why = not_happened(session, company_id, client, day, option)
    if why:
        raise ChimeraError(why)


def behind_note(client: ClientContext, day: date, today: date | None = None) -> str:
    """When the default as-of (the newest data) is more than a day before the store's today: say
    so, and how to see which KPIs are stale. The default stays the data's day (replays give the
    same output), but a store whose exports stopped read OK "as of" a day a week old, silently."""
    today = today or datetime.now(store_zone(client.config.timezone)).date()
    behind = (today - day).days
    if behind <= 1:
        return ""
    return (f"the newest complete data is {day}, {behind} days before today ({today}, {client.config.timezone}): "
            f"statuses are as of {day}; re-export and ingest, or pass --as-of {today} to see which KPIs are stale "
            f"(UNKNOWN)")


def reached(client: ClientContext, day: date | None, option: str = "--as-of") -> date | None:
    """``day`` once ``refuse_unreached`` lets it through (None stays None: the default day is the
    data's), for commands that take an ``--as-of`` and open no session of their own first."""
    from chimera.db.engine import session_scope

    if day is not None:
        with session_scope() as session:
            refuse_unreached(session, client.company_id, client.name, day, option)
    return day
