"""Uplift models and their metrics: whom does an offer change, not who would have bought anyway.

A response model ranks customers by how likely they are to buy; an offer pays only where it changes that.
The models here estimate the conditional effect τ(x) = E[Y | x, treated] − E[Y | x, control] from a
randomised (or propensity-logged) experiment:

- `TwoModelUplift` (T-learner): one outcome model per arm, τ = μ1 − μ0. Simple, but each arm's model
  spends its capacity on the outcome level, and the difference of two noisy fits is noisier still.
- `XLearnerUplift` (Künzel et al., 2019): imputes each customer's individual effect with the *other* arm's
  outcome model, fits the effect directly with a small model, and blends the two arms' effect models by
  the propensity. Fitting the effect itself lets it be much smoother than the outcome, which is what
  campaign data needs; it is the one offerpilot uses.

Both refuse protected attributes among their features (policies.fairness), like the response model.

The metrics reproduce scikit-uplift's definitions (uplift@k with strategy "overall", normalised Qini AUC
with negative effects in the perfect curve) on plain numpy, so they also accept continuous outcomes such
as spend, which scikit-uplift rejects; tests check they equal scikit-uplift's on binary outcomes.
"""

from __future__ import annotations

from typing import Any, Protocol, Self

import lightgbm as lgb
import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from sklearn.base import is_classifier

from policies.fairness import assert_no_protected
from policies.response import fit_learner

# One regularised LightGBM configuration for every base learner, ours and the benchmarks' peers alike:
# few leaves with many customers each, because an effect of a few points hides in noise of tens of points.
LGBM_PARAMS: dict[str, Any] = {
    "n_estimators": 200,
    "learning_rate": 0.03,
    "num_leaves": 8,
    "min_child_samples": 200,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.8,
    "reg_lambda": 5.0,
    "n_jobs": 1,
    "verbose": -1,
}


class UpliftModel(Protocol):
    def fit(self, X: pd.DataFrame, treatment: ArrayLike, y: ArrayLike) -> Self: ...

    def predict_uplift(self, X: pd.DataFrame) -> NDArray[np.float64]: ...


def lgbm_learner(binary: bool, **overrides: Any) -> lgb.LGBMClassifier | lgb.LGBMRegressor:
    """The shared LightGBM base learner: a classifier for a binary outcome, else a regressor."""
    params = LGBM_PARAMS | overrides
    return lgb.LGBMClassifier(**params) if binary else lgb.LGBMRegressor(**params)


def _outcome(model: Any, X: pd.DataFrame) -> NDArray[np.float64]:
    return model.predict_proba(X)[:, 1] if is_classifier(model) else model.predict(X)


def _arms(X: pd.DataFrame, treatment: ArrayLike, y: ArrayLike) -> tuple[NDArray[np.bool_], NDArray[np.float64]]:
    """Validate a fit's inputs (protected attributes included) and split the rows into arms."""
    assert_no_protected(X.columns)
    n = len(X)
    t = np.asarray(treatment)
    y = np.asarray(y, dtype=float)
    if t.shape != (n,) or y.shape != (n,):
        raise ValueError(f"treatment and y must have one value per row of X ({n})")
    if not np.isin(t, (0, 1)).all():
        raise ValueError("treatment must be 0 (control) or 1 (treated)")
    treated = t == 1
    if treated.all() or not treated.any():
        raise ValueError("uplift needs both treated and control rows")
    return treated, y


class TwoModelUplift:
    """T-learner: τ(x) = μ1(x) − μ0(x), each μ fitted on its own arm (LightGBM rounds by early stopping)."""

    def __init__(self, outcome: Any, seed: int = 0) -> None:
        self.outcome = outcome
        self.seed = seed

    def fit(self, X: pd.DataFrame, treatment: ArrayLike, y: ArrayLike) -> Self:
        treated, y = _arms(X, treatment, y)
        self.control_ = fit_learner(self.outcome, X[~treated], y[~treated], seed=self.seed)
        self.treated_ = fit_learner(self.outcome, X[treated], y[treated], seed=self.seed)
        return self

    def predict_uplift(self, X: pd.DataFrame) -> NDArray[np.float64]:
        return _outcome(self.treated_, X) - _outcome(self.control_, X)


class XLearnerUplift:
    """X-learner with outcome models μ0, μ1 and effect models τ0, τ1.

    Treated rows impute D1 = y − μ0(x), control rows D0 = μ1(x) − y; τ1 and τ0 regress those, and
    τ(x) = e·τ0(x) + (1 − e)·τ1(x) with e the treatment propensity — known from the randomisation (pass
    it) or, by default, the treated share of the training rows. For a heavy-tailed outcome such as spend,
    `clip_quantile` winsorises positive outcomes at that quantile of the training rows' positive values,
    so a handful of large baskets cannot dominate the squared-error fits.
    """

    def __init__(
        self,
        outcome: Any,
        effect: Any,
        propensity: float | None = None,
        clip_quantile: float | None = None,
        seed: int = 0,
    ) -> None:
        if propensity is not None and not 0 < propensity < 1:
            raise ValueError("propensity must lie strictly between 0 and 1")
        if clip_quantile is not None and not 0 < clip_quantile <= 1:
            raise ValueError("clip_quantile must lie in (0, 1]")
        self.outcome = outcome
        self.effect = effect
        self.propensity = propensity
        self.clip_quantile = clip_quantile
        self.seed = seed

    def fit(self, X: pd.DataFrame, treatment: ArrayLike, y: ArrayLike) -> Self:
        treated, y = _arms(X, treatment, y)
        if self.clip_quantile is not None and (y > 0).any():
            y = np.minimum(y, np.quantile(y[y > 0], self.clip_quantile))
        self.propensity_ = self.propensity if self.propensity is not None else float(treated.mean())
        x0, x1, y0, y1 = X[~treated], X[treated], y[~treated], y[treated]
        mu0 = fit_learner(self.outcome, x0, y0, seed=self.seed)
        mu1 = fit_learner(self.outcome, x1, y1, seed=self.seed)
        self.tau1_ = fit_learner(self.effect, x1, y1 - _outcome(mu0, x1), seed=self.seed)
        self.tau0_ = fit_learner(self.effect, x0, _outcome(mu1, x0) - y0, seed=self.seed)
        return self

    def predict_uplift(self, X: pd.DataFrame) -> NDArray[np.float64]:
        e = self.propensity_
        return e * self.tau0_.predict(X) + (1 - e) * self.tau1_.predict(X)


def _ranked(y: ArrayLike, uplift: ArrayLike, treatment: ArrayLike) -> tuple[NDArray, NDArray, NDArray]:
    """Rows in descending order of predicted uplift, ties kept in scikit-uplift's order."""
    y, uplift, treatment = np.asarray(y, dtype=float), np.asarray(uplift, dtype=float), np.asarray(treatment)
    if not (y.shape == uplift.shape == treatment.shape) or y.ndim != 1:
        raise ValueError("y, uplift and treatment must be 1-d and of equal length")
    order = np.argsort(uplift, kind="mergesort")[::-1]
    return y[order], uplift[order], treatment[order]


def top_share(uplift: ArrayLike, share: float) -> NDArray[np.bool_]:
    """Mask of the `share` of rows with the highest predicted uplift (the same rows uplift_at_k scores)."""
    uplift = np.asarray(uplift, dtype=float)
    chosen = np.zeros(uplift.shape, dtype=bool)
    chosen[np.argsort(uplift, kind="mergesort")[::-1][: int(len(uplift) * share)]] = True
    return chosen


def uplift_at_k(y: ArrayLike, uplift: ArrayLike, treatment: ArrayLike, k: float = 0.3) -> float:
    """Mean outcome of treated minus control rows among the top k share of all rows ("overall" strategy)."""
    if not 0 < k < 1:
        raise ValueError("k is a share of rows in (0, 1)")
    y, _, treatment = _ranked(y, uplift, treatment)
    top_y, top_t = y[: int(len(y) * k)], treatment[: int(len(y) * k)]
    if not (top_t == 1).any() or not (top_t == 0).any():
        raise ValueError("the top k rows must hold both treated and control rows")
    return float(top_y[top_t == 1].mean() - top_y[top_t == 0].mean())


def qini_curve(y: ArrayLike, uplift: ArrayLike, treatment: ArrayLike) -> tuple[NDArray, NDArray]:
    """Qini curve: at each distinct score cut, treated outcome minus control outcome scaled to the treated count."""
    y, uplift, treatment = _ranked(y, uplift, treatment)
    cuts = np.r_[np.flatnonzero(np.diff(uplift)), uplift.size - 1]
    n_treated = np.cumsum(treatment)[cuts].astype(float)
    y_treated = np.cumsum(y * (treatment == 1))[cuts]
    y_control = np.cumsum(y * (treatment == 0))[cuts]
    n_all = cuts + 1
    n_control = n_all - n_treated
    scale = np.divide(n_treated, n_control, out=np.zeros_like(n_treated), where=n_control != 0)
    return np.r_[0, n_all], np.r_[0.0, y_treated - y_control * scale]


def qini_auc_score(y: ArrayLike, uplift: ArrayLike, treatment: ArrayLike) -> float:
    """Area between the Qini curve and the random diagonal, over that of the perfect ranking (which lets
    treatment hurt: responders in control are ranked last). 1 is perfect, 0 random, negative worse."""
    y, treatment = np.asarray(y, dtype=float), np.asarray(treatment)
    x_model, q_model = qini_curve(y, uplift, treatment)
    x_best, q_best = qini_curve(y, y * treatment - y * (1 - treatment), treatment)
    diagonal = x_best[-1] * q_best[-1] / 2
    return float((_area(x_model, q_model) - diagonal) / (_area(x_best, q_best) - diagonal))


def _area(x: NDArray, y: NDArray) -> float:
    """Trapezoidal area under a curve (np.trapezoid needs numpy 2; the project allows 1.26)."""
    return float(np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2))


def ips_policy_value(
    y: ArrayLike, treatment: ArrayLike, treat_probability: ArrayLike | float, propensity: float
) -> float:
    """Mean outcome per customer had a policy chosen the treatment, by inverse propensity weighting.

    `treat_probability` is the policy's probability of treating each row (0/1 for a deterministic rule);
    `propensity` is the experiment's known probability of treatment. Unbiased when the logged treatment
    was randomised with that propensity.
    """
    y, t = np.asarray(y, dtype=float), np.asarray(treatment)
    pi = np.broadcast_to(np.asarray(treat_probability, dtype=float), y.shape)
    weight = np.where(t == 1, pi / propensity, (1 - pi) / (1 - propensity))
    return float(np.mean(y * weight))
