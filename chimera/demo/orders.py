"""Simulated orders of the demo store, one store-local day at a time.

Money is integer cents and times are UTC epoch seconds, so every sum is exact and the same seed
gives the same orders. Random draws are made in batches per day (numpy), not per order, which
keeps a million-row export fast. Late events (fulfilment, cancellation, refund) that would happen
after the export time are left out, as in a real export taken that moment.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from chimera.demo.catalog import DISCOUNT_CODES, NOTES, PRODUCT_WEIGHTS, PRODUCTS, SHIPPING, TAXES
from chimera.demo.layouts import half_up

HOURLY = np.array([
    1.2, 0.7, 0.5, 0.4, 0.4, 0.7, 1.4, 2.5, 4.1, 4.9, 5.0, 5.3, 5.6, 5.8, 5.2, 5.4,
    5.7, 6.2, 6.1, 7.7, 7.8, 7.4, 4.7, 2.8,
])  # fmt: skip
HOURLY = HOURLY / HOURLY.sum()
ITEM_COUNTS = np.array([1, 2, 3, 4])
ITEM_COUNT_P = np.array([0.55, 0.30, 0.11, 0.04])
QTY = np.array([1, 2, 3])
QTY_P = np.array([0.82, 0.14, 0.04])
NOTE_P = np.array([0.3, 0.3, 0.3, 0.05, 0.05])


@dataclass(slots=True)
class Order:
    """One order as the store knows it (before anything is written or corrupted)."""

    seq: int
    day: int
    created: int
    customer: int
    items: list[tuple[int, int, int]]
    """(product index, quantity, unit price in cents)."""
    code: str
    gross: int
    discount: int
    subtotal: int
    express: bool
    shipping: int
    tax1: int
    tax2: int
    total: int
    paypal: bool
    paid_at: int
    fulfilled_at: int | None
    cancelled_at: int | None
    refund: int
    refunded_at: int | None
    note: str
    failed_decline: int | None = None
    """Index into catalog.DECLINES of a failed card attempt just before the payment, if any."""
    failed_at: int = 0
    malformed: bool = field(default=False)

    @property
    def name(self) -> str:
        return f"#{1001 + self.seq}"

    @property
    def units(self) -> int:
        return sum(q for _, q, _ in self.items)


def price(items: list[tuple[int, int, int]], pct: int, express: bool) -> tuple[int, ...]:
    """(gross, discount, subtotal, shipping, tax1, tax2, total) in cents, Shopify's way:
    Subtotal after discount, taxes on Subtotal, Total = Subtotal + Shipping + Taxes."""
    gross = sum(q * c for _, q, c in items)
    discount = half_up(gross * pct, 100)
    subtotal = gross - discount
    shipping = SHIPPING[1 if express else 0][1]
    tax1 = half_up(subtotal * TAXES[0][1], TAXES[0][2])
    tax2 = half_up(subtotal * TAXES[1][1], TAXES[1][2])
    return gross, discount, subtotal, shipping, tax1, tax2, subtotal + shipping + tax1 + tax2


@dataclass
class DayPlan:
    """What one day's orders depend on."""

    day: int
    start_ts: int
    """UTC epoch of the store-local midnight that opens the day."""
    end_ts: int
    """UTC epoch of the next local midnight (23 h or 25 h later on DST days)."""
    count: int
    refund_probability: float = 0.03
    price_factor: tuple[int, int] = (1, 1)
    """Line prices x numerator / denominator, half-up to the cent (a price test)."""


@dataclass
class OrderSimulator:
    """Draws orders day after day; holds only counters, never past orders."""

    rng: np.random.Generator
    export_ts: int
    new_customer_share: float = 0.72
    cancel_probability: float = 0.012
    discount_probability: float = 0.13
    failed_attempt_probability: float = 0.035
    next_seq: int = 0
    customers: int = 0

    def day(self, plan: DayPlan) -> list[Order]:
        n, rng = plan.count, self.rng
        if n <= 0:
            return []
        span = plan.end_ts - plan.start_ts
        frac = (rng.choice(24, n, p=HOURLY) + rng.random(n)) / 24.0
        created = np.sort(plan.start_ts + np.minimum((frac * span).astype(np.int64), span - 1)).tolist()
        is_new = (rng.random(n) < self.new_customer_share).tolist()
        returning = rng.random(n).tolist()
        k_items = rng.choice(ITEM_COUNTS, n, p=ITEM_COUNT_P).tolist()
        prods = rng.choice(len(PRODUCTS), (n, 4), p=PRODUCT_WEIGHTS).tolist()
        qtys = rng.choice(QTY, (n, 4), p=QTY_P).tolist()
        disc = (rng.random(n) < self.discount_probability).tolist()
        code_idx = rng.integers(0, len(DISCOUNT_CODES), n).tolist()
        express = (rng.random(n) < 0.15).tolist()
        paypal = (rng.random(n) < 0.15).tolist()
        paid_delay = rng.integers(1, 9, n).tolist()
        fulfil_delay = rng.integers(12 * 3600, 60 * 3600, n).tolist()
        cancel = (rng.random(n) < self.cancel_probability).tolist()
        cancel_delay = rng.integers(1800, 30 * 3600, n).tolist()
        refund = (rng.random(n) < plan.refund_probability).tolist()
        full = (rng.random(n) < 0.65).tolist()
        part = rng.uniform(0.15, 0.75, n).tolist()
        refund_delay = rng.integers(2 * 86400, 12 * 86400, n).tolist()
        noted = (rng.random(n) < 0.28).tolist()
        note_idx = rng.choice(len(NOTES), n, p=NOTE_P).tolist()
        failed = (rng.random(n) < self.failed_attempt_probability).tolist()
        decline = rng.integers(0, 3, n).tolist()
        failed_gap = rng.integers(30, 600, n).tolist()
        num, den = plan.price_factor
        unit = [half_up(p.cents * num, den) for p in PRODUCTS]
        export_ts = self.export_ts
        out: list[Order] = []
        for i in range(n):
            if is_new[i] or self.customers == 0:
                self.customers += 1
                cust = self.customers
            else:
                cust = 1 + int(returning[i] * self.customers)
            row_p, row_q = prods[i], qtys[i]
            items: list[tuple[int, int, int]] = []
            seen: list[int] = []
            for j in range(k_items[i]):
                p = row_p[j]
                if p not in seen:
                    seen.append(p)
                    items.append((p, row_q[j], unit[p]))
            pct = 0
            code = ""
            if disc[i]:
                code, pct = DISCOUNT_CODES[code_idx[i]]
            gross, discount, subtotal, shipping, tax1, tax2, total = price(items, pct, express[i])
            t0 = created[i]
            cancelled_at: int | None = t0 + cancel_delay[i] if cancel[i] else None
            if cancelled_at is not None and cancelled_at >= export_ts:
                cancelled_at = None
            fulfilled_at: int | None = t0 + fulfil_delay[i]
            if cancelled_at is not None or t0 + fulfil_delay[i] >= export_ts:
                fulfilled_at = None
            refund_cents, refunded_at = 0, None
            if cancelled_at is not None:
                refund_cents, refunded_at = total, cancelled_at
            elif refund[i] and t0 + refund_delay[i] < export_ts:
                refunded_at = t0 + refund_delay[i]
                refund_cents = total if full[i] else max(1, min(total - 1, int(total * part[i])))
            out.append(
                Order(
                    seq=self.next_seq,
                    day=plan.day,
                    created=t0,
                    customer=cust,
                    items=items,
                    code=code,
                    gross=gross,
                    discount=discount,
                    subtotal=subtotal,
                    express=express[i],
                    shipping=shipping,
                    tax1=tax1,
                    tax2=tax2,
                    total=total,
                    paypal=paypal[i],
                    paid_at=t0 + paid_delay[i],
                    fulfilled_at=fulfilled_at,
                    cancelled_at=cancelled_at,
                    refund=refund_cents,
                    refunded_at=refunded_at,
                    note=NOTES[note_idx[i]] if noted[i] else "",
                    failed_decline=decline[i] if failed[i] and not paypal[i] else None,
                    failed_at=t0 - failed_gap[i],
                )
            )
            self.next_seq += 1
        return out
