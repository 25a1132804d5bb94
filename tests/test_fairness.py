"""The fairness rule: protected attributes never become features, and the parity audit counts right."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bench.fairness_coupon import stand_in_depth
from policies.fairness import ProtectedAttributeError, assert_no_protected, audit, protected_features
from policies.response import ResponseModel
from policies.uplift import XLearnerUplift, lgbm_learner


def test_protected_attributes_and_their_encodings_are_found() -> None:
    features = [
        "gender_Female",
        "maritalStatus",
        "marital_status_single",
        "age=21",
        "has_children",
        "agency",
        "coupon_x_passanger",
        "page_views",
        "income",
    ]
    assert protected_features(features) == [
        "gender_Female",
        "maritalStatus",
        "marital_status_single",
        "age=21",
        "has_children",
    ]


def test_a_protected_feature_raises() -> None:
    assert_no_protected(["recency", "income", "coupon"])
    with pytest.raises(ProtectedAttributeError, match="gender"):
        assert_no_protected(["recency", "gender"])
    with pytest.raises(ProtectedAttributeError, match="region"):
        assert_no_protected(["region"], protected={"region"})


def test_response_model_refuses_protected_features_before_training() -> None:
    X = pd.DataFrame({"depth": [0.0, 10.0] * 50, "age": [30, 40] * 50})
    with pytest.raises(ProtectedAttributeError, match="age"):
        ResponseModel().fit(X, np.arange(100) % 2)


def test_uplift_model_refuses_protected_features() -> None:
    X = pd.DataFrame({"recency": np.arange(100.0), "gender": ["f", "m"] * 50})
    with pytest.raises(ProtectedAttributeError, match="gender"):
        XLearnerUplift(lgbm_learner(True), lgbm_learner(False)).fit(X, np.arange(100) % 2, np.arange(100) // 50)


def test_audit_computes_rates_depths_and_gaps_on_a_hand_made_example() -> None:
    # Group a: offers at 10 and 20, one without -> rate 2/3, depth 15. Group b: one offer at 5 -> 1/3, depth 5.
    depths = [10, 0, 20, 0, 0, 5]
    groups = {"gender": ["a", "a", "a", "b", "b", "b"]}
    report = audit(depths, groups, max_gap=0.1)

    stats = {g.group: g for g in report.audits[0].groups}
    assert stats["a"].size == 3 and stats["a"].offer_rate == pytest.approx(2 / 3)
    assert stats["a"].mean_depth == pytest.approx(15.0)
    assert stats["b"].offer_rate == pytest.approx(1 / 3) and stats["b"].mean_depth == pytest.approx(5.0)
    assert report.audits[0].offer_rate_gap == pytest.approx(1 / 3)
    assert report.audits[0].mean_depth_gap == pytest.approx(10.0)
    assert report.violated
    assert report.violations == ["gender: offer-rate gap 0.333 exceeds 0.1"]

    assert not audit(depths, groups, max_gap=0.4).violated
    depth_rule = audit(depths, groups, max_gap=0.4, max_depth_gap=5)
    assert depth_rule.violations == ["gender: mean-depth gap 10 exceeds 5"]


def test_audit_covers_every_attribute_and_skips_tiny_groups() -> None:
    depths = [10, 10, 10, 10, 0]
    groups = {"age": ["young", "young", "old", "old", "tiny"], "gender": ["f", "m", "f", "m", "f"]}
    report = audit(depths, groups, max_gap=0.1, min_group_size=2)
    by_attribute = {a.attribute: a for a in report.audits}
    assert by_attribute["age"].offer_rate_gap == 0.0  # "tiny" (one customer, no offer) is not judged
    assert not next(g for g in by_attribute["age"].groups if g.group == "tiny").judged
    assert by_attribute["gender"].offer_rate_gap == pytest.approx(1 - 2 / 3)
    assert report.violations == ["gender: offer-rate gap 0.333 exceeds 0.1"]
    assert {row["attribute"] for row in report.gap_rows()} == {"age", "gender"}


def test_audit_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="group labels"):
        audit([1, 0], {"gender": ["f"]})
    with pytest.raises(ValueError, match="non-negative"):
        audit([-1, 0], {"gender": ["f", "m"]})
    with pytest.raises(ValueError, match="max_gap"):
        audit([1, 0], {"gender": ["f", "m"]}, max_gap=2)


def test_stand_in_depth_offers_only_above_the_threshold() -> None:
    depth = stand_in_depth(np.array([0.3, 0.5, 0.7, 0.95]), threshold=0.5)
    assert depth.tolist() == [0.0, 20.0, 10.0, 5.0]
