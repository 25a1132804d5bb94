"""Budget pacing: keep a campaign's spend on its planned curve while customers arrive one by one.

Offline, `policies.allocator.allocate` prices the budget at λ for a forecast of the campaign's customers.
Online, customers arrive over days and respond differently from the forecast, so a fixed λ either runs the
budget dry early (and the late customers get nothing) or leaves it unspent. A PI controller on the price
corrects that: when cumulative spend runs ahead of plan, λ rises and offers get leaner; when it lags, λ
falls. The correction is multiplicative (in log λ), so the same gains work whatever the currency and scale.

The controller only steers. What guarantees the budget is `settle`: an offer is made only if its full
discount (its cost if redeemed) still fits what is left.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from policies.allocator import NO_OFFER, best_response


@dataclass
class PacingController:
    """Multiplicative PI control of the dual price λ on the relative gap between spend and plan.

    λ = λ₀ · exp(kp·e + ki·Σe) with e = (spent − planned) / planned after each period. The integral is
    clamped (anti-windup) so a stretch the controller could not follow does not dominate later periods.
    """

    lam: float
    kp: float = 2.0
    ki: float = 0.5
    integral_limit: float = 3.0
    _base: float = field(init=False, repr=False)
    _integral: float = field(default=0.0, init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.lam > 0:
            raise ValueError("pacing needs a positive starting λ: a budget that binds (from allocate on a forecast)")
        self._base = self.lam

    def update(self, spent: float, planned: float) -> float:
        """Set λ for the next period from cumulative spend and cumulative planned spend so far."""
        if planned <= 0:
            return self.lam
        error = (spent - planned) / planned
        self._integral = min(max(self._integral + error, -self.integral_limit), self.integral_limit)
        self.lam = self._base * math.exp(self.kp * error + self.ki * self._integral)
        return self.lam


def settle(
    choice: NDArray[np.int_], discount: NDArray[np.float64], redeemed: NDArray[np.bool_], remaining: float
) -> tuple[NDArray[np.int_], NDArray[np.float64]]:
    """Make offers in arrival order, each only if its full discount still fits what is left, and charge the
    redeemed ones: the offers actually made and what each cost. Offers here settle at once, as checkout
    offers do; this is what keeps spend ≤ budget whatever λ is."""
    rows = np.arange(len(choice))
    face = discount[rows, choice]
    paid = np.where(redeemed, face, 0.0)
    before = np.cumsum(paid) - paid
    fits = before + face <= remaining
    if fits.all():
        return choice, paid
    # Only the tail of the last period before the budget runs out needs one-by-one checks.
    first = int(np.argmin(fits))
    choice, paid = choice.copy(), paid.copy()
    left = remaining - float(before[first])
    for i in range(first, len(choice)):
        if face[i] <= left:
            left -= paid[i]
        else:
            choice[i], paid[i] = NO_OFFER, 0.0
    return choice, paid


@dataclass(frozen=True)
class Arrivals:
    """Customers arriving in one period, with (n, n_options) arrays as in `allocate` (option 0 = no offer):
    expected incremental margin, expected cost, the discount paid if redeemed, and optionally the options
    the caps allow. The redemption probability of an option is its expected cost over its discount."""

    value: NDArray[np.float64]
    cost: NDArray[np.float64]
    discount: NDArray[np.float64]
    allowed: NDArray[np.bool_] | None = None


@dataclass(frozen=True)
class PacingTrace:
    """Cumulative planned and realised spend, and λ, after each period."""

    planned: NDArray[np.float64]
    spent: NDArray[np.float64]
    lam: NDArray[np.float64]
    value: float


def simulate(
    periods: Iterable[Arrivals],
    plan: NDArray[np.float64],
    budget: float,
    controller: PacingController | None,
    lam: float,
    rng: np.random.Generator,
) -> PacingTrace:
    """Run a campaign: each period, customers take their best response at the current λ, redemptions are
    drawn, `settle` holds the budget, and the controller (if any; otherwise λ stays fixed) updates λ.

    `plan` is the cumulative share of the budget planned to be spent by the end of each period (ending at 1).
    """
    planned = budget * np.asarray(plan, dtype=np.float64)
    spent, realised_value = 0.0, 0.0
    spent_path, lam_path = [], []
    for t, arrivals in enumerate(periods):
        offered = best_response(arrivals.value, arrivals.cost, lam, arrivals.allowed)
        rows = np.arange(len(offered))
        discount = arrivals.discount[rows, offered]
        probability = np.divide(arrivals.cost[rows, offered], discount, out=np.zeros(len(rows)), where=discount > 0)
        choice, paid = settle(offered, arrivals.discount, rng.random(len(rows)) < probability, budget - spent)
        spent += float(paid.sum())
        realised_value += float(arrivals.value[rows, choice].sum())
        lam_path.append(lam)
        spent_path.append(spent)
        if controller is not None:
            lam = controller.update(spent, float(planned[t]))
    return PacingTrace(planned[: len(spent_path)], np.array(spent_path), np.array(lam_path), realised_value)
