"""A client with generated exports (the project's own seeded generator), shared by cycle tests."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest

from chimera.clients import add_client
from chimera.demo.generator import ConversionDrop, DemoEvents, PriceTest, generate_store

START = date(2026, 1, 5)
DAYS = 112
AS_OF = START + timedelta(days=DAYS - 1)
_CACHE: dict[str, Path] = {}


def generated_exports(tmp_root: Path) -> Path:
    """Generate once per test session, copy per test (generation takes ~2 s)."""
    if "dir" not in _CACHE:
        out = tmp_root / "generated"
        generate_store(out, start=START, days=DAYS, seed=4242,
                       events=DemoEvents(price_test=PriceTest(day=60), conversion_drop=ConversionDrop(day=DAYS - 9)))
        _CACHE["dir"] = out
    return _CACHE["dir"]


def make_client(home: Path, tmp_root: Path, name: str = "shop") -> str:
    src = generated_exports(tmp_root)
    ctx = add_client(name)
    exports = ctx.folder / "exports"
    shutil.copytree(src, exports)
    (ctx.folder / "client.yml").write_text(
        f"name: {name}\nsources:\n"
        "  - {kind: shopify_orders, path: exports/orders_export.csv}\n"
        "  - {kind: stripe_payments, path: exports/stripe_payments.csv}\n"
        "  - {kind: analytics_daily, path: exports/analytics_daily.csv}\n",
        encoding="utf-8",
    )
    return name


@pytest.fixture
def shop(chimera_home: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    return make_client(chimera_home, tmp_path_factory.getbasetemp())
