"""The fairness audit behind `offerpilot audit fairness`: offer rate and depth by protected group.

Shown on the in-vehicle coupon survey, the one real data set here that records protected attributes. Our
acceptance model is trained without them (policies.fairness refuses them at fit), every answer is scored by
the model of the cross-validation fold that held its respondent out, and a simple rule turns scores into
decisions; the audit then checks what those decisions did to each gender, age, marital-status and
has-children group — which is where proxies for a refused attribute would show.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from bench.policy_coupon import PROTECTED, folds, load_survey, ours, out_of_fold, respondent_ids
from bench.report import markdown_table, write_results
from policies.fairness import FairnessReport, audit

GROUP_COLUMNS = ("attribute", "group", "size", "offer_rate", "mean_depth", "judged")
GAP_COLUMNS = ("attribute", "offer_rate_gap", "max_gap", "mean_depth_gap", "max_depth_gap", "violation")


def stand_in_depth(acceptance: NDArray[np.float64], threshold: float) -> NDArray[np.float64]:
    """Depth in percent: 0 below the threshold, else 40·(1 − p) in 5-point steps, between 5 and 20.

    The survey offers coupons without a depth, so this stands in for a policy that spends more where
    acceptance is less certain; it makes depth depend on the model, so the depth audit has something to see.
    """
    depth = np.clip(5 * np.round(40 * (1 - acceptance) / 5), 5, 20)
    return np.where(acceptance >= threshold, depth, 0.0)


def write_report(report: FairnessReport, threshold: float, min_group_size: int, answers: int, out_dir: Path) -> Path:
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


def run_audit(
    data: Path, max_gap: float, max_depth_gap: float | None, threshold: float, min_group_size: int
) -> tuple[FairnessReport, int]:
    """Score every answer out-of-fold, decide offers, and audit them by protected group."""
    raw = load_survey(data)
    acceptance = out_of_fold(ours, folds(raw, respondent_ids(raw), n_folds=5, seed=0))
    depth = stand_in_depth(acceptance, threshold)
    groups = {column: raw[column].tolist() for column in PROTECTED}
    return audit(depth, groups, max_gap, max_depth_gap, min_group_size), len(raw)
