"""Ingest speed: 1,000,000 Shopify rows through ``ingest_file`` vs a bare polars read + group-by.

    python benchmarks/ingest.py [--rows 1000000] [--keep FILE]

Writes a seeded, realistic export (all 79 columns, multi-line quoted Notes, DST offsets, a few
malformed rows), then times each side in its own subprocess and reads its peak RSS from
``resource.getrusage`` (tracemalloc cannot see polars' Rust allocations). Budget: ours <= 2.0x
the baseline's wall time, peak memory < 1 GB. The best of ``--repeat`` runs counts on each side.
``process_s`` also times whole processes (``chimera ingest --json`` against the baseline's child),
start-up included: the CLI's imports (sqlmodel, typer, rich) are its fixed cost, outside the budget.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl

COLUMNS = (
    "Name,Email,Financial Status,Paid at,Fulfillment Status,Fulfilled at,Accepts Marketing,Currency,Subtotal,"
    "Shipping,Taxes,Total,Discount Code,Discount Amount,Shipping Method,Created at,Lineitem quantity,"
    "Lineitem name,Lineitem price,Lineitem compare at price,Lineitem sku,Lineitem requires shipping,"
    "Lineitem taxable,Lineitem fulfillment status,Billing Name,Billing Street,Billing Address1,Billing Address2,"
    "Billing Company,Billing City,Billing Zip,Billing Province,Billing Country,Billing Phone,Shipping Name,"
    "Shipping Street,Shipping Address1,Shipping Address2,Shipping Company,Shipping City,Shipping Zip,"
    "Shipping Province,Shipping Country,Shipping Phone,Notes,Note Attributes,Cancelled at,Payment Method,"
    "Payment Reference,Refunded Amount,Vendor,Outstanding Balance,Employee,Location,Device ID,Id,Tags,"
    "Risk Level,Source,Lineitem discount,Tax 1 Name,Tax 1 Value,Tax 2 Name,Tax 2 Value,Tax 3 Name,Tax 3 Value,"
    "Tax 4 Name,Tax 4 Value,Tax 5 Name,Tax 5 Value,Phone,Receipt Number,Duties,Billing Province Name,"
    "Shipping Province Name,Payment ID,Payment Terms Name,Next Payment Due At,Payment References"
).split(",")
NEEDED = ["Name", "Email", "Financial Status", "Created at", "Cancelled at", "Subtotal", "Shipping", "Taxes",
          "Total", "Discount Amount", "Refunded Amount", "Lineitem quantity", "Lineitem price", "Currency"]
PRICES = np.array([750, 1600, 1600, 2100, 3600, 2400, 1250, 4500])
SKUS = np.array(["JF-FILTERS-100", "JF-BEAN-HOUSE-WB", "JF-BEAN-HOUSE-GR", "JF-BEAN-ETH-WB", "JF-SCALE",
                 "JF-DRIP-CONE", "JF-MUG", "JF-GRINDER"])


def _money(cents: np.ndarray) -> pl.Series:
    c = pl.Series(np.asarray(cents, dtype=np.int64))
    return pl.select(
        pl.when(c < 0).then(pl.lit("-")).otherwise(pl.lit(""))
        + (c.abs() // 100).cast(pl.String) + "." + (c.abs() % 100).cast(pl.String).str.pad_start(2, "0")
    ).to_series()


def _fmt(template: str, values: np.ndarray, width: int = 0) -> pl.Series:
    text = pl.Series(np.asarray(values, dtype=np.int64)).cast(pl.String)
    return pl.select(pl.format(template, text.str.pad_start(width, "0") if width else text)).to_series()


def _stamp(seconds: np.ndarray, start: datetime) -> pl.Series:
    """Store-local `YYYY-MM-DD HH:MM:SS -0500/-0400` (US Eastern DST rules for 2024-2026)."""
    dst = [(datetime(y, 3, 8 + (6 - datetime(y, 3, 8).weekday()) % 7, 2),
            datetime(y, 11, 1 + (6 - datetime(y, 11, 1).weekday()) % 7, 2)) for y in range(2024, 2028)]
    base = pl.Series(seconds).cast(pl.Int64) * 1_000_000
    local = (pl.lit(start).cast(pl.Datetime("us")) + pl.duration(microseconds=pl.lit(base)))
    frame = pl.select(local.alias("t"))
    in_dst = pl.lit(False)
    for begin, end in dst:
        in_dst = in_dst | pl.col("t").is_between(begin, end, closed="left")
    out = frame.select(pl.col("t").dt.strftime("%Y-%m-%d %H:%M:%S") + pl.when(in_dst).then(pl.lit(" -0400"))
                       .otherwise(pl.lit(" -0500")))
    return out.to_series()


def generate(path: Path, rows: int = 1_000_000, seed: int = 20260501, bad_every: int = 200_000) -> dict:
    """A seeded Shopify orders export with exactly ``rows`` line-item rows; returns its facts."""
    rng = np.random.Generator(np.random.PCG64(seed))
    items = rng.choice([1, 1, 1, 2, 2, 3, 4], size=rows)
    ends = np.cumsum(items)
    n_orders = int(np.searchsorted(ends, rows)) + 1
    items = items[:n_orders]
    items[-1] -= int(ends[n_orders - 1] - rows)
    order_of_row = np.repeat(np.arange(n_orders), items)
    first = np.r_[True, order_of_row[1:] != order_of_row[:-1]]
    start = datetime(2024, 1, 1)
    seconds = np.sort(rng.integers(0, 86400 * max(1, n_orders // 1500), size=n_orders))
    product = rng.integers(0, len(PRICES), size=rows)
    qty = rng.choice([1, 1, 1, 2, 3], size=rows)
    price = PRICES[product]
    gross = np.bincount(order_of_row, weights=price * qty, minlength=n_orders).astype(np.int64)
    discount = np.where(rng.random(n_orders) < 0.15, gross // 10, 0)
    subtotal = gross - discount
    shipping = np.where(subtotal >= 5000, 0, 595)
    taxes = subtotal * 8875 // 100000
    total = subtotal + shipping + taxes
    cancelled = rng.random(n_orders) < 0.012
    refunded = np.where(cancelled, total, np.where(rng.random(n_orders) < 0.03, total // 2, 0))
    customers = rng.zipf(1.6, size=n_orders) % (n_orders // 3 + 1)
    o = order_of_row
    blank = pl.lit(None, pl.String)

    def order_level(values: pl.Series) -> pl.Expr:
        return pl.when(pl.Series(first)).then(pl.lit(values)).otherwise(blank)

    created = _stamp(seconds, start)
    notes = np.where(rng.random(n_orders) < 0.02, "Leave at the side door,\nthanks", "")
    cols = dict.fromkeys(COLUMNS, blank)
    cols |= {
        "Name": pl.lit(_fmt("#{}", o + 1001)),
        "Email": pl.lit(_fmt("customer{}@example.com", customers[o], 6)),
        "Financial Status": order_level(pl.Series(np.where(refunded > 0, "refunded", "paid")[o])),
        "Currency": order_level(pl.Series(["USD"] * rows)),
        "Subtotal": order_level(_money(subtotal[o])), "Shipping": order_level(_money(shipping[o])),
        "Taxes": order_level(_money(taxes[o])), "Total": order_level(_money(total[o])),
        "Discount Amount": order_level(_money(discount[o])),
        "Refunded Amount": order_level(_money(refunded[o])),
        "Created at": pl.lit(created.gather(o)),
        "Cancelled at": order_level(pl.select(pl.when(pl.Series(cancelled)).then(created)).to_series().gather(o)),
        "Lineitem quantity": pl.lit(pl.Series(qty.astype(str))),
        "Lineitem price": pl.lit(_money(price)), "Lineitem sku": pl.lit(pl.Series(SKUS[product])),
        "Lineitem name": pl.lit(pl.Series(SKUS[product])), "Vendor": pl.lit("Alder & Moss"),
        "Billing Name": order_level(_fmt("Kai Merriweather {}", customers[o])),
        "Billing Street": order_level(pl.Series(["38 Example St"] * rows)),
        "Billing City": order_level(pl.Series(["Burlington"] * rows)),
        "Billing Zip": order_level(pl.Series(["'05428"] * rows)),
        "Shipping Name": order_level(_fmt("Kai Merriweather {}", customers[o])),
        "Shipping Street": order_level(pl.Series(["38 Example St"] * rows)),
        "Notes": order_level(pl.Series(notes[o])),
        "Tax 1 Name": order_level(pl.Series(["NY State Tax 4%"] * rows)),
        "Payment References": order_level(_fmt("#{}.1", o + 1001)),
    }
    df = pl.select(**cols)
    bad_rows = list(range(bad_every // 2, rows, bad_every)) if bad_every else []
    if bad_rows:
        mask = pl.Series(np.isin(np.arange(rows), bad_rows))
        df = df.with_columns(pl.when(mask).then(pl.lit("-1")).otherwise(pl.col("Lineitem quantity"))
                             .alias("Lineitem quantity"))
    df.write_csv(path)
    return {"rows": rows, "orders": n_orders, "bad_rows": len(bad_rows), "bytes": path.stat().st_size}


def run_ours(path: Path) -> dict:
    home = Path(tempfile.mkdtemp(prefix="chimera-bench-"))
    os.environ["CHIMERA_HOME"] = str(home)
    from chimera.clients import add_client
    from chimera.ingest import ingest_file

    client = add_client("bench")
    t0, c0 = time.perf_counter(), time.process_time()
    summary = ingest_file(client, path, kind="shopify_orders")
    return {"seconds": time.perf_counter() - t0, "cpu_s": time.process_time() - c0, "orders": summary.orders_ingested,
            "rejected": len(summary.rejected), "metrics": summary.metrics_written}


def run_baseline(path: Path) -> dict:
    t0, c0 = time.perf_counter(), time.process_time()
    money = ["Subtotal", "Shipping", "Taxes", "Total", "Discount Amount", "Refunded Amount"]
    daily = (
        pl.scan_csv(path, infer_schema=False).select(NEEDED)
        .with_columns(pl.col("Created at").str.slice(0, 10).alias("day"))
        .group_by("day")
        .agg(pl.col("Name").n_unique().alias("orders"), pl.col("Lineitem quantity").cast(pl.Int64).sum(),
             *(pl.col(c).cast(pl.Float64).sum() for c in money))
        .collect()
    )
    return {"seconds": time.perf_counter() - t0, "cpu_s": time.process_time() - c0, "days": daily.height}


def _child(side: str, path: Path) -> dict:
    import resource

    result = run_ours(path) if side == "ours" else run_baseline(path)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def _spawn(side: str, path: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", side, str(path)], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _timed(cmd: list[str], env: dict[str, str] | None = None) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env=env)
    return time.perf_counter() - t0


def _processes(path: Path) -> tuple[float, float]:
    """Whole processes, start-up included: ``chimera ingest --json`` and the baseline's child."""
    env = {**os.environ, "CHIMERA_HOME": tempfile.mkdtemp(prefix="chimera-bench-cli-")}
    subprocess.run([sys.executable, "-m", "chimera.cli", "client", "add", "bench"], check=True,
                   capture_output=True, env=env)
    cli = _timed([sys.executable, "-m", "chimera.cli", "ingest", str(path), "--client", "bench", "--json"], env)
    return cli, _timed([sys.executable, __file__, "--child", "baseline", str(path)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="reuse/keep the generated export at this path")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--bad-every", type=int, default=200_000, help="one malformed row per N (0: none)")
    parser.add_argument("--child", nargs=2, metavar=("SIDE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child[0], Path(args.child[1]))))
        return
    path = args.keep or Path(tempfile.mkdtemp()) / "orders_export.csv"
    if not path.exists():
        t0 = time.perf_counter()
        facts = generate(path, args.rows, bad_every=args.bad_every)
        print(f"generated {facts} in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    runs = [(_spawn("baseline", path), _spawn("ours", path)) for _ in range(args.repeat)]
    procs = [_processes(path) for _ in range(args.repeat)]
    base = min(r[0]["seconds"] for r in runs)
    ours = min(r[1]["seconds"] for r in runs)
    report = {
        "rows": args.rows, "file_mb": round(path.stat().st_size / 2**20, 1),
        "baseline_s": round(base, 3), "ours_s": round(ours, 3), "ratio": round(ours / base, 2),
        "cpu_ratio": round(min(r[1]["cpu_s"] for r in runs) / min(r[0]["cpu_s"] for r in runs), 2),
        "runs": [[round(b["seconds"], 3), round(o["seconds"], 3)] for b, o in runs],
        "baseline_peak_mb": round(max(r[0]["peak_rss_mb"] for r in runs)),
        "ours_peak_mb": round(max(r[1]["peak_rss_mb"] for r in runs)),
        "ours": runs[-1][1], "budget": "ratio <= 2.0, ours_peak_mb < 1024",
        "process_s": {"chimera_ingest_cli": round(min(c for c, _ in procs), 3),
                      "baseline": round(min(b for _, b in procs), 3),
                      "ratio": round(min(c for c, _ in procs) / min(b for _, b in procs), 2),
                      "note": "whole processes, start-up included (Python, and for the CLI its imports)"},
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
