"""Off-policy estimators: hand-computed numbers, identities between them, and recovery of a known policy value."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from policies.ope import BanditFeedback, RoundInputs, dm, dr, evaluate, evaluate_offer_log, ips, round_inputs, snips
from store.models import Offer, OfferStatus

N_ACTIONS = 5


@dataclass
class Synthetic:
    feedback: BanditFeedback
    action_dist: np.ndarray  # evaluation policy
    expected_reward: np.ndarray  # true click probability per round and action
    truth: float  # the evaluation policy's value on these contexts


def softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def synthetic(n: int, seed: int) -> Synthetic:
    """A contextual bandit whose reward probabilities are known, logged by one softmax policy and evaluated
    for another that prefers different actions."""
    rng = np.random.default_rng(seed)
    structure = np.random.default_rng(0)  # the same environment and policies for every draw
    theta, bias = structure.normal(size=(3, N_ACTIONS)), structure.normal(-1.5, 0.5, N_ACTIONS)
    logging_w, eval_w = structure.normal(size=(3, N_ACTIONS)), structure.normal(size=(3, N_ACTIONS))
    x = rng.normal(size=(n, 3))
    q = 1 / (1 + np.exp(-(x @ theta + bias)))
    logging = softmax(0.5 * x @ logging_w)
    evaluation = softmax(1.5 * x @ eval_w)
    action = (logging.cumsum(axis=1) > rng.random(n)[:, None]).argmax(axis=1)
    reward = (rng.random(n) < q[np.arange(n), action]).astype(float)
    feedback = BanditFeedback.from_arrays(action, reward, logging[np.arange(n), action])
    return Synthetic(feedback, evaluation, q, float((evaluation * q).sum(axis=1).mean()))


def test_hand_computed_example() -> None:
    feedback = BanditFeedback.from_arrays(action=[0, 1, 1, 0], reward=[1, 0, 1, 0], pscore=[0.5, 0.5, 0.25, 0.25])
    action_dist = np.array([[1.0, 0.0], [1.0, 0.0], [0.5, 0.5], [0.5, 0.5]])
    q_hat = np.array([[0.5, 0.5], [0.2, 0.4], [0.6, 0.8], [0.0, 0.4]])
    inputs = round_inputs(feedback, action_dist, q_hat)
    np.testing.assert_allclose(inputs.weight, [2.0, 0.0, 2.0, 2.0])
    np.testing.assert_allclose(inputs.q_policy, [0.5, 0.2, 0.7, 0.2])
    assert ips(inputs).value == pytest.approx((2 + 0 + 2 + 0) / 4)
    assert snips(inputs).value == pytest.approx(4 / 6)
    assert dm(inputs).value == pytest.approx((0.5 + 0.2 + 0.7 + 0.2) / 4)
    # DR per round: q_policy + w * (r - q_logged) = 0.5 + 2*0.5, 0.2 + 0, 0.7 + 2*0.2, 0.2 + 2*(0 - 0)
    assert dr(inputs).value == pytest.approx((1.5 + 0.2 + 1.1 + 0.2) / 4)


def test_slate_positions_pick_the_slot_of_each_round() -> None:
    feedback = BanditFeedback.from_arrays(action=[1, 0], reward=[1, 0], pscore=[0.5, 0.5], position=[2, 0])
    action_dist = np.zeros((2, 2, 3))
    action_dist[0, :, 2] = [0.1, 0.9]
    action_dist[1, :, 0] = [0.3, 0.7]
    np.testing.assert_allclose(round_inputs(feedback, action_dist).weight, [1.8, 0.6])
    with pytest.raises(ValueError, match="len_list"):
        round_inputs(feedback, action_dist[:, :, 0])


def test_snips_equals_ips_when_weights_average_one() -> None:
    rng = np.random.default_rng(3)
    weight = rng.uniform(0, 2, 1000)
    weight /= weight.mean()
    inputs = RoundInputs(weight, (rng.random(1000) < 0.3).astype(float))
    assert snips(inputs).value == pytest.approx(ips(inputs).value, rel=1e-12)


def test_dr_reduces_to_dm_and_to_ips() -> None:
    rng = np.random.default_rng(4)
    weight, reward = rng.uniform(0, 3, 500), (rng.random(500) < 0.2).astype(float)
    q_policy = rng.uniform(0, 1, 500)
    # A model that reproduces every logged reward leaves nothing for the weights to correct.
    exact = RoundInputs(weight, reward, q_logged=reward, q_policy=q_policy)
    assert dr(exact).value == pytest.approx(dm(exact).value)
    # A model that predicts nothing leaves DR as plain IPS.
    blind = RoundInputs(weight, reward, q_logged=np.zeros(500), q_policy=np.zeros(500))
    assert dr(blind).value == pytest.approx(ips(blind).value)


def test_estimators_recover_a_known_value_on_a_large_sample() -> None:
    data = synthetic(50_000, seed=1)
    noisy_model = np.clip(
        data.expected_reward + np.random.default_rng(9).normal(0, 0.05, data.expected_reward.shape), 0, 1
    )
    estimates = evaluate(round_inputs(data.feedback, data.action_dist, noisy_model), n_bootstrap=300)
    for name in ("ips", "snips", "dr"):
        estimate = estimates[name]
        assert estimate.ci_low <= data.truth <= estimate.ci_high, (name, estimate, data.truth)
        assert estimate.value == pytest.approx(data.truth, rel=0.05)
    width = {name: e.ci_high - e.ci_low for name, e in estimates.items()}
    assert width["dr"] < width["ips"]


def test_ips_is_unbiased_and_its_interval_covers_over_repeated_draws() -> None:
    draws = [synthetic(1000, seed=s) for s in range(200)]
    estimates = [ips(round_inputs(d.feedback, d.action_dist), n_bootstrap=200, seed=s) for s, d in enumerate(draws)]
    errors = np.array([e.value - d.truth for e, d in zip(estimates, draws, strict=True)])
    assert abs(errors.mean()) <= 3 * errors.std() / np.sqrt(len(errors))
    coverage = np.mean([e.ci_low <= d.truth <= e.ci_high for e, d in zip(estimates, draws, strict=True)])
    assert 0.85 <= coverage <= 1.0


def test_bootstrap_is_reproducible_and_can_be_skipped() -> None:
    inputs = round_inputs(synthetic(2000, seed=5).feedback, synthetic(2000, seed=5).action_dist)
    assert ips(inputs, seed=3) == ips(inputs, seed=3)
    skipped = ips(inputs, n_bootstrap=0)
    assert np.isnan(skipped.ci_low) and skipped.value == ips(inputs).value


@pytest.mark.parametrize(
    "arrays",
    [
        {"action": [0, 1], "reward": [1, 0], "pscore": [0.5, 0.0]},
        {"action": [0, 1], "reward": [1, 0], "pscore": [0.5, 1.5]},
        {"action": [0, 1], "reward": [1], "pscore": [0.5, 0.5]},
        {"action": [], "reward": [], "pscore": []},
        {"action": [-1, 0], "reward": [1, 0], "pscore": [0.5, 0.5]},
    ],
)
def test_bad_feedback_is_refused(arrays: dict) -> None:
    with pytest.raises(ValueError):
        BanditFeedback.from_arrays(**arrays)


def test_model_based_estimators_need_predictions() -> None:
    with pytest.raises(ValueError, match="reward-model"):
        dr(RoundInputs(np.ones(3), np.ones(3)))
    assert set(evaluate(RoundInputs(np.ones(3), np.ones(3)), n_bootstrap=0)) == {"ips", "snips"}


def offer(status: OfferStatus, propensity: float, redeem_probability: float) -> Offer:
    return Offer(status=status, propensity=propensity, redeem_probability=redeem_probability)


def test_offer_log_by_hand() -> None:
    offers = [
        offer(OfferStatus.redeemed, 0.5, 0.4),
        offer(OfferStatus.expired, 0.5, 0.2),
        offer(OfferStatus.rolled_back, 1.0, 0.1),
        offer(OfferStatus.redeemed, 0.25, 0.5),
    ]
    eval_prob = [1.0, 0.5, 1.0, 0.0]  # weights 2, 1, 1, 0
    estimates = evaluate_offer_log(offers, eval_prob, q_policy=[0.3, 0.3, 0.3, 0.3])
    assert estimates["ips"].value == pytest.approx((2 * 1 + 0 + 0 + 0) / 4)
    assert estimates["snips"].value == pytest.approx(2 / 4)
    # DR: 0.3 + w (r - redeem_probability) per offer
    assert estimates["dr"].value == pytest.approx((0.3 + 2 * 0.6 + 0.3 - 0.2 + 0.3 - 0.1 + 0.3) / 4)


def test_offer_log_refuses_offers_without_an_outcome() -> None:
    with pytest.raises(ValueError, match="settled"):
        evaluate_offer_log([offer(OfferStatus.issued, 0.5, 0.3)], [1.0])
    with pytest.raises(ValueError, match="one probability"):
        evaluate_offer_log([offer(OfferStatus.expired, 0.5, 0.3)], [1.0, 0.0])
