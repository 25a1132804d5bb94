"""Product categories and the bundled demo files: what `offerpilot demo` loads must be valid as shipped."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import pytest

from core.config import DEMO_DATA_DIR
from retrieval.categories import categorize, load_categories
from store.models import CouponKind
from store.schemas import RECORD_MODELS, CampaignIn, CouponIn

# Real catalogue descriptions (none of them a prototype phrase), one or two per category.
KNOWN = {
    "SILVER HANGING T-LIGHT HOLDER": "Candles & Holders",
    "ORIGAMI VANILLA INCENSE/CANDLE SET": "Candles & Holders",
    "SET OF 10 LED DOLLY LIGHTS": "Lights & Lanterns",
    "PAPER CHAIN KIT VINTAGE CHRISTMAS": "Christmas Decorations",
    "FOUR RABBIT EASTER DECORATIONS": "Easter & Spring",
    "BLUE HAPPY BIRTHDAY BUNTING": "Party & Celebrations",
    "BOTANICAL LAVENDER GIFT WRAP": "Cards & Wrap",
    "GREEN FERN NOTEBOOK": "Stationery",
    "LUNCH BAG CARS BLUE": "Bags & Totes",
    "SET OF 3 BUTTERFLY COOKIE CUTTERS": "Kitchen & Baking",
    "GREEN REGENCY TEACUP AND SAUCER": "Tea, Mugs & Tableware",
    "SET OF 4 KNICK KNACK TINS POPPIES": "Storage & Tins",
    "BLUE DINER WALL CLOCK": "Clocks",
    "NO SINGING METAL SIGN": "Signs & Wall Art",
    "PHOTO FRAME CORNICE": "Frames & Mirrors",
    "HEART OF WICKER LARGE": "Home Decor",
    "FRENCH FLORAL CUSHION COVER": "Cushions & Textiles",
    "STARFISH SOAP DISH": "Bathroom",
    "VINTAGE ZINC WATERING CAN SMALL": "Garden & Outdoor",
    "MINI JIGSAW DINOSAUR": "Toys & Games",
    "CHILDRENS CUTLERY POLKADOT PINK": "Children's",
    "VINTAGE ENAMEL & CRYSTAL NECKLACE": "Jewellery & Accessories",
    "VICTORIAN SEWING KIT": "Sewing & Crafts",
}


def test_categories_file_names_each_category_once_with_prototypes() -> None:
    categories = load_categories()
    assert 18 <= len(categories) <= 24
    assert all(len(prototypes) >= 4 for prototypes in categories.values())
    assert set(KNOWN.values()) == set(categories)


def test_unmistakable_descriptions_get_their_category() -> None:
    assert dict(zip(KNOWN, categorize(list(KNOWN)), strict=True)) == KNOWN


def test_categorize_is_deterministic_and_independent_of_the_batch() -> None:
    descriptions = [*KNOWN, "  JUMBO BAG RED RETROSPOT ", "SMALL POPCORN HOLDER", "Next Day Carriage"]
    first = categorize(descriptions)
    assert categorize(descriptions) == first
    assert [categorize([d])[0] for d in descriptions[-3:-1]] == ["Bags & Totes", "Party & Celebrations"]
    assert first[-3:-1] == ["Bags & Totes", "Party & Celebrations"]
    assert set(first) <= set(load_categories())
    assert categorize([]) == []


def _rows(path: Path) -> list[dict[str, str]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _records(kind: str, name: str) -> list:
    """Every row as its store record; an empty cell means absent, as the CSV ingester reads it."""
    model = RECORD_MODELS[kind]
    return [model.model_validate({k: v for k, v in row.items() if v}) for row in _rows(DEMO_DATA_DIR / name)]


def test_every_bundled_demo_row_validates_and_refers_to_what_is_bundled() -> None:
    customers = _records("customers", "customers.csv")
    products = _records("products", "products.csv")
    events = _records("events", "events.csv.gz")
    campaigns: list[CampaignIn] = _records("campaigns", "campaigns.csv")
    coupons: list[CouponIn] = _records("coupons", "coupons.csv")

    customer_ids = {c.id for c in customers}
    skus = {p.sku for p in products}
    categories = set(load_categories())
    assert 400 <= len(customers) <= 600 and len(customer_ids) == len(customers)
    assert len(skus) == len(products)
    assert {p.category for p in products} == categories
    assert {e.customer_id for e in events} == customer_ids
    assert {e.sku for e in events} == skus

    max_discount = {c.id: c.max_discount_per_order for c in campaigns}
    assert len(coupons) >= 40 and len({c.id for c in coupons}) == len(coupons)
    assert {c.kind for c in coupons} == set(CouponKind)
    assert {name for c in coupons for name in c.scope_categories} == categories
    for coupon in coupons:
        assert set(coupon.scope_categories) <= categories, coupon.id
        assert set(coupon.scope_skus) <= skus, coupon.id
        if coupon.kind is CouponKind.amount:
            assert max(coupon.depths) <= max_discount[coupon.campaign_id], coupon.id


DEMO_FILES = [
    ("customers", "customers.csv"),
    ("products", "products.csv"),
    ("events", "events.csv.gz"),
    ("campaigns", "campaigns.csv"),
    ("coupons", "coupons.csv"),
]


@pytest.mark.parametrize(("kind", "name"), DEMO_FILES)
def test_demo_headers_are_record_fields(kind: str, name: str) -> None:
    opener = gzip.open if name.endswith(".gz") else open
    with opener(DEMO_DATA_DIR / name, "rt", encoding="utf-8", newline="") as handle:
        header = next(csv.reader(handle))
    assert set(header) <= set(RECORD_MODELS[kind].model_fields)
