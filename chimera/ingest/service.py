"""``ingest_file``: detect, parse, aggregate, then write everything in one transaction.

Parsing happens entirely before the database is touched, and the write is one session: a file
that fails half-way leaves no trace. The file's fingerprint (XXH3-128: it identifies a file, it
guards nothing, and at ~10 GB/s it takes almost nothing from polars' second core, where BLAKE3
took 0.2 s CPU on a 450 MB export) is computed in a thread while polars reads.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from difflib import get_close_matches
from pathlib import Path
from typing import Any

import xxhash

from chimera.as_of import store_zone
from chimera.clients import ClientContext
from chimera.db.engine import session_scope
from chimera.errors import IngestError
from chimera.ingest.analytics import aggregate_analytics, read_analytics
from chimera.ingest.coverage import declare_range
from chimera.ingest.detect import Header, detect_kind, read_header
from chimera.ingest.fiverr import aggregate_fiverr, read_fiverr, require_mapping
from chimera.ingest.lines import physical_lines
from chimera.ingest.mapped import windows
from chimera.ingest.models import KINDS, Aggregate, IngestSummary, LeftOutDay
from chimera.ingest.pseudonymize import pseudonymizer
from chimera.ingest.shopify import read_shopify
from chimera.ingest.store import leave_out, write_aggregate
from chimera.ingest.stripe import aggregate_stripe, read_stripe
from chimera.ingest.stripe_balance import aggregate_balance, is_balance_report, read_balance
from chimera.ingest.zone_check import file_warnings, read_sample, unfinished_day

CUT_DAY = ("the file ends inside a row (truncated download?): it holds only part of this day; download the export "
           "again")


def fingerprint_file(path: Path, chunk: int = 1 << 23) -> str:
    """XXH3-128 of the file's bytes (32 hex digits), over windows mapped one at a time."""
    digest = xxhash.xxh3_128()
    with path.open("rb") as fh:
        for window in windows(fh, 0, chunk):
            digest.update(window)
    return digest.hexdigest()


def parse_file(client: ClientContext, path: Path, kind: str, header: Header, *, defer: bool = False,
               local_range: tuple[date | None, date | None] = (None, None)) -> Aggregate:
    """The aggregate of one export of ``kind`` (no database access). ``defer``: a Shopify export's
    rejected rows may still be located in the file (``Aggregate.settle`` waits for them).
    ``local_range``: ``--since``/``--until``, which a Stripe export in a time zone of its own
    states in that zone's days (``stripe.aggregate_stripe``)."""
    try:
        return _parse(client, path, kind, header, defer, local_range)
    except IngestError as exc:  # every file error names the file, whichever step raised it
        if str(path) in str(exc):
            raise
        raise IngestError(f"{path}: {exc}") from None


def _parse(client: ClientContext, path: Path, kind: str, header: Header, defer: bool,
           local_range: tuple[date | None, date | None]) -> Aggregate:
    def line_of(rows: list[int]) -> dict[int, int]:
        return physical_lines(path, rows, header.skip_lines)

    if kind == "shopify_orders":
        return read_shopify(path, header, pseudonymizer(client.name), line_of, defer_lines=defer)
    if kind == "stripe_payments" and is_balance_report(header):
        df, cols = read_balance(path, header)
        return aggregate_balance(df, line_of, cols, local_range=local_range)
    if kind == "stripe_payments":
        df, cols = read_stripe(path, header)
        return aggregate_stripe(df, line_of, cols, local_range=local_range)
    if kind == "analytics_daily":
        df, cols = read_analytics(path, header)
        return aggregate_analytics(df, line_of, cols, european=header.separator == ";")
    mapping = require_mapping(client.config.fiverr, path, header)
    return aggregate_fiverr(read_fiverr(path, header, mapping), mapping, line_of)


def store_aggregate(client: ClientContext, agg: Aggregate, file_name: str, fingerprint: str,
                    warnings: list[str] | None = None, *,
                    stated: tuple[date | None, date | None] = (None, None)) -> IngestSummary:
    """Write ``agg`` for ``client`` in one transaction and summarize it, with ``warnings`` about
    the client's setup (``zone_check``)."""
    with session_scope() as session:
        run = write_aggregate(session, client.company_id, agg, file_name=file_name, fingerprint=fingerprint,
                              stated=stated)  # a stated side's edge day is listed whole (store.short_edges)
        run_id, written = run.id, run.metrics_written
    return IngestSummary(
        source=agg.kind, rows_read=agg.rows_read, orders_ingested=agg.orders_ingested, rejected=agg.rejected,
        first_day=agg.first_day, last_day=agg.last_day, metrics_written=written, ingest_run_id=run_id,
        kept_days=len(agg.kept_days), left_out=_left_out(agg), warnings=warnings or [],
    )


def _left_out(agg: Aggregate) -> list[LeftOutDay]:
    """The days the file holds only part of, with why: its parser's reasons, and a cut file's days
    (a Shopify export's are only in ``cut_days``)."""
    why = {**dict.fromkeys(agg.cut_days, CUT_DAY), **agg.left_out}
    return [LeftOutDay(day=d, reason=r) for d, r in sorted(why.items())]


def ingest_file(
    client: ClientContext, path: Path | str, kind: str | None = None, progress: Any = None,
    since: date | None = None, until: date | None = None,
) -> IngestSummary:
    """Ingest one export for ``client``; ``kind`` is detected from the header's column names when None.

    ``progress`` may be a ``rich.progress.Progress``: one task advances through read, aggregate, write.
    ``since`` / ``until``: the range the export was made for (an order or payment export lists every
    order in it), so its days without orders are written as zero (``coverage.declare_range``).
    A Shopify export whose offsets are not client.yml's timezone's gets a warning (``zone_check``).
    """
    path = Path(path)
    header = read_header(path)
    if kind is not None and kind not in KINDS:
        near = [k for k in KINDS if k.startswith(kind.lower().split("_")[0])] or get_close_matches(kind, KINDS, 1, 0.75)
        hint = f" (did you mean {near[0]!r}?)" if len(near) == 1 else ""
        raise IngestError(f"--source {kind!r}{hint}: expected one of {', '.join(KINDS)}")
    kind = kind or detect_kind(path, header, client.config.fiverr)
    task = progress.add_task(f"ingest {path.name}", total=3) if progress is not None else None
    with ThreadPoolExecutor(max_workers=1) as pool:
        fingerprint = pool.submit(fingerprint_file, path)
        agg = parse_file(client, path, kind, header, defer=True, local_range=(since, until))  # lines: see parse_file
        sample = read_sample(path, header) if kind == "shopify_orders" else None  # first and last records
        if sample is not None:  # Stripe's parser leaves its UTC day going on out itself
            leave_out(agg, unfinished_day(agg.days, client.config.timezone, sample.stamps))
        stated = _source_range(agg, since, until, str(path))
        agg = declare_range(agg, *stated, _source_today(client, kind), str(path))
        warnings = file_warnings(client.config.timezone, path, header, sample) if sample is not None else []
        _advance(progress, task, 2)
        summary = store_aggregate(client, agg, path.name, fingerprint.result(), warnings, stated=stated)
    _advance(progress, task, 1)
    return summary


def _source_range(agg: Aggregate, since: date | None, until: date | None, path: str
                  ) -> tuple[date | None, date | None]:
    """``--since``/``--until`` in the source's days. An export in a time zone of its own states its
    range in that zone's days (checked when parsed): the source days it covers whole stand for them.
    Refused for a file cut mid-row: it does not list every order of any range."""
    if agg.cut_days and (since or until):
        raise IngestError(f"{path}: the file ends inside a row (truncated download?): it does not list every "
                          "order or payment of --since/--until; download the export again")
    if agg.whole_range is None:
        return since, until
    first, last = agg.whole_range
    return (first if since else None), (last if until else None)


def _source_today(client: ClientContext, kind: str) -> date:
    """Today as the export's days are counted: UTC for Stripe, the store's own day for the rest."""
    zone = UTC if kind == "stripe_payments" else store_zone(client.config.timezone)
    return datetime.now(zone).date()


def _advance(progress: Any, task: Any, steps: int) -> None:
    if progress is not None:
        progress.advance(task, steps)
