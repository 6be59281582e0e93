"""The demo store's catalogue and its fake people, all derived from small fixed tables.

A customer's name, address and phone are a pure function of the customer number, so a generator
of any size keeps no per-customer state (constant memory) and a repeat customer looks the same on
every order. Emails use example.com, phones the 555-01xx fiction range: nothing here is real.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

STORE_NAME = "Juniper & Flint Coffee Co."
VENDOR = "Juniper & Flint"
DESCRIPTOR = "JUNIPERFLINT"
CURRENCY = "USD"


class Product(NamedTuple):
    sku: str
    name: str
    cents: int
    weight: float


PRODUCTS: tuple[Product, ...] = (
    Product("JF-BEAN-HOUSE-WB", "House Blend Beans 12oz - Whole Bean", 1600, 0.22),
    Product("JF-BEAN-HOUSE-GR", "House Blend Beans 12oz - Ground", 1600, 0.14),
    Product("JF-BEAN-ETH-WB", "Single Origin Ethiopia 12oz - Whole Bean", 2100, 0.14),
    Product("JF-BEAN-DECAF-WB", "Swiss Water Decaf 12oz - Whole Bean", 1800, 0.07),
    Product("JF-FILTERS-100", "Paper Filters (100)", 750, 0.13),
    Product("JF-DRIP-CONE", "Ceramic Drip Cone", 2800, 0.07),
    Product("JF-MUG-STONE", "Stoneware Mug - Sand", 1800, 0.09),
    Product("JF-SCALE", "Brew Scale", 3600, 0.05),
    Product("JF-KETTLE-GOOSE", "Gooseneck Kettle - Matte Black", 4900, 0.05),
    Product("JF-GRINDER-HAND", "Hand Burr Grinder", 6400, 0.04),
)
PRODUCT_WEIGHTS = tuple(p.weight / sum(q.weight for q in PRODUCTS) for p in PRODUCTS)

DISCOUNT_CODES: tuple[tuple[str, int], ...] = (("WELCOME10", 10), ("SAVE15", 15), ("VIP20", 20))
SHIPPING: tuple[tuple[str, int], ...] = (("Standard Shipping", 595), ("Express Shipping", 1295))
TAXES: tuple[tuple[str, int, int], ...] = (
    ("NY State Tax 4%", 4000, 100000),
    ("New York City Tax 4.875%", 4875, 100000),
)
"""(name, numerator, denominator): tax = Subtotal x numerator / denominator, half-up to the cent."""

NOTES: tuple[str, ...] = (
    "Leave at the side door, thanks",
    'Ring bell twice, "B" unit',
    "Gift - please no receipt",
    "Happy birthday, Sam!\nFrom all of us at the studio",
    "Please grind medium-fine\nfor a V60, thank you",
)
"""Order notes; the last two hold a newline, as real notes do (the field is then quoted)."""

FIRST = (
    "Avery", "Jordan", "Rowan", "Harper", "Logan", "Sage", "Taylor", "Kai", "Morgan", "Riley",
    "Quinn", "Emerson", "Parker", "Reese", "Dakota", "Skyler", "Finley", "Hayden", "Jamie", "Casey",
    "Alex", "Drew", "Elliot", "Frankie", "Jules", "Marlow", "Noel", "Remy", "Shay", "Tatum",
)  # fmt: skip
LAST = (
    "Fairbanks", "Merriweather", "Carrow", "Dunmore", "Pembrook", "Ingram", "Redfern", "Ashby",
    "Blackwood", "Calloway", "Delacroix", "Ellery", "Fenwick", "Galloway", "Hartwell", "Islay",
    "Jessup", "Kingsley", "Lockhart", "Montrose", "Northcott", "Oakes", "Prescott", "Quimby",
    "Radcliffe", "Sterling", "Thorne", "Underhill", "Vance", "Whitlock",
)  # fmt: skip
STREETS = ("St", "Ave", "Rd", "Ln", "Blvd", "Way")


class City(NamedTuple):
    name: str
    province: str
    province_name: str
    zip_base: int
    area: str


CITIES: tuple[City, ...] = (
    City("Brooklyn", "NY", "New York", 11201, "718"),
    City("Queens", "NY", "New York", 11354, "718"),
    City("Albany", "NY", "New York", 12203, "518"),
    City("Hoboken", "NJ", "New Jersey", 7030, "201"),
    City("Jersey City", "NJ", "New Jersey", 7302, "201"),
    City("Boston", "MA", "Massachusetts", 2108, "617"),
    City("Philadelphia", "PA", "Pennsylvania", 19103, "215"),
    City("Burlington", "VT", "Vermont", 5401, "802"),
    City("Stamford", "CT", "Connecticut", 6901, "203"),
    City("Portland", "ME", "Maine", 4101, "207"),
)

DECLINES: tuple[tuple[str, str], ...] = (
    ("card_declined", "The bank did not return any further details with this decline."),
    ("insufficient_funds", "The customer's account has insufficient funds to cover this payment."),
    ("expired_card", "The customer's card has expired."),
)

GIGS: tuple[tuple[str, int], ...] = (
    ("I will design a specialty coffee bag label", 9500),
    ("I will write your cafe menu descriptions", 4500),
    ("I will create a latte art logo", 15000),
    ("I will review your coffee shop branding", 2500),
)
BUYER_WORDS = ("bright", "bean", "north", "cozy", "roast", "daily", "urban", "slow", "brew", "cup")


class Customer(NamedTuple):
    email: str
    name: str
    street: str
    city: City
    zip: str
    phone: str
    accepts_marketing: bool


@lru_cache(maxsize=1 << 16)
def customer(number: int) -> Customer:
    """Customer ``number`` (1-based): the same person every time, from arithmetic only."""
    mix = (number * 2654435761) & 0xFFFFFFFF
    city = CITIES[mix % len(CITIES)]
    name = f"{FIRST[(number * 7) % len(FIRST)]} {LAST[(mix >> 8) % len(LAST)]}"
    street = f"{(mix >> 4) % 980 + 11} Example {STREETS[(mix >> 12) % len(STREETS)]}"
    zip_code = f"'{city.zip_base + (mix >> 16) % 40:05d}"
    phone = f"+1 {city.area}-555-01{number % 100:02d}" if (mix >> 20) % 10 < 4 else ""
    return Customer(
        email=f"customer{number:05d}@example.com",
        name=name,
        street=street,
        city=city,
        zip=zip_code,
        phone=phone,
        accepts_marketing=(mix >> 24) % 10 < 4,
    )
