"""Text builders: what the encoder reads for a customer and for a coupon."""

from __future__ import annotations

from store.models import Coupon, CouponKind
from store.profiles import CustomerProfile

HISTORY_ITEMS = 24


def history_text(profile: CustomerProfile, query: str | None = None, cart: list[str] | None = None) -> str:
    """Recent-first distinct purchases, so the encoder's truncation drops the oldest, not the newest."""
    parts: list[str] = []
    if query:
        parts.append(f"Searching for {query}.")
    if cart:
        parts.append("In cart: " + "; ".join(cart) + ".")
    if profile.searches:
        parts.append("Searched: " + "; ".join(dict.fromkeys(profile.searches[:5])) + ".")
    seen = dict.fromkeys(item.description.lower() for item in profile.purchases if item.description)
    if seen:
        parts.append("Bought: " + "; ".join(list(seen)[:HISTORY_ITEMS]) + ".")
    if profile.category_purchases:
        parts.append("Favourite categories: " + ", ".join(c for c, _ in profile.top_categories(3)) + ".")
    return " ".join(parts) or "New customer with no history."


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
