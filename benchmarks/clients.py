"""Benchmark: the weekly cycle for N clients in one Postgres database (``chimera cycle --all``'s walk)
vs one client's cycle alone in a fresh database, in the same process.

Each client has its own seeded exports (the project's generator, its own seed and size: 84 days,
3 sources); its cycle ingests them, evaluates the KPIs, suggests plays and stops at the decisions.
Prints the wall time per client, the slowest and the first vs last tenth (does a client get slower as
the database fills with other clients?) and the ratio of the per-client time to the same clients'
time alone. Sizes repeat every 10 clients, so every tenth of the walk and the lone baseline (the
walk's last 10 clients, each first run alone in a fresh database) hold the same mix: a bigger store's cycle is slower
(ingest reads more orders), and an earlier version compared 30-36-orders-a-day lone clients and a
small first tenth with a fleet and last tenth twice their size, which read as the database slowing
down. Skips, saying so, when no Postgres answers. Run: python benchmarks/clients.py [N] (default 100).
"""

from __future__ import annotations

import os
import socket
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chimera.demo.generator import (
    ConversionDrop,
    DemoEvents,
    GeneratedStore,
    PriceTest,
    WeeklySeasonality,
    generate_store,
)

PG_URL = os.environ.get("CHIMERA_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
START = date(2026, 1, 5)
DAYS = 84
AS_OF = START + timedelta(days=DAYS - 1)
PRICE_TEST_DAY = 42
"""Each client ran a 10 % price test on this day of its window (its evidence is judged by AS_OF)."""
SOURCES = ("shopify_orders", "stripe_payments", "analytics_daily")
SIZES = 10
"""Client i sells ``orders_per_day(i)``: 10 sizes, repeated, so any 10 consecutive clients are alike."""


def orders_per_day(i: int) -> int:
    return 30 + 6 * (i % SIZES)


def seeded_client(name: str, root: Path, seed: int, orders_per_day: float) -> GeneratedStore:
    """A client whose client.yml points at its own freshly generated exports (no two alike)."""
    from chimera.clients import add_client

    ctx = add_client(name)
    store = generate_store(root / name, start=START, days=DAYS, seed=seed, orders_per_day=orders_per_day,
                           events=DemoEvents(weekly=WeeklySeasonality(), price_test=PriceTest(day=PRICE_TEST_DAY),
                                             conversion_drop=ConversionDrop(day=DAYS - 9)))
    (ctx.folder / "client.yml").write_text(f"name: {name}\nsources:\n" + "".join(
        f"  - {{kind: {kind}, path: {store.sources()[kind]}}}\n" for kind in SOURCES), encoding="utf-8")
    return store


def _pg_answers(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5432), timeout=1):
            return True
    except OSError:
        return False


@contextmanager
def fresh_database() -> Iterator[None]:
    """A new Postgres schema and CHIMERA_HOME for the block, dropped afterwards."""
    import psycopg

    from chimera.db.engine import dispose_all

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    os.environ["CHIMERA_HOME"] = tempfile.mkdtemp(prefix="chimera-bench-clients-")
    os.environ["CHIMERA_DATABASE_URL"] = f"{PG_URL}?options=-csearch_path%3D{schema}"
    dispose_all()
    try:
        yield
    finally:
        dispose_all()
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def _warm(root: Path) -> None:
    """One small untimed cycle in this database first: the checkpointer's tables, pooled connections
    and prepared statements exist, as in any database that has run a cycle before (a lone client in
    a fresh database otherwise paid them all, and a full database looked faster than an empty one)."""
    seeded_client("warmup", root / "warmup", seed=1, orders_per_day=30)
    _cycle("warmup")


def _cycle(name: str) -> float:
    from graphs.service import run_cycle

    t = time.perf_counter()
    outcome = run_cycle(name, as_of=AS_OF)
    assert outcome.status == "awaiting_decisions", (name, outcome.status)
    return time.perf_counter() - t


def main(n: int = 100, alone: int = SIZES) -> None:
    if not _pg_answers(PG_URL):
        print(f"skipped: no Postgres answers at {urlsplit(PG_URL).hostname}:{urlsplit(PG_URL).port or 5432} "
              "(set CHIMERA_BENCH_PG_URL)")
        return
    os.environ["CHIMERA_LLM"] = "offline"
    from chimera.cli.each_client import for_each_client

    root = Path(tempfile.mkdtemp(prefix="chimera-bench-exports-"))
    with fresh_database():  # imports, the SOP index
        _warm(root)
    twins = range(max(n - alone, 0), n)  # the walk's last clients (same seed, same size), here each alone
    lone = []
    for i in twins:
        with fresh_database():
            _warm(root)
            seeded_client(f"client-{i:03d}", root / "alone", seed=1000 + i, orders_per_day=orders_per_day(i))
            lone.append(_cycle(f"client-{i:03d}"))
    base = statistics.mean(lone)
    print(f"one client alone in its database: mean {base:.3f} s over {len(lone)} fresh (warmed) databases "
          f"(the walk's last {len(lone)} clients, {min(map(orders_per_day, twins))}-"
          f"{max(map(orders_per_day, twins))} orders a day)")

    with fresh_database():
        _warm(root)
        t = time.perf_counter()
        names = [f"client-{i:03d}" for i in range(n)]
        for i, name in enumerate(names):
            seeded_client(name, root, seed=1000 + i, orders_per_day=orders_per_day(i))
        print(f"{n} clients created with their own exports in {time.perf_counter() - t:.1f} s")
        t = time.perf_counter()
        walk = for_each_client(names, lambda name, _note: _cycle(name), "weekly cycle",
                               lambda _name, _seconds: "awaiting decisions")
        total = time.perf_counter() - t
    assert walk.ok, walk.failures
    each = [d.result for d in walk.done]
    tenth = max(n // 10, 1)
    per_client = total / n
    print(f"{n} clients on Postgres, one after another: {total:.1f} s, {per_client:.3f} s per client "
          f"(median {statistics.median(each):.3f} s, slowest {max(each):.3f} s)")
    print(f"first tenth {statistics.median(each[:tenth]):.3f} s vs last tenth {statistics.median(each[-tenth:]):.3f} s "
          "per client (medians: one cycle slowed by another process on the machine moves a mean)")
    paired = [each[i] / t for i, t in zip(twins, lone, strict=True)]
    print(f"ratio per client with {n} clients / one client alone: {per_client / base:.2f} "
          f"(the last {len(paired)} clients, each vs itself alone: median {statistics.median(paired):.2f})")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100)
