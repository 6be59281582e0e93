"""A big Shopify orders export for the ingest benchmark, written as a stream (constant memory)."""

from __future__ import annotations

import csv
import math
from datetime import date, timedelta
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from chimera.demo.exports import shopify_lines
from chimera.demo.layouts import SHOPIFY_COLUMNS, TimeFormatter
from chimera.demo.orders import DayPlan, OrderSimulator, trimmed

LARGE_START = date(2024, 1, 1)
ORDERS_PER_DAY = 1500


class LargeExport(BaseModel):
    path: Path
    rows: int
    """Data rows (line items), header excluded."""
    orders: int
    first_day: date
    last_day: date


def generate_large_shopify(path: Path, rows: int, seed: int) -> LargeExport:
    """Write exactly ``rows`` line-item rows of well-formed orders (~1.6 rows per order).

    Orders are simulated a day at a time and written at once, so memory stays flat whatever
    ``rows`` is; the last order is cut to fit, its money recomputed so it stays consistent.
    """
    from chimera.demo.generator import local_midnight

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.Generator(np.random.PCG64(seed))
    horizon = math.ceil(rows / ORDERS_PER_DAY) + 2
    export_ts = local_midnight(LARGE_START + timedelta(days=horizon))
    sim = OrderSimulator(rng, export_ts=export_ts)
    tf = TimeFormatter()
    written = orders = 0
    day = LARGE_START
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(SHOPIFY_COLUMNS)
        d = 0
        while written < rows:
            day = LARGE_START + timedelta(days=d)
            plan = DayPlan(
                day=d,
                start_ts=local_midnight(day),
                end_ts=local_midnight(day + timedelta(days=1)),
                count=int(rng.poisson(ORDERS_PER_DAY)),
            )
            for order in sim.day(plan):
                left = rows - written
                if left <= 0:
                    break
                if len(order.items) > left:
                    order = trimmed(order, left)
                f.write("\n".join(shopify_lines(order, tf)) + "\n")
                written += len(order.items)
                orders += 1
            d += 1
    return LargeExport(path=path, rows=written, orders=orders, first_day=LARGE_START, last_day=day)
