"""Uplift models recover a known effect, the metrics equal scikit-uplift's, and responses rise with depth."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from policies.response import ResponseModel, value_options
from policies.uplift import (
    TwoModelUplift,
    XLearnerUplift,
    ips_policy_value,
    lgbm_learner,
    qini_auc_score,
    top_share,
    uplift_at_k,
)


def synthetic_experiment(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """A randomised experiment whose effect is known: +0.3 visit probability where x0 > 0.5, else none."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.uniform(size=(n, 4)), columns=["x0", "x1", "x2", "x3"])
    effect = np.where(X["x0"] > 0.5, 0.3, 0.0)
    treatment = rng.integers(0, 2, n)
    base = 0.1 + 0.3 * X["x1"].to_numpy()
    y = (rng.uniform(size=n) < base + treatment * effect).astype(int)
    return X, treatment, y, effect


@pytest.mark.parametrize(
    "make",
    [
        lambda: XLearnerUplift(lgbm_learner(True, n_estimators=300), lgbm_learner(False, num_leaves=4)),
        lambda: TwoModelUplift(lgbm_learner(True, n_estimators=300)),
    ],
    ids=["x_learner", "two_model"],
)
def test_uplift_model_recovers_the_ranking_on_held_out_customers(make) -> None:
    X, t, y, _ = synthetic_experiment(6000, seed=1)
    X_test, t_test, y_test, effect_test = synthetic_experiment(4000, seed=2)
    uplift = make().fit(X, t, y).predict_uplift(X_test)

    # Random targeting scores the average effect (0.15); the top 30% should all come from x0 > 0.5 (0.3).
    assert uplift_at_k(y_test, uplift, t_test, k=0.3) > 0.22
    assert np.corrcoef(uplift, effect_test)[0, 1] > 0.7
    assert effect_test[top_share(uplift, 0.3)].mean() > 0.27


def test_metrics_equal_scikit_uplift_on_binary_outcomes() -> None:
    sklift_metrics = pytest.importorskip("sklift.metrics")
    rng = np.random.default_rng(0)
    for _ in range(5):
        t, y = rng.integers(0, 2, 1000), rng.integers(0, 2, 1000)
        uplift = np.round(rng.normal(size=1000), 1)  # ties, to check they are broken the same way
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # sklift calls sklearn's deprecated stable_cumsum
            expected_at_30 = sklift_metrics.uplift_at_k(y, uplift, t, strategy="overall", k=0.3)
            expected_qini = sklift_metrics.qini_auc_score(y, uplift, t)
        assert uplift_at_k(y, uplift, t, k=0.3) == pytest.approx(expected_at_30, abs=1e-12)
        assert qini_auc_score(y, uplift, t) == pytest.approx(expected_qini, abs=1e-12)


def test_qini_auc_is_one_for_the_perfect_ranking_and_near_zero_for_a_constant() -> None:
    t = np.array([1, 1, 0, 0, 1, 0])
    y = np.array([1, 0, 1, 0, 1, 0])
    assert qini_auc_score(y, y * t - y * (1 - t), t) == pytest.approx(1.0)
    assert qini_auc_score(y, np.zeros(6), t) == pytest.approx(0.0)


def test_ips_policy_value_weights_by_the_known_propensity() -> None:
    y = np.array([1.0, 0.0, 2.0, 1.0])
    t = np.array([1, 1, 0, 0])
    assert ips_policy_value(y, t, 1.0, 0.5) == pytest.approx((1 + 0) / 0.5 / 4)
    assert ips_policy_value(y, t, 0.0, 0.5) == pytest.approx((2 + 1) / 0.5 / 4)
    # Treat only the first and last customer: rows whose logged arm matches the policy count.
    assert ips_policy_value(y, t, np.array([1, 0, 0, 1]), 0.5) == pytest.approx((1 + 2) / 0.5 / 4)


def test_uplift_models_reject_a_single_arm() -> None:
    X, _, y, _ = synthetic_experiment(200, seed=3)
    with pytest.raises(ValueError, match="both treated and control"):
        TwoModelUplift(lgbm_learner(True)).fit(X, np.ones(200, dtype=int), y)


def test_response_model_is_monotone_in_depth() -> None:
    rng = np.random.default_rng(4)
    n = 4000
    X = pd.DataFrame(
        {
            "depth": rng.choice([0.0, 5.0, 10.0, 15.0, 20.0, 30.0], n),
            "recency": rng.uniform(0, 365, n),
            "frequency": rng.poisson(3, n).astype(float),
        }
    )
    # A rising but noisy response, with a spurious dip at 15% that an unconstrained model would learn.
    logit = -2 + 0.05 * X["depth"] - 0.004 * X["recency"] + 0.2 * X["frequency"] - 0.8 * (X["depth"] == 15)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int)
    model = ResponseModel(params={"n_estimators": 300, "min_child_samples": 20}).fit(X, y)

    customers = X.drop(columns="depth").iloc[:200]
    grid = np.linspace(0, 40, 41)
    curves = np.column_stack([model.predict_proba(customers.assign(depth=d)) for d in grid])
    assert (np.diff(curves, axis=1) >= -1e-12).all()
    assert (curves[:, -1] > curves[:, 0]).mean() > 0.9  # and it does rise

    values = value_options(model, customers, depths=[10, 20], basket=50.0, margin_rate=0.35)
    assert values.depths.tolist() == [0.0, 10.0, 20.0]
    assert np.allclose(values.incremental_margin[:, 0], 0.0)
    p = values.response_probability
    expected = p[:, 2] * (0.35 * 50 - 0.2 * 50) - p[:, 0] * 0.35 * 50
    assert np.allclose(values.incremental_margin[:, 2], expected)


def test_response_model_requires_its_monotone_feature() -> None:
    X = pd.DataFrame({"recency": np.arange(100.0)})
    with pytest.raises(ValueError, match="monotone features missing"):
        ResponseModel().fit(X, np.arange(100) % 2)
