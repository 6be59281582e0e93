"""A large synthetic client for benchmarks: N KPIs, P plays, D days of daily metrics, no exports.

KPIs and plays beyond the base set are copies of base ones under new ids (different windows), so
the configs stay valid and every formula reads real metrics.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

import yaml
from sqlalchemy import insert

from chimera.clients import add_client, get_client
from chimera.db.engine import get_engine
from chimera.db.models import MetricPoint

METRICS = {
    "orders_placed": (70, 8), "orders": (68, 8), "cancelled_orders": (2, 1), "units": (115, 12),
    "gross_sales": (2600, 300), "discounts": (45, 10), "net_sales": (2555, 290), "shipping": (400, 40),
    "taxes": (220, 25), "total_sales": (3175, 330), "refunded_orders": (2, 1), "refunded_amount": (80, 25),
    "net_revenue": (3095, 330), "sessions": (2800, 200), "users": (2300, 170), "ga_transactions": (66, 8),
    "ga_revenue": (3000, 320), "stripe_payments": (72, 8), "stripe_succeeded_payments": (69, 8),
    "stripe_failed_payments": (3, 1), "stripe_gross": (3100, 320), "stripe_fees": (100, 10),
    "stripe_refunded": (75, 20), "fiverr_orders": (3, 1), "fiverr_completed": (3, 1), "fiverr_cancelled": (0, 0),
    "fiverr_earnings": (240, 40), "fiverr_delivered": (3, 1), "fiverr_delivered_on_time": (3, 1),
    "fiverr_inquiries": (5, 1), "fiverr_responded_24h": (5, 1),
}
WINDOWS = ["7d", "14d", "28d"]


def build(name: str, kpis: int, plays: int, days: int, end: date, seed: int = 7) -> str:
    ctx = add_client(name)
    kdoc = yaml.safe_load((ctx.folder / "kpis.yml").read_text())
    pdoc = yaml.safe_load((ctx.folder / "plays.yml").read_text())
    base_k, base_p = kdoc["kpis"], pdoc["plays"]
    i = 0
    while len(kdoc["kpis"]) < kpis:
        src = dict(base_k[i % len(base_k)])
        if src["formula"] != "repeat_purchase_rate":
            src.update(id=f"{src['id']}_v{i}", window=WINDOWS[i % len(WINDOWS)], drivers=[])
            kdoc["kpis"].append(src)
        i += 1
    i = 0
    while len(pdoc["plays"]) < plays:
        src = dict(base_p[i % len(base_p)])
        src["id"] = f"{src['id']}_v{i}"
        pdoc["plays"].append(src)
        i += 1
    (ctx.folder / "kpis.yml").write_text(yaml.safe_dump(kdoc, sort_keys=False))
    (ctx.folder / "plays.yml").write_text(yaml.safe_dump(pdoc, sort_keys=False))
    company_id = get_client(name).company_id
    rng = random.Random(seed)
    rows = []
    for d in range(days):
        day = end - timedelta(days=days - 1 - d)
        for metric, (mean, sd) in METRICS.items():
            value = max(0, rng.gauss(mean, sd))
            rows.append({"company_id": company_id, "metric": metric, "day": day, "source": "bench",
                         "value": str(Decimal(value).quantize(Decimal("0.01")))})
    with get_engine().begin() as conn:
        conn.execute(insert(MetricPoint), rows)
    return name
