"""Response model: the probability that a customer responds to an option, monotone in discount depth.

A policy that picks depths by maximising expected margin needs response curves that never fall as the
discount deepens; an unconstrained model fitted on noisy logs happily learns dips, and the optimiser then
exploits them. LightGBM's monotone constraints rule that out by construction, for any customer.

Depth is a percentage; depth 0 is "no offer", so the same model gives the baseline response the
incremental margin of every option is measured against.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Self

import lightgbm as lgb
import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from sklearn.base import clone, is_classifier
from sklearn.model_selection import GroupShuffleSplit, ShuffleSplit, StratifiedShuffleSplit

from policies.fairness import PROTECTED_ATTRIBUTES, assert_no_protected

DEPTH = "depth"
# Regularised defaults: survey and campaign data are small and noisy, so many shallow, well-populated leaves
# generalise better than a few deep ones. The number of rounds is chosen by early stopping at fit time.
RESPONSE_PARAMS: dict[str, Any] = {
    "n_estimators": 2000,
    "learning_rate": 0.02,
    "num_leaves": 15,
    "min_child_samples": 100,
    "reg_lambda": 5.0,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.7,
    "n_jobs": 1,
    "verbose": -1,
}


def fit_learner(
    estimator: Any,
    X: pd.DataFrame,
    y: ArrayLike,
    *,
    groups: ArrayLike | None = None,
    validation_share: float = 0.2,
    patience: int = 50,
    seed: int = 0,
) -> Any:
    """Fit a clone of `estimator`; for LightGBM, first choose its number of rounds by early stopping.

    The rounds are picked on a held-out share of the data given here, which callers pass as their training
    fold, so nothing of a test fold shapes the model; then the clone is refitted on all of it. With
    `groups`, the held-out share takes whole groups (a respondent's rows stay on one side).
    """
    y = np.asarray(y)
    if not isinstance(estimator, lgb.LGBMModel):
        return clone(estimator).fit(X, y)
    if groups is not None:
        splitter: Any = GroupShuffleSplit(n_splits=1, test_size=validation_share, random_state=seed)
    elif is_classifier(estimator):
        splitter = StratifiedShuffleSplit(n_splits=1, test_size=validation_share, random_state=seed)
    else:
        splitter = ShuffleSplit(n_splits=1, test_size=validation_share, random_state=seed)
    fit_rows, held_out = next(splitter.split(X, y, groups))
    probe = clone(estimator).fit(
        X.iloc[fit_rows],
        y[fit_rows],
        eval_X=X.iloc[held_out],
        eval_y=y[held_out],
        callbacks=[lgb.early_stopping(patience, verbose=False)],
    )
    rounds = max(int(probe.best_iteration_ or estimator.n_estimators), 1)
    return clone(estimator).set_params(n_estimators=rounds).fit(X, y)


@dataclass
class ResponseModel:
    """P(response | customer and option features) with LightGBM, monotone in the features of `monotone`.

    `monotone` maps a feature to +1 (response never falls as it grows) or -1; by default the discount depth
    is +1. Protected attributes are refused at fit time (policies.fairness).
    """

    monotone: Mapping[str, int] = field(default_factory=lambda: {DEPTH: 1})
    params: Mapping[str, Any] = field(default_factory=dict)
    protected: frozenset[str] = PROTECTED_ATTRIBUTES
    seed: int = 0

    def fit(self, X: pd.DataFrame, y: ArrayLike, groups: ArrayLike | None = None) -> Self:
        assert_no_protected(X.columns, self.protected)
        missing = sorted(set(self.monotone) - set(X.columns))
        if missing:
            raise ValueError(f"monotone features missing from the data: {', '.join(missing)}")
        if any(direction not in (-1, 1) for direction in self.monotone.values()):
            raise ValueError("monotone directions must be +1 or -1")
        constraints = [self.monotone.get(column, 0) for column in X.columns]
        params = RESPONSE_PARAMS | {"random_state": self.seed} | dict(self.params)
        if any(constraints):
            # "advanced" keeps monotonicity exact while constraining the trees less than the default method.
            params |= {"monotone_constraints": constraints, "monotone_constraints_method": "advanced"}
        self.features_ = list(X.columns)
        self.model_ = fit_learner(lgb.LGBMClassifier(**params), X, y, groups=groups, seed=self.seed)
        return self

    def predict_proba(self, X: pd.DataFrame) -> NDArray[np.float64]:
        """Probability of a response for each row; columns are taken by name, in the order seen at fit."""
        return self.model_.predict_proba(X[self.features_])[:, 1]


@dataclass(frozen=True)
class OptionValues:
    depths: NDArray[np.float64]  # (n_options,), the first is 0: no offer
    response_probability: NDArray[np.float64]  # (n_customers, n_options)
    incremental_margin: NDArray[np.float64]  # (n_customers, n_options), 0 for no offer


def value_options(
    model: ResponseModel,
    customers: pd.DataFrame,
    depths: Sequence[float],
    basket: ArrayLike,
    margin_rate: float,
) -> OptionValues:
    """Response probability and expected incremental margin of each depth, per customer.

    incremental margin(d) = p(d)·(margin_rate·basket − d/100·basket) − p(0)·margin_rate·basket:
    what the offer earns beyond what the customer would have bought anyway, net of the discount paid on
    every responding basket. "No offer" (depth 0) is always the first option, so an allocator can pick it.
    """
    grid = np.unique(np.r_[0.0, np.asarray(depths, dtype=float)])
    if grid[0] < 0 or grid[-1] > 100:
        raise ValueError("depths are percentages in [0, 100]")
    basket = np.broadcast_to(np.asarray(basket, dtype=float), (len(customers),))
    probability = np.column_stack([model.predict_proba(customers.assign(**{DEPTH: d})) for d in grid])
    gross = margin_rate * basket[:, None]
    margin = probability * (gross - grid[None, :] / 100 * basket[:, None]) - probability[:, :1] * gross
    return OptionValues(grid, probability, margin)
