"""The Online Retail purchases as baskets over a product catalogue, for training and benchmarks.

Rows are cleaned exactly as `offerpilot ingest online-retail` cleans them (same parser, same product-code
rule, same duplicate rule), so what a model learns here is what the store would hold. Only sales become
baskets; cancellations are left out because a basket is what the customer chose to buy.
"""

from __future__ import annotations

import hashlib
import json
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from store.online_retail import OnlineRetailReport, read_sales

# The shared datasets folder sits next to the checkout (../shared).
SHARED_DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
ONLINE_RETAIL = SHARED_DATASETS / "online_retail" / "online_retail_2010-12_2011-10.csv.gz"


@dataclass(frozen=True)
class Basket:
    """One invoice: distinct products in line order, with the quantity and unit price paid."""

    customer: str
    invoice: str
    at: datetime
    items: tuple[int, ...]
    quantities: tuple[int, ...]
    prices: tuple[float, ...]

    @property
    def spend(self) -> float:
        return sum(q * p for q, p in zip(self.quantities, self.prices, strict=True))


@dataclass
class Catalogue:
    skus: list[str]
    descriptions: list[str]
    categories: list[str]
    prices: np.ndarray  # median unit price over all sales

    def __len__(self) -> int:
        return len(self.skus)


@dataclass
class RetailData:
    catalogue: Catalogue
    baskets: list[Basket]  # sorted by time, then invoice

    def before(self, cutoff: datetime) -> list[Basket]:
        return [b for b in self.baskets if b.at < cutoff]


def default_cache_dir() -> Path:
    """Derived data (product categories, embeddings) kept between runs under the data directory."""
    from core.config import get_settings

    return get_settings().data_dir / "cache" / "retrieval"


def load_retail(
    path: Path | None = None,
    categorize: Callable[[list[str]], list[str]] | None = None,
    cache_dir: Path | None = None,
) -> RetailData:
    """Parse the CSV into baskets; `categorize` names each product's category (cached by description)."""
    path = path or ONLINE_RETAIL
    sales = read_sales(path, OnlineRetailReport(str(path)), lambda _: None)
    sales = [s for s in sales if not s.is_refund]
    descriptions: defaultdict[str, Counter[str]] = defaultdict(Counter)
    prices: defaultdict[str, list[float]] = defaultdict(list)
    for sale in sales:
        if sale.description:
            descriptions[sale.sku][sale.description.strip()] += 1
        prices[sale.sku].append(sale.unit_price)
    skus = sorted(prices)
    texts = [descriptions[s].most_common(1)[0][0] if descriptions[s] else s for s in skus]
    categories = _categories(texts, categorize, cache_dir)
    catalogue = Catalogue(skus, texts, categories, np.array([statistics.median(prices[s]) for s in skus]))
    position = {sku: i for i, sku in enumerate(skus)}

    lines: defaultdict[tuple[str, str], dict[int, list]] = defaultdict(dict)
    moments: dict[tuple[str, str], datetime] = {}
    for sale in sales:
        key = (sale.customer_id, sale.invoice)
        moments.setdefault(key, sale.occurred_at)
        line = lines[key].setdefault(position[sale.sku], [0, sale.unit_price])
        line[0] += sale.quantity
    baskets = [
        Basket(
            customer,
            invoice,
            moments[(customer, invoice)],
            tuple(items),
            tuple(q for q, _ in items.values()),
            tuple(p for _, p in items.values()),
        )
        for (customer, invoice), items in lines.items()
    ]
    baskets.sort(key=lambda b: (b.at, b.invoice))
    return RetailData(catalogue, baskets)


def _categories(
    texts: list[str], categorize: Callable[[list[str]], list[str]] | None, cache_dir: Path | None
) -> list[str]:
    """Categorising thousands of descriptions takes about a minute on two cores, so answers are cached,
    keyed by the category definitions they came from."""
    if categorize is None:
        return ["Uncategorised"] * len(texts)
    from retrieval.categories import CATEGORIES_FILE

    definitions = hashlib.sha256(CATEGORIES_FILE.read_bytes()).hexdigest()[:10]
    cache_path = cache_dir / f"categories-{definitions}.json" if cache_dir else None
    known: dict[str, str] = json.loads(cache_path.read_text()) if cache_path and cache_path.exists() else {}
    missing = [t for t in dict.fromkeys(texts) if t not in known]
    if missing:
        known.update(zip(missing, categorize(missing), strict=True))
        if cache_path:
            cache_path.parent.mkdir(parents=True, exist_ok=True)
            cache_path.write_text(json.dumps(known, indent=0, sort_keys=True))
    return [known[t] for t in texts]
