"""Rankers: order FAISS candidates for one customer and say which features moved each score."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from store.models import Coupon
from store.profiles import CustomerProfile


@dataclass(frozen=True)
class Candidate:
    coupon: Coupon
    similarity: float


@dataclass
class RankedCandidate:
    candidate: Candidate
    score: float
    # Additive parts of the score by feature name; explanations quote the largest.
    contributions: dict[str, float] = field(default_factory=dict)

    @property
    def coupon(self) -> Coupon:
        return self.candidate.coupon


class Ranker(Protocol):
    version: str

    def rank(self, profile: CustomerProfile, candidates: list[Candidate]) -> list[RankedCandidate]: ...


SITE_WIDE_AFFINITY = 0.3


def category_affinity(profile: CustomerProfile, coupon: Coupon) -> float:
    """How much of what the customer buys the coupon covers, relative to their favourite category (0..1).

    A coupon scoped to products the customer has bought counts fully; a site-wide coupon fits everyone
    a little.
    """
    if coupon.scope_skus and any(item.sku in coupon.scope_skus for item in profile.purchases):
        return 1.0
    if not coupon.scope_categories:
        return 0.0 if coupon.scope_skus else SITE_WIDE_AFFINITY
    favourite = max(profile.category_purchases.values(), default=0)
    if not favourite:
        return 0.0
    return min(1.0, max(profile.category_purchases[c] for c in coupon.scope_categories) / favourite)


class BaselineRanker:
    """A transparent weighted sum of text similarity and category affinity."""

    version = "baseline-ranker-v1"
    similarity_weight = 0.6
    affinity_weight = 0.4

    def rank(self, profile: CustomerProfile, candidates: list[Candidate]) -> list[RankedCandidate]:
        ranked = []
        for candidate in candidates:
            parts = {
                "similarity": self.similarity_weight * candidate.similarity,
                "category_affinity": self.affinity_weight * category_affinity(profile, candidate.coupon),
            }
            ranked.append(RankedCandidate(candidate, sum(parts.values()), parts))
        return sorted(ranked, key=lambda r: (-r.score, r.coupon.id))
