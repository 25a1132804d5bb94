"""Explanations whose every reason carries the number it rests on, taken from the profile and scores."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Protocol

from policies.discount import DiscountDecision, Reason
from retrieval.ranker import RankedCandidate
from store.models import CouponKind
from store.profiles import AFFINITY_WINDOW_DAYS, CustomerProfile, plural


@dataclass
class Explanation:
    summary: str
    reasons: list[Reason] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"summary": self.summary, "reasons": [asdict(r) for r in self.reasons]}


class Explainer(Protocol):
    version: str

    def explain(self, profile: CustomerProfile, ranked: RankedCandidate, decision: DiscountDecision) -> Explanation: ...


def discount_phrase(kind: CouponKind, value: float) -> str:
    return {
        CouponKind.percent: f"{value:g}% off",
        CouponKind.amount: f"£{value:.2f} off",
        CouponKind.free_shipping: "free shipping",
    }[kind]


class TemplateExplainer:
    """Fills fixed sentences with facts; the reference every other explainer is checked against."""

    version = "template-v1"

    def explain(self, profile: CustomerProfile, ranked: RankedCandidate, decision: DiscountDecision) -> Explanation:
        coupon = ranked.coupon
        reasons: list[Reason] = []
        for category in coupon.scope_categories:
            recent = profile.recent_category_purchases.get(category, 0)
            if recent:
                reasons.append(
                    Reason(
                        "category_affinity",
                        f"{plural(recent, 'purchase')} in {category} in the last {AFFINITY_WINDOW_DAYS} days",
                        recent,
                    )
                )
            elif profile.category_purchases.get(category):
                total = profile.category_purchases[category]
                reasons.append(Reason("category_affinity", f"{plural(total, 'purchase')} in {category} overall", total))
        bought = [item for item in profile.purchases if item.sku in coupon.scope_skus]
        if bought:
            reasons.append(
                Reason(
                    "product_affinity",
                    f"Bought products this coupon covers {plural(len(bought), 'time')}, "
                    f"for example {bought[0].description.lower()}",
                    len(bought),
                )
            )
        similarity = round(ranked.candidate.similarity, 2)
        reasons.append(
            Reason(
                "similarity",
                f"The coupon's text matches your purchase history (similarity {similarity})",
                similarity,
            )
        )
        if profile.orders:
            since = f"{profile.first_order_at:%d %b %Y}"
            reasons.append(
                Reason(
                    "frequency",
                    f"{plural(profile.orders, 'order')} worth £{profile.monetary:,.2f} since {since}",
                    profile.orders,
                )
            )
        reasons.extend(decision.reasons)
        what = discount_phrase(coupon.kind, decision.depth)
        lead = reasons[0].text
        summary = f"{what} with {coupon.title!r}, because {lead[0].lower()}{lead[1:]}."
        return Explanation(summary, reasons)
