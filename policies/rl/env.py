"""The season simulator: customers through 26 weekly offers, as a gymnasium environment and as an SB3 VecEnv.

**One episode is one customer's season**; one step is one week, with one action: the depth of this week's offer
(0, 5, …, 25%). After the 26th offer the 13 weeks after the campaign run inside the last step, so what the
offers did to later orders is paid for. The observation (`OBSERVATION`) holds everything the dynamics depend on
— price sensitivity follows from the purchase rate — so the problem is fully observed and the gap between the
agents and the oracle is planning and learning, not hidden information.

Why per customer rather than a whole cohort sharing one budget: the effects worth planning for (fatigue,
reference price, purchase cycle, the customer's budget) live inside one customer's history, so a 26-step episode
keeps their credit assignment short enough for DQN and PPO to learn on two CPU cores in minutes, while a
cohort-wide episode would spread each customer's consequences thousands of steps apart. The campaign budget is
therefore the customer's share of it (`SimConfig.budget_rate` of their expected season sales), the per-customer
cap the allocator also enforces; splitting a campaign across customers is the allocator's job.

The same numbers drive every consumer: `Cohort` steps N customers at once with numpy (baselines, oracle,
benchmark), `SeasonEnv` is a cohort of one for gymnasium, and `CohortVecEnv` hands a cohort to SB3 as N envs.
All randomness of a season is drawn up front (`Draws`) and does not depend on the actions, so policies compared
on the same draws see the same customers, competitor moves and luck (common random numbers).

Rewards handed to agents are in units of the customer's mean basket: a £5,000-a-week trade buyer would
otherwise drown out everyone else's gradients, and a constant scale per episode leaves each customer's optimal
policy unchanged. The money (£) is in `info`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray
from stable_baselines3.common.vec_env import VecEnv

from policies.rl.model import (
    Population,
    SimConfig,
    base_hazard,
    buy_probability,
    competitor_transition,
    discount_utility,
    order_money,
)

OBSERVATION = (
    "recency",  # weeks since the last order / max age
    "frequency",  # log of the purchase rate over the population median
    "monetary",  # log mean basket over the population median
    "reference",  # reference discount / deepest depth
    "fatigue",  # 0..1
    "week",  # week of the season / season length
    "season",  # the week's demand index
    "competitor",  # competitor's promotion depth / its deepest
    "budget",  # share of the customer's campaign budget left
)
OBS_LOW = np.array([0, -5, -5, 0, 0, 0, 0, 0, 0], dtype=np.float32)
OBS_HIGH = np.array([1, 5, 5, 1, 1, 1, 5, 1, 1], dtype=np.float32)


@dataclass(frozen=True)
class Draws:
    """A season's randomness for N customers, drawn before any action: uniforms and normals per week."""

    purchase: NDArray[np.float64]  # (N, weeks + tail) uniform: orders when below the buy probability
    basket: NDArray[np.float64]  # (N, weeks + tail) standard normal: the log-basket's deviation
    competitor: NDArray[np.int64]  # (N, weeks + tail) index into SimConfig.competitor_depths
    start_age: NDArray[np.int64]  # (N,) weeks since the last order when the season opens

    @classmethod
    def draw(cls, rng: np.random.Generator, population: Population, config: SimConfig) -> Draws:
        n, weeks = len(population), config.weeks + config.tail_weeks
        competitor = np.zeros((n, weeks), dtype=np.int64)
        competitor[:, 0] = rng.choice(3, size=n, p=_stationary(competitor_transition(config, population.season[0])))
        for week in range(1, weeks):
            cumulative = competitor_transition(config, population.season[week]).cumsum(axis=1)
            step = rng.random(n)
            competitor[:, week] = (step[:, None] > cumulative[competitor[:, week - 1]]).sum(axis=1)
        start_age = _start_age(rng, population, config.max_age_weeks)
        return cls(rng.random((n, weeks)), rng.standard_normal((n, weeks)), competitor, start_age)

    def subset(self, index: NDArray[np.int64] | slice) -> Draws:
        return Draws(self.purchase[index], self.basket[index], self.competitor[index], self.start_age[index])


def _stationary(transition: NDArray[np.float64]) -> NDArray[np.float64]:
    values, vectors = np.linalg.eig(transition.T)
    p = np.real(vectors[:, np.argmin(np.abs(values - 1))])
    return p / p.sum()


def _start_age(rng: np.random.Generator, population: Population, cap: int) -> NDArray[np.int64]:
    """Weeks since the last order at the season's start: the renewal process's equilibrium age, P(a) ∝ S(a).

    Ages past the cap are lumped at it, as the simulator treats them alike.
    """
    ages = np.arange(520)
    survival = np.exp(-((ages[None, :] / population.scale[:, None]) ** population.shape))
    weights = np.concatenate([survival[:, :cap], survival[:, cap:].sum(axis=1, keepdims=True)], axis=1)
    cumulative = weights.cumsum(axis=1) / weights.sum(axis=1, keepdims=True)
    return (rng.random(len(population))[:, None] > cumulative).sum(axis=1)


@dataclass
class Step:
    """What one step did per customer, in £ (the last step includes the tail weeks).

    Reward includes the penalties; profit is margin − discount.
    """

    reward: NDArray[np.float64]
    profit: NDArray[np.float64]
    paid: NDArray[np.float64]
    bought: NDArray[np.bool_]


class Cohort:
    """N customers through one season, stepped together (every episode has the same length)."""

    def __init__(self, population: Population, config: SimConfig, draws: Draws) -> None:
        self.population, self.config, self.draws = population, config, draws
        self.depths = np.array(config.depths)
        self.week = 0
        self.age = draws.start_age.copy()
        n = len(population)
        self.reference, self.fatigue = np.zeros(n), np.zeros(n)
        self.budget = population.budget.copy()

    @property
    def done(self) -> bool:
        """The campaign's last offer has been made (the tail weeks run inside that last step)."""
        return self.week >= self.config.weeks

    @property
    def competitor(self) -> NDArray[np.float64]:
        return np.array(self.config.competitor_depths)[self.draws.competitor[:, self.week]]

    def buy_probabilities(self, depth: NDArray[np.float64] | float) -> NDArray[np.float64]:
        """This week's chance of an order per customer if offered `depth`: (N,) or (N, K) for K depths each."""
        pop, week = self.population, self.week
        hazard = base_hazard(self.age, pop.scale, pop.shape, pop.season[week])
        expand = (slice(None),) + (None,) * max(np.ndim(depth) - 1, 0)
        utility = discount_utility(
            self.config,
            pop.sensitivity[expand],
            depth,
            self.reference[expand],
            self.fatigue[expand],
            self.competitor[expand],
        )
        return buy_probability(hazard[expand], utility)

    def observe(self) -> NDArray[np.float32]:
        pop, config = self.population, self.config
        week = min(self.week, config.weeks - 1)  # the terminal observation shows the last campaign week
        obs = np.stack(
            [
                self.age / config.max_age_weeks,
                np.log(pop.rate / pop.median_rate),
                pop.basket_log_mean - pop.median_basket_log_mean,
                self.reference / self.depths.max(),
                self.fatigue,
                np.full(len(pop), self.week / config.weeks),
                np.full(len(pop), pop.season[week]),
                np.array(config.competitor_depths)[self.draws.competitor[:, week]] / max(config.competitor_depths),
                np.divide(self.budget, pop.budget, out=np.zeros(len(pop)), where=pop.budget > 0),
            ],
            axis=1,
        )
        return np.clip(obs, OBS_LOW, OBS_HIGH).astype(np.float32)

    def step(self, action: NDArray[np.int64]) -> Step:
        """Offer `depths[action]` to each customer this week; after the last week, the tail weeks follow."""
        if self.done:
            raise RuntimeError("the season is over; start a new cohort")
        step = self._week(self.depths[np.asarray(action)])
        if self.done:  # the campaign is over: customers go on buying, with no offers, through the tail
            for _ in range(self.config.tail_weeks):
                tail = self._week(np.zeros(len(self.population)))
                step.reward += tail.reward
                step.profit += tail.profit
        return step

    def _week(self, depth: NDArray[np.float64]) -> Step:
        """One week at these depths: orders, money, and the customers' memories."""
        config, pop, week = self.config, self.population, self.week
        luck = self.draws.purchase[:, week]
        bought = luck < self.buy_probabilities(depth)
        anyway = luck < self.buy_probabilities(0.0)
        basket = np.exp(pop.basket_log_mean + pop.basket_log_sd * self.draws.basket[:, week])
        profit, paid, waste, overrun = order_money(config, basket, depth, self.budget)
        profit, paid, overrun = (np.where(bought, x, 0.0) for x in (profit, paid, overrun))
        reward = profit - overrun - np.where(anyway, waste, 0.0)

        self.budget = self.budget - paid
        self.age = np.where(bought, 0, np.minimum(self.age + 1, config.max_age_weeks))
        self.reference = config.reference_memory * self.reference + (1 - config.reference_memory) * depth
        self.fatigue = config.fatigue_memory * self.fatigue + (1 - config.fatigue_memory) * (depth > 0)
        self.week += 1
        return Step(reward, profit, paid, bought)


class SeasonEnv(gym.Env):
    """One customer's season (gymnasium API): a customer drawn from `population` at every reset."""

    metadata = {"render_modes": []}  # noqa: RUF012 - gymnasium's convention

    def __init__(self, population: Population, config: SimConfig | None = None) -> None:
        self.population, self.config = population, config or SimConfig()
        self.action_space = gym.spaces.Discrete(len(self.config.depths))
        self.observation_space = gym.spaces.Box(OBS_LOW, OBS_HIGH, dtype=np.float32)
        self.cohort: Cohort | None = None

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        index = (options or {}).get("customer", self.np_random.integers(len(self.population)))
        customer = self.population.subset(np.array([index]))
        self.cohort = Cohort(customer, self.config, Draws.draw(self.np_random, customer, self.config))
        return self.cohort.observe()[0], {"customer_id": str(customer.ids[0])}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        assert self.cohort is not None, "call reset() first"
        step = self.cohort.step(np.array([action]))
        scale = self.cohort.population.basket_mean[0]
        info = {"profit": float(step.profit[0]), "paid": float(step.paid[0]), "bought": bool(step.bought[0])}
        return self.cohort.observe()[0], float(step.reward[0] / scale), self.cohort.done, False, info


class CohortVecEnv(VecEnv):
    """`n_envs` customers at a time for SB3; when their season ends, a fresh draw of customers starts.

    Like SB3's Monitor it reports each finished episode in `info["episode"]` (return `r` in mean baskets,
    length `l`), which SB3 logs.
    """

    def __init__(self, population: Population, config: SimConfig, n_envs: int, seed: int) -> None:
        observations = gym.spaces.Box(OBS_LOW, OBS_HIGH, dtype=np.float32)
        self.render_mode = None
        super().__init__(n_envs, observations, gym.spaces.Discrete(len(config.depths)))
        self.population, self.config = population, config
        self.rng = np.random.default_rng(seed)
        self._actions = np.zeros(n_envs, dtype=np.int64)
        self._new_cohort()

    def _new_cohort(self) -> None:
        customers = self.population.subset(self.rng.integers(len(self.population), size=self.num_envs))
        self.cohort = Cohort(customers, self.config, Draws.draw(self.rng, customers, self.config))
        self.returns = np.zeros(self.num_envs)

    def reset(self) -> np.ndarray:
        self._new_cohort()
        return self.cohort.observe()

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions, dtype=np.int64)

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict]]:
        step = self.cohort.step(self._actions)
        reward = step.reward / self.cohort.population.basket_mean
        self.returns += reward
        obs = self.cohort.observe()
        if not self.cohort.done:
            return obs, reward.astype(np.float32), np.zeros(self.num_envs, dtype=bool), [{} for _ in obs]
        infos = [
            {"terminal_observation": o, "episode": {"r": r, "l": self.config.weeks}}
            for o, r in zip(obs, self.returns, strict=True)
        ]
        self._new_cohort()
        return self.cohort.observe(), reward.astype(np.float32), np.ones(self.num_envs, dtype=bool), infos

    def close(self) -> None:
        return None

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        return [getattr(self, attr_name)] * len(self._get_indices(indices))

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        setattr(self, attr_name, value)

    def env_method(self, method_name: str, *method_args, indices: Any = None, **method_kwargs) -> list[Any]:
        raise NotImplementedError("a cohort has no per-env methods")

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        return [False] * len(self._get_indices(indices))
