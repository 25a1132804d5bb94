"""`offerpilot ingest KIND FILE` and `offerpilot ingest online-retail FILE`: load files into the store.

Refused rows are printed as `FILE:LINE: reason`, one per line on stderr, so editors and CI can jump to
them; a refused file exits with status 1 and leaves the store unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from core.config import get_settings
from store.db import Database
from store.ingest import SUFFIXES, IngestError, IngestReport, Rejected, ingest_file
from store.online_retail import ASSUMED_MARGIN_RATE, DROP_EXPLANATIONS, DropReason, ingest_online_retail
from store.schemas import RECORD_MODELS

ingest_app = typer.Typer(
    help="Load customers, products, campaigns, coupons and events from CSV or JSONL files, or the UCI "
    "Online Retail CSV, into the store. Every row is validated; by default one bad row refuses the file.",
    no_args_is_help=True,
)

RecordFile = Annotated[
    Path,
    typer.Argument(
        exists=True,
        dir_okay=False,
        readable=True,
        help=f"The file to load; its suffix is one of {', '.join(SUFFIXES)}.",
    ),
]
SkipInvalid = Annotated[
    bool,
    typer.Option(
        "--skip-invalid", help="Write the valid rows and list the refused ones, instead of refusing the file."
    ),
]
ShowProgress = Annotated[bool, typer.Option("--progress/--no-progress", help="Show a row counter while loading.")]

PURPOSES = {
    "customers": "Upsert customers by id.",
    "products": "Upsert products by sku.",
    "campaigns": "Upsert campaigns by id; spend and reservations of existing campaigns are kept.",
    "coupons": "Upsert coupons by id; their campaigns must already be in the store.",
    "events": "Append events; their customers and products must already be in the store.",
}


def _columns(kind: str) -> str:
    fields = RECORD_MODELS[kind].model_fields
    return ", ".join(f"{name}{'' if info.is_required() else '?'}" for name, info in fields.items())


def _record_command(kind: str) -> None:
    def command(file: RecordFile, skip_invalid: SkipInvalid = False, progress: ShowProgress = False) -> None:
        db = _database()
        try:
            report = ingest_file(db, kind, file, skip_invalid=skip_invalid, progress=progress)
        except IngestError as exc:
            _refuse(exc)
        except ValueError as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(1) from None
        finally:
            db.dispose()
        _print_rejected(report.rejected)
        _print_summary(report)

    command.__doc__ = (
        f"{PURPOSES[kind]}\n\nColumns (CSV header or JSON keys; ? = optional): {_columns(kind)}. "
        "In CSV an empty cell is an absent value and lists are written a|b|c."
    )
    ingest_app.command(kind)(command)


for _kind in PURPOSES:
    _record_command(_kind)


@ingest_app.command("online-retail")
def online_retail(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="The Online Retail CSV, optionally .gz.")
    ],
    categorize: Annotated[
        bool,
        typer.Option(
            "--categorize/--no-categorize",
            help="Name each product's category with the sentence encoder; without it all are 'Uncategorised'.",
        ),
    ] = True,
    progress: ShowProgress = False,
) -> None:
    """Load the UCI Online Retail CSV as customers, products and purchase/refund events.

    Rows that are not a product sale to a known customer are counted by reason, as the table shows.
    """
    categorizer = None
    if categorize:
        from retrieval.categories import categorize as categorizer
    db = _database()
    try:
        report = ingest_online_retail(db, file, categorize=categorizer, progress=progress)
    except IngestError as exc:
        _refuse(exc)
    finally:
        db.dispose()
    table = Table("reason", "meaning", "rows", title=f"Rows of {file} not loaded")
    for reason in DropReason:
        table.add_row(reason.value, DROP_EXPLANATIONS[reason], f"{report.dropped[reason]:,}")
    table.add_row("total", "", f"{sum(report.dropped.values()):,}", style="bold")
    console = Console()
    console.print(table)
    console.print(
        f"rows read {report.rows_read:,}; written: customers {report.customers:,}, products {report.products:,}, "
        f"events {report.events:,} (unit margins assume a {ASSUMED_MARGIN_RATE:.0%} gross margin)"
    )


def _database() -> Database:
    db = Database(get_settings().db_url)
    db.migrate()
    return db


def _print_rejected(rejected: list[Rejected]) -> None:
    for problem in rejected:
        typer.echo(str(problem), err=True)


def _refuse(exc: IngestError) -> NoReturn:
    _print_rejected(exc.report.rejected)
    typer.echo(str(exc), err=True)
    raise typer.Exit(1)


def _print_summary(report: IngestReport) -> None:
    table = Table("rows read", "inserted", "updated", "refused", title=f"{report.kind} from {report.source}")
    table.add_row(*(f"{n:,}" for n in (report.rows_read, report.inserted, report.updated, len(report.rejected))))
    Console().print(table)
