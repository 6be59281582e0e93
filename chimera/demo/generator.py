"""Seeded demo exports in the real exporters' layouts, with known events and their exact truth.

``generate_store`` writes a Shopify orders export, a Stripe payments export, a GA4 daily export
and a Fiverr export for one small store, and returns what it wrote (``GeneratedStore.truth``),
so tests can ingest the files and compare. Same seed -> byte-identical files (numpy PCG64).
"""

from __future__ import annotations

import csv
import math
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

from chimera.config.client import FiverrMapping
from chimera.demo.exports import shopify_lines, shopify_rows, stripe_rows
from chimera.demo.fiverr import MAPPING, fiverr_rows
from chimera.demo.layouts import (
    ANALYTICS_COLUMNS,
    COL,
    FIVERR_COLUMNS,
    SHOPIFY_COLUMNS,
    STORE_TZ,
    STRIPE_COLUMNS,
    TimeFormatter,
    money,
)
from chimera.demo.orders import DayPlan, Order, OrderSimulator
from chimera.demo.truth import (
    EventTruth,
    MalformedRow,
    StoreTruth,
    cents,
    repeat_counts,
    shopify_truth,
    stripe_truth,
)

BASE_CONVERSION = 0.024


class WeeklySeasonality(BaseModel):
    """Multiplicative weekday pattern on sessions (hence orders and revenue)."""

    multipliers: list[float] = Field(default=[0.95, 0.92, 0.93, 0.98, 1.04, 1.12, 1.06], min_length=7, max_length=7)
    """Monday .. Sunday."""


class ConversionDrop(BaseModel):
    """Conversion rate (orders / sessions) changes from ``day`` on; sessions are untouched."""

    day: int = Field(ge=0)
    relative_change: float = Field(default=-0.25, gt=-1)


class AnalyticsGap(BaseModel):
    """``days`` analytics rows absent from ``day`` on (missing, not zero)."""

    day: int = Field(ge=0)
    days: int = Field(default=5, ge=1)


class RefundSpike(BaseModel):
    """Refund probability of orders created in ``[day, day + days)``."""

    day: int = Field(ge=0)
    days: int = Field(default=7, ge=1)
    probability: float = Field(default=0.15, ge=0, le=1)


class PriceTest(BaseModel):
    """Every line price x ``factor`` (half-up to the cent) for orders created from ``day`` on."""

    day: int = Field(ge=0)
    factor: Decimal = Decimal("1.10")


class DemoEvents(BaseModel):
    """Events injected into the store; days count from ``start`` (0 = first day); None = absent."""

    weekly: WeeklySeasonality | None = None
    conversion_drop: ConversionDrop | None = None
    analytics_gap: AnalyticsGap | None = None
    refund_spike: RefundSpike | None = None
    price_test: PriceTest | None = None


class GeneratedStore(BaseModel):
    """The files written and the truth behind them."""

    out_dir: Path
    shopify_orders: Path
    stripe_payments: Path
    analytics_daily: Path
    fiverr_orders: Path
    fiverr_mapping: FiverrMapping
    start: date
    end: date
    """Last day of the window (inclusive)."""
    export_time: datetime
    """Store-local midnight after ``end``: nothing later is in the files."""
    seed: int
    events: DemoEvents
    truth: StoreTruth

    def sources(self) -> dict[str, Path]:
        """Source kind -> file, as client.yml names them."""
        return {
            "shopify_orders": self.shopify_orders,
            "stripe_payments": self.stripe_payments,
            "analytics_daily": self.analytics_daily,
            "fiverr_orders": self.fiverr_orders,
        }


def local_midnight(day: date) -> int:
    """UTC epoch seconds of the store-local midnight opening ``day``."""
    return int(datetime(day.year, day.month, day.day, tzinfo=STORE_TZ).timestamp())


def _in(window_day: int | None, length: int, d: int) -> bool:
    return window_day is not None and window_day <= d < window_day + length


def _malform(orders: list[Order], count: int, rng: np.random.Generator) -> dict[int, tuple[str, str, str, int]]:
    """Pick orders to corrupt: seq -> (problem, column, bad value, line-item index)."""
    if count <= 0 or not orders:
        return {}
    picks = sorted(rng.choice(len(orders), min(count, len(orders)), replace=False).tolist())
    out = {}
    for k, idx in enumerate(picks):
        o = orders[idx]
        kind = k % 3
        if kind == 0:
            item = int(rng.integers(0, len(o.items)))
            out[o.seq] = ("negative_quantity", "Lineitem quantity", f"-{o.items[item][1]}", item)
        elif kind == 1:
            out[o.seq] = ("non_numeric_total", "Total", ("N/A", "#VALUE!", "--")[(k // 3) % 3], 0)
        else:
            year = datetime.fromtimestamp(o.created, STORE_TZ).year
            bad = (f"{year}-02-30 10:14:07 -0500", f"31/08/{year} 14:22", f"{year}-09-31 18:02:55 -0400")
            out[o.seq] = ("bad_date", "Created at", bad[(k // 3) % 3], 0)
        o.malformed = True
    return out


def _write_shopify(path: Path, orders: list[Order], bad: dict, tf: TimeFormatter) -> list[MalformedRow]:
    """Write the orders export; corrupt the chosen orders and record each bad row's physical line."""
    malformed: list[MalformedRow] = []
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(SHOPIFY_COLUMNS)
        line = 2
        for o in orders:
            breaks = o.note.count("\n")
            hit = bad.get(o.seq)
            if hit is None:
                f.write("\n".join(shopify_lines(o, tf)) + "\n")
            else:
                rows = shopify_rows(o, tf)
                problem, column, value, item = hit
                row_idx = item if problem == "negative_quantity" else 0
                true_value = rows[row_idx][COL[column]]
                for r in rows if problem == "bad_date" else [rows[row_idx]]:
                    r[COL[column]] = value
                malformed.append(
                    MalformedRow(
                        line_number=line + row_idx + (breaks if row_idx else 0),
                        order_name=o.name,
                        column=column,
                        bad_value=value,
                        problem=problem,
                        true_value=true_value,
                    )
                )
                w.writerows(rows)
            line += len(o.items) + breaks
    return malformed


def _write(path: Path, header: tuple[str, ...], rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def generate_store(
    out_dir: Path,
    *,
    start: date,
    days: int,
    seed: int,
    events: DemoEvents | None = None,
    orders_per_day: float = 60,
    malformed: int = 3,
) -> GeneratedStore:
    """Write the four exports for ``days`` days from ``start`` into ``out_dir``; return paths + truth."""
    events = events or DemoEvents()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    streams = [np.random.Generator(np.random.PCG64(s)) for s in np.random.SeedSequence(seed).spawn(5)]
    rng_days, rng_orders, rng_stripe, rng_fiverr, rng_bad = streams
    end_day = start + timedelta(days=days)
    export_ts = local_midnight(end_day)
    sim = OrderSimulator(rng_orders, export_ts=export_ts)
    tf = TimeFormatter()
    base_sessions = orders_per_day / BASE_CONVERSION
    orders: list[Order] = []
    analytics: list[list[str]] = []
    analytics_truth = {}
    ev = events
    gap = ev.analytics_gap
    for d in range(days):
        day = start + timedelta(days=d)
        weekly = ev.weekly.multipliers[day.weekday()] if ev.weekly else 1.0
        trend = 1.0 + 0.08 * d / max(days - 1, 1)
        sessions = round(float(base_sessions * trend * weekly * math.exp(rng_days.normal(0, 0.06))))
        cr = BASE_CONVERSION
        if ev.conversion_drop and d >= ev.conversion_drop.day:
            cr *= 1 + ev.conversion_drop.relative_change
        count = int(rng_days.poisson(sessions * cr))
        spike = ev.refund_spike
        plan = DayPlan(
            day=d,
            start_ts=local_midnight(day),
            end_ts=local_midnight(day + timedelta(days=1)),
            count=count,
            refund_probability=spike.probability if spike and _in(spike.day, spike.days, d) else 0.03,
            price_factor=ev.price_test.factor.as_integer_ratio()
            if ev.price_test and d >= ev.price_test.day
            else (1, 1),
        )
        todays = sim.day(plan)
        orders.extend(todays)
        users = round(float(sessions * rng_days.uniform(0.78, 0.84)))
        tx = int(rng_days.binomial(len(todays), 0.93)) if todays else 0
        placed = sum(o.total for o in todays)
        revenue = int(placed * tx / len(todays) * rng_days.uniform(0.96, 1.0)) if todays else 0
        if gap and _in(gap.day, gap.days, d):
            continue
        analytics.append([day.isoformat(), str(sessions), str(users), str(tx), money(revenue)])
        analytics_truth[day] = {
            "sessions": Decimal(sessions),
            "users": Decimal(users),
            "ga_transactions": Decimal(tx),
            "ga_revenue": cents(revenue),
        }

    paths = {
        "shopify_orders": out_dir / "orders_export.csv",
        "stripe_payments": out_dir / "stripe_payments.csv",
        "analytics_daily": out_dir / "analytics_daily.csv",
        "fiverr_orders": out_dir / "fiverr_orders.csv",
    }
    bad = _malform(orders, malformed, rng_bad)
    bad_rows = _write_shopify(paths["shopify_orders"], orders, bad, tf)
    charges = stripe_rows(orders, rng_stripe, tf)
    _write(paths["stripe_payments"], STRIPE_COLUMNS, charges)
    _write(paths["analytics_daily"], ANALYTICS_COLUMNS, analytics)
    gigs, fiverr_truth = fiverr_rows(rng_fiverr, start, days)
    _write(paths["fiverr_orders"], FIVERR_COLUMNS, gigs)

    shop, customers = shopify_truth(orders, start)
    repeat, total_customers = repeat_counts(customers)
    truth = StoreTruth(
        shopify=shop,
        customers=customers,
        repeat_customers=repeat,
        customers_total=total_customers,
        stripe=stripe_truth(charges),
        analytics=analytics_truth,
        fiverr=fiverr_truth,
        malformed=bad_rows,
        events=_event_truths(ev, start, days),
    )
    return GeneratedStore(
        out_dir=out_dir,
        **paths,
        fiverr_mapping=MAPPING,
        start=start,
        end=end_day - timedelta(days=1),
        export_time=datetime.fromtimestamp(export_ts, STORE_TZ),
        seed=seed,
        events=ev,
        truth=truth,
    )


def _event_truths(ev: DemoEvents, start: date, days: int) -> list[EventTruth]:
    last = start + timedelta(days=days - 1)

    def at(d: int) -> date:
        return start + timedelta(days=d)

    out = []
    if ev.weekly:
        out.append(
            EventTruth(
                id="weekly_seasonality",
                start=start,
                end=last,
                detail={"multipliers": ",".join(map(str, ev.weekly.multipliers))},
            )
        )
    if ev.conversion_drop:
        out.append(
            EventTruth(
                id="conversion_rate_drop",
                start=at(ev.conversion_drop.day),
                end=last,
                detail={"relative_change": str(ev.conversion_drop.relative_change)},
            )
        )
    if ev.analytics_gap:
        g = ev.analytics_gap
        out.append(EventTruth(id="analytics_data_gap", start=at(g.day), end=at(g.day + g.days - 1)))
    if ev.refund_spike:
        s = ev.refund_spike
        out.append(
            EventTruth(
                id="refund_rate_spike",
                start=at(s.day),
                end=at(s.day + s.days - 1),
                detail={"probability": str(s.probability), "baseline": "0.03"},
            )
        )
    if ev.price_test:
        out.append(
            EventTruth(
                id="price_test",
                start=at(ev.price_test.day),
                end=last,
                detail={"factor": str(ev.price_test.factor)},
            )
        )
    return out
