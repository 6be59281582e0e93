"""Seeded demo data: the project's own exports in the real exporters' layouts (DATA.md "Sample data")."""

from chimera.demo.demo_client import DemoInfo, ensure_demo_client, generate_demo_exports
from chimera.demo.generator import (
    AnalyticsGap,
    ConversionDrop,
    DemoEvents,
    GeneratedStore,
    PriceTest,
    RefundSpike,
    WeeklySeasonality,
    generate_store,
)
from chimera.demo.large import LargeExport, generate_large_shopify

__all__ = [
    "AnalyticsGap",
    "ConversionDrop",
    "DemoEvents",
    "DemoInfo",
    "GeneratedStore",
    "LargeExport",
    "PriceTest",
    "RefundSpike",
    "WeeklySeasonality",
    "ensure_demo_client",
    "generate_demo_exports",
    "generate_large_shopify",
    "generate_store",
]
