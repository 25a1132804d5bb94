"""The season simulator, its baselines and the RL adapter: fast checks on the shipped calibration and agent."""

from __future__ import annotations

import gzip
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from policies.rl.adapter import RLDiscountPolicy
from policies.rl.agents import ARTIFACTS, PPOConfig, load_artifact, save_artifact, train
from policies.rl.calibration import CALIBRATION_PATH, calibrate, load_calibration
from policies.rl.env import Cohort, Draws, SeasonEnv
from policies.rl.model import Population, SimConfig
from policies.rl.planning import Constant, Myopic, Oracle, run_season
from store.models import Coupon, CouponKind
from store.profiles import CustomerProfile

CONFIG = SimConfig()


@pytest.fixture(scope="module")
def calibration():
    return load_calibration(CALIBRATION_PATH)


@pytest.fixture(scope="module")
def customers(calibration) -> Population:
    return Population.from_calibration(calibration, CONFIG, "eval")


def test_gymnasium_check_env_passes(customers):
    check_env(SeasonEnv(customers, CONFIG), skip_render_check=True)


def test_same_seed_same_season(customers):
    def play(seed: int) -> list:
        env = SeasonEnv(customers, CONFIG)
        obs, info = env.reset(seed=seed)
        trace = [info["customer_id"], obs.tolist()]
        for week in range(CONFIG.weeks):
            obs, reward, terminated, _, _ = env.step(week % len(CONFIG.depths))
            trace += [obs.tolist(), reward]
        assert terminated
        return trace

    assert play(7) == play(7)
    assert play(7) != play(8)


def test_budget_is_never_exceeded(customers):
    rng = np.random.default_rng(0)
    for action in (len(CONFIG.depths) - 1, None):  # the deepest offer every week, then random offers
        cohort = Cohort(customers, CONFIG, Draws.draw(rng, customers, CONFIG))
        spent = np.zeros(len(customers))
        while not cohort.done:
            choice = (
                np.full(len(customers), action) if action else rng.integers(len(CONFIG.depths), size=len(customers))
            )
            spent += cohort.step(choice).paid
            assert (cohort.budget >= -1e-9).all()
        assert (spent <= customers.budget + 1e-9).all()
        assert spent.sum() > 0


def test_fatigue_and_reference_lower_the_response(customers):
    cohort = Cohort(customers, CONFIG, Draws.draw(np.random.default_rng(1), customers, CONFIG))
    fresh = cohort.buy_probabilities(0.10)
    assert (fresh > cohort.buy_probabilities(0.0)).all()  # a discount helps, at first

    cohort.fatigue = np.ones(len(customers))
    assert (cohort.buy_probabilities(0.10) < fresh).all()  # wear-out
    cohort.fatigue = np.zeros(len(customers))

    no_offer = cohort.buy_probabilities(0.0)
    cohort.reference = np.full(len(customers), 0.20)
    assert (cohort.buy_probabilities(0.0) < no_offer).all()  # expecting 20% and getting nothing is a loss
    assert (cohort.buy_probabilities(0.10) < fresh).all()  # and a shallow offer is less of a gain

    cohort.reference = np.zeros(len(customers))
    cohort.step(np.full(len(customers), CONFIG.depths.index(0.25)))
    assert (cohort.reference > 0).all() and (cohort.fatigue > 0).all()  # deep offers raise expectations


def test_oracle_beats_myopic_which_falls_into_the_promotion_trap(customers):
    """What the simulator guarantees: the planner is best, and greedy one-week uplift loses to doing nothing."""
    sample = customers.subset(slice(0, 10))
    oracle = Oracle(sample, CONFIG)
    totals = {"oracle": 0.0, "myopic": 0.0, "none": 0.0}
    for seed in range(3):
        draws = Draws.draw(np.random.default_rng(seed), sample, CONFIG)
        for policy in (oracle, Myopic(), Constant("none", 0)):
            totals[policy.name] += run_season(policy, sample, CONFIG, draws).reward.sum()
    assert totals["oracle"] > totals["myopic"]
    assert totals["none"] > totals["myopic"]
    assert totals["oracle"] >= 0.99 * totals["none"]


def test_calibration_reads_online_retail_rows(tmp_path):
    start = datetime(2011, 1, 3, 10, 0)
    lines = ["InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"]
    invoice = 500000
    for customer in range(12):
        for week in range(0, 40, 2 + customer % 4):
            invoice += 1
            day = start + timedelta(weeks=week, days=customer % 5)
            lines.append(
                f"{invoice},2242{customer % 10},MUG,{6 + customer},{day:%Y-%m-%d %H:%M:%S},2.5,{17000 + customer}.0,UK"
            )
    lines.append(f"C{invoice + 1},22420,MUG,-1,{start:%Y-%m-%d %H:%M:%S},2.5,17000.0,UK")  # a refund: left out
    lines.append(f"{invoice + 2},POST,POSTAGE,1,{start:%Y-%m-%d %H:%M:%S},18.0,17000.0,UK")  # not a product
    path = tmp_path / "retail.csv.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("\n".join(lines) + "\n")

    fitted = calibrate(path)
    assert len(fitted.customer_ids) == 12 and len(fitted.season_index) == 26
    assert fitted.source["rows_read"] == len(lines) - 1
    assert fitted.weibull_shape > 1  # regular buyers: the hazard grows with time since the last order
    assert all(rate > 0 for rate in fitted.weekly_rate)


def _profile() -> CustomerProfile:
    as_of = datetime(2025, 9, 15, 12, 0, tzinfo=UTC)
    return CustomerProfile(
        customer_id="12347",
        country="Iceland",
        as_of=as_of,
        orders=6,
        monetary=2_400.0,
        first_order_at=as_of - timedelta(days=300),
        last_order_at=as_of - timedelta(days=40),
    )


def _coupon(kind: CouponKind = CouponKind.percent, depths: list[float] | None = None) -> Coupon:
    return Coupon(
        id="autumn",
        campaign_id="c1",
        title="Autumn",
        description="Autumn home decor",
        kind=kind,
        depths=depths or [5.0, 10.0, 15.0, 20.0],
        min_spend=0.0,
    )


def test_shipped_agent_acts_as_a_discount_policy():
    policy = RLDiscountPolicy.load()
    _, metadata = load_artifact(ARTIFACTS / "rl_discount.json")
    assert policy.version == metadata["version"]
    assert metadata["env_digest"] == SimConfig().digest(load_calibration())  # trained on the simulator we ship
    for coupon in (_coupon(), _coupon(CouponKind.amount, [5.0, 20.0, 50.0])):
        decision = policy.choose(_profile(), coupon, relevance=0.7)
        assert decision.depth in coupon.depths
        assert decision.propensity == 1.0
        assert 0 < decision.redeem_probability < 1
        assert decision.reasons and decision.reasons[0].kind == "rl_policy"
    lapsed = replace(_profile(), orders=0, monetary=0.0, first_order_at=None, last_order_at=None)
    assert policy.choose(lapsed, _coupon(), relevance=0.2).depth in _coupon().depths


def test_a_freshly_trained_ppo_reports_its_sampling_probability(tmp_path: Path, calibration, customers):
    config = PPOConfig(steps=416, n_envs=8, n_steps=26, batch_size=104, n_epochs=1)
    model, _ = train("ppo", customers, CONFIG, seed=0, config=config)
    path = save_artifact(model, "ppo", 0, config, CONFIG, calibration, {"note": "test"}, directory=tmp_path)
    policy = RLDiscountPolicy(*load_artifact(path), calibration, stochastic=True, seed=3)
    decisions = [policy.choose(_profile(), _coupon(), relevance=0.5) for _ in range(5)]
    assert all(d.depth in _coupon().depths and 0 < d.propensity <= 1 for d in decisions)
    assert policy.version.startswith("rl-ppo-")
