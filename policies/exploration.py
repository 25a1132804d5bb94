"""Exploration with logged propensities: every depth is chosen with a known probability.

Off-policy evaluation (policies.ope) can only judge a new policy on the offer log if each logged
choice carries the probability with which it was made; ε-greedy is the simplest scheme that keeps
every allowed depth possible while mostly following the underlying policy.
"""

from __future__ import annotations

import random
from dataclasses import replace

from policies.discount import DiscountDecision, DiscountPolicy, Reason
from store.models import Coupon
from store.profiles import CustomerProfile


class EpsilonGreedy:
    """With probability ε a uniformly random allowed depth, otherwise the wrapped policy's choice."""

    def __init__(self, policy: DiscountPolicy, epsilon: float, seed: int | None = None) -> None:
        if not 0.0 <= epsilon <= 1.0:
            raise ValueError("epsilon must be within [0, 1]")
        self.policy = policy
        self.epsilon = epsilon
        self.version = f"{policy.version}+egreedy{epsilon:g}"
        self._rng = random.Random(seed)

    def choose(self, profile: CustomerProfile, coupon: Coupon, relevance: float) -> DiscountDecision:
        greedy = self.policy.choose(profile, coupon, relevance)
        depths = sorted(coupon.depths)
        explore_each = self.epsilon / len(depths)
        if self._rng.random() >= self.epsilon:
            return replace(greedy, propensity=round(greedy.propensity * (1 - self.epsilon) + explore_each, 6))
        depth = self._rng.choice(depths)
        if depth == greedy.depth:
            return replace(greedy, propensity=round(greedy.propensity * (1 - self.epsilon) + explore_each, 6))
        explored = self.policy.evaluate(profile, coupon, relevance, depth)
        reason = Reason("exploration", f"Depth explored at random (probability {explore_each:.3f})", explore_each)
        return replace(explored, propensity=round(explore_each, 6), reasons=[reason])
