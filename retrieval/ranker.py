"""Rankers: order FAISS candidates for one customer and say which features moved each score."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

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
    # Additive parts of the score by feature name (they sum to it); explanations quote the largest.
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


DEFAULT_RANKER = Path(__file__).resolve().parent / "artifacts" / "ranker"


class LearnedRanker:
    """LambdaRank over interpretable features, trained on real next baskets by `offerpilot bench retrieval`.

    The model ranks products; a coupon is scored as the customer's best product in its scope, with its
    scope's category fit (`retrieval.features.coupon_features`). The score is the model's calibrated
    chance that such a product is in the next basket, in (0, 1) as the discount policy expects of a
    relevance. Contributions are the
    model's TreeSHAP parts of the logit, carried over to the score in proportion so that they still sum
    to it exactly, with `bias` the score of an average candidate.
    """

    def __init__(self, model) -> None:  # model: retrieval.ltr.RankerModel
        from retrieval.features import FEATURES

        if model.features != FEATURES:
            raise ValueError(f"the offer flow computes {FEATURES}, but this ranker needs {model.features}")
        self.model = model
        self.version = model.version

    @classmethod
    def load(cls, directory: Path = DEFAULT_RANKER) -> LearnedRanker:
        from retrieval.ltr import RankerModel

        return cls(RankerModel.load(directory))

    def rank(self, profile: CustomerProfile, candidates: list[Candidate]) -> list[RankedCandidate]:
        from retrieval.features import CustomerSignals, coupon_features

        if not candidates:
            return []
        signals = CustomerSignals.from_profile(profile)
        rows = np.vstack([coupon_features(signals, c.coupon, c.similarity) for c in candidates])
        ranked = []
        for candidate, parts in zip(candidates, self.model.contributions(rows), strict=True):
            score, shares = logit_parts_to_probability(parts)
            ranked.append(RankedCandidate(candidate, score, shares))
        return sorted(ranked, key=lambda r: (-r.score, r.coupon.id))


def logit_parts_to_probability(parts: dict[str, float], bias: str = "bias") -> tuple[float, dict[str, float]]:
    """σ(sum of parts), and the parts rescaled so the bias maps to σ(bias) and all of them sum to the score."""
    logit = sum(parts.values())
    base = 1.0 / (1.0 + math.exp(-parts[bias]))
    score = 1.0 / (1.0 + math.exp(-logit))
    moved = logit - parts[bias]
    factor = (score - base) / moved if abs(moved) > 1e-12 else base * (1.0 - base)
    shares = {name: (base if name == bias else value * factor) for name, value in parts.items()}
    return score, shares
