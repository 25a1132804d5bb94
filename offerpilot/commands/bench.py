"""`offerpilot bench NAME`: benchmarks that write JSON, a PNG and a markdown summary into bench/results/."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

bench_app = typer.Typer(help="Run a benchmark; results go to bench/results/.", no_args_is_help=True)


@bench_app.command("latency")
def latency(
    url: Annotated[str | None, typer.Option(help="Measure this running server instead of starting a demo.")] = None,
    api_key: Annotated[str, typer.Option(help="Admin API key of the server given by --url.")] = "bench-key",
    postgres_url: Annotated[
        str | None,
        typer.Option(
            help="Also measure a demo server on this PostgreSQL database (its public schema is dropped and rebuilt)."
        ),
    ] = None,
    requests: Annotated[int, typer.Option(min=10, help="Requests per concurrency level.")] = 300,
    out_dir: Annotated[Path | None, typer.Option(help="Where results go (default bench/results).")] = None,
) -> None:
    """p50/p95/p99 latency and throughput of POST /v1/offers at concurrency 1, 8 and 32."""
    from bench.latency import LatencyConfig, run
    from bench.report import RESULTS_DIR

    run(
        LatencyConfig(
            url=url,
            api_key=api_key,
            postgres_url=postgres_url,
            requests_per_level=requests,
            out_dir=out_dir or RESULTS_DIR,
        )
    )


@bench_app.command("policy-hillstrom")
def policy_hillstrom(
    folds: Annotated[int, typer.Option(min=2, help="Folds of the stratified cross-validation.")] = 5,
    repeats: Annotated[int, typer.Option(min=1, help="Repeats of the cross-validation, reshuffled.")] = 3,
) -> None:
    """Uplift@30, Qini AUC and top-30% policy value of ours vs scikit-uplift on Hillstrom (women's e-mail)."""
    from bench.policy_hillstrom import HillstromConfig, run

    run(HillstromConfig(folds=folds, repeats=repeats))


@bench_app.command("policy-coupon")
def policy_coupon(
    folds: Annotated[int, typer.Option(min=2, help="Folds of the respondent-grouped cross-validation.")] = 5,
) -> None:
    """AUC and accuracy of coupon acceptance on the in-vehicle coupon survey, folds grouped by respondent."""
    from bench.policy_coupon import CouponConfig, run

    run(CouponConfig(folds=folds))


@bench_app.command("ope")
def ope(
    data_dir: Annotated[
        Path | None, typer.Option(help="Open Bandit Dataset folder ({random,bts}/{all,men,women}/...csv.gz).")
    ] = None,
    n_bootstrap: Annotated[int, typer.Option(min=0, help="Bootstrap draws for our confidence intervals.")] = 1000,
    n_sim: Annotated[
        int, typer.Option(min=1000, help="Monte Carlo draws for the Bernoulli TS action distribution.")
    ] = 100_000,
    out_dir: Annotated[Path | None, typer.Option(help="Where results go (default bench/results).")] = None,
) -> None:
    """IPS, SNIPS and DR on the Open Bandit Dataset sample, ours against the obp package's (needs obp)."""
    from bench.ope_obd import DATA_DIR, ObdConfig, run
    from bench.report import RESULTS_DIR

    run(ObdConfig(data_dir=data_dir or DATA_DIR, n_bootstrap=n_bootstrap, n_sim=n_sim, out_dir=out_dir or RESULTS_DIR))


@bench_app.command("allocator")
def allocator(
    data_file: Annotated[Path | None, typer.Option(help="Hillstrom CSV (hillstrom_womens_vs_control.csv.gz).")] = None,
    instances: Annotated[int, typer.Option(min=1, help="Small instances compared with the exact MILP optimum.")] = 200,
    out_dir: Annotated[Path | None, typer.Option(help="Where results go (default bench/results).")] = None,
) -> None:
    """Budget allocator vs the exact optimum (scipy milp) and a greedy baseline, plus budget pacing."""
    from bench.allocator import DATA_FILE, AllocatorConfig, run
    from bench.report import RESULTS_DIR

    run(AllocatorConfig(data_file=data_file or DATA_FILE, instances=instances, out_dir=out_dir or RESULTS_DIR))


@bench_app.command("retrieval")
def retrieval(
    save_ranker: Annotated[
        bool, typer.Option(help="Save the profile-feature LambdaRank model to retrieval/artifacts/ranker.")
    ] = False,
    sizes: Annotated[
        str, typer.Option(help="Comma-separated index sizes for the speed section.")
    ] = "10000,100000,1000000",
) -> None:
    """Next-basket NDCG@10/Recall@10/MRR/coverage of 8 methods on Online Retail (Oct 2011), and FAISS speed."""
    from bench.retrieval import RetrievalBenchConfig, run

    run(RetrievalBenchConfig(save_ranker=save_ranker, speed_sizes=tuple(int(s) for s in sizes.split(","))))


@bench_app.command("policy-sim")
def policy_sim(
    seeds: Annotated[int, typer.Option(min=2, help="Training seeds of each agent, and evaluation seasons.")] = 5,
    dqn_steps: Annotated[int, typer.Option(min=1_000, help="DQN training steps per seed.")] = 150_000,
    ppo_steps: Annotated[int, typer.Option(min=1_000, help="PPO training steps per seed.")] = 300_000,
) -> None:
    """DQN and PPO vs none, fixed 10%, myopic and the planning oracle on the calibrated season simulator."""
    from dataclasses import replace

    from bench.policy_sim import SimBenchConfig, run
    from policies.rl.agents import DQNConfig, PPOConfig

    run(
        SimBenchConfig(
            seeds=seeds, dqn=replace(DQNConfig(), steps=dqn_steps), ppo=replace(PPOConfig(), steps=ppo_steps)
        )
    )
