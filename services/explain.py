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


# Which ranker features speak for which customer-facing reason: the reasons are ordered by the
# ranker's contributions, so the one that weighed most leads the summary.
REASON_FEATURES = {
    "category_affinity": ("category_share", "category_recent", "category_affinity"),
    "product_affinity": (
        "item_weight",
        "item_orders",
        "item_share",
        "item_in_last_orders",
        "days_since_item",
        "repeat_due",
        "repeat_share",
    ),
    "similarity": ("similarity",),
    "frequency": ("recency_days", "frequency", "monetary"),
}
FEATURE_LABELS = {
    "similarity": "match with your history",
    "item_weight": "how often and how recently you bought these products",
    "item_orders": "orders that held these products",
    "item_share": "share of your orders holding these products",
    "item_in_last_orders": "these products in your last orders",
    "days_since_item": "time since you last bought them",
    "repeat_due": "due for a restock",
    "category_share": "share of your buying in this category",
    "category_recent": "recent buying in this category",
    "category_affinity": "category fit",
    "price_fit": "price fit",
    "recency_days": "time since your last order",
    "frequency": "number of orders",
    "monetary": "spend so far",
    "repeat_share": "how often you re-buy",
}


def reason_weight(kind: str, contributions: dict[str, float]) -> float:
    return sum(contributions.get(feature, 0.0) for feature in REASON_FEATURES.get(kind, ()))


def ranker_reason(ranked: RankedCandidate, top: int = 2) -> Reason | None:
    """The ranker's score and the signals that raised it most, with their signed contributions."""
    parts = [(name, value) for name, value in ranked.contributions.items() if name != "bias" and value > 0]
    if not parts:
        return None
    parts.sort(key=lambda item: -item[1])
    signals = ", ".join(f"{FEATURE_LABELS.get(name, name)} +{value:.2f}" for name, value in parts[:top])
    score = round(ranked.score, 2)
    return Reason("ranker", f"Ranker score {score}; strongest signals: {signals}", score)


class TemplateExplainer:
    """Fills fixed sentences with facts; the reference every other explainer is checked against.

    Reasons are ordered by how much the ranker's features behind each contributed to the score.
    """

    version = "template-v2"

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
        weights = {id(r): reason_weight(r.kind, ranked.contributions) for r in reasons}
        reasons.sort(key=lambda r: -weights[id(r)])  # stable: the written order breaks ties
        ranking = ranker_reason(ranked)
        if ranking:
            reasons.append(ranking)
        reasons.extend(decision.reasons)
        what = discount_phrase(coupon.kind, decision.depth)
        lead = reasons[0].text
        summary = f"{what} with {coupon.title!r}, because {lead[0].lower()}{lead[1:]}."
        return Explanation(summary, reasons)
