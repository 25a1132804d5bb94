"""Build the bundled demo extract in data/demo from the real UCI Online Retail file.

    python data/build_demo.py [--source PATH] [--out DIR]

Picks a fixed, seeded sample of real customers with a purchase history that spans months, and writes
their purchases and cancellations, every product they touched (with a category from
`retrieval.categories`), and a manifest. The authored campaign and coupon catalogue in data/demo is
not generated here, but it is checked against the built products and categories. The outputs are
byte-identical from run to run: fixed seed, sorted rows, gzip without a timestamp.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import io
import json
import random
import shutil
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import NamedTuple, TypeVar

from pydantic import ValidationError

from retrieval.categories import CATEGORIES_FILE, categorize, load_categories
from store.models import CouponKind
from store.online_retail import ASSUMED_MARGIN_RATE, COLUMNS, is_product_code
from store.schemas import CampaignIn, CouponIn, CustomerIn, EventIn, ProductIn, Record

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = REPO_ROOT.parent / "shared/datasets/online_retail/online_retail_2010-12_2011-10.csv.gz"
DEMO_DIR = REPO_ROOT / "data" / "demo"
BUILD_COMMAND = "python data/build_demo.py"

SEED = 20111031
UK_CUSTOMERS = 450
OTHER_CUSTOMERS = 50
MIN_INVOICES = 3
MIN_SPAN_DAYS = 90
MAX_DEMO_BYTES = 5 * 1024 * 1024

OUTPUT_COLUMNS = {
    "customers": ["id", "country", "created_at"],
    "products": ["sku", "description", "category", "unit_price", "unit_margin"],
    "events": ["customer_id", "kind", "occurred_at", "sku", "quantity", "unit_price", "order_id"],
}
CATALOGUE_FILES = {"campaigns": "campaigns.csv", "coupons": "coupons.csv"}

R = TypeVar("R", bound=Record)


class Line(NamedTuple):
    """One kept invoice line: a purchase, or a cancellation when `invoice` starts with C."""

    invoice: str
    sku: str
    description: str
    quantity: int
    occurred_at: datetime
    unit_price: str
    customer_id: str
    country: str

    @property
    def is_cancellation(self) -> bool:
        return self.invoice.startswith("C")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_lines(source: Path) -> tuple[list[Line], Counter[str], int]:
    """The customer product lines worth keeping, the count of each reason a row was dropped, and the row count."""
    lines: list[Line] = []
    dropped: Counter[str] = Counter()
    seen: set[tuple[str, ...]] = set()
    rows = 0
    with gzip.open(source, "rt", encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        if next(reader) != list(COLUMNS):
            raise SystemExit(f"{source}: not the Online Retail header {list(COLUMNS)}")
        for row in reader:
            rows += 1
            if rows % 100_000 == 0:
                log(f"  {rows:,} rows read")
            invoice, code, description, quantity, date, price, customer, country = (c.strip() for c in row)
            key = tuple(row)
            if not is_product_code(code):
                dropped["not a product (postage, fees, vouchers, adjustments)"] += 1
            elif not customer:
                dropped["no CustomerID"] += 1
            elif float(price) <= 0:
                dropped["price zero or negative"] += 1
            elif int(quantity) == 0 or (int(quantity) < 0) != invoice.startswith("C"):
                dropped["quantity sign does not match the invoice kind"] += 1
            elif key in seen:
                dropped["exact duplicate row"] += 1
            else:
                seen.add(key)
                customer_id = str(int(float(customer)))
                occurred_at = datetime.fromisoformat(date)
                lines.append(
                    Line(invoice, code, description, abs(int(quantity)), occurred_at, price, customer_id, country)
                )
    return lines, dropped, rows


def select_customers(lines: list[Line]) -> tuple[list[str], dict[str, str], dict[str, int]]:
    """The seeded sample of eligible customers (sorted), every customer's main country, and pool sizes.

    Eligible: at least MIN_INVOICES purchase invoices whose first and last lie MIN_SPAN_DAYS or more
    apart, so every demo customer has a history with recency and repeat behaviour to explain.
    """
    invoices: defaultdict[str, set[str]] = defaultdict(set)
    first: dict[str, datetime] = {}
    last: dict[str, datetime] = {}
    countries: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for line in lines:
        countries[line.customer_id][line.country] += 1
        if line.is_cancellation:
            continue
        invoices[line.customer_id].add(line.invoice)
        first.setdefault(line.customer_id, line.occurred_at)
        last[line.customer_id] = line.occurred_at
    country = {cid: counts.most_common(1)[0][0] for cid, counts in countries.items()}

    def is_eligible(cid: str) -> bool:
        return len(invoices[cid]) >= MIN_INVOICES and (last[cid] - first[cid]).days >= MIN_SPAN_DAYS

    eligible = sorted(filter(is_eligible, invoices), key=int)
    uk = [cid for cid in eligible if country[cid] == "United Kingdom"]
    other = [cid for cid in eligible if country[cid] != "United Kingdom"]
    rng = random.Random(SEED)
    chosen = rng.sample(uk, UK_CUSTOMERS) + rng.sample(other, OTHER_CUSTOMERS)
    return sorted(chosen, key=int), country, {"eligible_uk": len(uk), "eligible_other": len(other)}


def build_customers(chosen: list[str], country: dict[str, str], events: list[dict[str, str]]) -> list[dict[str, str]]:
    """Each chosen customer with its main country and, as `created_at`, the time of its first event."""
    first_seen: dict[str, str] = {}
    for event in events:
        first_seen.setdefault(event["customer_id"], event["occurred_at"])
    return [{"id": cid, "country": country[cid], "created_at": first_seen[cid]} for cid in chosen]


def build_products(lines: list[Line], skus: set[str]) -> list[dict[str, str]]:
    """Each sku's most frequent description and median price over every kept line of the whole file."""
    descriptions: defaultdict[str, Counter[str]] = defaultdict(Counter)
    prices: defaultdict[str, list[float]] = defaultdict(list)
    for line in lines:
        if line.sku in skus:
            if line.description:
                descriptions[line.sku][line.description] += 1
            prices[line.sku].append(float(line.unit_price))
    ordered = sorted(skus)
    texts = [descriptions[sku].most_common(1)[0][0] if descriptions[sku] else sku for sku in ordered]
    log(f"  categorising {len(ordered):,} descriptions")
    categories = categorize(texts)
    products = []
    for sku, text, category in zip(ordered, texts, categories, strict=True):
        price = round(statistics.median(prices[sku]), 2)
        products.append(
            {
                "sku": sku,
                "description": text,
                "category": category,
                "unit_price": f"{price:.2f}",
                "unit_margin": f"{price * ASSUMED_MARGIN_RATE:.2f}",
            }
        )
    return products


def build_events(lines: list[Line], customers: set[str]) -> list[dict[str, str]]:
    """Purchases and cancellations (as refunds) of the chosen customers, in the file's time order."""
    return [
        {
            "customer_id": line.customer_id,
            "kind": "refund" if line.is_cancellation else "purchase",
            "occurred_at": line.occurred_at.isoformat(),
            "sku": line.sku,
            "quantity": str(line.quantity),
            "unit_price": line.unit_price,
            "order_id": line.invoice,
        }
        for line in lines
        if line.customer_id in customers
    ]


def validate(model: type[R], rows: Iterable[dict[str, str]]) -> list[R]:
    """Every row as the store's input record; empty cells mean absent, as the CSV ingester reads them."""
    records = []
    for number, row in enumerate(rows, start=2):
        try:
            records.append(model.model_validate({k: v for k, v in row.items() if v.strip()}))
        except ValidationError as exc:
            raise SystemExit(f"{model.__name__} at line {number}: {exc}") from exc
    return records


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def check_catalogue(catalogue_dir: Path, products: list[dict[str, str]]) -> dict[str, int]:
    """The authored campaign and coupons must validate and refer only to what the extract holds."""
    campaigns = validate(CampaignIn, read_csv(catalogue_dir / CATALOGUE_FILES["campaigns"]))
    coupons = validate(CouponIn, read_csv(catalogue_dir / CATALOGUE_FILES["coupons"]))
    by_id = {campaign.id: campaign for campaign in campaigns}
    category_names = set(load_categories())
    skus = {product["sku"] for product in products}
    problems = []
    if len({coupon.id for coupon in coupons}) != len(coupons):
        problems.append("coupon ids repeat")
    for coupon in coupons:
        campaign = by_id.get(coupon.campaign_id)
        if campaign is None:
            problems.append(f"{coupon.id}: unknown campaign {coupon.campaign_id}")
        elif coupon.kind is CouponKind.amount and max(coupon.depths) > campaign.max_discount_per_order:
            problems.append(f"{coupon.id}: depth above the campaign's max discount per order")
        problems += [f"{coupon.id}: unknown category {c!r}" for c in coupon.scope_categories if c not in category_names]
        problems += [f"{coupon.id}: sku {s} not in the extract" for s in coupon.scope_skus if s not in skus]
    covered = {name for coupon in coupons for name in coupon.scope_categories}
    problems += [f"no coupon covers category {name!r}" for name in sorted(category_names - covered)]
    if problems:
        raise SystemExit("catalogue problems:\n  " + "\n  ".join(problems))
    return {"campaigns": len(campaigns), "coupons": len(coupons)}


def csv_bytes(columns: list[str], rows: list[dict[str, str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def gzip_bytes(data: bytes) -> bytes:
    """Gzip with no file name and mtime 0, so the same rows always give the same bytes."""
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as handle:
        handle.write(data)
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="Online Retail CSV (.gz)")
    parser.add_argument("--out", type=Path, default=DEMO_DIR, help="output folder (default data/demo)")
    args = parser.parse_args()
    started = time.monotonic()

    log(f"[1/5] reading {args.source}")
    lines, dropped, source_rows = read_lines(args.source)
    log(f"  kept {len(lines):,} of {source_rows:,} rows")

    log("[2/5] selecting customers")
    chosen, country, pools = select_customers(lines)
    events = build_events(lines, set(chosen))
    customers = build_customers(chosen, country, events)
    log(f"  {len(customers)} customers (of {pools['eligible_uk']} UK, {pools['eligible_other']} other eligible)")

    log("[3/5] building products")
    products = build_products(lines, {event["sku"] for event in events})

    log("[4/5] validating")
    validate(CustomerIn, customers)
    validate(ProductIn, products)
    validate(EventIn, events)
    catalogue_counts = check_catalogue(DEMO_DIR, products)

    log(f"[5/5] writing {args.out}")
    args.out.mkdir(parents=True, exist_ok=True)
    outputs = {
        "customers.csv": csv_bytes(OUTPUT_COLUMNS["customers"], customers),
        "products.csv": csv_bytes(OUTPUT_COLUMNS["products"], products),
        "events.csv.gz": gzip_bytes(csv_bytes(OUTPUT_COLUMNS["events"], events)),
    }
    for name, data in outputs.items():
        (args.out / name).write_bytes(data)
    if args.out.resolve() != DEMO_DIR.resolve():
        for name in CATALOGUE_FILES.values():
            shutil.copyfile(DEMO_DIR / name, args.out / name)

    counts = {
        "customers.csv": len(customers),
        "products.csv": len(products),
        "events.csv.gz": len(events),
        "campaigns.csv": catalogue_counts["campaigns"],
        "coupons.csv": catalogue_counts["coupons"],
    }
    kinds = Counter(event["kind"] for event in events)
    manifest = {
        "dataset": "UCI Machine Learning Repository #352 'Online Retail' (Dr Daqing Chen, London South Bank "
        "University; Chen, Sain and Guo, 2012), CC BY 4.0",
        "source": {"file": args.source.name, "sha256": sha256_of(args.source), "rows": source_rows},
        "build_command": BUILD_COMMAND,
        "seed": SEED,
        "selection": {
            "rule": f"customers with a CustomerID and at least {MIN_INVOICES} purchase invoices whose first and "
            f"last are {MIN_SPAN_DAYS}+ days apart; a seeded random sample of {UK_CUSTOMERS} whose main country "
            f"is the United Kingdom and {OTHER_CUSTOMERS} from other countries",
            **pools,
        },
        "rows_dropped_from_source": dict(sorted(dropped.items())),
        "assumptions": {"gross_margin_rate": ASSUMED_MARGIN_RATE},
        "categories_file": CATEGORIES_FILE.name,
        "category_sizes": dict(sorted(Counter(p["category"] for p in products).items())),
        "events_by_kind": dict(sorted(kinds.items())),
        "files": {name: {"rows": counts[name], "sha256": sha256_of(args.out / name)} for name in sorted(counts)},
    }
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")

    total = sum(path.stat().st_size for path in args.out.iterdir() if path.is_file())
    log(f"  {total:,} bytes in {args.out} ({time.monotonic() - started:.0f} s)")
    if total > MAX_DEMO_BYTES:
        raise SystemExit(f"{args.out} holds {total:,} bytes, over the {MAX_DEMO_BYTES:,}-byte limit")


if __name__ == "__main__":
    main()
