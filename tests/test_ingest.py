"""File ingestion and the Online Retail adapter, on a real SQLite file."""

from __future__ import annotations

import gzip
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from core.config import get_settings
from offerpilot.commands.ingest import ingest_app
from store.db import Database
from store.ingest import IngestError, ingest_file, ingest_records
from store.models import Campaign, Coupon, CouponKind, Customer, Event, EventKind, Product
from store.online_retail import ASSUMED_MARGIN_RATE, UNCATEGORISED, DropReason, ingest_online_retail

DATA = Path(__file__).parent / "data"


def count(db: Database, model: type) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(model))


def load_catalog(db: Database) -> None:
    for kind in ("customers", "products"):
        ingest_file(db, kind, DATA / f"{kind}.csv")


def gzipped(source: Path, folder: Path) -> Path:
    target = folder / f"{source.name}.gz"
    with source.open("rb") as raw, gzip.open(target, "wb") as packed:
        shutil.copyfileobj(raw, packed)
    return target


@pytest.mark.parametrize("name", ["customers.csv", "customers.jsonl"])
def test_customers_in_both_formats(db: Database, name: str) -> None:
    report = ingest_file(db, "customers", DATA / name)

    assert (report.rows_read, report.inserted, report.updated, report.rejected) == (3, 3, 0, [])
    with db.session() as session:
        jo = session.get(Customer, "17850")
        assert jo.email == "jo@example.com"
        assert jo.created_at == datetime(2010, 12, 1, 8, 26, tzinfo=UTC)
        # A record without created_at is stamped at ingestion.
        assert session.get(Customer, "13047").created_at > datetime(2020, 1, 1, tzinfo=UTC)


def test_csv_types_lists_and_gzip(db: Database, tmp_path: Path) -> None:
    load_catalog(db)
    for kind in ("campaigns", "coupons", "events"):
        ingest_file(db, kind, gzipped(DATA / f"{kind}.csv", tmp_path))
    ingest_file(db, "events", gzipped(DATA / "events.jsonl", tmp_path))

    with db.session() as session:
        candles, ship = session.get(Coupon, "candles10"), session.get(Coupon, "ship")
        assert (candles.kind, candles.depths, candles.scope_categories) == (
            CouponKind.percent,
            [5.0, 10.0, 15.0],
            ["Candles & Holders"],
        )
        assert (candles.per_customer_limit, candles.scope_skus) == (1, [])
        assert (ship.scope_skus, ship.per_customer_limit) == (["85123A", "71053"], 2)
        campaign = session.get(Campaign, "spring")
        assert (campaign.spent, campaign.reserved, campaign.holdout_share) == (0.0, 0.0, 0.1)
        kinds = session.scalars(select(Event.kind).order_by(Event.id)).all()
        from_csv = [EventKind.purchase, EventKind.refund, EventKind.search, EventKind.view]
        assert kinds == [*from_csv, EventKind.purchase, EventKind.cart]
        search = session.scalars(select(Event).where(Event.kind == EventKind.search)).one()
        assert (search.query, search.sku, search.quantity) == ("cake stand", None, None)


def test_bad_row_refuses_whole_file_and_names_file_line_and_field(db: Database) -> None:
    load_catalog(db)
    path = DATA / "events_bad.csv"

    with pytest.raises(IngestError) as caught:
        ingest_file(db, "events", path)

    assert count(db, Event) == 0
    report = caught.value.report
    assert report.rows_read == 7
    assert report.rows_written == 0
    problems = [str(problem) for problem in report.rejected]
    # The search row's quoted query spans lines 5-6, so the rows after it sit one line lower.
    assert [problem.line for problem in report.rejected] == [3, 4, 7, 8]
    assert problems[0].startswith(f"{path}:3: occurred_at: Input should be a valid datetime")
    assert "'not a date'" in problems[0]
    assert problems[1] == f"{path}:4: quantity must be positive (a refund is its own kind, not a negative purchase)"
    assert problems[2] == f"{path}:7: customer_id '99999' is not in the store"
    assert problems[3] == f"{path}:8: sku 'NOPE' is not in the store"


def test_skip_invalid_writes_good_rows_and_lists_bad_ones(db: Database) -> None:
    load_catalog(db)

    report = ingest_file(db, "events", DATA / "events_bad.csv", skip_invalid=True)

    assert (report.rows_read, report.inserted) == (7, 3)
    assert [problem.line for problem in report.rejected] == [3, 4, 7, 8]
    with db.session() as session:
        assert session.scalars(select(Event.order_id).where(Event.order_id.is_not(None))).all() == ["536365"]
        assert session.scalars(select(Event.query).where(Event.query.is_not(None))).one() == "cake stand\nthree tier"
    assert count(db, Event) == 3


def test_referential_and_duplicate_key_problems(db: Database, tmp_path: Path) -> None:
    coupons = tmp_path / "coupons.jsonl"
    coupons.write_text(
        '{"id": "c1", "campaign_id": "nope", "title": "t", "description": "d", "kind": "amount", "depths": [5]}\n'
    )
    customers = tmp_path / "customers.csv"
    customers.write_text("id,country\nA1,UK\nA2,UK\nA1,France\n")

    with pytest.raises(IngestError) as missing_campaign:
        ingest_file(db, "coupons", coupons)
    with pytest.raises(IngestError) as repeated:
        ingest_file(db, "customers", customers)

    assert [str(p) for p in missing_campaign.value.report.rejected] == [
        f"{coupons}:1: campaign_id 'nope' is not in the store"
    ]
    assert [str(p) for p in repeated.value.report.rejected] == [f"{customers}:4: id 'A1' repeats the row on line 2"]
    assert count(db, Customer) == count(db, Coupon) == 0


def test_unreadable_rows_and_headers(db: Database, tmp_path: Path) -> None:
    jsonl = tmp_path / "customers.jsonl"
    jsonl.write_text('{"id": "A1"}\n{"id": \n[1, 2]\n{"id": "A2", "colour": "red"}\n')
    header = tmp_path / "products.csv"
    header.write_text("sku,description,colour\nX,Y,red\n")
    short = tmp_path / "customers.csv"
    short.write_text("id,country\nA1\n")

    with pytest.raises(IngestError) as bad_jsonl:
        ingest_file(db, "customers", jsonl)
    with pytest.raises(IngestError) as bad_header:
        ingest_file(db, "products", header)
    with pytest.raises(IngestError) as bad_row:
        ingest_file(db, "customers", short)

    assert [(p.line, p.reason.split(":")[0]) for p in bad_jsonl.value.report.rejected] == [
        (2, "invalid JSON"),
        (3, "expected a JSON object"),
        (4, "colour"),
    ]
    (problem,) = bad_header.value.report.rejected
    assert problem.line == 1
    assert "unknown column 'colour'" in problem.reason
    assert "required column 'unit_price' is missing" in problem.reason
    assert [str(p) for p in bad_row.value.report.rejected] == [f"{short}:2: expected 2 fields, found 1"]
    with pytest.raises(ValueError, match="unknown file type"):
        ingest_file(db, "customers", DATA / "customers.txt")


def test_reingest_is_idempotent_and_keeps_store_owned_columns(db: Database, tmp_path: Path) -> None:
    load_catalog(db)
    ingest_file(db, "campaigns", DATA / "campaigns.csv")
    with db.session() as session:
        stamped = session.get(Customer, "13047").created_at
        campaign = session.get(Campaign, "spring")
        campaign.spent, campaign.reserved = 120.0, 30.0

    again = ingest_file(db, "customers", DATA / "customers.csv")
    bigger = tmp_path / "campaigns.csv"
    bigger.write_text((DATA / "campaigns.csv").read_text().replace(",2000,", ",5000,"))
    ingest_file(db, "campaigns", bigger)

    assert (again.inserted, again.updated) == (0, 3)
    assert count(db, Customer) == 3
    with db.session() as session:
        assert session.get(Customer, "13047").created_at == stamped
        campaign = session.get(Campaign, "spring")
        assert (campaign.budget, campaign.spent, campaign.reserved) == (5000.0, 120.0, 30.0)


def test_ingest_records_reusable_without_files(db: Database) -> None:
    report = ingest_records(db, "customers", [(1, {"id": "api-1"}), (2, {"id": "bad id!"})], "api", skip_invalid=True)

    assert report.inserted == 1
    assert [str(p) for p in report.rejected] == [
        "api:2: id: String should match pattern '^[A-Za-z0-9_.:\\-]+$' (got 'bad id!')"
    ]


def test_online_retail_counts_every_quirk(db: Database) -> None:
    calls: list[list[str]] = []

    def categorize(descriptions: list[str]) -> list[str]:
        calls.append(descriptions)
        return [description.split()[-1].title() for description in descriptions]

    report = ingest_online_retail(db, DATA / "online_retail_sample.csv", categorize=categorize)

    assert report.rows_read == 15
    assert dict(report.dropped) == {
        DropReason.duplicate: 1,
        DropReason.no_customer: 2,
        DropReason.not_a_product: 3,
        DropReason.non_positive_price: 1,
        DropReason.adjustment: 1,
        DropReason.malformed: 1,
        DropReason.quantity_sign: 1,
    }
    assert (report.customers, report.products, report.events) == (3, 3, 5)
    assert report.rows_read == sum(report.dropped.values()) + report.events
    assert calls == [["WHITE HANGING HEART T-LIGHT HOLDER", "WHITE METAL LANTERN", "JAM MAKING SET WITH JARS"]]
    with db.session() as session:
        heart = session.get(Product, "85123A")
        assert (heart.description, heart.category, heart.unit_price) == (
            "WHITE HANGING HEART T-LIGHT HOLDER",
            "Holder",
            2.75,
        )
        assert heart.unit_margin == round(2.75 * ASSUMED_MARGIN_RATE, 2)
        customer = session.get(Customer, "17850")
        assert (customer.country, customer.created_at) == ("United Kingdom", datetime(2010, 12, 1, 8, 26, tzinfo=UTC))
        assert session.get(Customer, "13047").created_at == datetime(2010, 12, 1, 10, 30, tzinfo=UTC)
        refund = session.scalars(select(Event).where(Event.kind == EventKind.refund)).one()
        assert (refund.order_id, refund.sku, refund.quantity, refund.unit_price) == ("C536379", "85123A", 2, 2.75)


def test_online_retail_rerun_appends_nothing(db: Database) -> None:
    ingest_online_retail(db, DATA / "online_retail_sample.csv")

    again = ingest_online_retail(db, DATA / "online_retail_sample.csv")

    assert again.events == 0
    assert again.dropped[DropReason.already_in_store] == 5
    assert count(db, Event) == 5
    with db.session() as session:
        assert set(session.scalars(select(Product.category))) == {UNCATEGORISED}


def test_online_retail_refuses_other_files(db: Database) -> None:
    with pytest.raises(IngestError) as caught:
        ingest_online_retail(db, DATA / "customers.csv")

    assert caught.value.report.rejected[0].line == 1
    assert "is not the Online Retail header" in caught.value.report.rejected[0].reason


@pytest.fixture
def cli_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("OFFERPILOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("OFFERPILOT_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    database = Database(get_settings().db_url)
    yield database
    database.dispose()
    get_settings.cache_clear()


def test_cli_loads_and_refuses_with_file_line_messages(cli_store: Database) -> None:
    runner = CliRunner()
    loaded = [runner.invoke(ingest_app, [kind, str(DATA / f"{kind}.csv")]) for kind in ("customers", "products")]
    refused = runner.invoke(ingest_app, ["events", str(DATA / "events_bad.csv")])
    skipped = runner.invoke(ingest_app, ["events", str(DATA / "events_bad.csv"), "--skip-invalid"])

    assert [result.exit_code for result in loaded] == [0, 0]
    assert "inserted" in loaded[0].output
    assert refused.exit_code == 1
    assert f"{DATA / 'events_bad.csv'}:7: customer_id '99999' is not in the store" in refused.output
    assert "4 problems, nothing written" in refused.output
    assert skipped.exit_code == 0
    assert f"{DATA / 'events_bad.csv'}:8: sku 'NOPE' is not in the store" in skipped.output
    assert count(cli_store, Event) == 3


def test_cli_online_retail_and_help(cli_store: Database) -> None:
    runner = CliRunner()
    result = runner.invoke(ingest_app, ["online-retail", str(DATA / "online_retail_sample.csv"), "--no-categorize"])
    missing = runner.invoke(ingest_app, ["customers", str(DATA / "absent.csv")])
    unknown_suffix = runner.invoke(ingest_app, ["customers", __file__])
    helped = runner.invoke(ingest_app, ["coupons", "--help"])

    assert result.exit_code == 0, result.output
    assert "no_customer" in result.output
    assert count(cli_store, Event) == 5
    assert missing.exit_code == 2  # typer's usage error: the file does not exist
    assert unknown_suffix.exit_code == 1
    assert "unknown file type" in unknown_suffix.output
    assert helped.exit_code == 0
    assert "depths" in helped.output
