"""The budget allocator against the exact optimum, its budget invariant and edge cases, and budget pacing."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from policies.allocator import NO_OFFER, allocate, best_response, feasible_options
from policies.pacing import Arrivals, PacingController, settle, simulate

DEPTHS = np.array([0.0, 0.05, 0.10, 0.15, 0.20])


def offers(rng: np.random.Generator, n: int, lift: float = 1.0) -> Arrivals:
    """Customers with a concave response to discount depth; value = incremental margin, cost = expected discount."""
    basket = rng.lognormal(4, 0.6, n)
    base = rng.beta(2, 20, n)
    uplift = lift * rng.beta(2, 10, n)
    p = np.minimum(base[:, None] + uplift[:, None] * (1 - np.exp(-rng.uniform(5, 20, n)[:, None] * DEPTHS)), 1)
    discount = DEPTHS * basket[:, None]
    return Arrivals(value=(p - base[:, None]) * basket[:, None] * 0.35, cost=p * discount, discount=discount)


def optimum(value: np.ndarray, cost: np.ndarray, budget: float, allowed: np.ndarray) -> float:
    n, m = value.shape
    one_each = LinearConstraint(sparse.kron(sparse.eye(n), np.ones((1, m))), 1, 1)
    within = LinearConstraint(cost.reshape(1, -1), 0, budget)
    result = milp(
        -value.ravel(),
        constraints=[one_each, within],
        integrality=np.ones(n * m),
        bounds=Bounds(0, allowed.ravel().astype(float)),
        options={"mip_rel_gap": 1e-9},
    )
    assert result.success
    return -result.fun


def test_near_the_exact_optimum_and_never_over_budget() -> None:
    rng = np.random.default_rng(7)
    ratios = []
    for _ in range(40):
        n = int(rng.integers(20, 61))
        arrivals = offers(rng, n)
        allowed = feasible_options(arrivals.discount, 25.0, rng.uniform(5, 40, n))
        budget = rng.uniform(0.1, 0.6) * np.where(allowed, arrivals.cost, 0).max(axis=1).sum()
        result = allocate(arrivals.value, arrivals.cost, budget, allowed)
        rows = np.arange(n)
        assert allowed[rows, result.choice].all()
        assert result.spend <= budget
        assert result.spend == pytest.approx(arrivals.cost[rows, result.choice].sum())
        ratios.append(result.value / optimum(arrivals.value, arrivals.cost, budget, allowed))
    assert max(ratios) <= 1 + 1e-9
    assert min(ratios) >= 0.98
    assert np.mean(ratios) >= 0.99


def test_budget_holds_at_scale_and_for_every_budget() -> None:
    arrivals = offers(np.random.default_rng(1), 20_000)
    top = arrivals.cost.max(axis=1).sum()
    for share in (0.0, 1e-6, 0.01, 0.2, 0.5, 0.99):
        result = allocate(arrivals.value, arrivals.cost, share * top)
        assert result.spend <= share * top
        assert result.spend >= 0.999 * share * top - arrivals.cost.max()  # unspent at most about one offer


def test_zero_budget_gives_no_offers() -> None:
    arrivals = offers(np.random.default_rng(2), 50)
    result = allocate(arrivals.value, arrivals.cost, 0.0)
    assert (result.choice == NO_OFFER).all()
    assert result.spend == 0.0 and result.value == 0.0


def test_ample_budget_gives_everyone_their_best_option() -> None:
    arrivals = offers(np.random.default_rng(3), 50)
    best = arrivals.value.argmax(axis=1)
    exact = arrivals.cost[np.arange(50), best].sum()
    for budget in (exact, 10 * exact):
        result = allocate(arrivals.value, arrivals.cost, budget)
        np.testing.assert_array_equal(result.choice, best)
        assert result.lam == 0.0


def test_options_worth_nothing_are_never_chosen() -> None:
    value = np.array([[0.0, -1.0, 0.0], [0.0, 2.0, 3.0]])
    cost = np.array([[0.0, 0.5, 0.1], [0.0, 1.0, 4.0]])
    result = allocate(value, cost, budget=100.0)
    np.testing.assert_array_equal(result.choice, [NO_OFFER, 2])


def test_tiny_instance_by_hand() -> None:
    # Budget 3: customer 0's option 2 (value 5, cost 3) beats options 1+1 (value 2 + 2, cost 1 + 2).
    value = np.array([[0.0, 2.0, 5.0], [0.0, 2.0, 2.5]])
    cost = np.array([[0.0, 1.0, 3.0], [0.0, 2.0, 3.0]])
    result = allocate(value, cost, budget=3.0)
    np.testing.assert_array_equal(result.choice, [2, NO_OFFER])
    assert result.value == 5.0


def test_caps_remove_options() -> None:
    discount = np.array([[0.0, 5.0, 10.0, 20.0], [0.0, 5.0, 10.0, 20.0]])
    allowed = feasible_options(discount, max_discount_per_order=15.0, per_customer_cap=[12.0, 4.0])
    np.testing.assert_array_equal(allowed, [[True, True, True, False], [True, False, False, False]])
    value = np.array([[0.0, 1.0, 2.0, 9.0], [0.0, 1.0, 2.0, 9.0]])
    result = allocate(value, discount / 10, budget=100.0, allowed=allowed)
    np.testing.assert_array_equal(result.choice, [2, NO_OFFER])


def test_best_response_prefers_the_cheaper_option_on_ties() -> None:
    value = np.array([[0.0, 1.0, 2.0]])
    cost = np.array([[0.0, 1.0, 2.0]])
    assert best_response(value, cost, 1.0)[0] == NO_OFFER
    assert best_response(value, cost, 0.5)[0] == 2


@pytest.mark.parametrize(
    ("value", "cost", "budget"),
    [
        ([[1.0, 2.0]], [[0.0, 1.0]], 1.0),  # option 0 is not 'no offer'
        ([[0.0, 2.0]], [[0.0, -1.0]], 1.0),
        ([[0.0, np.nan]], [[0.0, 1.0]], 1.0),
        ([[0.0, 2.0]], [[0.0, 1.0]], -1.0),
        ([0.0, 2.0], [0.0, 1.0], 1.0),
    ],
)
def test_bad_input_is_refused(value: list, cost: list, budget: float) -> None:
    with pytest.raises(ValueError):
        allocate(value, cost, budget)


def test_settle_makes_an_offer_only_if_its_full_discount_fits() -> None:
    discount = np.array([[0.0, 4.0]] * 4)
    redeemed = np.array([True, False, True, True])
    # 9 left: the first (4, redeemed) fits, the second (4, not redeemed) fits in 5, the third (4) fits in 5,
    # the fourth would need 4 of the 1 left.
    choice, paid = settle(np.array([1, 1, 1, 1]), discount, redeemed, 9.0)
    np.testing.assert_array_equal(choice, [1, 1, 1, NO_OFFER])
    np.testing.assert_array_equal(paid, [4.0, 0.0, 4.0, 0.0])


def campaign(seed: int, periods: int = 30) -> tuple[list[Arrivals], np.ndarray, float, float]:
    """A month whose response rises by 60% halfway through, which the forecast behind λ₀ does not know."""
    rng = np.random.default_rng(seed)
    traffic = (200 * (1 + 0.3 * np.sin(np.arange(periods) / 7 * 2 * np.pi))).astype(int)
    days = [offers(rng, int(n), lift=1.0 if t < periods // 2 else 1.6) for t, n in enumerate(traffic)]
    forecast = offers(np.random.default_rng(seed + 100), int(traffic.sum()))
    budget = 0.25 * forecast.cost.max(axis=1).sum()
    lam = allocate(forecast.value, forecast.cost, budget).lam
    return days, np.cumsum(traffic) / traffic.sum(), budget, lam


def test_pacing_tracks_the_plan_and_never_overspends() -> None:
    for seed in range(3):
        days, plan, budget, lam = campaign(seed)
        paced = simulate(days, plan, budget, PacingController(lam), lam, np.random.default_rng(seed))
        fixed = simulate(days, plan, budget, None, lam, np.random.default_rng(seed))
        assert (paced.spent <= budget).all() and (fixed.spent <= budget).all()
        assert paced.spent[-1] >= 0.94 * budget
        paced_gap = np.abs(paced.spent - paced.planned).max()
        fixed_gap = np.abs(fixed.spent - fixed.planned).max()
        assert paced_gap <= 0.08 * budget < fixed_gap
        assert paced.value > fixed.value  # late, more responsive customers still get offers


def test_pacing_controller_moves_lambda_the_right_way() -> None:
    ahead = PacingController(1.0)
    assert ahead.update(spent=120.0, planned=100.0) > 1.0
    behind = PacingController(1.0)
    assert behind.update(spent=80.0, planned=100.0) < 1.0
    with pytest.raises(ValueError):
        PacingController(0.0)
