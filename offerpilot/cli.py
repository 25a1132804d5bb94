"""The `offerpilot` command line: the outermost shell over the same services the API uses."""

from __future__ import annotations

import json
import os
from typing import Annotated

import typer
from pydantic import SecretStr
from rich.console import Console
from rich.table import Table

from core.config import Settings, get_settings
from core.errors import OfferpilotError
from core.logs import configure_logging
from offerpilot.commands.agent import ask, bench_agent, bench_agent_curve, finetune_llm
from offerpilot.commands.bench import bench_app
from offerpilot.commands.finetune import finetune_app
from offerpilot.commands.ingest import ingest_app
from offerpilot.commands.policy import audit_app
from offerpilot.commands.train import train_app

os.environ.setdefault("HF_HUB_OFFLINE", "1")

app = typer.Typer(
    help="offerpilot: decide which coupon to offer which customer, at what depth, within which budget, and why.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
index_app = typer.Typer(help="Build the FAISS index of coupon descriptions.", no_args_is_help=True)
db_app = typer.Typer(help="Manage the store's schema.", no_args_is_help=True)
app.add_typer(index_app, name="index")
app.add_typer(db_app, name="db")
app.add_typer(ingest_app, name="ingest")
app.add_typer(bench_app, name="bench")
app.add_typer(audit_app, name="audit")
app.add_typer(train_app, name="train")
app.add_typer(finetune_app, name="finetune")
finetune_app.command("llm")(finetune_llm)
bench_app.command("agent")(bench_agent)
bench_app.command("agent-curve")(bench_agent_curve)
app.command()(ask)
console = Console()

Host = Annotated[str, typer.Option(help="Interface to listen on.")]
Port = Annotated[int, typer.Option(help="TCP port to listen on.")]


def _settings() -> Settings:
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    return settings


def _serve(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from api.app import create_app

    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")


@app.command()
def demo(host: Host = "127.0.0.1", port: Port = 8000) -> None:
    """Build the bundled demo store if absent (idempotent), then serve it."""
    from retrieval.encoder import get_encoder
    from services.demo import build_demo_store, demo_api_key, ensure_index
    from store.db import Database

    settings = _settings()
    console.print(f"[bold]offerpilot demo[/] — data in {settings.data_dir}")
    db = Database(settings.db_url)
    build = build_demo_store(db, progress=True)
    if build.built:
        for report in build.reports:
            console.print(f"  {report.kind:<10} {report.rows_written:>7} rows from {report.source}")
        console.print(f"  timestamps moved forward {build.shift_days} days so the data ends yesterday")
    else:
        console.print("  demo store already built; serving it as it is")
    encoder = get_encoder()
    if ensure_index(db, encoder, settings, progress=True):
        console.print(f"  coupon index built in {settings.index_dir}")
    db.dispose()
    if not settings.parsed_api_keys():
        key = demo_api_key(settings)
        settings = settings.model_copy(update={"api_keys": SecretStr(f"{key}:admin")})
        console.print(f"  API key (admin): [bold]{key}[/]")
    else:
        key = "<your key>"
    base = f"http://{host}:{port}"
    console.print(
        f"\nTry:\n  curl -s -X POST {base}/v1/offers -H 'X-API-Key: {key}' "
        "-H 'Content-Type: application/json' -d '{\"customer_id\": \"12347\"}'\n"
        f"  OpenAPI: {base}/schema/openapi.json\n",
        soft_wrap=True,
    )
    _serve(settings, host, port)


@app.command()
def serve(host: Host = "127.0.0.1", port: Port = 8000) -> None:
    """Serve the store in OFFERPILOT_DATA_DIR / OFFERPILOT_DATABASE_URL over HTTP."""
    _serve(_settings(), host, port)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the schema to the newest revision."""
    from store.db import Database

    settings = _settings()
    Database(settings.db_url).migrate()
    console.print(f"schema up to date at {settings.db_url}")


@index_app.command("build")
def index_build() -> None:
    """Embed every coupon in the store and save the index with its metadata."""
    from retrieval.encoder import get_encoder
    from services.indexing import build_coupon_index
    from store.db import Database

    settings = _settings()
    try:
        index = build_coupon_index(Database(settings.db_url), get_encoder(), settings.index_dir, progress=True)
    except ValueError as error:
        console.print(f"[red]error:[/] {error}")
        raise typer.Exit(1) from error
    console.print(f"indexed {len(index)} coupons with {index.encoder_version} into {settings.index_dir}")


@app.command()
def offers(
    customer_id: Annotated[str, typer.Argument(help="The customer to choose offers for.")],
    k: Annotated[int, typer.Option(min=1, max=10, help="How many offers.")] = 3,
    query: Annotated[str | None, typer.Option(help="What the customer is searching for now.")] = None,
    dry_run: Annotated[bool, typer.Option(help="Show what would be offered without issuing it.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Choose, price and explain offers for one customer, and show them with their reasons."""
    from retrieval.encoder import get_encoder
    from services.offers import OfferContext, OfferService
    from store.db import Database

    settings = _settings()
    service = OfferService.create(settings, Database(settings.db_url), get_encoder())
    context = OfferContext(query=query)
    try:
        if dry_run:
            rows = [d.__dict__ | {"offer_id": None} for d in service.preview_offers(customer_id, context, k)]
        else:
            batch = service.create_offers(customer_id, context, k)
            rows = [
                {
                    c: getattr(o, c)
                    for c in (
                        "coupon_id",
                        "discount_kind",
                        "discount_value",
                        "redeem_probability",
                        "expected_incremental_margin",
                        "propensity",
                        "explanation",
                    )
                }
                | {"offer_id": o.id}
                for o in batch.offers
            ]
    except OfferpilotError as error:
        console.print(f"[red]error:[/] {error.detail}")
        raise typer.Exit(1) from error
    if as_json:
        console.print_json(json.dumps(rows, default=str))
        return
    if not rows:
        console.print(f"no offer for {customer_id}: nothing eligible fits the budget and guardrails")
        return
    table = Table(title=f"Offers for customer {customer_id}" + (" (dry run)" if dry_run else ""), show_lines=True)
    for column in ("#", "coupon", "discount", "p(redeem)", "E(incr. margin)", "why"):
        table.add_column(column)
    for rank, row in enumerate(rows, 1):
        value = row["discount_value"]
        discount = {"percent": f"{value:g}%", "amount": f"£{value:.2f}"}.get(row["discount_kind"], "free shipping")
        reasons = "\n".join(f"• {r['text']}" for r in row["explanation"]["reasons"])
        table.add_row(
            str(rank),
            row["coupon_id"],
            discount,
            f"{row['redeem_probability']:.2f}",
            f"£{row['expected_incremental_margin']:.2f}",
            reasons,
        )
    console.print(table)
