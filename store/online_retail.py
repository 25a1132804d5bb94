"""Adapter for the UCI "Online Retail" CSV: turns invoice lines into customers, products and events.

The raw file mixes sales with postage, fees, bad-debt adjustments, stock corrections, anonymous sales and
repeated lines. Each row that is not loaded is counted under exactly one reason, the first that applies in
`DropReason`'s order, so the report accounts for every row of the file.
"""

from __future__ import annotations

import csv
import gzip
import math
import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

from sqlalchemy import select

from store.db import Database
from store.ingest import IngestError, IngestReport, Rejected, progress_bar, write_records
from store.models import Event, EventKind

COLUMNS = ("InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country")
# The data carries prices but no costs; margins assume this gross-margin rate, typical of gift retail.
ASSUMED_MARGIN_RATE = 0.35
UNCATEGORISED = "Uncategorised"
# A product is the retailer's five-digit catalogue number, optionally with up to two variant letters
# (22423, 85123A, 15056BL). Every other code is a service line: POST, DOT, C2 (carriage), M/m (manual),
# D (discount), S (samples), B (bad debt), BANK CHARGES, AMAZONFEE, CRUK, PADS, gift_* vouchers and the
# DCGS* third-party listings.
PRODUCT_CODE = re.compile(r"\d{5}[A-Za-z]{0,2}")
# Service lines hiding behind a catalogue-style code: 23444 is "Next Day Carriage" at £15.
SERVICE_CODES = frozenset({"23444"})
CUSTOMER_ID = re.compile(r"(\d+)(?:\.0*)?")
# The UCI xlsx export writes `12/1/2010 8:26`; the CSV copies write ISO `2010-12-01 08:26:00`.
US_DATE_FORMAT = "%m/%d/%Y %H:%M"

# Rows between progress updates; updating per row would cost more than parsing the row.
PROGRESS_EVERY = 5_000

Categorize = Callable[[list[str]], list[str]]


class DropReason(StrEnum):
    adjustment = "adjustment"
    not_a_product = "not_a_product"
    no_customer = "no_customer"
    malformed = "malformed"
    non_positive_price = "non_positive_price"
    quantity_sign = "quantity_sign"
    duplicate = "duplicate"
    already_in_store = "already_in_store"


DROP_EXPLANATIONS = {
    DropReason.adjustment: "bad-debt adjustment (invoice starting with A)",
    DropReason.not_a_product: "stock code is not a product (postage, fees, vouchers, manual lines)",
    DropReason.no_customer: "no CustomerID",
    DropReason.malformed: "unparseable quantity, price, date or CustomerID, or wrong field count",
    DropReason.non_positive_price: "UnitPrice zero or negative",
    DropReason.quantity_sign: "quantity zero, negative on a sale, or positive on a cancellation",
    DropReason.duplicate: "exact repeat of an earlier loaded row",
    DropReason.already_in_store: "invoice already loaded into the store by an earlier run",
}


class Sale(NamedTuple):
    line: int
    invoice: str
    sku: str
    description: str
    quantity: int
    occurred_at: datetime
    unit_price: float
    customer_id: str
    country: str

    @property
    def is_refund(self) -> bool:
        return self.invoice.startswith("C")


@dataclass
class OnlineRetailReport:
    source: str
    rows_read: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    customers: int = 0
    products: int = 0
    events: int = 0


def ingest_online_retail(
    db: Database, path: Path, *, categorize: Categorize | None = None, progress: bool = False
) -> OnlineRetailReport:
    """Load an Online Retail CSV (optionally .gz) in one transaction.

    Customers and products are upserted, so a re-run refreshes them; events are appended only for
    invoices the store does not hold yet, so a re-run (or an overlapping later extract) adds no copies.
    `categorize` maps product descriptions to categories; without it every product is "Uncategorised".
    """
    report = OnlineRetailReport(str(path))
    with progress_bar(progress) as bar:
        task = bar.add_task(f"reading {path}")
        sales = read_sales(path, report, lambda n: bar.update(task, completed=n))
    products = _products(sales, categorize)
    customers = _customers(sales)
    with db.write_session() as session:
        loaded = set(session.scalars(select(Event.order_id).where(Event.order_id.is_not(None)).distinct()))
        fresh = [sale for sale in sales if sale.invoice not in loaded]
        if len(fresh) < len(sales):
            report.dropped[DropReason.already_in_store] += len(sales) - len(fresh)
        written = [
            write_records(session, kind, records, report.source, progress=progress)
            for kind, records in (
                ("customers", customers),
                ("products", products),
                ("events", ((sale.line, _event(sale)) for sale in fresh)),
            )
        ]
    report.customers, report.products, report.events = (part.rows_written for part in written)
    return report


def read_sales(path: Path, report: OnlineRetailReport, tick: Callable[[int], object]) -> list[Sale]:
    """Every row parsed and either kept as a sale or counted under its drop reason."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    sales: list[Sale] = []
    seen: set[str] = set()
    try:
        with opener(path, "rt", encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, [])
            if tuple(name.strip() for name in header) != COLUMNS:
                raise _refused(path, 1, f"header {header} is not the Online Retail header {list(COLUMNS)}")
            for row in reader:
                report.rows_read += 1
                if report.rows_read % PROGRESS_EVERY == 0:
                    tick(report.rows_read)
                outcome = _parse(reader.line_num, row)
                if isinstance(outcome, Sale):
                    key = "\x1f".join(row)
                    outcome = DropReason.duplicate if key in seen else outcome
                    seen.add(key)
                if isinstance(outcome, Sale):
                    sales.append(outcome)
                else:
                    report.dropped[outcome] += 1
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise _refused(path, report.rows_read + 2, f"unreadable: {exc}") from exc
    return sales


def _refused(path: Path, line: int, reason: str) -> IngestError:
    return IngestError(IngestReport("online-retail", str(path), rejected=[Rejected(str(path), line, reason)]))


def is_product_code(code: str) -> bool:
    return bool(PRODUCT_CODE.fullmatch(code)) and code not in SERVICE_CODES


def _parse(line: int, row: list[str]) -> Sale | DropReason:
    """The row as a sale, or the first reason it is not one."""
    if len(row) != len(COLUMNS):
        return DropReason.malformed
    invoice, code, description, quantity, invoice_date, price, customer, country = (c.strip() for c in row)
    if invoice.startswith("A"):
        return DropReason.adjustment
    if not is_product_code(code):
        return DropReason.not_a_product
    if not customer:
        return DropReason.no_customer
    customer_id, occurred_at = CUSTOMER_ID.fullmatch(customer), _parse_date(invoice_date)
    try:
        units, unit_price = int(quantity), float(price)
    except ValueError:
        return DropReason.malformed
    if customer_id is None or occurred_at is None or not math.isfinite(unit_price):
        return DropReason.malformed
    if unit_price <= 0:
        return DropReason.non_positive_price
    if units == 0 or (units < 0) != invoice.startswith("C"):
        return DropReason.quantity_sign
    return Sale(line, invoice, code, description, abs(units), occurred_at, unit_price, customer_id[1], country)


@lru_cache(maxsize=65_536)
def _parse_date(text: str) -> datetime | None:
    """Invoice times are UK shop times recorded without a zone; they are read as UTC."""
    for parse in (datetime.fromisoformat, lambda t: datetime.strptime(t, US_DATE_FORMAT)):
        try:
            value = parse(text)
        except ValueError:
            continue
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return None


def _customers(sales: list[Sale]) -> list[tuple[int, dict]]:
    """One customer per id: its most frequent country, and `created_at` at its first invoice."""
    first: dict[str, Sale] = {}
    countries: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for sale in sales:
        if sale.customer_id not in first or sale.occurred_at < first[sale.customer_id].occurred_at:
            first[sale.customer_id] = sale
        countries[sale.customer_id][sale.country] += 1
    return [
        (sale.line, {"id": cid, "country": _most_common(countries[cid]), "created_at": sale.occurred_at})
        for cid, sale in first.items()
    ]


def _products(sales: list[Sale], categorize: Categorize | None) -> list[tuple[int, dict]]:
    """One product per code: its most frequent description (else the code) and median price."""
    first_line: dict[str, int] = {}
    descriptions: defaultdict[str, Counter[str]] = defaultdict(Counter)
    prices: defaultdict[str, list[float]] = defaultdict(list)
    for sale in sales:
        first_line.setdefault(sale.sku, sale.line)
        if sale.description:
            descriptions[sale.sku][sale.description] += 1
        prices[sale.sku].append(sale.unit_price)
    skus = list(first_line)
    texts = [_most_common(descriptions[sku]) or sku for sku in skus]
    categories = categorize(texts) if categorize else [UNCATEGORISED] * len(skus)
    if len(categories) != len(skus):
        raise ValueError(f"categorize returned {len(categories)} categories for {len(skus)} descriptions")
    records = []
    for sku, text, category in zip(skus, texts, categories, strict=True):
        price = round(statistics.median(prices[sku]), 2)
        margin = round(price * ASSUMED_MARGIN_RATE, 2)
        row = {"sku": sku, "description": text, "category": category, "unit_price": price, "unit_margin": margin}
        records.append((first_line[sku], row))
    return records


def _event(sale: Sale) -> dict:
    return {
        "customer_id": sale.customer_id,
        "kind": EventKind.refund if sale.is_refund else EventKind.purchase,
        "occurred_at": sale.occurred_at,
        "sku": sale.sku,
        "quantity": sale.quantity,
        "unit_price": sale.unit_price,
        "order_id": sale.invoice,
    }


def _most_common(counts: Counter[str]) -> str | None:
    return counts.most_common(1)[0][0] if counts else None
