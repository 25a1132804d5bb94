"""A trained season agent as a `DiscountPolicy` for the offer flow.

The agent was trained on simulator states; a live request brings a `CustomerProfile` and a coupon. The profile
becomes the agent's observation the way the calibration reads the data:

- recency: whole weeks since the last order (none yet: a lapsed customer at the simulator's cap);
- frequency: repeat orders per week since the first, shrunk by the calibration's gamma prior, as fitted;
- monetary: the average order value (none yet: the population's typical basket);
- week of the season: the calendar week of `as_of` placed on the calibrated season's weeks (outside them, the
  nearer end), with that week's demand index;
- reference discount, fatigue and competitor depth: 0, unless the caller knows better (the store keeps no
  per-customer offer memory yet); budget share: 1, as the guardrails enforce the real budget downstream.

The agent's depth is then mapped to the coupon's nearest allowed depth (an amount coupon's amounts are compared as
a share of the customer's mean basket). Redeem probability and expected incremental margin come from the
simulator's response model at the chosen depth, for the coming week. Greedy choices have propensity 1; with
`stochastic=True` a PPO agent samples its depth and reports the probability of the coupon depth it lands on,
which is what off-policy evaluation needs.
"""

from __future__ import annotations

import math
import threading
from dataclasses import astuple, dataclass
from datetime import date
from pathlib import Path

import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.base_class import BaseAlgorithm

from policies.discount import DiscountDecision, Reason, expected_discount
from policies.rl.agents import ARTIFACTS, load_artifact
from policies.rl.calibration import Calibration, load_calibration
from policies.rl.env import Cohort, Draws
from policies.rl.model import Population, SimConfig
from store.models import Coupon, CouponKind
from store.profiles import CustomerProfile, plural

WEEKS_PER_YEAR = 52


@dataclass
class SeasonContext:
    """What the profile does not say about the customer's season; defaults are the cautious ones."""

    reference: float = 0.0
    fatigue: float = 0.0
    competitor: int = 0  # index into SimConfig.competitor_depths
    budget_share: float = 1.0


class RLDiscountPolicy:
    """Greedy (or, for PPO, sampled) depth from a trained agent, priced by the simulator's response model."""

    def __init__(
        self,
        model: BaseAlgorithm,
        metadata: dict,
        calibration: Calibration,
        stochastic: bool = False,
        seed: int | None = None,
    ) -> None:
        if metadata["calibration_version"] != calibration.version:
            raise ValueError(f"agent fitted on {metadata['calibration_version']}, calibration is {calibration.version}")
        self.model, self.metadata, self.calibration = model, metadata, calibration
        self.version: str = metadata["version"]
        self.config = SimConfig(
            **{k: tuple(v) if isinstance(v, list) else v for k, v in metadata["sim_config"].items()}
        )
        self.stochastic = stochastic and isinstance(model, PPO)
        self.rng = np.random.default_rng(seed)
        self.season_start = date.fromisoformat(calibration.season_start)
        # The season view depends on the profile only, and an offer request prices every candidate coupon
        # of one profile in a row: each serving thread keeps its last view.
        self._last_view = threading.local()

    @classmethod
    def load(cls, path: Path = ARTIFACTS / "rl_discount.json", stochastic: bool = False) -> RLDiscountPolicy:
        model, metadata = load_artifact(path)
        return cls(model, metadata, load_calibration(), stochastic=stochastic)

    def season_week(self, day: date) -> int:
        """`day`'s calendar week on the calibrated season (0-based); outside it, the nearer end."""
        offset = ((day - self.season_start).days // 7) % WEEKS_PER_YEAR
        if offset < self.config.weeks:
            return offset
        return self.config.weeks - 1 if offset < (self.config.weeks + WEEKS_PER_YEAR) / 2 else 0

    def cohort(self, profile: CustomerProfile, context: SeasonContext | None = None) -> Cohort:
        """A one-customer simulator positioned where this profile stands."""
        context = context or SeasonContext()
        config, calibration = self.config, self.calibration
        prior_a, prior_b = calibration.rate_prior
        if profile.orders and profile.first_order_at is not None:
            span_weeks = max((profile.as_of - profile.first_order_at).days, 0) / 7
            rate = (prior_a + profile.orders - 1) / (prior_b + span_weeks)
        else:
            rate = prior_a / prior_b
        basket = profile.average_order_value
        log_mean = math.log(basket) - calibration.basket_log_sd**2 / 2 if basket > 0 else calibration.basket_prior[0]
        customer = Population.of(
            calibration, config, np.array([profile.customer_id]), np.array([rate]), np.array([log_mean])
        )
        recency = profile.recency_days
        age = config.max_age_weeks if recency is None else min(recency // 7, config.max_age_weeks)
        horizon = config.weeks + config.tail_weeks
        draws = Draws(
            purchase=np.ones((1, horizon)),
            basket=np.zeros((1, horizon)),
            competitor=np.full((1, horizon), context.competitor),
            start_age=np.array([age]),
        )
        cohort = Cohort(customer, config, draws)
        cohort.week = self.season_week(profile.as_of.date())
        cohort.reference = np.array([context.reference])
        cohort.fatigue = np.array([context.fatigue])
        cohort.budget = customer.budget * context.budget_share
        return cohort

    def choose(
        self, profile: CustomerProfile, coupon: Coupon, relevance: float, context: SeasonContext | None = None
    ) -> DiscountDecision:
        """The coupon depth nearest the agent's; `relevance` is the ranker's business, not the season policy's."""
        cohort, probabilities = self._season_view(profile, context or SeasonContext())
        basket = float(cohort.population.basket_mean[0])
        if self.stochastic:
            action = int(self.rng.choice(len(probabilities), p=probabilities))
        else:  # PPO's deterministic action is its distribution's mode; DQN's probabilities are one-hot
            action = int(np.argmax(probabilities))
        wanted = float(cohort.depths[action])

        allowed = sorted(coupon.depths)
        as_share = [self._share(coupon, depth, basket) for depth in allowed]
        nearest = _nearest(as_share, wanted)
        depth, share = allowed[nearest], as_share[nearest]
        propensity = 1.0
        if self.stochastic:  # the chance of any agent depth that maps to this coupon depth
            lands_here = [_nearest(as_share, d) == nearest for d in cohort.depths]
            propensity = float(probabilities[lands_here].sum())

        decision = self._priced(cohort, coupon, depth)
        decision.propensity = round(propensity, 4)
        decision.reasons.insert(
            0,
            Reason(
                "rl_policy",
                f"The season policy ({self.metadata['algo'].upper()}) picks {wanted:.0%} in week "
                f"{cohort.week + 1} of {self.config.weeks} for a customer last ordering "
                f"{plural(int(cohort.age[0]), 'week')} ago",
                wanted * 100,
            ),
        )
        if abs(share - wanted) > 1e-9:
            decision.reasons.append(
                Reason("nearest_allowed", f"The coupon allows {depth:g}, the nearest to {wanted:.0%}", depth)
            )
        return decision

    def _season_view(self, profile: CustomerProfile, context: SeasonContext) -> tuple[Cohort, np.ndarray]:
        """The profile's one-customer cohort and the agent's action probabilities there, memoised per thread."""
        key = (profile.customer_id, profile.as_of, profile.orders, profile.recency_days, astuple(context))
        last = getattr(self._last_view, "entry", None)
        if last is not None and last[0] == key:
            return last[1]
        cohort = self.cohort(profile, context)
        view = (cohort, self._action_probabilities(cohort.observe()))
        self._last_view.entry = (key, view)
        return view

    def evaluate(
        self,
        profile: CustomerProfile,
        coupon: Coupon,
        relevance: float,
        depth: float,
        context: SeasonContext | None = None,
    ) -> DiscountDecision:
        """Expected values of a depth the agent did not pick (exploration prices its choice with this)."""
        return self._priced(self._season_view(profile, context or SeasonContext())[0], coupon, depth)

    def _priced(self, cohort: Cohort, coupon: Coupon, depth: float) -> DiscountDecision:
        """Order chance with and without the offer this week, and the incremental margin it implies."""
        basket = float(cohort.population.basket_mean[0])
        share = self._share(coupon, depth, basket)
        p_offer = float(cohort.buy_probabilities(np.array([share]))[0])
        p_none = float(cohort.buy_probabilities(np.array([0.0]))[0])
        margin = self.config.margin_rate * basket
        incremental = p_offer * (margin - expected_discount(coupon, depth, basket)) - p_none * margin
        reason = Reason(
            "response_model",
            f"Chance of an order this week: {p_offer:.1%} with the offer, {p_none:.1%} without",
            round(p_offer, 4),
        )
        return DiscountDecision(depth, 1.0, round(p_offer, 4), round(incremental, 2), [reason])

    def _action_probabilities(self, observation: np.ndarray) -> np.ndarray:
        """PPO's action distribution at this observation; a one-hot on the greedy action for DQN."""
        if isinstance(self.model, PPO):
            with torch.no_grad():
                tensor = self.model.policy.obs_to_tensor(observation)[0]
                distribution = self.model.policy.get_distribution(tensor).distribution
                probabilities = distribution.probs.numpy()[0].astype(np.float64)
                return probabilities / probabilities.sum()
        greedy = int(self.model.predict(observation, deterministic=True)[0][0])
        return np.eye(len(self.config.depths))[greedy]

    @staticmethod
    def _share(coupon: Coupon, depth: float, basket: float) -> float:
        if coupon.kind is CouponKind.percent:
            return depth / 100
        return expected_discount(coupon, depth, basket) / basket if basket else 0.0


def _nearest(shares: list[float], wanted: float) -> int:
    """Index of the share nearest `wanted`; on a tie, the shallower."""
    return min(range(len(shares)), key=lambda i: (abs(shares[i] - wanted), shares[i]))
