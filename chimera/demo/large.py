"""A big Shopify orders export for the ingest benchmark, written as a stream (constant memory).

Simulating and rendering every one of ~650,000 orders costs ~25 s of CPU; instead a pool of
simulated orders is rendered once into line templates, and each output order takes one of them
with its own name, customer email, ids and timestamps (kept in step: paid, fulfilled and cancelled
times move with the new creation time). Money, line items and the row structure therefore stay
exactly those of real simulated orders, while names, emails and dates are unique and increasing.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from chimera.demo.exports import quote, shopify_rows
from chimera.demo.layouts import COL, SHOPIFY_COLUMNS, TimeFormatter
from chimera.demo.orders import HOURLY, DayPlan, Order, OrderSimulator

LARGE_START = date(2024, 1, 1)
ORDERS_PER_DAY = 1500
POOL = 4096
NEW_CUSTOMER_SHARE = 0.72

_FIRST_SLOTS = ("Name", "Email", "Paid at", "Fulfilled at", "Created at", "Cancelled at",
                "Payment Reference", "Id", "Payment ID", "Payment References")  # fmt: skip
_NEXT_SLOTS = ("Name", "Email", "Created at")


class LargeExport(BaseModel):
    path: Path
    rows: int
    """Data rows (line items), header excluded."""
    orders: int
    first_day: date
    last_day: date
    malformed_lines: list[int] = []
    """File line numbers (header = 1) whose ``Lineitem quantity`` was made negative on purpose."""


class _Shape:
    """One pooled order as ``%`` templates: its first row and its continuation rows."""

    def __init__(self, order: Order, tf: TimeFormatter) -> None:
        rows = shopify_rows(order, tf)
        self.first = self._template(rows[0], _FIRST_SLOTS)
        bad = list(rows[0])
        bad[COL["Lineitem quantity"]] = "-1"
        self.first_bad = self._template(bad, _FIRST_SLOTS)
        self.rest = "".join("\n" + self._template(r, _NEXT_SLOTS) for r in rows[1:])
        self.rows = len(rows)
        self.lines = self.first.count("\n") + self.rest.count("\n") + 1
        """Physical lines written (quoted notes may hold newlines)."""
        self.paid = order.paid_at - order.created
        self.fulfilled = None if order.fulfilled_at is None else order.fulfilled_at - order.created
        self.cancelled = None if order.cancelled_at is None else order.cancelled_at - order.created

    @staticmethod
    def _template(cells: list[str], slots: tuple[str, ...]) -> str:
        holes = {COL[name] for name in slots}
        return ",".join("%s" if i in holes else quote(c).replace("%", "%%") for i, c in enumerate(cells))


def _pool(seed: int) -> list[_Shape]:
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed).spawn(1)[0]))
    sim = OrderSimulator(rng, export_ts=2**40)
    plan = DayPlan(day=0, start_ts=0, end_ts=86400, count=POOL)
    tf = TimeFormatter()
    return [_Shape(o, tf) for o in sim.day(plan)]


def generate_large_shopify(path: Path, rows: int, seed: int, malformed_every: int = 0) -> LargeExport:
    """Write exactly ``rows`` line-item rows (~1.6 rows per order), well-formed unless
    ``malformed_every`` is set: then the first order starting at or after each multiple of that many
    rows gets a negative quantity, a row an ingest must reject with its whole order.

    Output is streamed day by day, so memory stays flat whatever ``rows`` is. Same seed, same bytes.
    """
    from chimera.demo.generator import local_midnight

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    shapes = _pool(seed)
    by_rows: dict[int, list[int]] = {}
    for i, s in enumerate(shapes):
        by_rows.setdefault(s.rows, []).append(i)
    rng = np.random.Generator(np.random.PCG64(seed))
    tf = TimeFormatter()
    local = tf.local
    written = orders = customers = 0
    malformed: list[int] = []
    next_bad = malformed_every // 2 if malformed_every > 0 else rows + 1
    line = 2  # the next order's first physical line (the header is line 1)
    day = LARGE_START
    with path.open("w", newline="", encoding="utf-8") as f:
        f.write(",".join(quote(c) for c in SHOPIFY_COLUMNS) + "\n")
        d = 0
        while written < rows:
            day = LARGE_START + timedelta(days=d)
            start, end = local_midnight(day), local_midnight(day + timedelta(days=1))
            n = int(rng.poisson(ORDERS_PER_DAY))
            frac = (rng.choice(24, n, p=HOURLY) + rng.random(n)) / 24.0
            created = np.sort(start + np.minimum((frac * (end - start)).astype(np.int64), end - start - 1)).tolist()
            picks = rng.integers(0, len(shapes), n).tolist()
            fresh = (rng.random(n) < NEW_CUSTOMER_SHARE).tolist()
            back = rng.random(n).tolist()
            out = []
            for i in range(n):
                left = rows - written
                if left <= 0:
                    break
                shape = shapes[picks[i]]
                if shape.rows > left:
                    group = by_rows.get(left) or by_rows[1]
                    shape = shapes[group[picks[i] % len(group)]]
                if fresh[i] or customers == 0:
                    customers += 1
                    cust = customers
                else:
                    cust = 1 + int(back[i] * customers)
                t = created[i]
                seq = orders
                name = f"#{1001 + seq}"
                email = f"customer{cust:05d}@example.com"
                at = local(t)
                bad = written >= next_bad
                if bad:
                    malformed.append(line)
                    next_bad += malformed_every
                line += shape.lines
                out.append(
                    (shape.first_bad if bad else shape.first)
                    % (
                        name,
                        email,
                        local(t + shape.paid),
                        "" if shape.fulfilled is None else local(t + shape.fulfilled),
                        at,
                        "" if shape.cancelled is None else local(t + shape.cancelled),
                        f"c{3118000000 + seq * 17}.1",
                        6403118000000 + seq * 17,
                        f"{name}.1",
                        f"{name}.1",
                    )
                )
                if shape.rest:
                    out.append(shape.rest % ((name, email, at) * (shape.rows - 1)))
                out.append("\n")
                written += shape.rows
                orders += 1
            f.write("".join(out))
            d += 1
    return LargeExport(path=path, rows=written, orders=orders, first_day=LARGE_START, last_day=day,
                       malformed_lines=malformed)
