"""Budget allocation: one option per customer (no offer included) to maximise value within a budget.

This is the multiple-choice knapsack. Its Lagrangian dual prices a unit of budget at λ and lets every
customer independently pick `argmax(value − λ·cost)`; spend falls as λ rises, and the right λ is the one at
which the budget is just met. That decomposition is what makes it scale (each customer's decision is local,
so serving can apply the same λ online, see policies/pacing.py) and it is near-optimal when no single
customer is a large share of the budget.

The dual is solved exactly rather than by bisection: the choices of one customer as λ falls walk up the
upper convex hull of its (cost, value) points, one step per breakpoint λ = Δvalue/Δcost. Sorting all
customers' hull steps by that efficiency and taking them while the budget lasts gives the dual solution
(and λ, the efficiency of the first step that does not fit). The dual leaves unspent budget and can miss at
most that first step's value, which matters on small instances. Two classic knapsack repairs recover it: force
in that critical step and give back the least efficient steps of other customers; and fill what is left with
upgrades that still fit (once by value per unit cost, once by value). The best feasible result is returned.

Arrays are (n_customers, n_options); option 0 is "no offer" with value 0 and cost 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

NO_OFFER = 0


@dataclass(frozen=True)
class Allocation:
    """Chosen option per customer, the total value and spend, and the budget's dual price λ."""

    choice: NDArray[np.int_]
    value: float
    spend: float
    lam: float


def feasible_options(
    discount: ArrayLike, max_discount_per_order: float, per_customer_cap: float | ArrayLike
) -> NDArray[np.bool_]:
    """Options a campaign's caps allow: the discount an option gives on one order must fit under the
    per-order maximum and under the customer's remaining cap (a scalar, or one value per customer).
    `discount` is the amount paid if the offer is redeemed, not its expected cost."""
    discount = np.asarray(discount, dtype=np.float64)
    cap = np.minimum(max_discount_per_order, np.asarray(per_customer_cap, dtype=np.float64))
    allowed = discount <= np.broadcast_to(cap, discount.shape[:1])[:, None]
    allowed[:, NO_OFFER] = True
    return allowed


def best_response(
    value: NDArray[np.float64], cost: NDArray[np.float64], lam: float, allowed: NDArray[np.bool_] | None = None
) -> NDArray[np.int_]:
    """Each customer's option maximising value − λ·cost (the dual's per-customer problem); ties go to the
    cheaper option so spend never rises on a tie."""
    score = value - lam * cost
    if allowed is not None:
        score = np.where(allowed, score, -np.inf)
    best = score.max(axis=1, keepdims=True)
    return np.where(score >= best, cost, np.inf).argmin(axis=1)


def allocate(value: ArrayLike, cost: ArrayLike, budget: float, allowed: ArrayLike | None = None) -> Allocation:
    """Maximise the total value of one option per customer with total expected cost ≤ budget.

    `allowed` (same shape, from `feasible_options`) removes options the caps forbid. Spend never exceeds
    the budget; options worth nothing or less are never chosen.
    """
    value, cost, allowed = _validated(value, cost, budget, allowed)
    rows = np.arange(value.shape[0])
    best = best_response(value, cost, 0.0, allowed)
    if math.fsum(cost[rows, best]) <= budget:
        return Allocation(best, float(value[rows, best].sum()), math.fsum(cost[rows, best]), 0.0)

    v = np.where(allowed, value, -np.inf)
    hull = _Hull.of(v, cost)
    # Take hull steps by falling efficiency while they fit; a customer's own steps stay in hull order
    # because their efficiencies fall and ties keep the order in which they were found.
    order = np.lexsort((np.arange(len(hull.efficiency)), -hull.efficiency))
    fits = np.cumsum(hull.step_cost[order]) <= budget
    n_taken = len(order) if fits.all() else int(np.argmin(fits))
    starts, lam = [hull.choice(order[:n_taken])], 0.0
    if n_taken < len(order):
        starts += _with_critical_step(hull, budget, order[: n_taken + 1])
        lam = float(hull.efficiency[order[n_taken]])
    candidates = [_fill(v, cost, start, budget, by_efficiency) for start in starts for by_efficiency in (True, False)]
    choice = max((_within(value, cost, c, budget) for c in candidates), key=lambda c: value[rows, c].sum())
    return Allocation(choice, float(value[rows, choice].sum()), math.fsum(cost[rows, choice]), lam)


@dataclass(frozen=True)
class _Hull:
    """Steps up each customer's upper concave hull of (cost, value), starting from 'no offer': the customer,
    the option reached, its efficiency Δvalue/Δcost and its Δcost. `chain[i, k]` is customer i's option
    after k + 1 steps. Efficiencies fall along a customer's chain."""

    customer: NDArray[np.int_]
    option: NDArray[np.int_]
    efficiency: NDArray[np.float64]
    step_cost: NDArray[np.float64]
    chain: NDArray[np.int_]

    @classmethod
    def of(cls, v: NDArray[np.float64], cost: NDArray[np.float64]) -> _Hull:
        """Gift wrapping, all customers at once: from the current point, step to the option of steepest
        slope; at most n_options − 1 rounds. A zero-cost option of positive value is an infinitely
        efficient step."""
        n, m = v.shape
        chain = np.full((n, max(m - 1, 1)), NO_OFFER)
        active = np.arange(n)
        current = np.full(n, NO_OFFER)
        parts: list[tuple[NDArray, ...]] = []
        for k in range(m - 1):
            dc = cost[active] - cost[active, current][:, None]
            dv = v[active] - v[active, current][:, None]
            with np.errstate(divide="ignore", invalid="ignore"):
                eff = np.where((dc >= 0) & (dv > 0), dv / dc, -np.inf)
            best = eff.max(axis=1)
            moving = best > -np.inf
            # Ties in efficiency go to the cheaper option: smaller steps fill a budget more finely.
            nxt = np.where(eff == best[:, None], cost[active], np.inf).argmin(axis=1)
            active, current, nxt = active[moving], nxt[moving], nxt[moving]
            parts.append((active, nxt, best[moving], dc[moving, nxt]))
            chain[active, k] = nxt
            if not len(active):
                break
        customer, option, efficiency, step_cost = (np.concatenate(p) for p in zip(*parts, strict=True))
        return cls(customer, option, efficiency, step_cost, chain)

    def choice(self, steps: NDArray[np.int_]) -> NDArray[np.int_]:
        """Each customer's option after taking `steps`, which must hold a prefix of every customer's chain."""
        count = np.bincount(self.customer[steps], minlength=len(self.chain))
        return np.where(count > 0, self.chain[np.arange(len(count)), np.maximum(count - 1, 0)], NO_OFFER)


def _with_critical_step(hull: _Hull, budget: float, steps: NDArray[np.int_]) -> list[NDArray[np.int_]]:
    """The other half of the knapsack's classic repair: take the first step that did not fit (the critical
    one, last in `steps`) and give back the least efficient steps of other customers until it does. The dual
    solution can miss at most that step's value, so the better of the two loses little."""
    critical = hull.customer[steps[-1]]
    others = np.flatnonzero(hull.customer[steps[:-1]] != critical)[::-1]
    over = hull.step_cost[steps].sum() - budget
    freed = np.cumsum(hull.step_cost[steps[others]])
    if not len(others) or freed[-1] < over:
        return []
    keep = np.ones(len(steps), dtype=bool)
    keep[others[: int(np.searchsorted(freed, over)) + 1]] = False
    return [hull.choice(steps[keep])]


def _within(
    value: NDArray[np.float64], cost: NDArray[np.float64], choice: NDArray[np.int_], budget: float
) -> NDArray[np.int_]:
    """Cumulative sums round differently from an exactly rounded total, so a budget met to the last cent
    can come out a hair over; withdraw the least efficient offers until the exact total fits."""
    rows = np.arange(len(choice))
    choice = choice.copy()
    while math.fsum(cost[rows, choice]) > budget:
        offered = np.flatnonzero(cost[rows, choice] > 0)
        worst = offered[np.argmin(value[offered, choice[offered]] / cost[offered, choice[offered]])]
        choice[worst] = NO_OFFER
    return choice


def _validated(
    value: ArrayLike, cost: ArrayLike, budget: float, allowed: ArrayLike | None
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]]:
    value = np.asarray(value, dtype=np.float64)
    cost = np.asarray(cost, dtype=np.float64)
    if value.ndim != 2 or value.shape != cost.shape or value.shape[1] < 1:
        raise ValueError(f"value and cost must be (n_customers, n_options) alike, got {value.shape} and {cost.shape}")
    if not (np.all(np.isfinite(value)) and np.all(np.isfinite(cost))):
        raise ValueError("value and cost must be finite")
    if np.any(cost < 0):
        raise ValueError("costs must be non-negative")
    if np.any(value[:, NO_OFFER] != 0) or np.any(cost[:, NO_OFFER] != 0):
        raise ValueError("option 0 must be 'no offer': value 0 and cost 0")
    if not budget >= 0:
        raise ValueError("budget must be a non-negative number")
    allowed = np.ones(value.shape, dtype=bool) if allowed is None else np.asarray(allowed, dtype=bool).copy()
    if allowed.shape != value.shape:
        raise ValueError(f"allowed must have shape {value.shape}, got {allowed.shape}")
    # Worthless options are never worth budget; dropping them leaves 'no offer' as every hull's start.
    allowed &= value > 0
    allowed[:, NO_OFFER] = True
    return value, cost, allowed


def _fill(
    v: NDArray[np.float64], cost: NDArray[np.float64], choice: NDArray[np.int_], budget: float, by_efficiency: bool
) -> NDArray[np.int_]:
    """Spend what the dual left over on upgrades that still fit, best first, until none fits: best by
    value gained per unit cost (the knapsack's greedy) or by value gained (which wins when one large
    upgrade fits); `allocate` tries both."""
    choice = choice.copy()
    live = np.arange(len(choice))  # customers that may still have an upgrade that fits; it only shrinks
    while True:
        left = budget - cost[np.arange(len(choice)), choice].sum()
        gain = v[live] - v[live, choice[live]][:, None]
        extra = cost[live] - cost[live, choice[live]][:, None]
        fits = (extra <= left) & (gain > 0)
        keep = fits.any(axis=1)
        if not keep.any():
            return choice
        live, gain, extra, fits = live[keep], gain[keep], extra[keep], fits[keep]
        with np.errstate(divide="ignore", invalid="ignore"):
            score = np.where(fits, gain / np.maximum(extra, 0) if by_efficiency else gain, -np.inf)
        best = score.argmax(axis=1)
        rows = np.arange(len(live))
        order = np.argsort(-score[rows, best], kind="stable")
        within = np.cumsum(extra[order, best[order]]) <= left
        # The first candidate always fits on its own, so every round upgrades at least one customer.
        upgrade = order[: max(1, int(np.argmin(within)) if not within.all() else len(order))]
        choice[live[upgrade]] = best[upgrade]
