"""`offerpilot train policy`: train the RL discount agents on the calibrated simulator and save the better one.

Both DQN and PPO are trained from one seed on the training customers, scored on one season of the held-out
customers against `none`, `myopic` and the planning oracle, and the one with more profit is written to
policies/artifacts/rl_discount.{zip,json} with its version, seeds, steps, simulator hash and scores, which is
what `RLDiscountPolicy.load()` picks up.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

train_app = typer.Typer(help="Train models offline before they go live.", no_args_is_help=True)
console = Console()


@train_app.command("policy")
def policy(
    seed: Annotated[int, typer.Option(help="Seed of training and of the evaluation season.")] = 0,
    dqn_steps: Annotated[int, typer.Option(min=1_000, help="DQN training steps (customer-weeks).")] = 150_000,
    ppo_steps: Annotated[int, typer.Option(min=1_000, help="PPO training steps (customer-weeks).")] = 300_000,
    recalibrate: Annotated[
        bool, typer.Option(help="Refit the simulator's customers from the Online Retail CSV first.")
    ] = False,
    data: Annotated[Path | None, typer.Option(help="Online Retail CSV for --recalibrate.")] = None,
    out_dir: Annotated[Path | None, typer.Option(help="Where rl_discount.zip and .json go.")] = None,
) -> None:
    """Train DQN and PPO on the season simulator, evaluate them against the oracle, save the better agent."""
    from dataclasses import replace

    import numpy as np

    from policies.rl import agents
    from policies.rl.calibration import ONLINE_RETAIL, calibrate, load_calibration, save_calibration
    from policies.rl.env import Draws
    from policies.rl.model import Population, SimConfig
    from policies.rl.planning import Constant, Myopic, Oracle, run_season

    if recalibrate:
        with console.status("fitting the simulator's customers to the Online Retail data"):
            path = save_calibration(calibrate(data or ONLINE_RETAIL))
        console.print(f"calibration written to {path}")
    calibration, sim = load_calibration(), SimConfig()
    train_customers = Population.from_calibration(calibration, sim, "train")
    eval_customers = Population.from_calibration(calibration, sim, "eval")
    draws = Draws.draw(np.random.default_rng(10_000 + seed), eval_customers, sim)
    with console.status("the oracle plans the held-out customers' season"):
        oracle = Oracle(eval_customers, sim)
    reference = {
        policy.name: run_season(policy, eval_customers, sim, draws).profit.mean()
        for policy in (Constant("none", 0), Myopic(), oracle)
    }

    results = {}
    for algo, config in (
        ("dqn", replace(agents.DQNConfig(), steps=dqn_steps)),
        ("ppo", replace(agents.PPOConfig(), steps=ppo_steps)),
    ):
        console.print(f"training {algo} (seed {seed}, {config.steps:,} steps)")
        model, _ = agents.train(algo, train_customers, sim, seed, config, progress=True)
        profit = run_season(agents.AgentPolicy(algo, model), eval_customers, sim, draws).profit.mean()
        results[algo] = (model, config, profit)
        console.print(
            f"  {algo}: £{profit:.2f} per held-out customer, {profit / reference['oracle']:.1%} of the oracle, "
            f"{profit / reference['myopic'] - 1:+.1%} vs myopic"
        )

    best = max(results, key=lambda algo: results[algo][2])
    model, config, profit = results[best]
    evaluation = {
        "eval_customers": len(eval_customers),
        "eval_seed": 10_000 + seed,
        "profit_per_customer": round(float(profit), 2),
        "fraction_of_oracle": round(float(profit / reference["oracle"]), 4),
        "vs_myopic": round(float(profit / reference["myopic"] - 1), 4),
        "baselines": {name: round(float(value), 2) for name, value in reference.items()},
        "agents": {algo: round(float(result[2]), 2) for algo, result in results.items()},
    }
    path = agents.save_artifact(
        model, best, seed, config, sim, calibration, evaluation, directory=out_dir or agents.ARTIFACTS
    )
    console.print(f"saved {best} as {path.with_suffix('.zip')} and {path}")
