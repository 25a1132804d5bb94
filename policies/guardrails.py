"""Guardrails enforced in code, whatever a ranker, policy or chat proposes.

Eligibility is checked here before an offer is priced; the budget and per-customer cap are checked
again inside the issuing transaction (store.offer_log) where concurrent requests cannot race them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from store.models import Campaign, Coupon, CouponKind

CENT = 0.005


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str = ""


def in_holdout(campaign_id: str, customer_id: str, share: float) -> bool:
    """A stable hash puts the same customer in or out of a campaign's holdout on every request."""
    digest = hashlib.sha256(f"{campaign_id}:{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def eligibility(coupon: Coupon, campaign: Campaign, customer_id: str, used: int, now: datetime) -> Verdict:
    """Whether this customer may be offered this coupon at all; `used` counts their live or redeemed offers."""
    if coupon.valid_from and now < coupon.valid_from:
        return Verdict(False, "coupon not yet valid")
    if coupon.valid_to and now >= coupon.valid_to:
        return Verdict(False, "coupon expired")
    if campaign.starts_at and now < campaign.starts_at:
        return Verdict(False, "campaign not started")
    if campaign.ends_at and now >= campaign.ends_at:
        return Verdict(False, "campaign ended")
    if in_holdout(campaign.id, customer_id, campaign.holdout_share):
        return Verdict(False, "customer in campaign holdout")
    if used >= coupon.per_customer_limit:
        return Verdict(False, "per-customer limit reached")
    return Verdict(True)


def max_cost(kind: CouponKind, value: float, max_discount_per_order: float) -> float | None:
    """Most an offer can cost the campaign on one order, or None if it breaks the per-order maximum.

    A percentage is paid on an order total not yet known, so its cost is bounded by the per-order cap
    (redemption clips the discount there). A fixed amount or shipping fee must fit under the cap.
    """
    if kind is CouponKind.percent:
        return round(max_discount_per_order, 2)
    if value > max_discount_per_order + CENT:
        return None
    return round(value, 2)
