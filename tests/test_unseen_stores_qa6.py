"""QA6: stores the project had never seen, through the CLI contract (`chimera ingest --json`, then
`chimera metrics --json`), against figures worked out here with plain Decimal from the rows written
(DATA.md: orders = placed minus cancelled; sums over orders that are not cancelled; gross = price x
quantity; net_revenue = total_sales - refunded_amount; a day is the store-local date of `Created at`):

- a Sydney store across both daylight-saving changes (+1100 -> +1000 in April, back in October),
  exported newest first, with multi-line, cancelled, partly refunded, discounted and free-shipping
  orders, unicode names and a note holding a line break;
- the same store's export re-saved with Excel's `sep=;` directive line (what a European user adds
  so that Excel splits the columns): the line is no header;
- a Fiverr sheet whose dates carry a time while client.yml's date_format names the date only.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import random
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from chimera.cli import _register
from chimera.cli.app import app
from chimera.clients import add_client
from chimera.ingest.lines import header_offset

_register()
runner = CliRunner()
_names = itertools.count()
SYDNEY = ZoneInfo("Australia/Sydney")
HEADER = ("Name,Email,Financial Status,Paid at,Fulfillment Status,Currency,Subtotal,Shipping,Taxes,Total,"
          "Discount Code,Discount Amount,Created at,Lineitem quantity,Lineitem name,Lineitem price,Billing Name,"
          "Billing Zip,Notes,Cancelled at,Refunded Amount,Vendor,Id").split(",")
ITEMS = [("Café Crème Mug", Decimal("24.50")), ("Ōtsuki Sencha 🍵", Decimal("18.00")),
         ("Señorita Pour-Over, ceramic", Decimal("31.25")), ("Œuvre grinder", Decimal("189.00"))]
CENT = Decimal("0.01")


def _client(extra: str = "") -> str:
    name = f"q6s{next(_names)}"
    client = add_client(name)
    yml = client.folder / "client.yml"
    yml.write_text(yml.read_text() + extra, "utf-8")
    return name


def _invoke(args: list[str]) -> dict:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, f"{result.output}{result.exception or ''}"
    return json.loads(result.stdout)


def _metrics(client: str) -> dict[str, dict[str, Decimal]]:
    series = _invoke(["metrics", "--client", client, "--json"])["metrics"]
    return {m: {d: Decimal(str(v)) for d, v in days.items()} for m, days in series.items()}


# --------------------------------------------------------------------------- a Sydney store


def _sydney_orders(seed: int = 6) -> list[dict]:
    """About 8 orders a day from 28 March to 10 April and 28 September to 8 October 2026: both
    daylight-saving changes, orders around local midnight (another UTC day), every order kind."""
    rnd = random.Random(seed)
    orders, n = [], 1000
    for start, days in ((date(2026, 3, 28), 14), (date(2026, 9, 28), 11)):
        t = datetime(start.year, start.month, start.day, tzinfo=SYDNEY).astimezone(UTC)
        stop = t + timedelta(days=days)
        while (t := t + timedelta(seconds=rnd.expovariate(8 / 86400))) < stop:
            n += 1
            lines = [(rnd.choice(ITEMS), rnd.choice([1, 1, 2, 3])) for _ in range(rnd.choice([1, 1, 2, 3]))]
            gross = sum(p * q for (_, p), q in lines)
            discount = (gross * Decimal("0.15")).quantize(CENT, ROUND_HALF_UP) if rnd.random() < 0.25 else Decimal(0)
            subtotal = gross - discount
            shipping = Decimal(0) if subtotal >= 100 else Decimal("9.95")
            taxes = ((subtotal + shipping) / 11).quantize(CENT, ROUND_HALF_UP)
            total = subtotal + shipping + taxes
            cancelled = rnd.random() < 0.08
            refund = lines[0][0][1] if not cancelled and rnd.random() < 0.15 else (total if cancelled else Decimal(0))
            orders.append({"name": f"#{n}", "at": t.astimezone(SYDNEY), "lines": lines, "gross": gross,
                           "discount": discount, "subtotal": subtotal, "shipping": shipping, "taxes": taxes,
                           "total": total, "cancelled": cancelled, "refund": refund,
                           "email": f"Buyer{rnd.randint(1, 40)}@Example.com"})
    return orders


def _rows(orders: list[dict]) -> list[list[str]]:
    """Shopify's layout, newest order first: order-level cells on the first row only."""
    out = []
    for o in sorted(orders, key=lambda o: o["at"], reverse=True):
        at = o["at"].strftime("%Y-%m-%d %H:%M:%S %z")
        for i, ((item, price), qty) in enumerate(o["lines"]):
            row = dict.fromkeys(HEADER, "")
            row.update({"Name": o["name"], "Created at": at, "Lineitem quantity": str(qty), "Lineitem name": item,
                        "Lineitem price": f"{price:.2f}", "Vendor": "Zoë & Co"})
            if i == 0:
                row.update({
                    "Email": o["email"], "Financial Status": "partially_refunded" if o["refund"] else "paid",
                    "Paid at": at, "Currency": "AUD", "Subtotal": f"{o['subtotal']:.2f}",
                    "Shipping": f"{o['shipping']:.2f}", "Taxes": f"{o['taxes']:.2f}", "Total": f"{o['total']:.2f}",
                    "Discount Code": "AUTUMN15" if o["discount"] else "", "Discount Amount": f"{o['discount']:.2f}",
                    "Billing Name": "Zoë Ångström", "Billing Zip": "'2000", "Notes": "Leave at door,\nthanks",
                    "Cancelled at": (o["at"] + timedelta(hours=2)).strftime("%Y-%m-%d %H:%M:%S %z")
                    if o["cancelled"] else "",
                    "Refunded Amount": f"{o['refund']:.2f}", "Id": str(5_000_000 + int(o["name"][1:]))})
            out.append([row[h] for h in HEADER])
    return out


def _expected(orders: list[dict]) -> dict[str, dict[str, Decimal]]:
    """DATA.md's daily base metrics, per Sydney calendar day of `Created at`."""
    days: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for o in orders:
        m = days[o["at"].date().isoformat()]
        m["orders_placed"] += 1
        m["cancelled_orders"] += o["cancelled"]
        if o["cancelled"]:
            continue
        m["orders"] += 1
        m["units"] += sum(q for _, q in o["lines"])
        m["gross_sales"] += o["gross"]
        m["discounts"] += o["discount"]
        m["net_sales"] += o["subtotal"]
        m["shipping"] += o["shipping"]
        m["taxes"] += o["taxes"]
        m["total_sales"] += o["total"]
        m["refunded_orders"] += o["refund"] > 0
        m["refunded_amount"] += o["refund"]
    out: dict[str, dict[str, Decimal]] = defaultdict(dict)
    for day, m in days.items():
        for metric in ("orders_placed", "orders", "cancelled_orders", "units", "gross_sales", "discounts", "net_sales",
                       "shipping", "taxes", "total_sales", "refunded_orders", "refunded_amount"):
            out[metric][day] = m[metric]
        out["net_revenue"][day] = m["total_sales"] - m["refunded_amount"]
    return out


def _write(path: Path, rows: list[list[str]], sep: str = ",", first: str = "", bom: bool = False) -> Path:
    buf = io.StringIO()
    buf.write(first)
    csv.writer(buf, delimiter=sep, lineterminator="\r\n").writerows([HEADER, *rows])
    path.write_bytes(("\ufeff" if bom else "").encode() + buf.getvalue().encode("utf-8"))
    return path


def _comma_decimals(rows: list[list[str]]) -> list[list[str]]:
    """A European Excel save: decimal commas, trailing zeros dropped (`12.50` -> `12,5`, `0.00` -> `0`)."""
    money = [HEADER.index(c) for c in ("Subtotal", "Shipping", "Taxes", "Total", "Discount Amount", "Lineitem price",
                                       "Refunded Amount")]

    def excel(v: str) -> str:
        return format(Decimal(v).normalize(), "f").replace(".", ",") if v else v

    return [[excel(c) if i in money else c for i, c in enumerate(r)] for r in rows]


def _assert_store(client: str, orders: list[dict]) -> None:
    got, want = _metrics(client), _expected(orders)
    for metric, days in want.items():
        assert {d: got.get(metric, {}).get(d) for d in days} == days, metric
    spread = {d for days in want.values() for d in days}
    assert spread >= {"2026-04-04", "2026-04-05", "2026-04-06", "2026-10-03", "2026-10-04", "2026-10-05"}


def test_a_sydney_store_across_both_daylight_saving_changes(chimera_home: Path, tmp_path: Path) -> None:
    orders = _sydney_orders()
    client = _client("timezone: Australia/Sydney\n")
    summary = _invoke(["ingest", str(_write(tmp_path / "orders_export.csv", _rows(orders))), "--client", client,
                       "--json"])
    assert summary["rejected"] == [] and summary["orders_ingested"] == len(orders)
    _assert_store(client, orders)


def test_an_excel_sep_directive_line_is_no_header(chimera_home: Path, tmp_path: Path) -> None:
    """`sep=;` on the first line tells Excel the separator (European users add it so the columns
    split): it is no header; the header is the next line and the separator the one it names."""
    orders = _sydney_orders(7)
    path = _write(tmp_path / "orders_export.csv", _comma_decimals(_rows(orders)), ";", first="sep=;\r\n", bom=True)
    client = _client("timezone: Australia/Sydney\n")
    summary = _invoke(["ingest", str(path), "--client", client, "--json"])
    assert summary["source"] == "shopify_orders" and summary["rejected"] == []
    _assert_store(client, orders)


@pytest.mark.parametrize("line", ["sep=,", "SEP=,", '"sep=,"', "sep=,,,"])
def test_the_sep_directive_is_skipped_only_on_the_first_line(tmp_path: Path, line: str) -> None:
    path = tmp_path / "a.csv"
    path.write_text(f"{line}\ndate,sessions\n2026-03-01,5\n", "utf-8")
    assert header_offset(path) == 1
    path.write_text("date,sessions\nsep=,\n", "utf-8")
    assert header_offset(path) == 0


def test_a_bad_row_under_a_sep_directive_is_named_at_its_line(chimera_home: Path, tmp_path: Path) -> None:
    path = tmp_path / "analytics.csv"
    path.write_text("sep=;\r\ndate;sessions;users\r\n2026-03-01;100;80\r\n2026-03-02;lots;80\r\n2026-03-03;90;70\r\n",
                    "utf-8")
    client = _client()
    summary = _invoke(["ingest", str(path), "--client", client, "--json"])
    assert [(r["line"], r["column"], r["value"]) for r in summary["rejected"]] == [(4, "sessions", "lots")]
    assert _metrics(client)["sessions"] == {"2026-03-01": 100, "2026-03-03": 90}


# --------------------------------------------------------------------------- Fiverr: dates with a time

FIVERR = ("fiverr:\n  date: Order Date\n  amount: Earnings\n  status: Status\n  order_id: Order ID\n"
          "  date_format: '{fmt}'\n")


@pytest.mark.parametrize(("fmt", "first", "second"), [
    ("%d/%m/%Y", "29/08/2026 14:22", "28/08/2026 09:05:10"),
    ("%m/%d/%Y", "08/29/2026 2:22 PM", "08/28/2026 09:05"),
    ("%d.%m.%Y", "29.08.2026 14:22:05", "28.08.2026"),
    ("%b %d, %Y", "Aug 29, 2026, 2:22 PM", "Aug 28, 2026 9:05 AM"),
])
def test_fiverr_dates_with_a_time_are_read_by_a_date_only_format(chimera_home: Path, tmp_path: Path, fmt: str,
                                                                   first: str, second: str) -> None:
    """A sheet's order date with its time (`29/08/2026 14:22`) is that day: every order was refused
    as 'not a date in the format %d/%m/%Y' while the date is in exactly that format."""
    path = tmp_path / "fiverr.csv"
    path.write_text(f'Order ID,Order Date,Earnings,Status\nFO1,"{first}",$32.00,Completed\n'
                    f'FO2,"{second}",$40.00,Completed\n', "utf-8")
    client = _client(FIVERR.format(fmt=fmt))
    summary = _invoke(["ingest", str(path), "--client", client, "--json"])
    assert summary["rejected"] == []
    got = _metrics(client)
    assert got["fiverr_earnings"] == {"2026-08-28": Decimal("40.00"), "2026-08-29": Decimal("32.00")}
    assert got["fiverr_completed"] == {"2026-08-28": 1, "2026-08-29": 1}


def test_a_fiverr_date_in_another_format_is_still_refused(chimera_home: Path, tmp_path: Path) -> None:
    """The time is read only after a date in the configured format: a month-first date under a
    day-first format, or text after the date that is no time, stays a bad cell naming the format."""
    path = tmp_path / "fiverr.csv"
    path.write_text("Order ID,Order Date,Earnings,Status\nFO1,08/29/2026 14:22,$32.00,Completed\n"
                    "FO2,28/08/2026 soon,$40.00,Completed\nFO3,27/08/2026 10:00,$10.00,Completed\n", "utf-8")
    client = _client(FIVERR.format(fmt="%d/%m/%Y"))
    summary = _invoke(["ingest", str(path), "--client", client, "--json"])
    assert [(r["line"], r["column"]) for r in summary["rejected"]] == [(2, "Order Date"), (3, "Order Date")]
    assert all("%d/%m/%Y" in r["reason"] for r in summary["rejected"])
    assert _metrics(client)["fiverr_earnings"] == {"2026-08-27": Decimal("10.00")}


# --------------------------------------------------------------------------- the store's own clock


def test_a_sydney_export_under_client_yml_utc_is_warned_and_the_zone_it_names_leaves_the_day_out(
        chimera_home: Path, tmp_path: Path) -> None:
    """Exported at 01:00 on 2 April in Sydney (14:00 UTC on 1 April), the export's newest day holds
    an hour of orders. Whether a day is over follows client.yml's ``timezone`` by design (the
    export's offsets give the days, not the clock): left at UTC, 2 April has ended by UTC's clock
    and is judged. The ingest warns that the export's +1100 is not UTC's +0000 and names a zone;
    with that zone set, 2 April is left out and the default as-of is 1 April."""
    import re

    from sqlmodel import select

    from chimera.as_of import default_day
    from chimera.clients import get_client
    from chimera.db.engine import session_scope
    from chimera.db.models import IngestRun

    orders = [o for o in _sydney_orders() if o["at"] < datetime(2026, 4, 2, tzinfo=SYDNEY)]
    orders.append(dict(orders[-1], name="#9999", at=datetime(2026, 4, 2, 0, 40, tzinfo=SYDNEY)))  # the day's first
    client = _client()  # timezone left at its default, UTC
    result = runner.invoke(app, ["ingest", str(_write(tmp_path / "orders_export.csv", _rows(orders))),
                                 "--client", client, "--json"])
    assert result.exit_code == 0, result.output
    (warning,) = json.loads(result.stdout)["warnings"]
    assert "times are at +1100, but client.yml's timezone UTC is +0000 then" in warning
    assert "warning:" in result.stderr and "Australia/Sydney" in " ".join(result.stderr.split())
    ctx = get_client(client)
    with session_scope() as s:
        for run in s.exec(select(IngestRun).where(IngestRun.company_id == ctx.company_id)):
            run.created_at = datetime(2026, 4, 1, 14, 0, tzinfo=UTC)  # when the export was taken
            s.add(run)
    with session_scope() as s:
        assert default_day(s, ctx.company_id, ctx.config.timezone).day == date(2026, 4, 2)  # UTC's clock
    named = re.search(r"e\.g\. ([\w/]+)", warning)
    assert named is not None
    yml = ctx.folder / "client.yml"
    yml.write_text(yml.read_text("utf-8") + f"timezone: {named.group(1)}\n", "utf-8")
    ctx = get_client(client)
    with session_scope() as s:
        day = default_day(s, ctx.company_id, ctx.config.timezone)
    assert (day.day, day.left_out) == (date(2026, 4, 1), date(2026, 4, 2))


# --------------------------------------------------------------------------- Fiverr: a day of rejected orders


def test_a_fiverr_day_whose_orders_were_all_rejected_is_missing_not_zero(chimera_home: Path, tmp_path: Path) -> None:
    """The sheet shows an order on 2 August but its amount cannot be read: that day is unknown, not
    a day without orders (as a Shopify day of rejected orders is); a quiet day between is zero."""
    path = tmp_path / "fiverr.csv"
    path.write_text("Order ID,Order Date,Earnings,Status\nFO1,2026-08-01,$32.00,Completed\n"
                    "FO2,2026-08-02,abc,Completed\nFO3,2026-08-04,$40.00,Completed\n", "utf-8")
    client = _client(FIVERR.format(fmt="%Y-%m-%d"))
    summary = _invoke(["ingest", str(path), "--client", client, "--json"])
    assert [r["order"] for r in summary["rejected"]] == ["FO2"]
    got = _metrics(client)
    assert got["fiverr_orders"] == {"2026-08-01": 1, "2026-08-03": 0, "2026-08-04": 1}
    assert got["fiverr_earnings"] == {"2026-08-01": Decimal("32.00"), "2026-08-03": Decimal("0.00"),
                                      "2026-08-04": Decimal("40.00")}


# --------------------------------------------------------------------------- a typo date and a declared range


def test_a_typo_date_does_not_refuse_the_range_the_export_was_made_for(chimera_home: Path, tmp_path: Path) -> None:
    """One order typed 2062 is rejected as a typo; the export's stated range (`--since/--until`) still
    holds for the rest: the file was refused whole as 'has orders on 2062-..., after --until'."""
    orders = _sydney_orders()
    rows = _rows(orders)
    name, at = HEADER.index("Name"), HEADER.index("Created at")
    typo = rows[0][name]
    for row in rows:
        if row[name] == typo:
            row[at] = "2062" + row[at][4:]
    client = _client("timezone: Australia/Sydney\n")
    path = _write(tmp_path / "orders_export.csv", rows)
    summary = _invoke(["ingest", str(path), "--client", client, "--json", "--since", "2026-03-28",
                       "--until", "2026-10-08"])
    assert {r["order"] for r in summary["rejected"]} == {typo}
    assert (summary["first_day"], summary["last_day"]) == ("2026-03-28", "2026-10-08")
    got = _metrics(client)
    kept = [o for o in orders if o["name"] != typo]
    assert got["orders_placed"]["2026-05-01"] == 0  # a day inside the range without orders
    assert {d: got["net_sales"][d] for d in _expected(kept)["net_sales"]} == _expected(kept)["net_sales"]


# --------------------------------------------------------------------------- analytics: a day as a midnight timestamp


@pytest.mark.parametrize("suffix", ["T00:00:00Z", " 00:00:00 UTC", "T00:00:00+00:00", "T00:00:00.000Z"])
def test_an_analytics_day_written_as_a_utc_midnight_is_that_day(chimera_home: Path, tmp_path: Path,
                                                                 suffix: str) -> None:
    """A day bucket written as its midnight with a zone (BigQuery's TIMESTAMP `2026-03-01 00:00:00
    UTC`, a script's `2026-03-01T00:00:00Z`) is that day, as `2026-03-01T00:00:00` already was: every
    row was refused as 'not a date like 20260405 or 2026-04-05'."""
    path = tmp_path / "analytics.csv"
    path.write_text(f"date,sessions,users\n2026-03-01{suffix},100,80\n2026-03-02{suffix},90,70\n", "utf-8")
    client = _client()
    summary = _invoke(["ingest", str(path), "--client", client, "--json"])
    assert summary["rejected"] == []
    assert _metrics(client)["sessions"] == {"2026-03-01": 100, "2026-03-02": 90}


@pytest.mark.parametrize(("fmt", "timed", "bare"), [
    ("%d/%m/%Y %H:%M", "29/08/2026 14:22", "28/08/2026"),
    ("%Y-%m-%dT%H:%M:%S", "2026-08-29T14:22:05", "28/08/2026"),  # a date in another layout: still refused
    ("%m/%d/%Y %I:%M %p", "08/29/2026 02:22 PM", "08/28/2026"),
])
def test_a_fiverr_date_without_its_time_is_read_by_a_timed_format(chimera_home: Path, tmp_path: Path, fmt: str,
                                                                  timed: str, bare: str) -> None:
    """date_format names a time (most rows have one): a row typed with the date alone is still that
    day, read by the format's date part, not refused."""
    path = tmp_path / "fiverr.csv"
    path.write_text(f'Order ID,Order Date,Earnings,Status\nFO1,"{timed}",$32.00,Completed\n'
                    f'FO2,"{bare}",$40.00,Completed\n', "utf-8")
    client = _client(FIVERR.format(fmt=fmt))
    summary = _invoke(["ingest", str(path), "--client", client, "--json"])
    if fmt.startswith("%Y"):  # `28/08/2026` is not the format's date part: refused, naming the format
        assert [r["order"] for r in summary["rejected"]] == ["FO2"]
        return
    assert summary["rejected"] == []
    assert _metrics(client)["fiverr_earnings"] == {"2026-08-28": Decimal("40.00"), "2026-08-29": Decimal("32.00")}


# --------------------------------------------------------------------------- a partial export over a whole one


def test_a_page_of_the_newest_orders_never_cuts_its_oldest_day_short(chimera_home: Path, tmp_path: Path) -> None:
    """After the full export, the newest orders alone (Shopify's "current page", a search): the
    file's oldest day holds only some of that day's orders. Re-ingesting it replaced the day whole,
    dropping the orders it does not list; the day is now left out (what is stored is kept), and
    the days it holds whole are replaced as before."""
    orders = _sydney_orders()
    client = _client("timezone: Australia/Sydney\n")
    rows = _rows(orders)
    _invoke(["ingest", str(_write(tmp_path / "full.csv", rows)), "--client", client, "--json"])
    newest = sorted(orders, key=lambda o: o["at"])[-1]["at"].date()
    page = [o for o in orders if o["at"].date() == newest]
    page += sorted((o for o in orders if o["at"].date() < newest), key=lambda o: o["at"])[-3:]  # 3 of the day before
    before = page[-1]["at"].date()
    summary = _invoke(["ingest", str(_write(tmp_path / "page.csv", _rows(page))), "--client", client, "--json"])
    assert [d["day"] for d in summary["left_out"]] == [before.isoformat()]
    reason = summary["left_out"][0]["reason"]
    assert "lists 3 of the" in reason and "orders stored for this day" in reason
    assert summary["first_day"] == summary["last_day"] == newest.isoformat()
    _assert_store(client, orders)


def test_a_declared_range_replaces_its_first_day_even_with_fewer_orders(chimera_home: Path, tmp_path: Path) -> None:
    """An order deleted in Shopify since the first export: re-exported for its range (--since/--until),
    the day has one order fewer and that is what is stored."""
    orders = _sydney_orders()
    client = _client("timezone: Australia/Sydney\n")
    _invoke(["ingest", str(_write(tmp_path / "full.csv", _rows(orders))), "--client", client, "--json"])
    first = min(o["at"].date() for o in orders)
    last = max(o["at"].date() for o in orders if o["at"].date() < date(2026, 6, 1))
    spring = [o for o in orders if o["at"].date() <= last]
    deleted = min(spring, key=lambda o: o["at"])
    kept = [o for o in spring if o is not deleted]
    summary = _invoke(["ingest", str(_write(tmp_path / "again.csv", _rows(kept))), "--client", client, "--json",
                       "--since", first.isoformat(), "--until", last.isoformat()])
    assert "left_out" not in summary
    assert _metrics(client)["orders_placed"][first.isoformat()] == _expected(kept)["orders_placed"][first.isoformat()]


# --------------------------------------------------------------------------- analytics: a day split by channel


def test_a_split_analytics_day_with_a_rejected_row_is_left_out_not_undercounted(chimera_home: Path,
                                                                                   tmp_path: Path) -> None:
    """A GA4 export split by channel: one of 1 March's rows cannot be read, so its sessions are only
    part of the day's (1,000 of 1,234), which judged whole inflate conversion; the day is left out
    (named, what is stored kept) and 2 March, read whole, is written."""
    path = tmp_path / "ga4.csv"
    head = "date,sessionDefaultChannelGroup,sessions,totalUsers,transactions,purchaseRevenue\n"
    whole = "20260301,Organic Search,1000,800,10,1000.00\n20260301,Direct,234,200,2,234.56\n"
    client = _client()
    path.write_text(head + whole + "20260302,Direct,980,800,9,980.10\n", "utf-8")
    _invoke(["ingest", str(path), "--client", client, "--json"])
    path.write_text(head + whole.replace(",234,", ",lots,") + "20260302,Direct,990,800,9,980.10\n", "utf-8")
    summary = _invoke(["ingest", str(path), "--client", client, "--json"])
    assert [(r["line"], r["value"]) for r in summary["rejected"]] == [(3, "lots")]
    assert [d["day"] for d in summary["left_out"]] == ["2026-03-01"]
    got = _metrics(client)
    assert got["sessions"] == {"2026-03-01": 1234, "2026-03-02": 990}  # 1 March as the whole export stored it
    assert got["ga_revenue"]["2026-03-01"] == Decimal("1234.56")
