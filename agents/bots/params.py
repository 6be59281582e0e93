"""Value checks for step parameters, shared by the bots (which read them) and the decision (which
refuses an override before anything is recorded): a value a bot cannot use would otherwise be
stored as the human's choice and then fail, or be replaced by a default, when the play runs."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

Check = Callable[[Any], str | None]
"""A value check: None when the bot can use the value, else what is wrong (for one refusal line)."""

SELLERS = re.compile(r"^top_sellers_by_units_(\d+)d$")
PAIRS = re.compile(r"^top_co_purchased_pairs_(\d+)d$")
AOV_FORMULA = re.compile(r"^aov_x_(\d+)_(\d+)(_rounded)?$")


def number(value: Any) -> Decimal | None:
    """The value as a Decimal (an int, a float or numeric text), or None."""
    if isinstance(value, bool):
        return None
    try:
        out = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return out if out.is_finite() else None


def whole(value: Any) -> str | None:
    """A count of things (products, variants): a whole number of at least 1."""
    n = number(value)
    return None if n is not None and n == n.to_integral_value() and n >= 1 else "a whole number of at least 1"


def pct(value: Any) -> str | None:
    """A percentage change (may be negative: a price test can lower prices), never below -100: a
    price or a budget cut by more than all of it would be below zero."""
    n = number(value)
    return None if n is not None and n >= -100 else "a number (percent) of at least -100"


def non_negative(value: Any) -> str | None:
    return None if (n := number(value)) is not None and n >= 0 else "a number of at least 0"


def percent_off(value: Any) -> str | None:
    """A discount: 0 to 100 percent off (more than 100 % off is a price below zero)."""
    n = number(value)
    return None if n is not None and 0 <= n <= 100 else "a number (percent off) from 0 to 100"


def text(value: Any) -> str | None:
    return None if isinstance(value, str) and value.strip() else "non-empty text"


def texts(value: Any) -> str | None:
    """A list of names (packages, questions)."""
    ok = isinstance(value, list) and value and all(isinstance(v, str) and v.strip() for v in value)
    return None if ok else "a non-empty list of texts"


def texts_or_source(value: Any) -> str | None:
    """A list of texts, or the name of where a person finds them (``from_cancellations_60d``)."""
    return texts(value) if isinstance(value, list) else text(value)


def products(value: Any) -> str | None:
    """Which products a step works on: a selector the bots compute from the Shopify export, or a
    name a person resolves (``top_viewed_30d``: no export carries product views)."""
    return text(value)


def threshold(value: Any) -> str | None:
    """An amount (the override's own), or the plan's ``aov_x_<a>_<b>_rounded`` (a.b x the 28-day AOV)."""
    if isinstance(value, str) and AOV_FORMULA.match(value):
        return None
    n = number(value)
    return None if n is not None and n > 0 else "an amount above 0, or aov_x_<a>_<b>_rounded"


def cap_of(key: str) -> str | None:
    """``max_change_pct`` caps ``change_pct``; None for a key that is no cap."""
    return key[4:] if key.startswith("max_") and len(key) > 4 else None
