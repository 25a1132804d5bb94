"""The learned ranker: LambdaRank on real purchase features, contributions that add up to the score, and
the coupon adapter that lets the offer flow use a product-level model."""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import pytest

from retrieval.features import FEATURES, CustomerSignals, Line, coupon_features, product_features
from retrieval.ltr import LambdaRankConfig, RankerModel, train_lambdarank
from retrieval.ranker import DEFAULT_RANKER, BaselineRanker, Candidate, LearnedRanker
from retrieval.splits import TRAIN_END, known_items, training_cases
from store.models import Coupon, CouponKind
from store.profiles import CustomerProfile, PurchasedItem
from tests.conftest import NOW
from tests.test_retrieval_splits import retail  # noqa: F401 - the module-scoped real slice fixture


@pytest.fixture(scope="module")
def model(retail) -> RankerModel:  # noqa: F811
    """LambdaRank on every (case, product) pair of the slice's training cases, features as in production."""
    catalogue = retail.catalogue
    allowed = np.flatnonzero(known_items(retail.before(TRAIN_END), len(catalogue)))
    rows, labels, groups = [], [], []
    for q, case in enumerate(training_cases(retail, TRAIN_END, per_customer=5, seed=0)):
        lines = [
            Line(catalogue.skus[i], catalogue.categories[i], b.at, p)
            for b in case.history
            for i, p in zip(b.items, b.prices, strict=True)
        ]
        signals = CustomerSignals.from_lines(lines, case.as_of, len(case.history), sum(b.spend for b in case.history))
        rows.append(
            product_features(
                signals,
                [catalogue.skus[i] for i in allowed],
                [catalogue.categories[i] for i in allowed],
                catalogue.prices[allowed],
                np.zeros(len(allowed)),
            )
        )
        labels += [int(i in case.target.items) for i in allowed]
        groups += [q] * len(allowed)
    config = LambdaRankConfig(rounds=20, early_stopping=10, num_leaves=4, min_child_samples=2, valid_share=0.5)
    return train_lambdarank(np.vstack(rows), np.array(labels, float), np.array(groups), FEATURES, config)


def profile_of(lines: list[tuple[str, str, str, int]]) -> CustomerProfile:
    """A profile from (sku, description, category, days ago) purchases, newest first."""
    profile = CustomerProfile("c1", "United Kingdom", NOW, orders=len(lines), monetary=60.0)
    for sku, description, category, days in lines:
        profile.purchases.append(PurchasedItem(sku, description, category, NOW - timedelta(days=days), 2, 3.0))
        profile.category_purchases[category] += 1
        if days <= 90:
            profile.recent_category_purchases[category] += 1
    profile.last_order_at, profile.first_order_at = profile.purchases[0].occurred_at, profile.purchases[-1].occurred_at
    return profile


def coupon(coupon_id: str, categories: list[str], skus: list[str] | None = None) -> Coupon:
    return Coupon(
        id=coupon_id,
        campaign_id="camp",
        title=coupon_id,
        description="",
        kind=CouponKind.percent,
        depths=[10],
        min_spend=0.0,
        scope_categories=categories,
        scope_skus=skus or [],
    )


def test_tree_contributions_sum_to_the_calibrated_logit(model, retail):  # noqa: F811
    rows = np.random.default_rng(0).uniform(0, 5, size=(7, len(FEATURES)))
    for parts, raw in zip(model.contributions(rows), model.raw(rows), strict=True):
        assert set(parts) == {*FEATURES, "bias"}
        assert sum(parts.values()) == pytest.approx(model.scale * raw + model.offset, abs=1e-6)


def test_learned_ranker_scores_coupons_with_contributions_that_sum_to_the_score(model, tmp_path):
    model.save(tmp_path)
    ranker = LearnedRanker.load(tmp_path)
    assert ranker.version == model.version and ranker.version.startswith("lambdarank-")
    profile = profile_of(
        [("C1", "T-LIGHT HOLDER", "Candles", 3), ("C2", "CANDLE", "Candles", 10), ("B1", "BAG", "Bags", 200)]
    )
    candidates = [
        Candidate(coupon("candles", ["Candles"]), 0.6),
        Candidate(coupon("bags", ["Bags"]), 0.4),
        Candidate(coupon("site", []), 0.3),
        Candidate(coupon("sku", [], ["B1"]), 0.2),
    ]
    ranked = ranker.rank(profile, candidates)
    assert {r.coupon.id for r in ranked} == {"candles", "bags", "site", "sku"}
    for r in ranked:
        assert 0 < r.score < 1
        assert sum(r.contributions.values()) == pytest.approx(r.score, abs=1e-9)
        assert set(r.contributions) == {*FEATURES, "bias"}
    assert [r.score for r in ranked] == sorted((r.score for r in ranked), reverse=True)


def test_coupon_features_read_the_scope_through_products_and_categories():
    profile = profile_of(
        [("C1", "T-LIGHT HOLDER", "Candles", 3), ("C1", "T-LIGHT HOLDER", "Candles", 40), ("B1", "BAG", "Bags", 200)]
    )
    signals = CustomerSignals.from_profile(profile)
    named = lambda row: dict(zip(FEATURES, row[0], strict=True))  # noqa: E731
    candles = named(coupon_features(signals, coupon("candles", ["Candles"]), 0.5))
    assert candles["item_orders"] == 2 and candles["days_since_item"] == pytest.approx(3)
    assert candles["category_share"] == pytest.approx(2 / 3) and candles["category_recent"] == 2
    site = named(coupon_features(signals, coupon("site", []), 0.5))
    assert site["item_weight"] == 0 and math.isnan(site["days_since_item"]) and site["category_share"] == 0.3
    assert candles["recency_days"] == site["recency_days"] == 3 and candles["frequency"] == 3


def test_baseline_contributions_sum_to_the_score():
    profile = profile_of([("C1", "T-LIGHT HOLDER", "Candles", 3)])
    for r in BaselineRanker().rank(profile, [Candidate(coupon("candles", ["Candles"]), 0.7)]):
        assert sum(r.contributions.values()) == pytest.approx(r.score)


def test_committed_ranker_loads_for_the_offer_flow():
    ranker = LearnedRanker.load(DEFAULT_RANKER)
    assert ranker.model.features == FEATURES
    assert ranker.model.metadata["valid_queries"] > 0
