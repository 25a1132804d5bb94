"""The simulator's customer-response model: who buys in a week, at what basket, and what a discount does.

One customer-week, in order:

1. **Purchase cycle.** The chance to order this week without any offer is the Weibull renewal hazard of the
   weeks since the last order (calibrated per customer, `calibration.py`), scaled by the week's demand index
   (proportional hazards). After about half a year without an order the hazard stops growing: a lapsed customer.
2. **Discount response.** The offer shifts the log-odds of ordering by β·(attention·gain − loss), where
   - gain = depth + λ_gain·(depth − reference)⁺ — a discount deeper than the customer expects is a pleasant
     surprise (reference-price models, Kalyanaram & Winer 1995; Kopalle, Rao & Assunção 1996);
   - loss = λ_loss·(reference − depth)⁺ + κ·(competitor − depth)⁺ — an offer shallower than expected, or than a
     competitor's running promotion, is a loss, weighted twice a gain (loss aversion, Tversky & Kahneman 1991);
   - attention = 1 − φ·fatigue — repeated offers wear out (promotion wear-out / e-mail fatigue);
   - β is the customer's price sensitivity: a 10% discount multiplies the odds of a first-time offer by about
     e^(0.15β); β = 4 at the median purchase rate matches promotional price elasticities of −2 to −5
     (Bijmolt, van Heerde & Pieters 2005), and occasional buyers are more deal-prone than regulars.
3. **Memory.** The reference discount is an exponential average of depths offered (memory α per week); fatigue
   an exponential average of whether an offer was sent. Both are offers *seen*, redeemed or not.
4. **Basket and money.** The basket is log-normal around the customer's calibrated mean. Margin is
   `ASSUMED_MARGIN_RATE` of the basket; the discount is paid out of the customer's campaign budget, capped at
   what is left, so the budget is never exceeded.
5. **After the campaign.** Its last offer is not the end of the story: the 13 weeks after it are simulated
   without offers, and their margin is added to the last step, so pulling an order forward or raising the
   reference in the final weeks costs what it would cost a real shop.
6. **Reward** = margin − discount paid, minus two penalties: discount beyond a tolerance given on an order the
   customer would have placed anyway (same random draw at depth 0: the waste uplift models exist to avoid), and
   discount promised beyond the remaining budget (the customer is told 20% and gets less).

Price sensitivity and the reference, fatigue and competitor effects are assumptions (the data holds no discount
experiments); they are gathered in `SimConfig` with the sources above so they can be argued with and changed.
"""

from __future__ import annotations

import hashlib
import json
import math
import zlib
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from policies.rl.calibration import Calibration
from store.online_retail import ASSUMED_MARGIN_RATE

Array = NDArray[np.float64]
DEPTHS = (0.0, 0.05, 0.10, 0.15, 0.20, 0.25)
COMPETITOR_DEPTHS = (0.0, 0.10, 0.20)
# Gauss-Hermite nodes for expectations over the log-normal basket: exact enough, and cheap.
_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(9)
BASKET_NODES, BASKET_WEIGHTS = _NODES, _WEIGHTS / math.sqrt(2 * math.pi)
Split = Literal["train", "eval", "all"]


@dataclass(frozen=True)
class SimConfig:
    weeks: int = 26
    # Orders in the weeks after the campaign still count: an order pulled forward by a late discount, or a reference
    # raised by one, costs the next quarter, and a season that ended at its last offer would hide that.
    tail_weeks: int = 13
    tail_demand: float = 1.0  # demand index of the tail weeks: an ordinary week of the extract
    depths: tuple[float, ...] = DEPTHS
    margin_rate: float = ASSUMED_MARGIN_RATE
    max_age_weeks: int = 26  # the hazard stops growing here: a lapsed customer
    # β at the population's median purchase rate, and its elasticity to the customer's rate (occasional buyers
    # are more deal-prone): β_i = sensitivity · (rate_i / median rate)^exponent, clipped to the range below.
    sensitivity: float = 4.0
    sensitivity_rate_exponent: float = -0.25
    sensitivity_range: tuple[float, float] = (2.0, 8.0)
    gain_weight: float = 0.5  # λ_gain
    loss_weight: float = 1.0  # λ_loss: losses weigh twice gains
    reference_memory: float = 0.8  # α: weekly carry-over of the reference discount
    fatigue_memory: float = 0.7  # weekly carry-over of fatigue: an offer's wear-out halves in about two weeks
    fatigue_weight: float = 0.5  # φ: an offer every week halves the response to it
    competitor_depths: tuple[float, ...] = COMPETITOR_DEPTHS
    competitor_weight: float = 0.5  # κ: a competitor's promotion counts half as much as our own discount
    competitor_start: float = 0.15  # weekly chance a competitor starts a promotion, times the demand index
    competitor_stay: float = 0.5  # a running promotion lasts two weeks on average
    competitor_deep_share: float = 0.4  # share of competitor promotions at the deeper depth
    budget_rate: float = 0.10  # each customer's campaign budget: this share of expected season sales
    waste_tolerance: float = 0.05  # discount on an order that would have happened anyway, tolerated up to this
    waste_penalty: float = 0.25  # per £ of such discount beyond the tolerance
    # per £ promised beyond the remaining budget: the shop honours the promise from elsewhere, and the campaign is
    # charged again for breaking its budget — at 1 an unfunded offer would cost no more than a funded one
    overrun_penalty: float = 2.0

    def digest(self, calibration: Calibration) -> str:
        """Hash of every parameter and the calibration it runs on: artifacts say which simulator they fit."""
        payload = json.dumps({"config": asdict(self), "calibration": calibration.to_json()}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Population:
    """Per-customer parameters as parallel arrays, plus what every customer shares (season, pooled spreads)."""

    ids: NDArray[np.str_]
    rate: Array  # orders per week, on average
    scale: Array  # Weibull scale of the gaps, in weeks
    basket_log_mean: Array
    sensitivity: Array  # β
    budget: Array  # £ of discount for the season
    shape: float
    basket_log_sd: float
    season: Array  # demand index per week: the campaign's weeks, then the tail's
    median_rate: float  # of the whole calibrated population: the observation's reference points
    median_basket_log_mean: float

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def basket_mean(self) -> Array:
        return np.exp(self.basket_log_mean + self.basket_log_sd**2 / 2)

    def subset(self, index: NDArray[np.int64] | slice) -> Population:
        per_customer = ("ids", "rate", "scale", "basket_log_mean", "sensitivity", "budget")
        return Population(
            **{name: getattr(self, name)[index] for name in per_customer},
            shape=self.shape,
            basket_log_sd=self.basket_log_sd,
            season=self.season,
            median_rate=self.median_rate,
            median_basket_log_mean=self.median_basket_log_mean,
        )

    @classmethod
    def from_calibration(cls, calibration: Calibration, config: SimConfig, split: Split = "all") -> Population:
        """Customers of the fit; `eval` is a fixed fifth held out by a hash of the id, `train` the rest."""
        ids = np.array(calibration.customer_ids)
        population = cls.of(
            calibration, config, ids, np.array(calibration.weekly_rate), np.array(calibration.basket_log_mean)
        )
        if split == "all":
            return population
        held_out = np.array([zlib.crc32(cid.encode()) % 5 == 0 for cid in ids])
        return population.subset(np.flatnonzero(held_out if split == "eval" else ~held_out))

    @classmethod
    def of(
        cls, calibration: Calibration, config: SimConfig, ids: NDArray[np.str_], rate: Array, basket_log_mean: Array
    ) -> Population:
        """Customers with these purchase rates and log-basket means, the rest from the calibration and config."""
        season = np.array(calibration.season_index[: config.weeks] + [config.tail_demand] * config.tail_weeks)
        shape, log_sd = calibration.weibull_shape, calibration.basket_log_sd
        median_rate = float(np.median(calibration.weekly_rate))
        sensitivity = np.clip(
            config.sensitivity * (rate / median_rate) ** config.sensitivity_rate_exponent, *config.sensitivity_range
        )
        expected_sales = rate * season[: config.weeks].sum() * np.exp(basket_log_mean + log_sd**2 / 2)
        return cls(
            ids=ids,
            rate=rate,
            scale=1 / (rate * math.gamma(1 + 1 / shape)),
            basket_log_mean=basket_log_mean,
            sensitivity=sensitivity,
            budget=config.budget_rate * expected_sales,
            shape=shape,
            basket_log_sd=log_sd,
            season=season,
            median_rate=median_rate,
            median_basket_log_mean=float(np.median(calibration.basket_log_mean)),
        )


def base_hazard(age: Array, scale: Array, shape: float, season: Array | float) -> Array:
    """Chance of an order this week with no offer, `age` whole weeks after the last one (Weibull renewal)."""
    cumulative = ((age + 1) / scale) ** shape - (age / scale) ** shape
    return -np.expm1(-season * cumulative)


def discount_utility(
    config: SimConfig, sensitivity: Array, depth: Array | float, reference: Array, fatigue: Array, competitor: Array
) -> Array:
    """Shift in the log-odds of ordering from the offer, against the customer's reference and the competitor."""
    gain = depth + config.gain_weight * np.maximum(depth - reference, 0.0)
    loss = config.loss_weight * np.maximum(reference - depth, 0.0)
    loss = loss + config.competitor_weight * np.maximum(competitor - depth, 0.0)
    return sensitivity * ((1 - config.fatigue_weight * fatigue) * gain - loss)


def buy_probability(hazard: Array, utility: Array) -> Array:
    hazard = np.clip(hazard, 1e-9, 1 - 1e-9)
    return 1 / (1 + np.exp(-(np.log(hazard) - np.log1p(-hazard) + utility)))


def order_money(config: SimConfig, basket: Array, depth: Array | float, budget: Array) -> tuple[Array, ...]:
    """For an order of `basket` at `depth` with `budget` left: (margin net of discount, paid, waste, overrun)."""
    due = depth * basket
    paid = np.minimum(due, budget)
    profit = config.margin_rate * basket - paid
    waste = config.waste_penalty * np.maximum(paid - config.waste_tolerance * basket, 0.0)
    overrun = config.overrun_penalty * (due - paid)
    return profit, paid, waste, overrun


def expected_reward(
    config: SimConfig, p_buy: Array, p_anyway: Array, basket_log_mean: Array, basket_log_sd: float, depth, budget
) -> Array:
    """Expected one-week reward: a discounted order's money minus overrun, less waste on orders made anyway.

    The arrays broadcast; a trailing axis is added for the basket quadrature and summed away.
    """
    basket = np.exp(np.asarray(basket_log_mean)[..., None] + basket_log_sd * BASKET_NODES)
    profit, _, waste, overrun = order_money(config, basket, np.asarray(depth)[..., None], np.asarray(budget)[..., None])
    return p_buy * ((profit - overrun) @ BASKET_WEIGHTS) - p_anyway * (waste @ BASKET_WEIGHTS)


def competitor_transition(config: SimConfig, season: float) -> Array:
    """Markov chain of the competitor's promotion depth: more promotions start in busy weeks."""
    start = min(config.competitor_start * season, 0.9)
    deep = config.competitor_deep_share
    off = 1 - config.competitor_stay
    return np.array(
        [
            [1 - start, start * (1 - deep), start * deep],
            [off, config.competitor_stay, 0.0],
            [off, 0.0, config.competitor_stay],
        ]
    )
