"""Property tests: the scalar and vectorized parsers agree, and both are exact."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chimera.ingest.lines import physical_lines
from chimera.ingest.parsing import (
    ParseError,
    ga_day,
    is_bad_money,
    local_day,
    money_decimal,
    money_format,
    parse_count,
    parse_ga_date,
    parse_money,
    parse_shopify_timestamp,
    parse_stripe_datetime,
    shopify_day,
    stripe_day,
)
from chimera.ingest.stripe import detect_locale

money = st.decimals(min_value=Decimal("-99999999"), max_value=Decimal("99999999"), places=2, allow_nan=False)
offsets = st.integers(min_value=-12 * 4, max_value=14 * 4).map(lambda q: timezone(timedelta(minutes=15 * q)))
moments = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1)).map(
    lambda d: d.replace(microsecond=0)
)


def _vector_sum(values: list[str], decimal_comma: bool = False) -> Decimal:
    df = pl.DataFrame({"v": values}, schema={"v": pl.String})
    fmt = money_format(df, ["v"], decimal_comma)
    assert not df.select(is_bad_money(pl.col("v"), fmt).any()).item()
    return df.select(money_decimal(pl.col("v"), fmt).sum()).item()


@given(st.lists(money, min_size=1, max_size=30))
def test_money_sums_are_exact_and_agree(values: list[Decimal]) -> None:
    texts = [str(v) for v in values]
    assert [parse_money(t) for t in texts] == values
    assert _vector_sum(texts) == sum(values)


@given(st.lists(money, min_size=1, max_size=20), st.booleans())
def test_european_decimal_commas(values: list[Decimal], thousands: bool) -> None:
    def eu(v: Decimal) -> str:
        text = f"{v:,.2f}" if thousands else f"{v:.2f}"
        return text.replace(",", "_").replace(".", ",").replace("_", ".")

    texts = [eu(v) for v in values]
    assert [parse_money(t, decimal_comma=True) for t in texts] == values
    assert _vector_sum(texts, decimal_comma=True) == sum(values)


@pytest.mark.parametrize("bad", ["N/A", "#VALUE!", "12.3.4", "1,5", "12 34", "$5", "1e5", "inf", "NaN"])
def test_non_numbers_are_refused(bad: str) -> None:
    with pytest.raises(ParseError):
        parse_money(bad)
    df = pl.DataFrame({"v": ["1.00", bad]})
    fmt = money_format(df, ["v"])  # the file-level format check sees the odd value, whatever it is
    assert df.select(is_bad_money(pl.col("v"), fmt)).to_series().to_list() == [False, True]


@given(st.decimals(min_value=0, max_value=10**6, places=4, allow_nan=False))
def test_extra_decimals_widen_the_scale_instead_of_rounding(value: Decimal) -> None:
    df = pl.DataFrame({"v": ["1.25", str(value)]})
    fmt = money_format(df, ["v"])
    assert df.select(money_decimal(pl.col("v"), fmt).sum()).item() == value + Decimal("1.25")


def test_counts() -> None:
    assert parse_count("3") == 3
    with pytest.raises(ParseError, match="negative"):
        parse_count("-1")
    with pytest.raises(ParseError, match="whole"):
        parse_count("1.5")


@given(moments, offsets, st.booleans())
def test_shopify_timestamps_keep_their_own_offset(moment: datetime, tz: timezone, api_form: bool) -> None:
    aware = moment.replace(tzinfo=tz)
    off = aware.strftime("%z")
    text = aware.strftime("%Y-%m-%dT%H:%M:%S") + f"{off[:3]}:{off[3:]}" if api_form else aware.strftime(
        "%Y-%m-%d %H:%M:%S %z")
    parsed = parse_shopify_timestamp(text)
    assert parsed == aware and parsed.utcoffset() == aware.utcoffset()
    assert local_day(text) == moment.date()
    assert pl.DataFrame({"t": [text]}).select(shopify_day(pl.col("t"))).item() == moment.date()


def test_dst_change_inside_one_file() -> None:
    """Before and after the switch, the day is the local date written, whatever the offset."""
    texts = ["2026-03-07 23:59:59 -0500", "2026-03-08 01:59:59 -0500", "2026-03-08 03:00:00 -0400",
             "2026-11-01 01:30:00 -0400", "2026-11-01 01:30:00 -0500"]
    days = pl.DataFrame({"t": texts}).select(shopify_day(pl.col("t")))["t"].to_list()
    assert days == [date(2026, 3, 7), *[date(2026, 3, 8)] * 2, *[date(2026, 11, 1)] * 2]
    utc = [parse_shopify_timestamp(t).astimezone(UTC) for t in texts[-2:]]
    assert utc[1] - utc[0] == timedelta(hours=1)


@pytest.mark.parametrize("bad", ["2026-09-31 10:14:07 -0400", "31/08/2026 14:22", "2026-04-05 25:00:00 -0400", ""])
def test_bad_shopify_timestamps(bad: str) -> None:
    with pytest.raises(ParseError):
        parse_shopify_timestamp(bad)
    assert pl.DataFrame({"t": [bad]}).select(shopify_day(pl.col("t"))).item() is None


@given(moments)
def test_stripe_dates_in_three_layouts(moment: datetime) -> None:
    iso = moment.strftime("%Y-%m-%d %H:%M:%S")
    dmy = moment.strftime("%d/%m/%Y %H:%M")
    mdy = moment.strftime("%m/%d/%Y %H:%M")
    assert parse_stripe_datetime(iso) == moment
    assert parse_stripe_datetime(dmy, day_first=True) == moment.replace(second=0)
    assert parse_stripe_datetime(mdy, day_first=False) == moment.replace(second=0)
    df = pl.DataFrame({"a": [iso], "b": [dmy], "c": [mdy]})
    got = df.select(stripe_day(pl.col("a"), True).alias("a"), stripe_day(pl.col("b"), True).alias("b"),
                    stripe_day(pl.col("c"), False).alias("c"))
    assert got.row(0) == (moment.date(),) * 3


@given(st.dates(min_value=date(1990, 1, 1), max_value=date(2090, 12, 31)))
def test_ga_dates(day: date) -> None:
    texts = [day.strftime("%Y%m%d"), day.isoformat()]
    assert [parse_ga_date(t) for t in texts] == [day, day]
    assert pl.DataFrame({"d": texts}).select(ga_day(pl.col("d")).alias("d"))["d"].to_list() == [day, day]


def test_ga_impossible_date() -> None:
    with pytest.raises(ParseError):
        parse_ga_date("20260230")


cell = st.text(alphabet=st.sampled_from(list('ab,"\n x')), max_size=8)


@settings(max_examples=60)
@given(rows=st.lists(st.lists(cell, min_size=3, max_size=3), min_size=1, max_size=25), crlf=st.booleans())
def test_physical_lines_match_the_csv_module(tmp_path_factory, rows: list[list[str]], crlf: bool) -> None:
    path = Path(tmp_path_factory.mktemp("csv")) / "f.csv"
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n" if crlf else "\n", quoting=csv.QUOTE_MINIMAL).writerows(
        [["h1", "h2", "h3"], *rows])
    path.write_bytes(buf.getvalue().encode())
    reader = csv.reader(io.StringIO(buf.getvalue(), newline=""))
    next(reader)
    starts, line = [], 2  # line on which each data record starts
    for _ in reader:
        starts.append(line)
        line = reader.line_num + 1
    got = physical_lines(path, list(range(len(rows))))
    assert [got[i] for i in range(len(rows))] == starts


@settings(max_examples=200, deadline=None)
@given(start=st.dates(date(2000, 1, 1), date(2090, 12, 1)), days=st.integers(2, 12), day_first=st.booleans(),
       comma=st.booleans())
def test_slash_dates_read_the_way_that_keeps_a_run_of_days_together(start, days, day_first, comma) -> None:
    """A run of consecutive days written dd/mm or mm/dd, decimal point or comma: the file is read
    the way it was written, also when no part is above 12 (the shorter span decides)."""
    fmt = "%d/%m/%Y %H:%M" if day_first else "%m/%d/%Y %H:%M"
    run = [start + timedelta(days=i) for i in range(days)]
    amount = "12,50" if comma else "12.50"
    df = pl.DataFrame({"created": [datetime(d.year, d.month, d.day, 9).strftime(fmt) for d in run],
                       "amount": [amount] * days})
    got_comma, got_day_first = detect_locale(df)
    assert got_comma == comma
    parsed = df.select(stripe_day(pl.col("created"), got_day_first).alias("day"))["day"].to_list()
    assert parsed == run
