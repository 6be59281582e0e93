"""Ingest speed: 1,000,000 Shopify rows through ``ingest_file`` vs a bare polars read + group-by.

    python benchmarks/ingest.py [--rows 1000000] [--keep FILE]

Writes a seeded, realistic export with the project's generator (all 79 columns, multi-line quoted
Notes, DST offsets, a few malformed rows), then times each side in its own subprocess and reads its peak RSS from
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
from pathlib import Path

import polars as pl

NEEDED = ["Name", "Email", "Financial Status", "Created at", "Cancelled at", "Subtotal", "Shipping", "Taxes",
          "Total", "Discount Amount", "Refunded Amount", "Lineitem quantity", "Lineitem price", "Currency"]


def generate(path: Path, rows: int = 1_000_000, seed: int = 20260501, bad_every: int = 200_000) -> dict:
    """The project's own seeded generator (``chimera.demo.generate_large_shopify``): real simulated
    orders in Shopify's full 79-column layout, quoted multi-line notes, DST offsets, and one
    malformed row (negative quantity) per ``bad_every`` rows."""
    from chimera.demo import generate_large_shopify

    big = generate_large_shopify(path, rows=rows, seed=seed, malformed_every=bad_every)
    return {"rows": big.rows, "orders": big.orders, "bad_rows": len(big.malformed_lines),
            "bytes": path.stat().st_size}


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
