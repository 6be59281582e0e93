"""A small Fiverr side business (label design, menu copy) with its own export layout.

Fiverr documents no CSV layout, so the demo writes one of its own and hands back the
``FiverrMapping`` a user would put in client.yml to read it.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import numpy as np

from chimera.config.client import FiverrMapping
from chimera.demo.catalog import BUYER_WORDS, GIGS
from chimera.demo.layouts import FIVERR_DATE_FORMAT, money
from chimera.demo.truth import FIVERR_METRICS, DayMetrics, cents, fill_zero_days

MAPPING = FiverrMapping(
    date="Order Date",
    amount="Amount",
    status="Status",
    order_id="Order ID",
    date_format=FIVERR_DATE_FORMAT,
    delivered_on_time="Delivered On Time",
    response_hours="Response Hours",
    completed_values=["completed"],
    cancelled_values=["cancelled"],
)


def fiverr_rows(
    rng: np.random.Generator, start: date, days: int, per_day: float = 0.9
) -> tuple[list[list[str]], dict[date, DayMetrics]]:
    """Rows of the Fiverr export (oldest first) and their per-day truth.

    Orders whose delivery is still due at the export time (the day after the window) are
    "In Progress"; only completed orders say whether they were delivered on time.
    """
    end = start + timedelta(days=days)
    counts = rng.poisson(per_day, days)
    rows: list[list[str]] = []
    truth: dict[date, DayMetrics] = {}
    seq = 0
    for d in range(days):
        n = int(counts[d])
        if n == 0:
            continue
        day = start + timedelta(days=d)
        gig = rng.integers(0, len(GIGS), n)
        tip = rng.random(n) < 0.2
        cancel = rng.random(n) < 0.03
        due = rng.integers(1, 5, n)
        on_time = rng.random(n) < 0.96
        hours = np.round(rng.lognormal(np.log(5.0), 1.0, n), 1)
        asked = rng.random(n) < 0.8
        words = rng.integers(0, len(BUYER_WORDS), (n, 2))
        a = {k: Decimal(0) for k in FIVERR_METRICS}
        for i in range(n):
            seq += 1
            title, price = GIGS[int(gig[i])]
            amount = price + (500 if tip[i] else 0)
            if cancel[i]:
                status = "Cancelled"
            elif day + timedelta(days=int(due[i])) >= end:
                status = "In Progress"
            else:
                status = "Completed"
            delivered = ("true" if on_time[i] else "false") if status == "Completed" else ""
            h = float(hours[i])
            if h == 24.0:
                h = 24.1  # keep clear of the boundary: "< 24 h" is unambiguous either way
            response = f"{h:.1f}" if asked[i] else ""
            buyer = f"{BUYER_WORDS[int(words[i, 0])]}{BUYER_WORDS[int(words[i, 1])]}_{seq % 97:02d}"
            rows.append([
                f"FO{73100000 + seq * 37:010d}", day.strftime(FIVERR_DATE_FORMAT), buyer, title,
                money(amount), status, delivered, response,
            ])  # fmt: skip
            a["fiverr_orders"] += 1
            a["fiverr_completed"] += status == "Completed"
            a["fiverr_cancelled"] += status == "Cancelled"
            if status == "Completed":
                a["fiverr_earnings"] += cents(amount)
            a["fiverr_delivered"] += delivered != ""
            a["fiverr_delivered_on_time"] += delivered == "true"
            a["fiverr_inquiries"] += response != ""
            a["fiverr_responded_24h"] += response != "" and h < 24
        truth[day] = a
    return rows, fill_zero_days(truth, FIVERR_METRICS)
