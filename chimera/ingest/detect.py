"""Which export is this? Decided from the header's column NAMES, never from positions.

Each kind declares the columns it needs (canonical name -> accepted header spellings) and which
of them are required. ``resolve_columns`` maps canonical names to the file's actual headers, so
reordered spreadsheets and older exports with fewer columns read the same way.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from chimera.config.client import FiverrMapping
from chimera.errors import IngestError
from chimera.ingest.lines import SEP_DIRECTIVE, header_offset
from chimera.ingest.models import KINDS

SNIFF_BYTES = 1 << 16
SEPARATORS = (",", ";", "\t")


@dataclass(frozen=True)
class Header:
    columns: list[str]
    skip_lines: int  # physical lines before the header (comment lines)
    encoding: str = "utf-8"  # or "cp1252" / "utf-16": a CSV / Unicode Text saved by Excel on Windows
    separator: str = ","  # or ";" (Excel in European locales) or a tab (TSV downloads)


SHOPIFY_COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("Name",),
    "email": ("Email",),
    "created_at": ("Created at",),
    "cancelled_at": ("Cancelled at",),
    "subtotal": ("Subtotal",),
    "shipping": ("Shipping",),
    "taxes": ("Taxes",),
    "total": ("Total",),
    "discount": ("Discount Amount",),
    "refunded": ("Refunded Amount",),
    "quantity": ("Lineitem quantity",),
    "price": ("Lineitem price",),
    "currency": ("Currency",),
}
SHOPIFY_REQUIRED = ("name", "created_at", "subtotal", "total", "quantity", "price")

STRIPE_COLUMNS: dict[str, tuple[str, ...]] = {
    "id": ("id",),
    "created": ("Created date (UTC)", "Created (UTC)"),
    "amount": ("Amount",),
    "refunded": ("Amount Refunded",),
    "captured": ("Captured",),
    "fee": ("Fee",),
    "status": ("Status",),
    "currency": ("Currency",),
    "converted_amount": ("Converted Amount",),
    "converted_refunded": ("Converted Amount Refunded",),
    "converted_currency": ("Converted Currency",),
}
STRIPE_REQUIRED = ("created", "amount", "status")

BALANCE_COLUMNS: dict[str, tuple[str, ...]] = {  # a Stripe balance report (reports: lower_snake_case names)
    "id": ("balance_transaction_id",),
    "created": ("created_utc",),
    "gross": ("gross",),
    "fee": ("fee",),
    "category": ("reporting_category",),
    "currency": ("currency",),
}
BALANCE_REQUIRED = ("created", "gross", "category")
# Stripe Dashboard's Balance (all transactions) export: `id,Type,Source,Amount,Fee,Net,Currency,Created (UTC),
# Available On (UTC),Description,...`; the same balance transactions as the report, in Title Case, with the
# API's ``type`` instead of ``reporting_category`` (read with its mapping: stripe_balance.TYPE_CATEGORIES).
DASHBOARD_BALANCE_COLUMNS: dict[str, tuple[str, ...]] = {
    "id": ("id",),
    "created": ("Created (UTC)", "Created date (UTC)"),
    "gross": ("Amount",),
    "fee": ("Fee",),
    "type": ("Type",),
    "category": ("Reporting Category", "reporting_category"),  # when the export was given the column
    "currency": ("Currency",),
    "source": ("Source",),
}
DASHBOARD_BALANCE_REQUIRED = ("created", "gross", "type")
DASHBOARD_BALANCE_MARKS = {"type", "amount", "net"}  # a payments export has neither Type nor Net

ANALYTICS_ENGLISH: dict[str, tuple[str, ...]] = {  # report names, API names, and snake_case (BigQuery, scripts)
    "date": ("date", "day", "day index", "event_date"),  # `Day Index`: Universal Analytics
    "sessions": ("sessions",),
    "users": ("users", "totalUsers", "total users", "total_users", "activeUsers", "active users", "active_users"),
    "transactions": ("transactions", "ecommercePurchases", "ecommerce purchases", "ecommerce_purchases",
                     "purchases"),
    "revenue": ("revenue", "purchaseRevenue", "purchase revenue", "purchase_revenue", "totalRevenue",
                "total revenue", "total_revenue"),
    "key_events": ("keyEvents", "key events", "key_events", "conversions"),
}
# GA4 report column names when the interface is in German, Spanish, Portuguese (BR), Italian or Dutch
# (French uses `Date` and `Sessions`, as English does). Only exact names: `Neue Nutzer` (new users),
# `Umsatz aus Käufen` vs `Gesamtumsatz` and any rate keep their own meaning. Names no source
# confirmed are left out (transactions in every language; French and Dutch users and revenue).
ANALYTICS_LOCAL: dict[str, tuple[str, ...]] = {
    "date": ("Datum", "Fecha", "Data"),  # inferred (de/nl, es, pt/it): a date column is checked row by row
    "sessions": ("Sitzungen", "Sesiones", "Sessões", "Sessioni", "Sessies"),
    "users": ("Nutzer", "Aktive Nutzer", "Usuarios totales", "Usuarios activos", "Total de usuários",
              "Usuários ativos", "Utenti totali", "Utenti attivi"),
    "revenue": ("Umsatz aus Käufen", "Gesamtumsatz", "Receita de compra", "Receita total"),
}
ANALYTICS_COLUMNS: dict[str, tuple[str, ...]] = {
    key: (*names, *ANALYTICS_LOCAL.get(key, ())) for key, names in ANALYTICS_ENGLISH.items()
}
ANALYTICS_DATES = {s.lower() for s in ANALYTICS_COLUMNS["date"]}
ANALYTICS_SESSIONS = {s.lower() for s in ANALYTICS_COLUMNS["sessions"]}
ANALYTICS_LOCAL_NAMES = {s.lower() for names in ANALYTICS_LOCAL.values() for s in names}
# Known names never read (new users is no users count), and so no hint of a metric left unread.
ANALYTICS_NOT_READ = {"new users", "newusers", "neue nutzer", "nuovi utenti", "novos usuários"}
ANALYTICS_KNOWN = {s.lower() for names in ANALYTICS_COLUMNS.values() for s in names} | ANALYTICS_NOT_READ
ANALYTICS_EXPECTED = ("users", "transactions", "revenue")  # optional, but a localized file must not lose them
ANALYTICS_REQUIRED = ("date", "sessions")

# `Created date (UTC)`, `Created (UTC)`, or the time zone chosen in Stripe's export dialog: `Created date
# (America/New_York)`, `Created date (UTC+2)`; never `created (metadata)`
STRIPE_CREATED = re.compile(r"^created(?: date)?\s*\(((?!metadata\)).+)\)$", re.IGNORECASE)

EXPECTED = {
    "shopify_orders": ", ".join(SHOPIFY_COLUMNS[c][0] for c in SHOPIFY_REQUIRED),
    "stripe_payments": "Created date (UTC) (or Created (UTC), or Created date (<time zone>)), Amount, Status; "
                       "or a balance report's created_utc, gross, reporting_category; or the Dashboard's balance "
                       "export: Type, Amount, Net, Created (UTC)",
    "analytics_daily": "date, sessions (plus users/totalUsers, transactions, revenue/purchaseRevenue; or the "
                       "GA4 names in German, Spanish, Portuguese, Italian: Datum, Sitzungen, Nutzer...)",
    "fiverr_orders": "the columns named in client.yml fiverr: (date, amount, status)",
}


def read_header(path: Path) -> Header:
    """The header record (after any ``#`` comment lines), with BOM and padding stripped."""
    if not path.is_file():
        raise IngestError(f"{path}: {'is a directory (give one export file)' if path.is_dir() else 'no such file'}")
    packed = _packed(path)
    if packed:
        raise IngestError(f"{path}: {packed}")
    encoding = file_encoding(path)
    skip = header_offset(path, encoding)
    with path.open("r", encoding="utf-8-sig" if encoding == "utf-8" else encoding, errors="replace", newline="") as fh:
        before = [fh.readline() for _ in range(skip)]
        first = fh.readline()
    if not first.strip() and skip:
        raise IngestError(f"{path}: {_no_header(path, encoding)}")
    if not first.strip():
        raise IngestError(f"{path}: the file is empty (expected a CSV export with a header line)")
    if first.endswith("\r"):  # a CRLF line would end "\r\n": this file ends lines with a lone CR
        raise IngestError(
            f"{path}: line {skip + 1}: lines end with carriage returns only (the old \"CSV (Macintosh)\" "
            "format), which CSV readers see as one line; save it again as \"CSV UTF-8\" or with LF/CRLF line ends"
        )
    declared = SEP_DIRECTIVE.match(before[0]) if before else None  # Excel's `sep=;` names it
    separator = declared.group(1) if declared else header_separator(first)
    row = next(csv.reader(io.StringIO(first), delimiter=separator))
    return Header(clean_names(row), skip, encoding, separator)


def _no_header(path: Path, encoding: str) -> str:
    """Why a file whose every line starts with `#` (comments, as GA4 writes before its table) has
    no header: rows of Shopify orders (`#1001,...`) whose header line was deleted, or only comments."""
    with path.open("r", encoding="utf-8-sig" if encoding == "utf-8" else encoding, errors="replace", newline="") as fh:
        at, first = next(((n, line.strip()) for n, line in enumerate(fh, start=1) if line.strip()), (1, ""))
    if any(sep in first for sep in SEPARATORS):
        return (f"line {at}: no header line: the file starts with a row ({first[:60]}), not with column names; "
                "export it again with its header line (or put the header back as line 1)")
    return "no header line: every line is a comment (#) or blank (expected a CSV export with a header line)"


def header_separator(line: str) -> str:
    """The field separator: whichever of `,` `;` tab the header line holds most (a comma on a tie).
    Names rarely hold one, so the separator's count is about the number of columns minus one."""
    return max(SEPARATORS, key=line.count)


PACKED = {  # a file's first bytes -> what it is instead of CSV text
    b"\x1f\x8b": "is gzip-compressed: decompress it (gunzip) and ingest the .csv inside",
    b"PK\x03\x04": "is a zip archive or an Excel workbook (.xlsx): unzip it, or save the sheet as CSV UTF-8",
    b"\xd0\xcf\x11\xe0": "is an old Excel workbook (.xls): save the sheet as CSV UTF-8",
    b"%PDF": "is a PDF, not a CSV export",
}


def _packed(path: Path) -> str | None:
    """What a file is when its first bytes say it is not text (a compressed download, a workbook)."""
    with path.open("rb") as fh:
        start = fh.read(8)
    return next((what for magic, what in PACKED.items() if start.startswith(magic)), None)


def file_encoding(path: Path) -> str:
    """"utf-8"; "utf-16" after its byte-order mark (Excel's "Unicode Text"); or "cp1252" when the
    file's start is not UTF-8: Excel on Windows saves CSV in the ANSI code page, where `é` or `€` is
    one byte; read as UTF-8 they would become U+FFFD and an accented header name would not match.
    (The start decides: exports write accents early, in the header or on every row, and reading a
    whole large file twice would cost more than it finds.)"""
    with path.open("rb") as fh:
        start = fh.read(SNIFF_BYTES)
    if start.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"  # Excel's "Unicode Text" save (tab-separated)
    try:
        codecs.getincrementaldecoder("utf-8")().decode(start, final=False)  # a cut last character is fine
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8"


def clean_names(columns: list[str]) -> list[str]:
    """Header names without a byte-order mark or surrounding spaces (spreadsheets pad cells); the
    reader must use the same names, or a padded header is found here and missing there."""
    return [c.lstrip("\ufeff").strip() for c in columns]


def _lookup(columns: list[str], spellings: tuple[str, ...], exact: bool) -> str | None:
    """The file's header for one column: an exact spelling first, then (unless ``exact``) any case."""
    for spelling in spellings:
        if spelling in columns:
            return spelling
    if exact:
        return None
    lower = {col.lower(): col for col in reversed(columns)}  # the first column of a spelling wins
    return next((lower[s.lower()] for s in spellings if s.lower() in lower), None)


def resolve_columns(
    path: Path, header: Header, kind: str, spec: dict[str, tuple[str, ...]], required: tuple[str, ...],
    exact: bool = False,
) -> dict[str, str]:
    """Canonical name -> the file's header for every column found; IngestError if one required is missing."""
    found = {key: col for key, sp in spec.items() if (col := _lookup(header.columns, sp, exact))}
    _no_duplicates(path, header, list(found.values()))
    missing = [spec[key][0] for key in required if key not in found]
    if missing:
        raise IngestError(
            f"{path}: line {header.skip_lines + 1}: a {kind} export needs the column(s) {', '.join(missing)}; "
            f"expected headers: {EXPECTED[kind]}; found: {', '.join(header.columns[:12])}"
            f"{' ...' if len(header.columns) > 12 else ''}{_looks_like(path, header, kind)}"
        )
    return found


def _no_duplicates(path: Path, header: Header, used: list[str]) -> None:
    """A needed column named twice (a pasted or hand-added column): which one holds the values is
    unknown, and columns are matched by name, never by position."""
    for col in used:
        places = [i + 1 for i, c in enumerate(header.columns) if c == col]
        if len(places) > 1:
            raise IngestError(
                f"{path}: line {header.skip_lines + 1}: the header names {col!r} {len(places)} times (columns "
                f"{', '.join(map(str, places))}): which one holds the values is unknown; rename or delete the extra"
            )


def _looks_like(path: Path, header: Header, kind: str) -> str:
    """A hint when the header is another known kind: `--source` was probably given by mistake."""
    try:
        other = detect_kind(path, header)
    except IngestError:
        return ""
    if other == kind:  # the kind's marker columns are there, some other required one is not
        return ""
    return f". This header looks like a {other} export: leave out --source (or pass --source {other})"


FIVERR_FIELDS = ("date", "amount", "status", "order_id", "delivered_on_time", "response_hours")


def fiverr_spec(mapping: FiverrMapping) -> tuple[dict[str, tuple[str, ...]], tuple[str, ...]]:
    """The mapped columns (every one must be in the file), plus a `Currency` column when the file has one."""
    spec = {key: (col,) for key in FIVERR_FIELDS if (col := getattr(mapping, key)) is not None}
    return {**spec, "currency": ("Currency",)}, ("date", "amount", "status")


def check_fiverr_columns(path: Path, header: Header, mapping: FiverrMapping) -> None:
    """IngestError naming client.yml's field when a column the mapping names is not in the file: a
    missing optional one (order_id) would silently turn off what it is for (de-duplication)."""
    for key in FIVERR_FIELDS:
        col = getattr(mapping, key)
        if col is not None and _lookup(header.columns, (col,), exact=False) is None:
            raise IngestError(
                f"{path}: line {header.skip_lines + 1}: client.yml fiverr.{key} names the column {col!r}, which "
                f"this file lacks; its columns are: {', '.join(header.columns)}. Fix the mapping in client.yml "
                f"or export the column{_cut_by_comment(header, key, col)}"
            )


def _cut_by_comment(header: Header, key: str, col: str) -> str:
    """A hint when the file has the mapped name followed by ` #` (`Order #`): YAML read the rest of the
    unquoted value as a comment, so client.yml's `order_id: Order #` names `Order`."""
    cut = next((c for c in header.columns if c.lower().startswith(f"{col.lower()} #")), None)
    if cut is None:
        return ""
    return f". The file has {cut!r}: in YAML ' #' starts a comment, so quote the name: {key}: '{cut}'"


def _fiverr_like(header: Header, fiverr: FiverrMapping) -> bool:
    """Whether a header no kind matched holds two of the client's three mapped Fiverr columns (one
    renamed, or a typo in client.yml)."""
    found = [_lookup(header.columns, (getattr(fiverr, k),), exact=False) for k in ("date", "amount", "status")]
    return sum(col is not None for col in found) >= 2


def is_dashboard_balance(columns: list[str]) -> bool:
    """Whether a header is the Stripe Dashboard's balance export (``DASHBOARD_BALANCE_COLUMNS``): Type,
    Amount and Net, and a `Created (...)` column in any zone (stripe_balance reads each time on its UTC day)."""
    lower = {c.lower() for c in columns}
    return DASHBOARD_BALANCE_MARKS <= lower and any(STRIPE_CREATED.match(c) for c in lower)


def detect_kind(path: Path, header: Header, fiverr: FiverrMapping | None = None) -> str:
    """The export kind whose required columns the header holds; IngestError listing all otherwise."""
    lower = {c.lower() for c in header.columns}  # names in any case (`created at`, `CREATED AT`)
    if {"name", "created at", "lineitem quantity"} <= lower:
        return "shopify_orders"
    if is_dashboard_balance(header.columns):  # first: its own Status column (pending/available) is no payment's
        return "stripe_payments"
    if {"status", "amount"} <= lower and any(STRIPE_CREATED.match(c) for c in lower):  # any zone (stripe.py)
        return "stripe_payments"
    if {"gross", "reporting_category"} <= lower and lower & {"created_utc", "created"}:  # a balance report
        return "stripe_payments"
    if lower & ANALYTICS_SESSIONS and lower & ANALYTICS_DATES:
        return "analytics_daily"
    if fiverr is not None and {fiverr.date.lower(), fiverr.amount.lower(), fiverr.status.lower()} <= lower:
        return "fiverr_orders"
    if fiverr is not None and _fiverr_like(header, fiverr):
        check_fiverr_columns(path, header, fiverr)
    expected = "; ".join(f"{k}: {EXPECTED[k]}" for k in KINDS)
    raise IngestError(
        f"{path}: line {header.skip_lines + 1}: not a known export (header starts "
        f"{', '.join(header.columns[:6])!s}). Expected headers — {expected}. "
        "Pass --source KIND if the file is one of these."
    )
