"""Does client.yml's ``timezone`` keep the clock a Shopify export keeps?

A Shopify timestamp carries the store's UTC offset (`2026-04-02 00:40:00 +1100`), and the store's
days come from it. But whether a day is over, the default as-of day and freshness follow
client.yml's ``timezone`` (``chimera.as_of``): left at its default UTC for a Sydney store, a day
still going on (01:00 in Sydney is 14:00 UTC the day before) is judged as a whole day. That rule
stays client.yml's by design; an ingest whose export disagrees with it says so, naming the zone to
set. The check reads a sample only (the first and last ``SAMPLE_ROWS`` records, a few ms on a
1M-row export), never the whole file.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from functools import cache
from importlib import resources
from itertools import islice, pairwise
from pathlib import Path
from typing import Any, NamedTuple
from zoneinfo import TZPATH, ZoneInfo, ZoneInfoNotFoundError, available_timezones

from chimera.as_of import store_zone
from chimera.errors import IngestError
from chimera.ingest.detect import Header
from chimera.ingest.parsing import SHOPIFY_TS, ParseError, parse_shopify_timestamp
from chimera.ingest.shopify import shopify_columns

SAMPLE_ROWS = 300
TAIL_BYTES = 1 << 18  # 256 KB: a few hundred records even of a full 79-column export (~500-900 bytes each)
SUGGESTED = 3
CHECKS = 48  # instants each candidate zone is checked at (``_check_instants``)
_TS = re.compile(SHOPIFY_TS)
_RESYNC_TRIES = 200  # line starts tried in the tail chunk (a multi-line note puts some inside a field)
_RESYNC_ROWS = 3  # records that must read as whole rows for a line start to be a record's


class Sample(NamedTuple):
    """What the check reads of an export: its timestamps, and its currency (a hint of the country)."""

    stamps: list[str]
    currency: str


def read_sample(path: Path, header: Header) -> Sample:
    """``export_sample``, or an empty one when it cannot be read: a sample never fails an ingest
    (the parse decides)."""
    try:
        return export_sample(path, header)
    except (OSError, csv.Error, ValueError, IngestError):
        return Sample([], "")


def file_warnings(zone_name: str, path: Path, header: Header, sample: Sample | None = None) -> list[str]:
    """The mismatch warning for a Shopify export file, from its first and last records (``sample``,
    when already read); [] when the sample agrees with ``zone_name`` (or holds no timestamp: the
    parser reports bad ones)."""
    sample = sample or read_sample(path, header)
    return timestamp_warnings(zone_name, sample.stamps, sample.currency)


def unfinished_day(days: Iterable[date], zone_name: str, stamps: Iterable[object],
                   now: datetime | None = None) -> dict[date, str]:
    """The store's day still going on as the export is read, when the export holds orders of it,
    and why it is left out: the export lists that day's orders only until it was taken, and a day
    judged whole then reads as a fall. The store's clock is the export's own offsets (Shopify writes
    its timestamps in the shop's zone, whatever client.yml says; the earliest wall clock among them
    across a daylight-saving change; ``stamps``: the export's sample, ``read_sample``); client.yml's
    zone for a sample without one."""
    now = now or datetime.now(UTC)
    held = set(days)
    if not held or max(held) < (now - timedelta(days=1)).date():
        return {}
    offsets = {t.utcoffset() for t in map(_moment, stamps) if t is not None} - {None}
    clocks = [now.astimezone(timezone(o)) for o in offsets if o is not None and abs(o) < timedelta(days=1)]
    local = min(clocks, key=lambda t: t.replace(tzinfo=None)) if clocks else now.astimezone(store_zone(zone_name))
    if local.date() not in held:
        return {}
    return {local.date(): (f"partial store day: it was not over when the file was read ({local:%H:%M} store time, "
                           f"UTC{local:%z}), so the export holds only its orders until then; ingest an export taken "
                           "after the store's midnight")}


def timestamp_warnings(zone_name: str, stamps: Iterable[object], currency: str = "") -> list[str]:
    """The mismatch warning for Shopify timestamps (export cells or the Admin API's ``created_at``):
    one message when most of them carry another offset than ``zone_name`` has at their instants.
    ``currency`` (the shop's) puts its country's zones first among the suggestions."""
    times = [t for t in map(_moment, stamps) if t is not None]
    zone = store_zone(zone_name)
    differ = sum(t.utcoffset() != t.astimezone(zone).utcoffset() for t in times)
    if not times or differ * 2 <= len(times):
        return []
    return [_message(zone_name, zone, times, currency)]


def order_warnings(zone_name: str, orders: list[dict[str, Any]]) -> list[str]:
    """The mismatch warning for an Admin API pull, from its first and last ``SAMPLE_ROWS`` orders'
    ``created_at`` (the API writes them in the shop's zone, as the export does)."""
    sample = orders if len(orders) <= 2 * SAMPLE_ROWS else orders[:SAMPLE_ROWS] + orders[-SAMPLE_ROWS:]
    currency = next((str(o["currency"]) for o in sample if o.get("currency")), "")
    return timestamp_warnings(zone_name, (o.get("created_at") for o in sample), currency)


def _moment(stamp: object) -> datetime | None:
    """A cell's moment; None for anything else (the parser rejects bad cells, naming their line)."""
    try:
        return parse_shopify_timestamp(stamp) if isinstance(stamp, str) else None
    except ParseError:
        return None


def export_sample(path: Path, header: Header) -> Sample:
    """The ``Created at`` and ``Currency`` cells of the export's first and last ``SAMPLE_ROWS``
    records, read with the csv module (the last from the file's final ``TAIL_BYTES``; a small file
    is read whole). The currency is the first one given (a file of several is refused when parsed)."""
    names = shopify_columns(path, header)
    cols = [header.columns.index(names[k]) for k in ("created_at", "currency") if k in names]
    whole = path.stat().st_size <= 2 * TAIL_BYTES
    with _text(path, header) as fh:
        for _ in range(header.skip_lines + 1):  # comment / `sep=` lines, then the header
            fh.readline()
        rows = csv.reader(fh, delimiter=header.separator)
        cells = [_cells(r, cols) for r in (rows if whole else _first(rows, SAMPLE_ROWS))]
    if not whole:
        cells += _tail_cells(path, header, cols)
    currency = next((c[1].strip() for c in cells if len(c) > 1 and c[1].strip()), "")
    return Sample([c[0] for c in cells], currency)


def _text(path: Path, header: Header) -> io.TextIOWrapper:
    return path.open(encoding="utf-8-sig" if header.encoding == "utf-8" else header.encoding, errors="replace",
                     newline="")


def _first(rows: Iterator[list[str]], n: int) -> Iterator[list[str]]:
    for _, row in zip(range(n), rows, strict=False):
        yield row


def _cells(row: list[str], cols: list[int]) -> list[str]:
    return [row[c] if len(row) > c else "" for c in cols]


def _tail_cells(path: Path, header: Header, cols: list[int]) -> list[list[str]]:
    """The ``cols`` of the last ``SAMPLE_ROWS`` records: the final bytes decoded, read from the
    first line start where ``_RESYNC_ROWS`` records in a row are whole rows with a timestamp in
    ``cols[0]`` (a line start inside a quoted multi-line field reads as a few fields, or shifted ones)."""
    text = _tail_text(path, header.encoding)
    buf = io.StringIO(text, newline="")
    starts = [m.end() for _, m in zip(range(_RESYNC_TRIES), re.finditer("\n", text), strict=False)]
    for start in starts:
        buf.seek(start)
        probe = list(_first(csv.reader(buf, delimiter=header.separator), _RESYNC_ROWS))
        if len(probe) == _RESYNC_ROWS and all(_whole(r, cols[0], len(header.columns)) for r in probe):
            buf.seek(start)
            return [_cells(r, cols) for r in csv.reader(buf, delimiter=header.separator)][-SAMPLE_ROWS:]
    return []


def _whole(row: list[str], col: int, width: int) -> bool:
    return col < len(row) <= width and bool(_TS.match(row[col].strip()))


def _tail_text(path: Path, encoding: str) -> str:
    """The file's last ``TAIL_BYTES`` as text; a character cut at the start is replaced (that line
    is skipped anyway). UTF-16 reads from an even byte in the byte order its BOM names."""
    with path.open("rb") as fh:
        bom = fh.read(2)
        size = fh.seek(0, io.SEEK_END)
        start = max(size - TAIL_BYTES, 2 if encoding == "utf-16" else 0)
        start += start % 2 if encoding == "utf-16" else 0
        fh.seek(start)
        raw = fh.read()
    codec = ("utf-16-le" if bom == b"\xff\xfe" else "utf-16-be") if encoding == "utf-16" else encoding
    return raw.decode(codec, errors="replace")


def _message(zone_name: str, zone: tzinfo, times: list[datetime], currency: str) -> str:
    theirs, ours = _offsets(times), _offsets(t.astimezone(zone) for t in times)
    hint = _hint(candidate_zones(times, currency))
    return (f"the export's times are at {theirs}, but client.yml's timezone {zone_name} is {ours} then: the "
            "store's days end at its own midnight, while whether a day is over (the default as-of, freshness) is "
            f"judged on client.yml's clock; set `timezone:` in client.yml to the store's zone ({hint})")


def _hint(names: list[str]) -> str:
    if not names:
        return "an IANA name with those offsets"
    if len(names) == 1:
        return f"e.g. {names[0]}, an IANA name with those offsets"
    return f"e.g. {', '.join(names[:-1])} or {names[-1]}: IANA names with those offsets"


def _offsets(moments: Iterable[datetime]) -> str:
    """Distinct offsets as `+1100/+1000`, in the order the sample's instants reach them."""
    first: dict[str, datetime] = {}
    for at in sorted(moments):
        first.setdefault(at.strftime("%z"), at)
    return "/".join(first)


def candidate_zones(times: list[datetime], currency: str = "") -> list[str]:
    """Up to ``SUGGESTED`` IANA zones with the sample's offsets at its instants (``_check_instants``):
    UTC first when every offset is +0000, then canonical Area/City names (``zone.tab``) in this
    order: the country of ``currency`` first (ISO 4217 codes start with their country's: AUD, USD),
    a country's main zone before a part's (`Eastern - MI` in ``zone.tab``), those more legacy names
    link to first (Sydney has Australia/NSW and two more, Hobart two), Antarctica last. Zones are
    tried in that order and loaded only until enough fit: loading all ~400 cost 0.3 s of a big ingest."""
    checks = _check_instants(times)
    utc = ["UTC"] if all(t.utcoffset() == timedelta(0) for t in checks) else []
    zones = _canonical()
    country, aliases = currency.strip().upper()[:2], _alias_counts()
    ordered = sorted(zones, key=lambda n: (n.startswith("Antarctica/"), zones[n][0] != country,
                                           " - " in zones[n][1], -aliases.get(n, 0), n))
    fits = (n for n in ordered if _fits(n, checks))
    return utc + list(islice(fits, SUGGESTED - len(utc)))  # zones load in order, until enough fit


def _fits(name: str, checks: list[datetime]) -> bool:
    """Whether zone ``name`` has each instant's offset (a zone.tab name this machine lacks does not)."""
    try:
        zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return all(t.astimezone(zone).utcoffset() == t.utcoffset() for t in checks)


def _check_instants(times: list[datetime]) -> list[datetime]:
    """About ``CHECKS`` instants spread over the sample, and both sides of each change of offset:
    a zone must have the sample's offset at each (the ends alone let a zone with daylight saving
    between them pass for one without)."""
    ordered = sorted(times)
    picks = set(ordered[:: max(1, len(ordered) // CHECKS)]) | {ordered[-1]}
    picks |= {t for a, b in pairwise(ordered) if a.utcoffset() != b.utcoffset() for t in (a, b)}
    return sorted(picks)


@cache
def _canonical() -> dict[str, tuple[str, str]]:
    """The canonical zones, with ``zone.tab``'s country code and comment (which part of the country
    a zone is for); every Area/City name this machine knows when there is no ``zone.tab``. A
    listed zone this machine lacks is skipped when tried (``_fits``): listing every zone file on
    disk first cost 0.07 s."""
    rows = [line.split("\t") for line in _tz_file("zone.tab").splitlines() if line and not line.startswith("#")]
    listed = {r[2]: (r[0], r[3] if len(r) > 3 else "") for r in rows if len(r) > 2}
    return listed or {n: ("", "") for n in available_timezones() if re.fullmatch(
        r"(?:Africa|America|Antarctica|Asia|Atlantic|Australia|Europe|Indian|Pacific)/[A-Z][\w/+-]+", n)}


@cache
def _alias_counts() -> dict[str, int]:
    """How many legacy names link to each zone (``tzdata.zi``'s `L target alias` lines)."""
    counts: dict[str, int] = {}
    for line in _tz_file("tzdata.zi").splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "L":
            counts[parts[1]] = counts.get(parts[1], 0) + 1
    return counts


def _tz_file(name: str) -> str:
    """A file of the timezone database, where ``zoneinfo`` looks: the system's, else the tzdata package's."""
    for folder in TZPATH:
        path = Path(folder) / name
        if path.is_file():
            return path.read_text("utf-8", errors="replace")
    try:
        return resources.files("tzdata.zoneinfo").joinpath(name).read_text("utf-8", errors="replace")
    except (ModuleNotFoundError, OSError):
        return ""
