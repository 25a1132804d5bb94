"""`offerpilot audit fairness`: offer rate and depth by protected group, against a declared maximum gap."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

audit_app = typer.Typer(help="Audit a policy's decisions against the guardrails.", no_args_is_help=True)
console = Console()


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
    data: Annotated[
        Path | None, typer.Option(dir_okay=False, help="The in-vehicle coupon CSV (default: ../shared/datasets).")
    ] = None,
    out_dir: Annotated[Path | None, typer.Option(help="Where fairness_coupon.json and .md go.")] = None,
) -> None:
    """Offer rate and mean depth per gender, age, marital status and has-children group on the coupon survey."""
    from bench.fairness_coupon import GAP_COLUMNS, GROUP_COLUMNS, run_audit, write_report
    from bench.policy_coupon import DATA
    from bench.report import RESULTS_DIR, print_table

    with console.status("training the acceptance model on 5 respondent-grouped folds"):
        report, answers = run_audit(data or DATA, max_gap, max_depth_gap, threshold, min_group_size)
    print_table("Offers by group", report.group_rows(), GROUP_COLUMNS)
    print_table("Largest gap per attribute", report.gap_rows(), GAP_COLUMNS)
    path = write_report(report, threshold, min_group_size, answers, out_dir or RESULTS_DIR)
    for violation in report.violations:
        console.print(f"[red]violation:[/] {violation}")
    console.print(f"results in {path}")
    if report.violated and not report_only:
        raise typer.Exit(1)
