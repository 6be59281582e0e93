"""How KPI numbers read in notes and tables: percents, money, counts and day ranges.

Money reads in its currency's own smallest unit (``currency``: an ISO code, e.g. the client.yml's):
yen whole, dollars in cents, dinars in fils. Without a currency, a money value's own places decide
(the rule before currencies were passed: fils only for a value with exactly 3 decimals)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from chimera.ingest.parsing import minor_unit

_QUANT = {"currency": Decimal("0.01"), "percent": Decimal("0.000001"), "ratio": Decimal("0.0001")}


def quantize(value: Decimal | None, unit: str, currency: str | None = None) -> Decimal | None:
    """The reported (stored) value: money in cents, or fils for a 3-decimal ``currency`` (a yen AOV
    keeps its cents: only its text is whole yen), 6 decimals for fractions, 4 for ratios, counts as is."""
    if value is None:
        return None
    if unit == "count":
        return value if value == value.to_integral_value() else value.quantize(Decimal("0.01"), ROUND_HALF_UP)
    if unit == "currency":
        step = money_step(currency)
        if step is not None:
            return value.quantize(min(step, CENTS), ROUND_HALF_UP)
        if is_fils(value):
            return value.quantize(FILS)
    return value.quantize(_QUANT.get(unit, Decimal("0.0001")), ROUND_HALF_UP)


FILS = Decimal("0.001")
CENTS = Decimal("0.01")


def is_fils(value: Decimal) -> bool:
    """A money value with exactly 3 decimal places: a sum in a 3-decimal currency (KWD, BHD, ...),
    whose last fils is money, not noise (1012.335 dinars is not 1012.34, as ``chimera metrics``
    shows it). A ratio's long fraction (an AOV) still reads in hundredths."""
    return value == value.quantize(FILS) and value != value.quantize(Decimal("0.01"))


def money_step(currency: str | None) -> Decimal | None:
    """The smallest amount of ``currency`` people read (ISO 4217 minor unit); None when no currency
    is given, so the value's own places decide."""
    return minor_unit(currency) if currency and currency.strip() else None


def fmt(value: Decimal | None, unit: str, currency: str | None = None) -> str:
    """``1.69%``, ``12,345.67`` (``231,880`` yen, ``1,012.335`` dinars), ``1,234``, ``1.72``; ``n/a`` for None."""
    if value is None:
        return "n/a"
    if unit == "percent":
        return f"{(value * 100).quantize(Decimal('0.01'), ROUND_HALF_UP)}%"
    if unit == "currency":
        step = money_step(currency)
        shown = quantize(value, unit) if step is None else value.quantize(step, ROUND_HALF_UP)
        return f"{shown.copy_abs() if not shown else shown:,}"  # -0.4 yen is 0, not '-0'
    if unit == "count":
        if value == value.to_integral_value():
            return f"{int(value):,}"
        return f"{value.quantize(Decimal('0.1'), ROUND_HALF_UP):,}"
    return f"{value.quantize(Decimal('0.01'), ROUND_HALF_UP)}"


def fmt_bound(value: Decimal | None, unit: str, currency: str | None = None) -> str:
    """A configured threshold as ``fmt`` shows it, or exactly when that would round it: a hand-set
    warning of 0.01843 read '1.84%', so a value of 1.8429% was 'below warning 1.84%' (and a 39.6627
    AOV 'below target 39.66' for a target of 39.663). Up to 6 places; calibrated thresholds are in
    the display's own steps and read as before."""
    shown = fmt(value, unit, currency)
    if value is None:
        return shown
    scale = 100 if unit == "percent" else 1
    exact = (value * scale).normalize()
    places = -min(exact.as_tuple().exponent, 0)  # type: ignore[operator]
    if places > 6 or _parse(shown, unit) == exact:
        return shown
    text = f"{exact.quantize(Decimal(1).scaleb(-places)):,}"
    return f"{text}%" if unit == "percent" else text


def _parse(shown: str, unit: str) -> Decimal:
    return Decimal(shown.rstrip("%").replace(",", ""))


def fmt_apart(value: Decimal | None, unit: str, others: list[Decimal | None], shown: str | None = None,
              currency: str | None = None) -> str:
    """``shown`` (default ``fmt(value)``), with more digits when it would not read on its own side of
    a threshold it is compared with (as ``fmt_bound`` shows those): 0.05998 is not '6.00%, below
    warning 6.00%' but '5.998%, below warning 6.00%' (an AOV of 4,312.6 yen is not '4,313, below
    target 4,313', and 0.018431 is not '1.84%, above warning 1.843%')."""
    shown = fmt(value, unit, currency) if shown is None else shown
    if value is None:
        return shown
    bounds = [o for o in others if o is not None and o != value]
    scale = 100 if unit == "percent" else 1

    def honest(text: Decimal) -> bool:  # on the value's side of every bound, never on one
        return all((text > o * scale) == (value > o) and text != o * scale for o in bounds)

    try:
        if honest(_parse(shown, unit)):
            return shown
    except InvalidOperation:
        return shown
    for places in _finer(unit, currency):
        fine = (value * scale).quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)
        if honest(fine):
            return f"{fine}%" if unit == "percent" else f"{fine:,}"
    return shown


def _finer(unit: str, currency: str | None) -> tuple[int, ...]:
    """The places ``fmt_apart`` tries, each finer than ``fmt``'s: yen from tenths, dinars from 4 places."""
    step = money_step(currency) if unit == "currency" else None
    if step is None:
        return (3, 4, 6)
    places = -step.as_tuple().exponent
    assert isinstance(places, int)
    return (places + 1, places + 2, 6)


def fmt_stored(value: str | None, unit: str | None, currency: str | None = None) -> str:
    """A stored decimal string (an evidence record's before/after) as ``fmt`` shows it; as written
    when its unit is unknown (records judged before units were kept) or it is not a number."""
    if value in (None, ""):
        return "-"
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    return fmt(number, unit, currency) if unit else str(value)


def day_ranges(days: list[date]) -> str:
    """``2026-02-09..2026-02-13, 2026-02-20`` from a sorted list of days."""
    parts: list[str] = []
    start = prev = None
    for day in sorted(days):
        if prev is not None and day == prev + timedelta(days=1):
            prev = day
            continue
        if start is not None:
            parts.append(_range(start, prev))
        start = prev = day
    if start is not None:
        parts.append(_range(start, prev))
    return ", ".join(parts)


def _range(start: date, end: date | None) -> str:
    return start.isoformat() if end in (None, start) else f"{start.isoformat()}..{end.isoformat()}"
