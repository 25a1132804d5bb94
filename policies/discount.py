"""Discount policies: pick the depth of one coupon for one customer, with the probability it was picked."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol

from store.models import Coupon, CouponKind
from store.online_retail import ASSUMED_MARGIN_RATE
from store.profiles import CustomerProfile, plural

LAPSED_AFTER_DAYS = 60
FREQUENT_ORDERS = 10
OFFER_HORIZON_DAYS = 14


@dataclass(frozen=True)
class Reason:
    kind: str
    text: str
    value: float


@dataclass
class DiscountDecision:
    depth: float
    propensity: float
    redeem_probability: float
    expected_incremental_margin: float
    reasons: list[Reason] = field(default_factory=list)


class DiscountPolicy(Protocol):
    version: str

    def choose(self, profile: CustomerProfile, coupon: Coupon, relevance: float) -> DiscountDecision:
        """The depth this policy wants, with its expected values and reasons."""
        ...

    def evaluate(self, profile: CustomerProfile, coupon: Coupon, relevance: float, depth: float) -> DiscountDecision:
        """Expected values of a given depth (used when exploration picks another depth)."""
        ...


def expected_discount(coupon: Coupon, depth: float, basket: float) -> float:
    if coupon.kind is CouponKind.percent:
        return basket * depth / 100
    return depth


class BaselineDiscountRule:
    """Deepest allowed depth for lapsed customers, the shallowest for frequent ones, the middle otherwise.

    Expected values are a transparent back-of-envelope: the chance of an order within the offer horizon
    from the customer's own order rate (Poisson), scaled by relevance and depth.
    """

    version = "baseline-rule-v1"

    def choose(self, profile: CustomerProfile, coupon: Coupon, relevance: float) -> DiscountDecision:
        depths = sorted(coupon.depths)
        recency = profile.recency_days
        if recency is None or recency >= LAPSED_AFTER_DAYS:
            depth = depths[-1]
            why = (
                Reason("lapsed", "No purchases yet, so the deepest allowed depth", 0)
                if recency is None
                else Reason("lapsed", f"Last order {plural(recency, 'day')} ago, so the deepest allowed depth", recency)
            )
        elif profile.orders >= FREQUENT_ORDERS:
            depth = depths[0]
            why = Reason(
                "frequent", f"{plural(profile.orders, 'order')} so far, so the lightest allowed depth", profile.orders
            )
        else:
            depth = depths[len(depths) // 2]
            why = Reason(
                "depth_rule",
                f"{plural(profile.orders, 'order')}, the last {plural(recency, 'day')} ago: a middle depth",
                recency,
            )
        decision = self.evaluate(profile, coupon, relevance, depth)
        decision.reasons.append(why)
        return decision

    def evaluate(self, profile: CustomerProfile, coupon: Coupon, relevance: float, depth: float) -> DiscountDecision:
        basket = profile.average_order_value or coupon.min_spend or 20.0
        order_chance = 1 - math.exp(-profile.orders_per_day * OFFER_HORIZON_DAYS)
        depth_share = min(expected_discount(coupon, depth, basket) / basket, 1.0)
        redeem = min(0.95, max(0.01, order_chance * (0.5 + 0.5 * relevance) * (0.6 + depth_share)))
        # Assume half of redeemed baskets would not have happened without the offer.
        margin = redeem * (0.5 * basket * ASSUMED_MARGIN_RATE - expected_discount(coupon, depth, basket))
        return DiscountDecision(depth, 1.0, round(redeem, 4), round(margin, 2))
