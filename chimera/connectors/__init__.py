"""API pulls (Shopify Admin orders, Stripe charges) into the same daily metrics as the exports."""

from chimera.connectors.shopify_api import pull_shopify
from chimera.connectors.stripe_api import pull_stripe

__all__ = ["pull_shopify", "pull_stripe"]
