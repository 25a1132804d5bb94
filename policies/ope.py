"""Off-policy evaluation: what a new policy would have earned, estimated from what an old one logged.

A policy must be judged before it goes live, and the only data is what earlier policies did. Because every
offer is issued with the probability it was chosen with, importance weighting can re-weight that log into
an estimate for any policy whose choices the logging policy could also have made.

The pieces are kept apart as in the Open Bandit Pipeline: logged feedback (`BanditFeedback`), an evaluation
policy given only as its action distribution, a reward model given only as its predictions, and estimators
that see nothing but the per-round numbers they need (importance weights, rewards, predictions). So the same
estimators serve an external log with full action distributions (`round_inputs`) and offerpilot's own offer
log, where a new policy only has to say how likely it would have made each logged decision
(`evaluate_offer_log`).

Every estimator is a ratio of sums over rounds, `sum(numerator) / sum(denominator)`, which makes one
bootstrap serve all of them: resample rounds, recompute the ratio, take percentiles. Percentile intervals,
not normal ones, because rewards such as clicks or redemptions are rare and their estimates skewed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from store.models import OfferStatus

# Resampled rounds held in memory at once by the bootstrap (rows x rounds).
_BOOTSTRAP_CHUNK = 2_000_000


@dataclass(frozen=True)
class BanditFeedback:
    """Rounds logged by a behaviour policy: the action it took, the reward that followed, and the
    probability (propensity) with which it took that action. `position` is the slot of a slate
    (Open Bandit Dataset shows three items per impression); None means one action per round."""

    action: NDArray[np.int_]
    reward: NDArray[np.float64]
    pscore: NDArray[np.float64]
    position: NDArray[np.int_] | None = None

    def __post_init__(self) -> None:
        if np.ndim(self.action) != 1 or len(self.action) == 0 or np.any(self.action < 0):
            raise ValueError("action must be a non-empty 1-D array of action indices")
        n = len(self.action)
        for name in ("reward", "pscore") + (("position",) if self.position is not None else ()):
            if np.shape(getattr(self, name)) != (n,):
                raise ValueError(f"{name} must have shape ({n},) like action, got {np.shape(getattr(self, name))}")
        _check_pscore(self.pscore)

    @property
    def n_rounds(self) -> int:
        return len(self.action)

    @classmethod
    def from_arrays(
        cls, action: ArrayLike, reward: ArrayLike, pscore: ArrayLike, position: ArrayLike | None = None
    ) -> BanditFeedback:
        return cls(
            action=np.asarray(action, dtype=np.int64),
            reward=np.asarray(reward, dtype=np.float64),
            pscore=np.asarray(pscore, dtype=np.float64),
            position=None if position is None else np.asarray(position, dtype=np.int64),
        )


@dataclass(frozen=True)
class Estimate:
    """A policy value with its (1 - alpha) bootstrap percentile interval (NaN bounds when n_bootstrap is 0)."""

    estimator: str
    value: float
    ci_low: float
    ci_high: float
    n_rounds: int


@dataclass(frozen=True)
class RoundInputs:
    """What the estimators need per round: the importance weight pi_e(a_t|x_t) / pi_b(a_t|x_t), the reward,
    and, for the model-based estimators, the reward model's prediction for the logged action (`q_logged`)
    and its expectation under the evaluation policy (`q_policy`)."""

    weight: NDArray[np.float64]
    reward: NDArray[np.float64]
    q_logged: NDArray[np.float64] | None = None
    q_policy: NDArray[np.float64] | None = None


def _slot_matrix(array: NDArray, feedback: BanditFeedback, name: str) -> NDArray:
    """The (n_rounds, n_actions) slice of a (n_rounds, n_actions[, len_list]) array at each round's position."""
    array = np.asarray(array, dtype=np.float64)
    if array.ndim not in (2, 3) or array.shape[0] != feedback.n_rounds:
        raise ValueError(f"{name} must have one row per round, shaped (n_rounds, n_actions[, len_list])")
    if array.ndim == 2:
        if feedback.position is not None:
            raise ValueError(f"{name} must be (n_rounds, n_actions, len_list) when rounds have positions")
        return array
    position = np.zeros(feedback.n_rounds, dtype=np.int64) if feedback.position is None else feedback.position
    if position.max() >= array.shape[2] or position.min() < 0:
        raise ValueError(f"{name} has {array.shape[2]} slots but the log has position {position.max()}")
    return array[np.arange(feedback.n_rounds), :, position]


def round_inputs(
    feedback: BanditFeedback, action_dist: ArrayLike, estimated_rewards: ArrayLike | None = None
) -> RoundInputs:
    """Turn an evaluation policy's action distribution (and a reward model's predictions, both shaped
    (n_rounds, n_actions[, len_list])) into the per-round numbers the estimators use."""
    dist = _slot_matrix(np.asarray(action_dist), feedback, "action_dist")
    if feedback.action.max() >= dist.shape[1]:
        raise ValueError("action_dist must have a column for every logged action")
    rows = np.arange(feedback.n_rounds)
    weight = dist[rows, feedback.action] / feedback.pscore
    if estimated_rewards is None:
        return RoundInputs(weight, feedback.reward)
    q = _slot_matrix(np.asarray(estimated_rewards), feedback, "estimated_rewards")
    if q.shape != dist.shape:
        raise ValueError(f"estimated_rewards must match action_dist's shape {dist.shape}, got {q.shape}")
    return RoundInputs(weight, feedback.reward, q[rows, feedback.action], np.sum(dist * q, axis=1))


def ips(inputs: RoundInputs, *, alpha: float = 0.05, n_bootstrap: int = 1000, seed: int = 0) -> Estimate:
    """Inverse propensity scoring: mean of w_t r_t. Unbiased whenever the logging policy could take every
    action the evaluation policy takes, but its variance grows with the weights."""
    numerator = inputs.weight * inputs.reward
    return _ratio("ips", numerator, np.ones_like(numerator), alpha, n_bootstrap, seed)


def snips(inputs: RoundInputs, *, alpha: float = 0.05, n_bootstrap: int = 1000, seed: int = 0) -> Estimate:
    """Self-normalised IPS: sum(w r) / sum(w). Slightly biased, but bounded by the reward range and far less
    variable than IPS when a few rounds carry huge weights."""
    return _ratio("snips", inputs.weight * inputs.reward, inputs.weight, alpha, n_bootstrap, seed)


def dm(inputs: RoundInputs, *, alpha: float = 0.05, n_bootstrap: int = 1000, seed: int = 0) -> Estimate:
    """Direct method: the reward model's prediction averaged over the evaluation policy. Low variance, but
    as biased as the model; it is what doubly robust corrects."""
    q_policy, _ = _model_terms(inputs)
    return _ratio("dm", q_policy, np.ones_like(q_policy), alpha, n_bootstrap, seed)


def dr(inputs: RoundInputs, *, alpha: float = 0.05, n_bootstrap: int = 1000, seed: int = 0) -> Estimate:
    """Doubly robust: direct method plus the importance-weighted residual of the model on the logged action.
    Unbiased if either the propensities or the reward model are right, and less variable than IPS when
    the model is good."""
    q_policy, q_logged = _model_terms(inputs)
    numerator = q_policy + inputs.weight * (inputs.reward - q_logged)
    return _ratio("dr", numerator, np.ones_like(numerator), alpha, n_bootstrap, seed)


def evaluate(
    inputs: RoundInputs, *, alpha: float = 0.05, n_bootstrap: int = 1000, seed: int = 0
) -> dict[str, Estimate]:
    """IPS and SNIPS always; DM and DR too when the inputs carry reward-model predictions."""
    estimators = [ips, snips] + ([dm, dr] if inputs.q_policy is not None else [])
    return {e.__name__: e(inputs, alpha=alpha, n_bootstrap=n_bootstrap, seed=seed) for e in estimators}


class LoggedOffer(Protocol):
    """The fields of a settled `store.models.Offer` that off-policy evaluation reads."""

    propensity: float
    status: OfferStatus
    redeem_probability: float


def offer_log_inputs(
    offers: Sequence[LoggedOffer], eval_prob: ArrayLike, q_policy: ArrayLike | None = None
) -> RoundInputs:
    """Round inputs from offerpilot's offer log, reward = redeemed (1) or not (0).

    `eval_prob[t]` is the probability that the policy under evaluation would have issued offer t exactly as
    logged (same coupon, same depth) to that customer. With `q_policy[t]`, its expected redemption
    probability for that customer, the logged `redeem_probability` serves as the model's prediction for the
    logged action and DM and DR become available. Offers still `issued` have no outcome yet and are refused
    rather than counted as failures.
    """
    if not offers:
        raise ValueError("no offers to evaluate")
    if any(o.status is OfferStatus.issued for o in offers):
        raise ValueError("offers still issued have no outcome yet; evaluate settled offers only")
    pscore = _check_pscore(np.array([o.propensity for o in offers], dtype=np.float64))
    reward = np.array([o.status is OfferStatus.redeemed for o in offers], dtype=np.float64)
    prob = np.asarray(eval_prob, dtype=np.float64)
    if prob.shape != pscore.shape or np.any((prob < 0) | (prob > 1)):
        raise ValueError("eval_prob must hold one probability in [0, 1] per offer")
    if q_policy is None:
        return RoundInputs(prob / pscore, reward)
    q_logged = np.array([o.redeem_probability for o in offers], dtype=np.float64)
    q_policy = np.asarray(q_policy, dtype=np.float64)
    if q_policy.shape != pscore.shape:
        raise ValueError("q_policy must hold one expected reward per offer")
    return RoundInputs(prob / pscore, reward, q_logged, q_policy)


def evaluate_offer_log(
    offers: Sequence[LoggedOffer],
    eval_prob: ArrayLike,
    q_policy: ArrayLike | None = None,
    *,
    alpha: float = 0.05,
    n_bootstrap: int = 1000,
    seed: int = 0,
) -> dict[str, Estimate]:
    """Estimated redemption rate of a new policy over settled offers from the log (see `offer_log_inputs`)."""
    return evaluate(offer_log_inputs(offers, eval_prob, q_policy), alpha=alpha, n_bootstrap=n_bootstrap, seed=seed)


def _check_pscore(pscore: NDArray[np.float64]) -> NDArray[np.float64]:
    if not np.all((pscore > 0) & (pscore <= 1)):
        raise ValueError("propensities must lie in (0, 1]: a logged action had to be possible to be taken")
    return pscore


def _model_terms(inputs: RoundInputs) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    if inputs.q_policy is None or inputs.q_logged is None:
        raise ValueError("this estimator needs reward-model predictions (q_logged and q_policy)")
    return inputs.q_policy, inputs.q_logged


def _ratio(name: str, numerator: NDArray, denominator: NDArray, alpha: float, n_bootstrap: int, seed: int) -> Estimate:
    """sum(numerator) / sum(denominator), with a percentile bootstrap over rounds."""
    if not 0 < alpha < 1:
        raise ValueError("alpha must lie in (0, 1)")
    if not np.all(np.isfinite(numerator)) or not np.all(np.isfinite(denominator)):
        raise ValueError(f"{name}: non-finite inputs (a weight or prediction is NaN or infinite)")
    n = len(numerator)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = float(numerator.sum() / denominator.sum())
        rng = np.random.default_rng(seed)
        chunk = max(1, _BOOTSTRAP_CHUNK // n)
        replicates = []
        for start in range(0, n_bootstrap, chunk):
            index = rng.integers(0, n, size=(min(chunk, n_bootstrap - start), n))
            replicates.append(numerator[index].sum(axis=1) / denominator[index].sum(axis=1))
    if not replicates:
        return Estimate(name, value, float("nan"), float("nan"), n)
    low, high = np.nanquantile(np.concatenate(replicates), [alpha / 2, 1 - alpha / 2])
    return Estimate(name, value, float(low), float(high), n)
