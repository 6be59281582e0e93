"""The per-client file ``client.yml``: where its data comes from and how to read it."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationInfo, field_validator, model_validator

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

    COLUMNS: ClassVar[tuple[str, ...]] = ("date", "amount", "status", "order_id", "delivered_on_time",
                                          "response_hours")

    @field_validator(*COLUMNS)
    @classmethod
    def _named(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("empty: name the export's column (as its header writes it)")
        return value

    @field_validator("date_format")
    @classmethod
    def _reads_a_day(cls, fmt: str) -> str:
        """The format ingest reads dates with (polars' chrono syntax) must give back a whole date."""
        import polars as pl  # ingest's own parser: a format it accepts is accepted here

        sample = datetime(2026, 11, 23, 14, 5, 6)  # noqa: DTZ001 - export dates are naive, as here
        try:
            text = pl.Series([sample]).dt.strftime(fmt)
            timed = any(t in fmt for t in ("%H", "%I", "%M", "%S"))
            back = text.str.to_datetime(fmt, strict=False).dt.date() if timed else text.str.to_date(fmt, strict=False)
        except Exception:  # polars raises its own error kinds for an unknown directive
            raise ValueError("not a date format (like %Y-%m-%d or %d/%m/%Y)") from None
        if back[0] != sample.date():
            raise ValueError("must carry year, month and day (like %Y-%m-%d or %d/%m/%Y)")
        return fmt

    @model_validator(mode="after")
    def _distinct(self) -> FiverrMapping:
        mapped: dict[str, list[str]] = {}
        for name in self.COLUMNS:
            if (column := getattr(self, name)) is not None:
                mapped.setdefault(column, []).append(name)
        for column, names in mapped.items():
            if len(names) > 1:
                raise ValueError(f"column {column!r} is mapped twice ({', '.join(names)}): each field reads its "
                                 "own column")
        done = {v.strip().lower() for v in self.completed_values}
        both = [v for v in self.cancelled_values if v.strip().lower() in done]
        if both:
            raise ValueError(f"{both[0].strip().lower()!r} is both completed and cancelled (completed_values, "
                             "cancelled_values): an order is one or the other")
        return self


# Connector settings name where a credential lives; they never hold one. A value that looks like a
# key (or a URL with ``user:pass@``) is refused without being repeated: the loader's message shows
# ``***`` in its place (``_Hidden``), so the secret reaches no terminal, log or CI output.
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SECRET_PREFIXES = ("sk_", "rk_", "pk_", "whsec_", "shpat_", "shppa_", "shpca_", "shpss_", "ghp_", "github_pat_",
                   "xox", "glpat-", "ya29.", "eyJ")
SECRET_IN_ENV = ("holds what looks like a secret, not a variable name: put the key in the environment and "
                 "name the variable here")
SECRET_IN_URL = ("carries a user name or password (user:pass@host): remove it, put the key in the environment "
                 "and name the variable in {field}")


class _Hidden(dict):
    """Stands in for a refused secret during validation: shown as ``***``, never as the value."""

    def __repr__(self) -> str:
        return "'***'"

    __str__ = __repr__


def looks_like_secret(value: str) -> bool:
    """Not an environment variable name, or a name shaped like an API key (known prefixes; a long run
    of letters and digits without ``_``)."""
    if not ENV_NAME_RE.match(value):
        return True
    if value.startswith(SECRET_PREFIXES):
        return True
    return len(value) >= 24 and "_" not in value and any(c.isdigit() for c in value) and any(
        c.isalpha() for c in value)


def has_userinfo(url: str) -> bool:
    """``scheme://user:pass@host...``: credentials written into the URL."""
    rest = url.split("://", 1)[1] if "://" in url else url
    return "@" in rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]


class _NamesCredential(Strict):
    """A connector whose ``ENV_FIELD`` names the credential's variable and ``URL_FIELD`` is its API's
    URL: a key in the one or ``user:pass@`` in the other is refused, shown as ``***``."""

    ENV_FIELD: ClassVar[str]
    URL_FIELD: ClassVar[str]

    @model_validator(mode="before")
    @classmethod
    def _hide(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        hidden = dict(data)
        if isinstance(hidden.get(cls.ENV_FIELD), str) and looks_like_secret(hidden[cls.ENV_FIELD].strip()):
            hidden[cls.ENV_FIELD] = _Hidden()
        if isinstance(hidden.get(cls.URL_FIELD), str) and has_userinfo(hidden[cls.URL_FIELD]):
            hidden[cls.URL_FIELD] = _Hidden(field=cls.ENV_FIELD)
        return hidden

    @field_validator("*", mode="before")
    @classmethod
    def _refuse(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, _Hidden):
            if "field" in value:
                raise ValueError(f"{info.field_name} " + SECRET_IN_URL.format(field=value["field"]))
            raise ValueError(f"{info.field_name} {SECRET_IN_ENV}")
        if info.field_name in (cls.ENV_FIELD, cls.URL_FIELD) and isinstance(value, str):
            return value.strip()
        return value


class ShopifyAPI(_NamesCredential):
    ENV_FIELD: ClassVar[str] = "token_env"
    URL_FIELD: ClassVar[str] = "shop_url"

    shop_url: str
    """https://<shop>.myshopify.com (or a local test server)."""
    token_env: str = "SHOPIFY_ACCESS_TOKEN"
    """Environment variable holding the Admin API access token."""
    api_version: str = "2025-01"
    """Admin API version."""


class StripeAPI(_NamesCredential):
    ENV_FIELD: ClassVar[str] = "key_env"
    URL_FIELD: ClassVar[str] = "api_base"

    api_base: str = "https://api.stripe.com"
    """Stripe API base URL (or a local test server)."""
    key_env: str = "STRIPE_API_KEY"
    """Environment variable holding the secret key."""


class Connectors(Strict):
    shopify: ShopifyAPI | None = None
    """Shopify Admin API orders connector."""
    stripe: StripeAPI | None = None
    """Stripe charges connector."""


CURRENCY_RE = re.compile(r"^[A-Za-z]{3}$")
CURRENCY_WORDS = {"$": "USD", "us$": "USD", "dollar": "USD", "€": "EUR", "euro": "EUR", "£": "GBP", "pound": "GBP",
                  "¥": "JPY", "yen": "JPY", "₹": "INR", "rupee": "INR"}
"""What people write for a currency, by its name or sign (lower case, without a plural s)."""


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

    @field_validator("currency")
    @classmethod
    def _iso_code(cls, code: str) -> str:
        """A 3-letter ISO 4217 code, upper case: ``dollars`` or ``€`` was taken as written, read as a
        2-decimal currency (a yen store's prices and targets in hundredths) and shown as the code."""
        written = code.strip()
        word = written.lower()
        named = CURRENCY_WORDS.get(word.removesuffix("s") if len(word) > 3 else word)
        if CURRENCY_RE.match(written) and not named:  # `yen` is three letters, and not JPY
            return written.upper()
        raise ValueError("expected a 3-letter ISO 4217 code, like USD, EUR or JPY"
                         + (f" (write {named})" if named else ""))

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        if name.upper() == "UTC":
            return name
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone (an IANA name such as America/New_York{_zone_hint(name)})") from None
        return name


def _zone_hint(name: str) -> str:
    """``; did you mean 'Europe/Paris'?`` for a misspelt Region/City; an abbreviation (PST, CET) gets
    no near name, as ``PST`` is not ``EST``: a Region/City says which rules apply (daylight saving)."""
    import difflib
    from zoneinfo import available_timezones

    if "/" not in name:
        return ", not an abbreviation or an offset"
    match = difflib.get_close_matches(name, sorted(z for z in available_timezones() if "/" in z), n=1, cutoff=0.8)
    return f"; did you mean {match[0]!r}?" if match else ""
