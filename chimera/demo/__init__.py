"""Seeded demo data: the project's own exports in the real exporters' layouts (DATA.md "Sample data")."""

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
    "GeneratedStore",
    "LargeExport",
    "PriceTest",
    "RefundSpike",
    "WeeklySeasonality",
    "generate_large_shopify",
    "generate_store",
]
