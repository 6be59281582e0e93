"""The per-client file ``client.yml``: where its data comes from and how to read it."""

from __future__ import annotations

from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from chimera.config.models import Strict

SourceKind = Literal["shopify_orders", "stripe_payments", "analytics_daily", "fiverr_orders"]


class Source(Strict):
    kind: SourceKind
    """Export kind."""
    path: str
    """File path, relative to the client's config folder or absolute."""


class FiverrMapping(Strict):
    """Column names of the client's Fiverr export (Fiverr documents no layout)."""

    date: str
    """Column with the order date."""
    amount: str
    """Column with the order amount / earnings."""
    status: str
    """Column with the order status (completed, cancelled, in progress, ...)."""
    order_id: str | None = None
    """Column with the order id (used to de-duplicate)."""
    date_format: str = "%Y-%m-%d"
    """strptime format of the date column."""
    delivered_on_time: str | None = None
    """Optional column (true/false) saying the order was delivered on time."""
    response_hours: str | None = None
    """Optional column with hours to first response for the order's inquiry."""
    completed_values: list[str] = ["completed"]
    """Status values meaning completed (case-insensitive)."""
    cancelled_values: list[str] = ["cancelled", "canceled"]
    """Status values meaning cancelled (case-insensitive)."""


class ShopifyAPI(Strict):
    shop_url: str
    """https://<shop>.myshopify.com (or a local test server)."""
    token_env: str = "SHOPIFY_ACCESS_TOKEN"
    """Environment variable holding the Admin API access token."""
    api_version: str = "2025-01"
    """Admin API version."""


class StripeAPI(Strict):
    api_base: str = "https://api.stripe.com"
    """Stripe API base URL (or a local test server)."""
    key_env: str = "STRIPE_API_KEY"
    """Environment variable holding the secret key."""


class Connectors(Strict):
    shopify: ShopifyAPI | None = None
    """Shopify Admin API orders connector."""
    stripe: StripeAPI | None = None
    """Stripe charges connector."""


class ClientConfig(Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    """Client name (folder name)."""
    label: str = ""
    """Business name shown to people."""
    currency: str = "USD"
    """Reporting currency."""
    timezone: str = "UTC"
    """Store timezone (IANA name, e.g. America/New_York): tells when a day has ended, so that a day
    still in progress when its export was ingested is not judged by default (Shopify timestamps
    carry their own offset for the days themselves)."""
    sources: list[Source] = []
    """Exports ingested by INGEST_METRICS in each cycle."""
    fiverr: FiverrMapping | None = None
    """Column mapping of the Fiverr export."""
    connectors: Connectors = Connectors()
    """API pulls."""

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        if name.upper() == "UTC":
            return name
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("unknown timezone (an IANA name such as America/New_York)") from None
        return name
