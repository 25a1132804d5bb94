"""Policies that need no learning — none, fixed 10%, myopic uplift-greedy — and the oracle that plans.

- `Constant`: the same depth every week while the customer's budget lasts (`none` is depth 0, `fixed10` 10%).
- `Myopic`: knows the simulator's one-week response model exactly — the customer's hazard, sensitivity,
  reference, fatigue, the competitor, the budget — and picks the depth with the highest expected reward *this
  week*. This is what an uplift model with a greedy allocator does. It ignores what the offer does to next
  weeks: wear-out, a raised reference price, an order pulled forward, a budget spent early.
- `Oracle`: knows the same model and plans the whole season, and the weeks after it, by backward dynamic
  programming over (weeks since the last order, reference, fatigue, budget left, competitor) per customer type.
  Reference, fatigue and budget are continuous and sit on grids with linear interpolation; the basket is
  integrated by Gauss-Hermite. At run time it acts by a one-step lookahead on the planned values at the
  customer's exact state. On the grid it is optimal; off the grid it is near-optimal, which is why an agent can
  occasionally edge past it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from policies.rl.env import Cohort, Draws
from policies.rl.model import (
    BASKET_NODES,
    BASKET_WEIGHTS,
    Population,
    SimConfig,
    base_hazard,
    buy_probability,
    competitor_transition,
    discount_utility,
    expected_reward,
    order_money,
)

Array = NDArray[np.float64]
REFERENCE_POINTS = 11
FATIGUE_POINTS = 6
BUDGET_POINTS = 11
# Customers whose scale, sensitivity and budget-per-basket agree within this (log units) share one plan.
TYPE_RESOLUTION = 0.05


class CohortPolicy(Protocol):
    name: str

    def act(self, cohort: Cohort) -> NDArray[np.int64]: ...


@dataclass
class SeasonResult:
    """Per customer, in £ over the season: profit (margin − discount), reward (with penalties), spend."""

    profit: Array
    reward: Array
    spend: Array
    depth: Array  # (N, weeks) the depths offered


def run_season(policy: CohortPolicy, population: Population, config: SimConfig, draws: Draws) -> SeasonResult:
    cohort = Cohort(population, config, draws)
    n = len(population)
    result = SeasonResult(np.zeros(n), np.zeros(n), np.zeros(n), np.zeros((n, config.weeks)))
    while not cohort.done:
        action = policy.act(cohort)
        result.depth[:, cohort.week] = cohort.depths[action]
        step = cohort.step(action)
        result.profit += step.profit
        result.reward += step.reward
        result.spend += step.paid
    return result


@dataclass
class Constant:
    name: str
    action: int

    def act(self, cohort: Cohort) -> NDArray[np.int64]:
        return np.where(cohort.budget > 0, self.action, 0)


class Myopic:
    name = "myopic"

    def act(self, cohort: Cohort) -> NDArray[np.int64]:
        return _one_week_values(cohort).argmax(axis=1)


def _one_week_values(cohort: Cohort) -> Array:
    """Expected reward this week for every customer (rows) and depth (columns)."""
    pop = cohort.population
    depths = cohort.depths[None, :]
    p_buy = cohort.buy_probabilities(np.broadcast_to(depths, (len(pop), len(cohort.depths))))
    p_anyway = cohort.buy_probabilities(np.zeros(len(pop)))[:, None]
    budget = cohort.budget[:, None]
    return expected_reward(
        cohort.config, p_buy, p_anyway, pop.basket_log_mean[:, None], pop.basket_log_sd, depths, budget
    )


class Oracle:
    """Backward induction over a gridded state, once per customer type; values kept for every week to act on.

    In units of the customer's mean basket the season depends only on the customer's Weibull scale, price
    sensitivity and budget; customers within `TYPE_RESOLUTION` (log units) of each other on all three share a
    plan, which turns hundreds of plans into a few dozen. Acting uses each customer's own exact parameters for
    this week and the shared plan for the weeks after.
    """

    name = "oracle"

    def __init__(self, population: Population, config: SimConfig) -> None:
        self.population, self.config = population, config
        self.reference_grid = np.linspace(0, max(config.depths), REFERENCE_POINTS)
        self.fatigue_grid = np.linspace(0, 1, FATIGUE_POINTS)
        self.budget_grid = np.linspace(0, 1, BUDGET_POINTS)
        key = np.stack([population.scale, population.sensitivity, population.budget / population.basket_mean], 1)
        _, first, type_of = np.unique(
            np.round(np.log(key) / TYPE_RESOLUTION), axis=0, return_index=True, return_inverse=True
        )
        self.type_of = type_of.reshape(-1)
        types = population.subset(first)
        self.types = replace(
            types,
            basket_log_mean=np.full(len(first), -(population.basket_log_sd**2) / 2),  # mean basket 1
            budget=types.budget / types.basket_mean,
        )
        self.values = self._plan()

    def _plan(self) -> list[NDArray[np.float32]]:
        """V[t] over (type, age, reference, fatigue, budget share, competitor) in mean baskets, t = 0..weeks.

        The induction starts after the tail, where nothing is left to earn, and runs through the tail weeks (no
        offers there) into the campaign, whose last value therefore prices what a late offer does afterwards.
        """
        config, types = self.config, self.types
        ages = np.arange(config.max_age_weeks + 1)
        next_age = np.minimum(ages + 1, config.max_age_weeks)
        grid = (len(types), len(ages), REFERENCE_POINTS, FATIGUE_POINTS, BUDGET_POINTS, len(config.competitor_depths))
        values = [np.zeros(grid, dtype=np.float32)]
        per_action = [self._action_terms(depth) for depth in config.depths]
        for week in reversed(range(config.weeks + config.tail_weeks)):
            following = self._expect_competitor(values[0], week)
            hazard = base_hazard(ages[None, :], types.scale[:, None], types.shape, types.season[week])
            p_anyway = self._buy_grid(hazard, 0.0)
            best = np.full(grid, -np.inf, dtype=np.float32)
            offers = config.depths if week < config.weeks else config.depths[:1]
            for depth, (to_memory, to_budget, money, waste) in zip(offers, per_action, strict=False):
                # Reference and fatigue move as the offer makes them (one matrix over both grid axes).
                moved = (to_memory @ following.reshape(grid[0] * grid[1], -1, grid[4] * grid[5])).reshape(grid)
                q = moved[:, next_age]  # no order: a week older, budget untouched
                gain = np.einsum("nij,nrfjc->nrfic", to_budget, moved[:, 0])[:, None]  # an order: age 0, budget spent
                gain = gain + money[:, None, None, None, :, None] - q
                gain *= self._buy_grid(hazard, depth)[:, :, :, :, None, :]
                q += gain
                q -= p_anyway[:, :, :, :, None, :] * waste[:, None, None, None, :, None]
                np.maximum(best, q, out=best)
            values.insert(0, best)
        return values[: config.weeks + 1]

    def _expect_competitor(self, values: NDArray[np.float32], week: int) -> NDArray[np.float32]:
        """Next week's values averaged over the competitor's move from each of this week's states."""
        if week + 1 >= self.config.weeks + self.config.tail_weeks:
            return values
        return values @ competitor_transition(self.config, self.types.season[week + 1]).T.astype(np.float32)

    def _buy_grid(self, hazard: Array, depth: float) -> NDArray[np.float32]:
        """Buy probability on the grid: (type, age, reference, fatigue, competitor)."""
        utility = discount_utility(
            self.config,
            self.types.sensitivity[:, None, None, None],
            depth,
            self.reference_grid[None, :, None, None],
            self.fatigue_grid[None, None, :, None],
            np.array(self.config.competitor_depths)[None, None, None, :],
        )
        return buy_probability(hazard[:, :, None, None, None], utility[:, None]).astype(np.float32)

    def _action_terms(self, depth: float) -> tuple[NDArray[np.float32], ...]:
        """What an offer at `depth` does, whatever the week: grid moves, and expected money per order."""
        config, types = self.config, self.types
        memory = config.reference_memory
        to_reference = _interpolation_matrix(self.reference_grid, memory * self.reference_grid + (1 - memory) * depth)
        fatigued = config.fatigue_memory * self.fatigue_grid + (1 - config.fatigue_memory) * (depth > 0)
        to_memory = np.kron(to_reference, _interpolation_matrix(self.fatigue_grid, fatigued))
        budget = self.budget_grid[None, :, None] * types.budget[:, None, None]  # (types, B, 1) in baskets
        basket = np.exp(types.basket_log_mean[:, None, None] + types.basket_log_sd * BASKET_NODES)  # (types, 1, Q)
        profit, paid, waste, overrun = order_money(config, basket, depth, budget)
        share_left = (budget - paid) / types.budget[:, None, None]
        to_budget = np.einsum("nbqj,q->nbj", _interpolation_matrix(self.budget_grid, share_left), BASKET_WEIGHTS)
        terms = (to_memory, to_budget, (profit - overrun) @ BASKET_WEIGHTS, waste @ BASKET_WEIGHTS)
        return tuple(term.astype(np.float32) for term in terms)

    def act(self, cohort: Cohort) -> NDArray[np.int64]:
        if len(cohort.population) != len(self.population):
            raise ValueError("the oracle planned for a different cohort")
        config, pop, week = self.config, self.population, cohort.week
        following = self._expect_competitor(self.values[week + 1], week)
        competitor = cohort.draws.competitor[:, week]
        depths = cohort.depths[None, :]
        reference = config.reference_memory * cohort.reference[:, None] + (1 - config.reference_memory) * depths
        fatigue = config.fatigue_memory * cohort.fatigue[:, None] + (1 - config.fatigue_memory) * (depths > 0)
        share_now = np.broadcast_to((cohort.budget / pop.budget)[:, None, None], (*reference.shape, 1))
        older = np.minimum(cohort.age + 1, config.max_age_weeks)
        no_order = self._lookup(following, older, competitor, reference, fatigue, share_now)[..., 0]

        basket = np.exp(pop.basket_log_mean[:, None, None] + pop.basket_log_sd * BASKET_NODES)  # (N, 1, Q)
        profit, paid, waste, overrun = order_money(config, basket, depths[..., None], cohort.budget[:, None, None])
        share_left = (cohort.budget[:, None, None] - paid) / pop.budget[:, None, None]
        after_order = self._lookup(following, np.zeros_like(cohort.age), competitor, reference, fatigue, share_left)
        p_buy = cohort.buy_probabilities(np.broadcast_to(depths, reference.shape))
        p_anyway = cohort.buy_probabilities(np.zeros(len(pop)))[:, None]
        value = p_buy * ((profit - overrun + after_order) @ BASKET_WEIGHTS) + (1 - p_buy) * no_order
        return (value - p_anyway * (waste @ BASKET_WEIGHTS)).argmax(axis=1)

    def _lookup(
        self, table: NDArray, age: NDArray, competitor: NDArray, reference: Array, fatigue: Array, share: Array
    ) -> Array:
        """Each customer's planned value in £ at (age, competitor) and, interpolated, (reference, fatigue, share).

        `reference` and `fatigue` are (N, K) for K depths; `share` is (N, K, Q) for Q basket nodes.
        """
        r_lo, r_w = _bracket(self.reference_grid, reference)
        f_lo, f_w = _bracket(self.fatigue_grid, fatigue)
        b_lo, b_w = _bracket(self.budget_grid, share)
        customer = (self.type_of[:, None, None], age[:, None, None])
        total = np.zeros(share.shape)
        for dr, wr in ((0, 1 - r_w), (1, r_w)):
            for df, wf in ((0, 1 - f_w), (1, f_w)):
                for db, wb in ((0, 1 - b_w), (1, b_w)):
                    cell = (
                        *customer,
                        (r_lo + dr)[..., None],
                        (f_lo + df)[..., None],
                        b_lo + db,
                        competitor[:, None, None],
                    )
                    total += (wr * wf)[..., None] * wb * table[cell]
        return total * self.population.basket_mean[:, None, None]


def _bracket(grid: Array, x: Array) -> tuple[NDArray[np.int64], Array]:
    """Index of the grid cell holding x (clipped to the grid) and x's weight on its upper end."""
    x = np.clip(x, grid[0], grid[-1])
    lo = np.clip(np.searchsorted(grid, x, side="right") - 1, 0, len(grid) - 2)
    return lo, (x - grid[lo]) / (grid[lo + 1] - grid[lo])


def _interpolation_matrix(grid: Array, x: Array) -> Array:
    """One row of linear-interpolation weights over `grid` per point of x (any shape: rows add a last axis)."""
    lo, w = _bracket(grid, x)
    eye = np.eye(len(grid))
    return eye[lo] * (1 - w)[..., None] + eye[lo + 1] * w[..., None]
