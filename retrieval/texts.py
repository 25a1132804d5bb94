"""Text builders: what the encoder reads for a customer, a product and a coupon.

A customer's history is written heaviest-first: every purchase of a product weighs 2^(-age / half-life),
so a product bought often and lately leads and the encoder's truncation drops what matters least. The
same builder serves the offer flow (from a store profile) and training and benchmarks (from raw
baskets), so the fine-tuned encoder reads at serving time exactly the kind of text it was trained on.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import NamedTuple

from store.models import Coupon, CouponKind
from store.profiles import CustomerProfile

HISTORY_ITEMS = 24
HALF_LIFE_DAYS = 60.0


class Purchase(NamedTuple):
    description: str
    category: str
    occurred_at: datetime


def recency_weight(occurred_at: datetime, as_of: datetime, half_life_days: float = HALF_LIFE_DAYS) -> float:
    age_days = max((as_of - occurred_at).total_seconds() / 86_400, 0.0)
    return 0.5 ** (age_days / half_life_days)


def recency_weighted(
    purchases: Iterable[Purchase], as_of: datetime, half_life_days: float = HALF_LIFE_DAYS
) -> list[str]:
    """Distinct lower-cased descriptions by summed recency weight, heaviest first; ties keep input order."""
    weights: defaultdict[str, float] = defaultdict(float)
    for purchase in purchases:
        if purchase.description:
            weights[purchase.description.strip().lower()] += recency_weight(purchase.occurred_at, as_of, half_life_days)
    return sorted(weights, key=lambda d: -weights[d])


def purchase_history_text(
    purchases: Sequence[Purchase],
    as_of: datetime,
    *,
    query: str | None = None,
    cart: Sequence[str] = (),
    searches: Sequence[str] = (),
) -> str:
    """Favourite categories, live intent, then purchases heaviest-first. `purchases` is newest first."""
    parts: list[str] = []
    categories = Counter(p.category for p in purchases if p.category)
    if categories:
        parts.append("Favourite categories: " + ", ".join(c for c, _ in categories.most_common(3)) + ".")
    if query:
        parts.append(f"Searching for {query}.")
    if cart:
        parts.append("In cart: " + "; ".join(cart) + ".")
    if searches:
        parts.append("Searched: " + "; ".join(dict.fromkeys(searches[:5])) + ".")
    bought = recency_weighted(purchases, as_of)[:HISTORY_ITEMS]
    if bought:
        parts.append("Bought: " + "; ".join(bought) + ".")
    return " ".join(parts) or "New customer with no history."


def history_text(profile: CustomerProfile, query: str | None = None, cart: list[str] | None = None) -> str:
    """The offer flow's query text for one customer, from the store profile."""
    purchases = [Purchase(p.description, p.category, p.occurred_at) for p in profile.purchases]
    return purchase_history_text(purchases, profile.as_of, query=query, cart=cart or (), searches=profile.searches)


def product_text(description: str, category: str) -> str:
    """A product as the encoder reads it: its description in the history's casing, and its category."""
    return f"{description.strip().lower()} ({category})"


def describe_terms(coupon: Coupon) -> str:
    depths = "/".join(f"{d:g}" for d in coupon.depths)
    value = {
        CouponKind.percent: f"{depths}% off",
        CouponKind.amount: f"£{depths} off",
        CouponKind.free_shipping: "free shipping",
    }[coupon.kind]
    terms = [value]
    if coupon.min_spend:
        terms.append(f"minimum spend £{coupon.min_spend:g}")
    terms.append("on " + ", ".join(coupon.scope_categories) if coupon.scope_categories else "site-wide")
    return "; ".join(terms)


def coupon_text(coupon: Coupon) -> str:
    return f"{coupon.title}. {coupon.description} ({describe_terms(coupon)})"
