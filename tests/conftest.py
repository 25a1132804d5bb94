"""Shared fixtures: real databases (SQLite file and, when configured, PostgreSQL), the real encoder,
and a small hand-made store whose numbers the tests can check offers against."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from core.config import Settings
from retrieval.encoder import Encoder, get_encoder
from services.indexing import build_coupon_index
from services.offers import OfferService
from store.db import Database, recreate_public_schema
from store.models import Campaign, Coupon, CouponKind, Customer, Event, EventKind, Product

POSTGRES_URL = os.environ.get("OFFERPILOT_TEST_POSTGRES_URL")
REQUIRE_POSTGRES = os.environ.get("OFFERPILOT_REQUIRE_POSTGRES") == "1"
NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database of this test run's own on the configured server, so concurrent runs never collide."""
    if not POSTGRES_URL:
        if REQUIRE_POSTGRES:
            pytest.fail("OFFERPILOT_REQUIRE_POSTGRES=1 but OFFERPILOT_TEST_POSTGRES_URL is not set")
        pytest.skip("PostgreSQL tests need OFFERPILOT_TEST_POSTGRES_URL (.ci/run sets it)")
    name = f"offerpilot_test_{uuid.uuid4().hex[:10]}"
    server = make_url(POSTGRES_URL)
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield server.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def make_db(url: str) -> Database:
    if url.startswith("postgresql"):
        recreate_public_schema(url)
    db = Database(url)
    db.migrate()
    return db


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """The store on each supported database; every test gets an empty, migrated schema."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'offerpilot.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    database = make_db(url)
    yield database
    database.dispose()


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    database = make_db(f"sqlite:///{tmp_path / 'offerpilot.db'}")
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def encoder() -> Encoder:
    return get_encoder()


PRODUCTS = [
    ("C1", "WHITE HANGING HEART T-LIGHT HOLDER", "Candles & Holders", 2.95),
    ("C2", "SET OF 6 SCENTED CANDLES VANILLA", "Candles & Holders", 4.25),
    ("C3", "GLASS STAR FROSTED T-LIGHT HOLDER", "Candles & Holders", 3.75),
    ("K1", "REGENCY CAKESTAND 3 TIER", "Kitchen & Baking", 12.75),
    ("K2", "SET OF 3 CAKE TINS PANTRY DESIGN", "Kitchen & Baking", 4.95),
    ("B1", "JUMBO BAG RED RETROSPOT", "Bags & Totes", 2.08),
    ("B2", "LUNCH BAG BLACK SKULL", "Bags & Totes", 1.65),
    ("X1", "PAPER CHAIN KIT 50'S CHRISTMAS", "Christmas Decorations", 2.95),
]

COUPONS = [
    (
        "candles10",
        "Candle lovers' treat",
        "Save on candles, tea lights and t-light holders.",
        CouponKind.percent,
        [5, 10, 15],
        10.0,
        ["Candles & Holders"],
    ),
    (
        "baking5",
        "Bake it better",
        "£5 off cake stands, cake tins and baking sets.",
        CouponKind.amount,
        [3, 5],
        20.0,
        ["Kitchen & Baking"],
    ),
    (
        "bags15",
        "Carry more for less",
        "A discount on jumbo bags, lunch bags and totes.",
        CouponKind.percent,
        [10, 15],
        0.0,
        ["Bags & Totes"],
    ),
    (
        "xmas20",
        "Christmas early bird",
        "Deck the halls: Christmas decorations and paper chains.",
        CouponKind.percent,
        [10, 20],
        15.0,
        ["Christmas Decorations"],
    ),
    ("ship", "Free delivery", "Free standard shipping on any order.", CouponKind.free_shipping, [4.95], 30.0, []),
]


def seed_store(db: Database, *, budget: float = 500.0, per_customer_cap: float = 40.0) -> None:
    """Three customers with known histories relative to NOW, one campaign and five coupons."""
    with db.session() as s:
        s.add(
            Campaign(
                id="camp",
                name="Test campaign",
                budget=budget,
                spent=0.0,
                reserved=0.0,
                per_customer_cap=per_customer_cap,
                max_discount_per_order=15.0,
                holdout_share=0.0,
                created_at=NOW,
            )
        )
        for sku, description, category, price in PRODUCTS:
            s.add(
                Product(
                    sku=sku,
                    description=description,
                    category=category,
                    unit_price=price,
                    unit_margin=round(price * 0.35, 2),
                )
            )
        for cid in ("candle-fan", "lapsed-baker", "newcomer"):
            s.add(Customer(id=cid, country="United Kingdom", created_at=NOW - timedelta(days=400)))
        for cid, title, description, kind, depths, min_spend, scope in COUPONS:
            s.add(
                Coupon(
                    id=cid,
                    campaign_id="camp",
                    title=title,
                    description=description,
                    kind=kind,
                    depths=depths,
                    min_spend=min_spend,
                    scope_categories=scope,
                    scope_skus=[],
                    per_customer_limit=1,
                    created_at=NOW,
                )
            )
        s.flush()
        # candle-fan: 7 candle purchases in the last 90 days over 7 orders, plus one old bag purchase.
        for day in range(7):
            s.add(
                Event(
                    customer_id="candle-fan",
                    kind=EventKind.purchase,
                    sku=("C1", "C2", "C3")[day % 3],
                    quantity=2,
                    unit_price=3.0,
                    order_id=f"cf-{day}",
                    occurred_at=NOW - timedelta(days=5 + day * 10),
                )
            )
        s.add(
            Event(
                customer_id="candle-fan",
                kind=EventKind.purchase,
                sku="B1",
                quantity=1,
                unit_price=2.08,
                order_id="cf-old",
                occurred_at=NOW - timedelta(days=200),
            )
        )
        # lapsed-baker: two baking orders, the last 120 days ago.
        for n, days in enumerate((120, 150)):
            s.add(
                Event(
                    customer_id="lapsed-baker",
                    kind=EventKind.purchase,
                    sku="K1",
                    quantity=4,
                    unit_price=12.75,
                    order_id=f"lb-{n}",
                    occurred_at=NOW - timedelta(days=days),
                )
            )


def make_service(db: Database, encoder: Encoder, data_dir: Path, **settings: object) -> OfferService:
    """A production-wired service; exploration is off unless asked for, so depths are predictable."""
    settings.setdefault("exploration_epsilon", 0.0)
    config = Settings(data_dir=data_dir, database_url=db.url, **settings)
    build_coupon_index(db, encoder, config.index_dir)
    return OfferService.create(config, db, encoder)


@pytest.fixture
def store(db: Database) -> Database:
    seed_store(db)
    return db


@pytest.fixture
def service(store: Database, encoder: Encoder, tmp_path: Path) -> OfferService:
    return make_service(store, encoder, tmp_path)
