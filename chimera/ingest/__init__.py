"""Exports and API pulls -> daily MetricPoints and CustomerDays (DATA.md, DESIGN.md §4).

Public entry points: ``ingest_file`` (a CSV export), ``chimera.connectors.pull_shopify`` /
``pull_stripe`` (API pulls). Both parse fully in memory, then write one transaction that replaces
the covered days of their source.
"""

from chimera.ingest.models import KINDS, Aggregate, IngestSummary, Rejection
from chimera.ingest.service import ingest_file, parse_file, store_aggregate

__all__ = ["KINDS", "Aggregate", "IngestSummary", "Rejection", "ingest_file", "parse_file", "store_aggregate"]
