"""Stripe payments (export rows or API charges) -> daily payment metrics per UTC day.

One row is one payment attempt. Old exports say ``Created (UTC)``, new ones ``Created date (UTC)``.
European-locale exports write decimal commas and dd/mm dates: both are detected once per file
(not per row), so a file is read one consistent way; a spreadsheet's currency marks (`$1,040.00`)
are read off. A bad cell (or a status Stripe does not write) rejects that payment only.
A day the file holds only part of is never written as if whole: an export in another time zone
than UTC covers only some hours of its first and last UTC days, a file cut mid-row part of the
cut row's day. Such days are ``Aggregate.left_out`` (the ingest summary names them and why);
what is stored for them stays.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import polars as pl

from chimera.errors import IngestError
from chimera.ingest.detect import STRIPE_COLUMNS, STRIPE_CREATED, STRIPE_REQUIRED, Header, resolve_columns
from chimera.ingest.frame import (
    CUT,
    ROW,
    SHAPE,
    Check,
    LineFinder,
    bad_cells,
    day_metrics,
    read_columns,
    reject_required,
    rejections,
    shape_check,
    with_missing,
)
from chimera.ingest.future import future_check
from chimera.ingest.models import Aggregate
from chimera.ingest.parsing import (
    CURRENCY_MARK,
    NO,
    NO_TIME,
    PLAIN_GROUPS,
    THREE_DECIMAL_CURRENCIES,
    TOO_LARGE,
    YES,
    ZERO_DECIMAL_CURRENCIES,
    MoneyFormat,
    ParseError,
    currency_of,
    decimal_comma_votes,
    group_votes,
    is_bad_money,
    money_decimal,
    money_format,
    slash_dates,
    slash_day_first,
    stripe_day,
    too_large,
    without_currency,
    zone_info,
)

COUNTS = ["stripe_payments", "stripe_succeeded_payments", "stripe_failed_payments"]
MONEY = ["stripe_gross", "stripe_fees", "stripe_refunded"]
SUCCEEDED = ["paid", "refunded", "succeeded", "partially refunded", "partially_refunded", "disputed"]  # money captured
FAILED = ["failed", "blocked"]  # a Radar-blocked charge is a failed attempt
OTHER = ["uncaptured", "canceled", "cancelled", "pending", "processing", "incomplete", "expired",
         "requires_payment_method", "requires payment method", "requires_action", "requires action",
         "requires_capture", "requires capture", "requires_confirmation", "requires confirmation"]  # no money (yet)
UNKNOWN_STATUS = ("a status Stripe's exports do not write (Paid, Refunded, Failed, Uncaptured, Canceled, Pending, "
                  "Blocked, Disputed...): whether money was captured is unknown")
COPY_CONFLICT = ("the charge is listed more than once with different values (pasted exports?): "
                 "which is current is unknown")
HEADERS = {k: v[0] for k, v in STRIPE_COLUMNS.items()}
AMBIGUOUS = ("thousands group or decimals? (1,234 is 1234 with a thousands comma, 1.234 with a decimal comma; "
             "no amount in the file has cents to tell which): write it with its decimals")
NEGATIVE = ("a charge's amount (and its refunded amount) is never negative in Stripe's payments export: a "
            "refund is its own column; an edited cell? (a balance report's negative rows are read as such)")
DAY, WRITTEN = "_day", "_written_day"  # a charge's UTC day; the date it was written with (its zone's)
MONEY_COLS = ["amount", "refunded", "fee", "converted_amount", "converted_refunded"]
CREATED = STRIPE_CREATED  # `Created date (UTC)` or `Created date (<the export's time zone>)`
CUT_REASON = ("the file ends inside a row (truncated download?): it holds only part of this day's payments; "
              "download the export again")
LocalRange = tuple[date | None, date | None]
UNSURE_MARKS = ("$", "¥", "￥")  # dollars of any country; yen or yuan: no claim on the row's currency


def read_stripe(path: Path, header: Header) -> tuple[pl.DataFrame, dict[str, str]]:
    """The needed columns, and canonical name -> the file's header (for rejection messages)."""
    spec = {**STRIPE_COLUMNS, "created": (*STRIPE_COLUMNS["created"], *zoned_created(path, header))}
    cols = resolve_columns(path, header, "stripe_payments", spec, STRIPE_REQUIRED)
    return read_columns(path, header, cols), cols


def zoned_created(path: Path, header: Header) -> list[str]:
    """The header's `Created ... (<time zone>)` columns whose zone is known; IngestError (file, line,
    column) for one naming no zone we know, when the file has no UTC one to read instead."""
    utc = {s.lower() for s in STRIPE_COLUMNS["created"]}
    named = [c for c in header.columns if CREATED.match(c) and c.lower() not in utc]
    if not named or any(c.lower() in utc for c in header.columns):
        return named
    try:
        zone_info(created_zone(named[0]))
    except ParseError as exc:
        raise IngestError(f"{path}: line {header.skip_lines + 1}: column {named[0]!r}: {exc}; or export it "
                          "in UTC") from None
    return named


def header_zone(created_header: str) -> str | None:
    """The time zone other than UTC a created column's header names (`Created (America/New_York)`),
    else None (UTC; an unknown zone is refused when the file is read: ``zoned_created``)."""
    zone = created_zone(created_header)
    return zone if zone_info(zone) else None


def created_days(df: pl.DataFrame, day_first: bool, zone: str | None) -> tuple[pl.DataFrame, list[Check]]:
    """``df`` with each record's UTC day (``DAY``) and, for an export in ``zone``, the date as written
    there (``WRITTEN``, the zone's day: ``partial_days``), parsed once; and the Checks rejecting a
    created value that is no date-time, a bare date (its UTC day is unknown in ``zone``), or a time
    ``zone``'s clocks skipped."""
    written = [stripe_day(pl.col("created"), day_first).alias(WRITTEN)] if zone else []
    df = df.with_columns(stripe_day(pl.col("created"), day_first, zone).alias(DAY), *written)
    day, given = pl.col(DAY), pl.col("created").is_not_null()
    timed = pl.col("created").str.contains(r"\d:\d")
    unplaced, skipped = ((day.is_null() & pl.col(WRITTEN).is_not_null() & ~timed,  # a bare date
                          day.is_null() & pl.col(WRITTEN).is_not_null() & timed)  # a time the clocks skipped
                         if zone else (pl.lit(False), pl.lit(False)))
    return df, [
        Check("created", given & day.is_null() & ~unplaced & ~skipped,
              f"not a date-time like 2026-05-01 03:48:05 ({zone or 'UTC'})"),
        Check("created", given & unplaced, NO_TIME),
        Check("created", given & skipped,
              f"a time that does not exist in {zone} (its clocks skip that hour when daylight saving starts)"),
    ]


def _export_window(written: pl.Series, zone: str, local_range: LocalRange) -> tuple[datetime, datetime] | None:
    """The UTC moments an export in ``zone`` (not UTC) covers: from the first midnight of its range
    to the one after its last day. The range is the export dialog's whole local days: ``--since`` /
    ``--until`` when given (the export's own days, in its zone), else its first and last charges'
    local dates. None for a file with no readable date."""
    tz = zone_info(zone)
    local = written.drop_nulls()  # the dates as written: the zone's days
    since, until = local_range
    first, last = since or local.min(), until or local.max()
    if tz is None or first is None or last is None:
        return None
    start = datetime.combine(first, time(), tz).astimezone(UTC)  # type: ignore[arg-type]
    end = datetime.combine(last + timedelta(days=1), time(), tz).astimezone(UTC)  # type: ignore[operator]
    return start, end


def _whole_days(start: datetime, end: datetime) -> tuple[date, date]:
    """The first and last UTC day wholly between ``start`` and ``end`` (first > last: none, as for
    one local day of New York: it holds the last hours of one UTC day and the first of the next)."""
    first = start.date() + timedelta(days=1) if start.time() != time() else start.date()
    return first, end.date() - timedelta(days=1)


def _partial_reason(day: date, window: tuple[datetime, datetime], zone: str) -> str:
    """Why ``day`` is left out: which hours of it (UTC) the export in ``zone`` holds."""
    start, end = window
    since = start.strftime("%H:%M") if start.date() == day else "00:00"
    until = end.strftime("%H:%M") if end.date() == day else "24:00"
    return (f"partial UTC day: the export is in {zone} and holds only {since}-{until} UTC of it (Stripe's "
            f"metrics are per UTC day, DATA.md); export it in UTC (or, when the export's range of {zone} days was "
            "wider than its records, give it with --since/--until)")


def _check_local_range(written: pl.Series, zone: str, local_range: LocalRange) -> None:
    """IngestError when ``--since``/``--until`` (days of the export's ``zone``) are not the export's:
    a charge outside them, or a last day not over yet in that zone."""
    since, until = local_range
    tz = zone_info(zone)
    today = datetime.now(tz or UTC).date()
    if until is not None and until >= today:
        raise IngestError(f"--until {until} is not over yet in {zone}, the export's time zone (today there is "
                          f"{today}): its payments may still come; give the last whole day")
    local = written.drop_nulls()
    before = local.filter(local < since) if since is not None else local.clear()
    after = local.filter(local > until) if until is not None else local.clear()
    if before.len() or after.len():
        day, side = (before.min(), "before --since") if before.len() else (after.max(), "after --until")
        raise IngestError(f"the export has payments on {day} ({zone}), {side} ({since or '...'} .. "
                          f"{until or '...'}): give the range chosen when exporting, in {zone} days, or leave "
                          "--since/--until out")


def partial_days(df: pl.DataFrame, held: set[date], zone: str | None, local_range: LocalRange
                  ) -> tuple[dict[date, str], tuple[date, date] | None]:
    """The ``held`` days (with charges, kept or rejected) the file has only part of, and why (a cut
    file's; an export in ``zone``'s days outside the UTC days its range covers whole), and that
    range (None for a UTC export)."""
    left_out = dict.fromkeys(sorted(_cut_days(df) & held), CUT_REASON)
    left_out.update(unfinished_day(held - set(left_out)))
    if not zone:
        return left_out, None
    _check_local_range(df[WRITTEN], zone, local_range)
    window = _export_window(df[WRITTEN], zone, local_range)
    if window is None:
        return left_out, None
    first, last = _whole_days(*window)
    outside = sorted(d for d in held - set(left_out) if not first <= d <= last)
    return {**left_out, **{d: _partial_reason(d, window, zone) for d in outside}}, (first, last)


def _now() -> datetime:
    return datetime.now(UTC)


def unfinished_day(held: set[date]) -> dict[date, str]:
    """The UTC day still going on as the file is read, when it holds payments of it, and why it is
    left out: the export holds its payments until it was taken, not the day's (Stripe's metrics are
    per UTC day). A store east of UTC exports after its own midnight while that UTC day runs on, and
    the day judged whole read as a fall. Days after it (a generated store, a clock behind) stay."""
    now = _now()
    if now.date() not in held:
        return {}
    return {now.date(): (f"partial UTC day: it was not over when the file was read ({now:%H:%M} UTC), so the export "
                         "holds only its payments until then (Stripe's metrics are per UTC day, DATA.md); ingest an "
                         "export taken after 00:00 UTC")}


def _cut_days(df: pl.DataFrame) -> set[date]:
    """The UTC day a file cut mid-row (a truncated download) holds only part of: the cut row's
    (the charges after it, listed newest first or oldest first, are of that day or beyond it); when
    its date is cut too, that of the complete row just before it."""
    cut = df.filter(pl.col(SHAPE).str.starts_with(CUT).fill_null(False))
    if not cut.height:
        return set()
    at = cut[ROW].max()
    for near in (cut.filter(pl.col(ROW) == at), df.filter(pl.col(ROW) < at).tail(1)):
        if days := set(near[DAY].drop_nulls().to_list()):
            return days
    return set()


def created_zone(column: str | None) -> str | None:
    """The time zone a created column's header names (`Created date (Europe/Berlin)` -> Europe/Berlin)."""
    m = CREATED.match(column or "")
    return m.group(1).strip() if m else None


def _money_values(df: pl.DataFrame) -> pl.Series:
    present = [c for c in MONEY_COLS if c in df.columns]
    return pl.concat([df[c] for c in present]) if present else pl.Series([], dtype=pl.String)


def _codes_in(df: pl.DataFrame) -> set[str]:
    return {c for col in ("currency", "converted_currency") if col in df.columns for c in _codes(df[col])}


def _three_decimals(df: pl.DataFrame) -> bool:
    """Whether every currency in the file has 3 minor digits (KWD, BHD, ...): `5.120` is then 5.12."""
    codes = _codes_in(df)
    return bool(codes) and codes <= THREE_DECIMAL_CURRENCIES


def _zero_decimals(df: pl.DataFrame) -> bool:
    """Whether every currency in the file is zero-decimal (JPY, KRW, ...): `2,511` is then 2511."""
    codes = _codes_in(df)
    return bool(codes) and codes <= ZERO_DECIMAL_CURRENCIES


def _votes(df: pl.DataFrame, values: pl.Series) -> tuple[int, int]:
    """(decimal comma, decimal point) votes of a file's money values; a zero-decimal file without
    any (its amounts are whole) votes by how it groups thousands (``group_votes``)."""
    votes = decimal_comma_votes(values, _three_decimals(df))
    if not sum(votes) and _zero_decimals(df):
        return group_votes(values)
    return votes


def detect_locale(df: pl.DataFrame) -> tuple[bool, bool]:
    """(decimal_comma, day_first) for the whole file, from its money and date strings: the amounts
    written with decimals vote (`1,234.56` for a point, `1.234,56` for a comma; a bare `1,234` is no
    vote, except in a zero-decimal currency)."""
    comma, dot = _votes(df, _money_values(df))
    decimal_comma = comma > dot
    return decimal_comma, slash_day_first(slash_dates(df["created"]), decimal_comma)  # dd/mm where commas are


def ambiguous_checks(df: pl.DataFrame, columns: list[str]) -> list[Check]:
    """In a file whose amounts never show decimals, one in thousands groups (`1,234`, `1.234`)
    reads 1000 times apart in the two locales: refused, saying why, rather than guessed (a
    zero-decimal currency's amounts are whole: one group style throughout is no doubt)."""
    present = [c for c in columns if c in df.columns]
    if not present or sum(_votes(df, pl.concat([df[c] for c in present]))):
        return []
    return [Check(c, pl.col(c).str.contains(PLAIN_GROUPS).fill_null(False), AMBIGUOUS) for c in columns]


def _settled_currency(df: pl.DataFrame, absent: set[str]) -> bool:
    """Whether to sum ``Converted Amount``: charges in several currencies (or in one other than the
    account's) only add up in the currency Stripe settled them in, the one fees are in. IngestError
    when the file says no single such currency, or leaves out the column that would say it."""
    charged = _codes(df["currency"])
    settled = _codes(df["converted_currency"])
    if len(charged) <= 1 and settled in ([], charged):
        return False
    if len(settled) == 1 and "converted_amount" not in absent:
        return True
    if len(settled) == 1:
        raise IngestError(
            f"the charges are in {', '.join(charged)} and were settled in {settled[0]}, but the export has no "
            f"Converted Amount column: the amounts are in the charges' currencies and the fees in {settled[0]}, "
            "which do not add up; export it with the Converted Amount and Converted Amount Refunded columns"
        )
    if "converted_currency" in absent and "converted_amount" not in absent:
        raise IngestError(
            f"the export mixes currencies ({', '.join(charged)}) and has a Converted Amount column but no "
            "Converted Currency column: which currency the converted amounts are in is unknown; export it "
            "with the Converted Currency column"
        )
    raise IngestError(
        f"the export mixes currencies ({', '.join(charged)}) without one Converted Currency "
        f"(found {', '.join(settled) or 'none'}): sums would be meaningless; export the Converted Amount "
        "columns, or one currency per file"
    )


def without_headers(df: pl.DataFrame, headers: dict[str, str]) -> pl.DataFrame:
    """``df`` without rows that repeat the header (two exports joined with `cat`: the second one's
    header is no record; its charges are the copies ``copy_checks`` sorts out)."""
    named = [c for c in headers if c in df.columns]
    same = [pl.col(c).str.strip_chars().str.to_lowercase() == headers[c].lower() for c in named]
    if not named or not df.select(same[0].any()).item():  # one column's cheap look first (most files)
        return df
    return df.filter(~pl.all_horizontal(same).fill_null(False))


def copy_checks(df: pl.DataFrame) -> list[Check]:
    """Overlapping exports pasted into one file list a record twice (its ``id``): copies that
    differ reject it (which one is current is unknown)."""
    if not df["id"].drop_nulls().is_duplicated().any():
        return []
    conflict = pl.col("id").is_not_null() & (pl.struct(pl.all().exclude(ROW)).n_unique().over("id") > 1)
    return [Check("id", conflict, COPY_CONFLICT)]


def first_copies(df: pl.DataFrame, errors: pl.DataFrame) -> pl.DataFrame:
    """The rows not rejected, each record once: identical copies count once, and a rejected
    record's every copy goes (``errors`` name it once)."""
    good = df.filter(~pl.col(ROW).is_in(errors[ROW].implode()))
    if not df["id"].drop_nulls().is_duplicated().any():
        return good
    rejected = errors["order"].filter(errors["order"] != "").implode()
    return good.filter(pl.col("id").is_null() | (~pl.col("id").is_in(rejected) & pl.col("id").is_first_distinct()))


def without_marks(df: pl.DataFrame, currency_of_column: dict[str, str]) -> tuple[pl.DataFrame, pl.DataFrame,
                                                                               list[Check]]:
    """Money columns without a currency mark a spreadsheet's currency format wrote (`$1,040.00`,
    `12,34 €`, `9.99 USD`), the values as written (to show in rejections: ``as_written``), and the
    Checks rejecting a mark that names another currency than the row's (``currency_of_column``:
    money column -> the column of its currency)."""
    marked = [c for c in currency_of_column if c in df.columns
              and df.select(pl.col(c).str.contains(CURRENCY_MARK).any()).item()]
    if not marked:
        return df, df.select(ROW), []
    raw = df.select(ROW, *marked)
    claims, checks = [], []
    for c in marked:
        mark = pl.col(c).str.extract(f"({CURRENCY_MARK})", 1)
        claim = pl.when(mark.is_in(UNSURE_MARKS)).then(None).otherwise(currency_of(pl.col(c)))
        claims.append(claim.str.to_lowercase().alias(f"_claim_{c}"))  # read before the marks go
        said, code = pl.col(f"_claim_{c}"), pl.col(currency_of_column[c]).str.strip_chars().str.to_lowercase()
        reason = pl.format("the amount is marked {} but the row's currency is {}", said.str.to_uppercase(), code)
        checks.append(Check(c, (said.is_not_null() & code.is_not_null() & (said != code)).fill_null(False), reason))
    return df.with_columns(claims).with_columns(without_currency(pl.col(c)) for c in marked), raw, checks


def as_written(errors: pl.DataFrame, raw: pl.DataFrame, headers: dict[str, str]) -> pl.DataFrame:
    """``errors`` showing the money values ``without_marks`` took marks off as the file wrote them."""
    for c in (c for c in raw.columns if c != ROW):
        written = raw.select(ROW, pl.col(c).fill_null("").alias("_written"))
        errors = errors.join(written, on=ROW, how="left", maintain_order="left").with_columns(
            pl.when(pl.col("column") == headers.get(c, c)).then(pl.col("_written")).otherwise(pl.col("value"))
            .alias("value")).drop("_written")
    return errors


def over_refund_check(fmt: MoneyFormat, amount_header: str) -> Check:
    """A charge's Amount Refunded above its Amount: Stripe never refunds more than a charge took (both
    are in the charge's currency), so the row is an edited or shifted cell and is rejected, not summed
    (it made a day's refunds exceed its gross). The converted pair is not judged: its refunded part is
    converted separately and may round past the amount."""
    amount, refunded = (money_decimal(pl.col(c), fmt) for c in ("amount", "refunded"))
    reason = pl.format(f"more than the charge's {amount_header} ({{}}): a charge never refunds more than it "
                       "took; an edited cell?", pl.col("amount").str.strip_chars())
    return Check("refunded", ((refunded > amount) & (amount >= 0)).fill_null(False), reason)  # < 0: NEGATIVE


def _codes(col: pl.Series) -> list[str]:
    return sorted(col.drop_nulls().str.strip_chars().str.to_lowercase().unique().to_list())


def aggregate_stripe(
    df: pl.DataFrame, line_of: LineFinder, headers: dict[str, str] | None = None, kind: str = "stripe_payments",
    local_range: LocalRange = (None, None),
) -> Aggregate:
    """Count attempts, successes and failures and sum captured amounts, fees and refunds per UTC day.
    ``local_range``: ``--since``/``--until`` as given, the days of an export in a time zone other
    than UTC (``_export_window``); a UTC export's are checked by ``coverage.declare_range``."""
    absent = set(STRIPE_COLUMNS) - set(df.columns)
    headers = {**HEADERS, **(headers or {})}
    df = with_missing(without_headers(df, headers), [*STRIPE_COLUMNS, SHAPE])  # the API's frame has no shapes
    settled = "converted_currency" if "converted_currency" not in absent else "currency"
    df, raw, marks = without_marks(df, {"amount": "currency", "refunded": "currency", "fee": settled,
                                        "converted_amount": settled, "converted_refunded": settled})
    comma, day_first = detect_locale(df)
    zone = header_zone(headers["created"])
    fmt = money_format(df, MONEY_COLS, comma)
    number = "not a number (expected e.g. 12,34)" if comma else "not a number (expected e.g. 12.34)"
    df, created = created_days(df, day_first, zone)
    day = pl.col(DAY)
    checks = [shape_check(), *reject_required(["created", "amount", "status"]), *created]
    status = pl.col("status").str.to_lowercase()
    checks.append(Check("status", pl.col("status").is_not_null() & ~status.is_in([*SUCCEEDED, *FAILED, *OTHER]),
                        UNKNOWN_STATUS))
    ok = status.is_in(SUCCEEDED)
    said = pl.col("captured").str.strip_chars().str.to_lowercase()  # Excel writes WAHR, VRAI... in its language
    captured = pl.when(said.is_in(YES)).then(True).when(said.is_in(NO)).then(False).otherwise(ok)
    checks.append(Check("captured", pl.col("captured").is_not_null() & ~said.is_in([*YES, *NO, ""]),
                        "not true or false (expected e.g. true, false, TRUE, WAHR, VRAI)"))
    amount, refunded = ("converted_amount", "converted_refunded") if _settled_currency(df, absent) else (
        "amount", "refunded")
    checks += [*ambiguous_checks(df, [amount, refunded, "fee"]),
               *(Check(c, is_bad_money(pl.col(c), fmt), number) for c in (amount, refunded, "fee")),  # the ones summed
               *(Check(c, pl.col(c).str.strip_chars().str.starts_with("-").fill_null(False), NEGATIVE)
                 for c in (amount, refunded)),
               *(Check(c, too_large(pl.col(c), comma), TOO_LARGE) for c in (amount, refunded, "fee"))]
    if amount == "converted_amount":
        checks.append(Check(amount, ok & captured & pl.col(amount).is_null(), "missing required value"))
    checks.append(over_refund_check(fmt, headers["amount"]))
    checks += [c for c in [future_check("created", day, df.select(day.unique()).to_series())] if c]
    checks += [*marks, *copy_checks(df)]
    errors = as_written(bad_cells([(df, checks)], "id", headers), raw, headers)
    good = first_copies(df, errors)
    units = {c: money_decimal(pl.col(c), fmt).fill_null(0) for c in MONEY_COLS}
    daily = good.group_by(day.alias("day")).agg(
        pl.len().alias("stripe_payments"),
        # an authorization never captured (released or expired: Status Refunded, Captured false) moved no
        # money: no success, no gross, and its "refund" is the hold's release, not money returned
        (ok & captured).sum().alias("stripe_succeeded_payments"),
        status.is_in(FAILED).sum().alias("stripe_failed_payments"),
        units[amount].filter(ok & captured).sum().alias("stripe_gross"),
        units["fee"].sum().alias("stripe_fees"),
        units[refunded].filter(captured).sum().alias("stripe_refunded"),
    )
    # a column the export left out (Stripe's column picker) is unknown for every day, never 0
    unknown = {m for m, col in (("stripe_fees", "fee"), ("stripe_refunded", refunded)) if col in absent}
    days = day_metrics(daily.sort("day"), COUNTS, MONEY, fmt.scale)
    bad_rows = df.filter(pl.col(ROW).is_in(errors[ROW].implode()))
    rejected_on = set(bad_rows.select(day).to_series().to_list())
    rejected_days = {d for d in rejected_on if d is not None}
    left_out, whole_range = partial_days(df, set(days) | rejected_days, zone, local_range)
    days = {d: v for d, v in days.items() if d not in left_out}
    cut = {d for d, why in left_out.items() if why == CUT_REASON}
    edges = set(left_out) - cut  # outside the range written: neither zero-filled nor stored, nothing to keep
    return Aggregate(
        kind=kind,
        days={d: {m: v for m, v in values.items() if m not in unknown} for d, values in days.items()},
        rows_read=df.height,
        orders_ingested=good.height,
        rejected=rejections(errors, line_of),
        unknown_days=((rejected_days - edges) | cut) - set(days),  # every charge of the day rejected: missing, not 0
        cut_days=cut,
        left_out=dict(sorted(left_out.items())),
        whole_range=whole_range,
        rejected_on=None if None in rejected_on else rejected_days,
    )
