"""Interpretable ranking features of (customer, product) and (customer, coupon) pairs.

One definition serves training and serving: `CustomerSignals` is built either from a benchmark case's
baskets or from a store profile, and the same functions turn it into feature rows. `FEATURES` need only
the customer's own history and the candidate's text similarity, so the offer flow can compute them per
request; `CATALOGUE_FEATURES` need statistics over all customers (popularity and its trend, how often a
product's buyers buy it again, co-purchase, similar customers' purchases, SASRec) and are used by the
benchmark's full pipeline only.

A coupon is scored through the products it covers: its item features are those of the customer's
best-matching purchased product in its scope (by recency weight), its category features count every
purchase in its scope, and a site-wide coupon reads as a product the customer has not bought yet, with
the same small category fit the baseline ranker gives it.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from retrieval.ranker import SITE_WIDE_AFFINITY
from retrieval.texts import HALF_LIFE_DAYS, recency_weight
from store.models import Coupon
from store.profiles import AFFINITY_WINDOW_DAYS, CustomerProfile

FEATURES = (
    "similarity",  # cosine of history text and candidate text (tuned encoder)
    "item_weight",  # recency-weighted purchases of the product: the repeat-purchase signal
    "item_orders",  # orders that held the product
    "item_share",  # ... as a share of all the customer's orders: a staple or a one-off
    "item_in_last_orders",  # how many of the customer's last 3 orders held it
    "days_since_item",  # days since the product was last bought (missing if never)
    "repeat_due",  # days since it was last bought over the customer's usual gap between its purchases
    "category_share",  # share of the customer's purchases in the candidate's category
    "category_recent",  # purchases in that category in the last 90 days
    "price_fit",  # log of the product's price over the customer's median paid price
    "recency_days",  # days since the customer's last order
    "frequency",  # orders so far
    "monetary",  # log(1 + spend so far)
    "repeat_share",  # share of the customer's past order lines that repeated an earlier purchase
)
CATALOGUE_FEATURES = (
    "popularity",
    "popularity_trend",
    "item_repeat_rate",
    "co_purchase",
    "customer_knn",
    "sasrec",
)
LAST_ORDERS = 3


@dataclass(frozen=True)
class Line:
    sku: str
    category: str
    occurred_at: datetime
    unit_price: float


@dataclass
class CustomerSignals:
    """What the ranker knows about one customer at one moment, from their purchase lines.

    An order is the set of lines bought at one moment (an invoice, or one timestamp in a store profile).
    """

    as_of: datetime
    orders: int
    monetary: float
    last_order_at: datetime | None
    item_weight: Counter[str] = field(default_factory=Counter)
    item_lines: Counter[str] = field(default_factory=Counter)
    item_orders: Counter[str] = field(default_factory=Counter)
    item_in_last: Counter[str] = field(default_factory=Counter)
    item_gap: dict[str, float] = field(default_factory=dict)  # mean days between its purchases, if repeated
    item_last: dict[str, datetime] = field(default_factory=dict)
    item_recent: Counter[str] = field(default_factory=Counter)
    item_category: dict[str, str] = field(default_factory=dict)
    category_count: Counter[str] = field(default_factory=Counter)
    category_recent: Counter[str] = field(default_factory=Counter)
    median_price: float = 0.0
    repeat_share: float = 0.0

    @classmethod
    def from_lines(cls, lines: Iterable[Line], as_of: datetime, orders: int, monetary: float) -> CustomerSignals:
        lines = list(lines)
        signals = cls(as_of, orders, monetary, max((li.occurred_at for li in lines), default=None))
        recent = as_of - timedelta(days=AFFINITY_WINDOW_DAYS)
        moments: defaultdict[str, set[datetime]] = defaultdict(set)
        for line in lines:
            signals.item_weight[line.sku] += recency_weight(line.occurred_at, as_of, HALF_LIFE_DAYS)
            signals.item_lines[line.sku] += 1
            moments[line.sku].add(line.occurred_at)
            signals.item_category[line.sku] = line.category
            signals.category_count[line.category] += 1
            if line.occurred_at >= recent:
                signals.item_recent[line.sku] += 1
                signals.category_recent[line.category] += 1
        last_orders = set(sorted({li.occurred_at for li in lines}, reverse=True)[:LAST_ORDERS])
        for sku, times in moments.items():
            signals.item_orders[sku] = len(times)
            signals.item_in_last[sku] = len(times & last_orders)
            signals.item_last[sku] = max(times)
            if len(times) > 1:
                signals.item_gap[sku] = (max(times) - min(times)).total_seconds() / 86_400 / (len(times) - 1)
        pairs = sum(signals.item_orders.values())
        signals.repeat_share = (pairs - len(moments)) / pairs if pairs else 0.0
        prices = [li.unit_price for li in lines if li.unit_price > 0]
        signals.median_price = float(np.median(prices)) if prices else 0.0
        return signals

    @classmethod
    def from_profile(cls, profile: CustomerProfile) -> CustomerSignals:
        lines = [Line(p.sku, p.category, p.occurred_at, p.unit_price) for p in profile.purchases]
        return cls.from_lines(lines, profile.as_of, profile.orders, profile.monetary)

    def item_features(self, sku: str | None) -> tuple[float, ...]:
        """item_weight .. repeat_due for one product (all "never bought" for None)."""
        if sku is None or sku not in self.item_last:
            return 0.0, 0.0, 0.0, 0.0, math.nan, math.nan
        days = (self.as_of - self.item_last[sku]).total_seconds() / 86_400
        gap = self.item_gap.get(sku)
        return (
            self.item_weight[sku],
            float(self.item_orders[sku]),
            self.item_orders[sku] / max(self.orders, 1),
            float(self.item_in_last[sku]),
            days,
            days / max(gap, 1.0) if gap is not None else math.nan,
        )

    def customer_features(self) -> tuple[float, ...]:
        """recency_days, frequency, monetary."""
        recency = (self.as_of - self.last_order_at).days if self.last_order_at else math.nan
        return float(recency), float(self.orders), math.log1p(max(self.monetary, 0.0))

    def category_share(self, category: str) -> float:
        total = sum(self.category_count.values())
        return self.category_count[category] / total if total else 0.0


def product_features(
    signals: CustomerSignals,
    skus: Sequence[str],
    categories: Sequence[str],
    prices: Sequence[float],
    similarity: Sequence[float],
) -> np.ndarray:
    """Rows of FEATURES for candidate products of one customer."""
    customer = signals.customer_features()
    rows = [
        (
            sim,
            *signals.item_features(sku),
            signals.category_share(category),
            signals.category_recent[category],
            math.log(price / signals.median_price) if price > 0 and signals.median_price > 0 else 0.0,
            *customer,
            signals.repeat_share,
        )
        for sku, category, price, sim in zip(skus, categories, prices, similarity, strict=True)
    ]
    return np.array(rows, dtype=np.float64).reshape(len(rows), len(FEATURES))


def coupon_features(signals: CustomerSignals, coupon: Coupon, similarity: float) -> np.ndarray:
    """One row of FEATURES for a coupon, through the products and categories in its scope."""
    scope_categories, scope_skus = set(coupon.scope_categories), set(coupon.scope_skus)
    covered = [
        sku for sku, category in signals.item_category.items() if sku in scope_skus or category in scope_categories
    ]
    best = max(covered, key=lambda sku: signals.item_weight[sku], default=None)
    if scope_categories or scope_skus:
        total = sum(signals.category_count.values())
        share = sum(signals.item_lines[s] for s in covered) / total if total else 0.0
        recent = sum(signals.item_recent[s] for s in covered)
    else:
        share, recent = SITE_WIDE_AFFINITY, 0
    row = (
        similarity,
        *signals.item_features(best),
        share,
        recent,
        0.0,  # a coupon has no unit price: a neutral fit
        *signals.customer_features(),
        signals.repeat_share,
    )
    return np.array([row], dtype=np.float64)
