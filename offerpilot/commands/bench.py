"""`offerpilot bench NAME`: benchmarks that write JSON, a PNG and a markdown summary into bench/results/."""

from __future__ import annotations

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
) -> None:
    """p50/p95/p99 latency and throughput of POST /v1/offers at concurrency 1, 8 and 32."""
    from bench.latency import LatencyConfig, run

    run(LatencyConfig(url=url, api_key=api_key, postgres_url=postgres_url, requests_per_level=requests))


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
