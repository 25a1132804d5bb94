"""`offerpilot audit fairness`: offer rate and depth by protected group, against a declared maximum gap.

Shown on the in-vehicle coupon survey, the one real data set here that records protected attributes. Our
acceptance model is trained without them (policies.fairness refuses them at fit), every answer is scored by
the model of the cross-validation fold that held its respondent out, and a simple rule turns scores into
decisions; the audit then checks what those decisions did to each gender, age, marital-status and
has-children group — which is where proxies for a refused attribute would show.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from numpy.typing import NDArray
from rich.console import Console

from bench.policy_coupon import DATA, PROTECTED, folds, load_survey, ours, out_of_fold, respondent_ids
from bench.report import RESULTS_DIR, markdown_table, print_table, write_results
from policies.fairness import FairnessReport, audit

audit_app = typer.Typer(help="Audit a policy's decisions against the guardrails.", no_args_is_help=True)
console = Console()

GROUP_COLUMNS = ("attribute", "group", "size", "offer_rate", "mean_depth", "judged")
GAP_COLUMNS = ("attribute", "offer_rate_gap", "max_gap", "mean_depth_gap", "max_depth_gap", "violation")


def stand_in_depth(acceptance: NDArray[np.float64], threshold: float) -> NDArray[np.float64]:
    """Depth in percent: 0 below the threshold, else 40·(1 − p) in 5-point steps, between 5 and 20.

    The survey offers coupons without a depth, so this stands in for a policy that spends more where
    acceptance is less certain; it makes depth depend on the model, so the depth audit has something to see.
    """
    depth = np.clip(5 * np.round(40 * (1 - acceptance) / 5), 5, 20)
    return np.where(acceptance >= threshold, depth, 0.0)


def _write(report: FairnessReport, threshold: float, min_group_size: int, answers: int, out_dir: Path) -> Path:
    verdict = "VIOLATION: " + "; ".join(report.violations) if report.violated else "no violation"
    summary = "\n\n".join(
        [
            "# Fairness audit on the in-vehicle coupon survey",
            f"{answers:,} answers scored out-of-fold (5 folds grouped by respondent) by `ours`, trained without "
            f"{', '.join(PROTECTED)}. Offer when predicted acceptance >= {threshold:g}; stand-in depth "
            "40·(1 − p) in 5-point steps between 5 and 20 (the survey has no depths). Mean depth is among "
            f"offers. Groups under {min_group_size} answers are shown but not judged (`judged` false).",
            f"Result: {verdict}.",
            markdown_table(report.gap_rows(), GAP_COLUMNS),
            markdown_table(report.group_rows(), GROUP_COLUMNS),
        ]
    )
    payload = {
        "threshold": threshold,
        "min_group_size": min_group_size,
        "max_gap": report.max_gap,
        "max_depth_gap": report.max_depth_gap,
        "violated": report.violated,
        "violations": report.violations,
        "rows": report.gap_rows(),
        "groups": report.group_rows(),
    }
    return write_results("fairness_coupon", payload, summary, out_dir)


@audit_app.command("fairness")
def fairness(
    max_gap: Annotated[
        float, typer.Option(min=0, max=1, help="Largest allowed gap in offer rate between groups.")
    ] = 0.1,
    max_depth_gap: Annotated[
        float | None, typer.Option(min=0, help="Largest allowed gap in mean depth (points); unchecked if unset.")
    ] = None,
    threshold: Annotated[float, typer.Option(min=0, max=1, help="Offer when predicted acceptance reaches this.")] = 0.5,
    min_group_size: Annotated[
        int, typer.Option(min=1, help="Smaller groups are shown but left out of the gaps (answers).")
    ] = 100,
    report_only: Annotated[bool, typer.Option(help="Exit 0 even when the audit finds a violation.")] = False,
    data: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="The in-vehicle coupon CSV.")] = DATA,
    out_dir: Annotated[Path, typer.Option(help="Where fairness_coupon.json and .md go.")] = RESULTS_DIR,
) -> None:
    """Offer rate and mean depth per gender, age, marital status and has-children group on the coupon survey."""
    raw = load_survey(data)
    respondent = respondent_ids(raw)
    with console.status("training the acceptance model on 5 respondent-grouped folds"):
        acceptance = out_of_fold(ours, folds(raw, respondent, n_folds=5, seed=0))
    depth = stand_in_depth(acceptance, threshold)
    groups = {column: raw[column].tolist() for column in PROTECTED}
    report = audit(depth, groups, max_gap, max_depth_gap, min_group_size)
    print_table("Offers by group", report.group_rows(), GROUP_COLUMNS)
    print_table("Largest gap per attribute", report.gap_rows(), GAP_COLUMNS)
    path = _write(report, threshold, min_group_size, len(raw), out_dir)
    for violation in report.violations:
        console.print(f"[red]violation:[/] {violation}")
    console.print(f"results in {path}")
    if report.violated and not report_only:
        raise typer.Exit(1)
