"""Customer profiles: recency, frequency, monetary value and category affinity, read from the event log.

Every number an offer explanation quotes comes from here, so it can be checked against the store.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import Customer, Event, EventKind, Product

AFFINITY_WINDOW_DAYS = 90


@dataclass(frozen=True)
class PurchasedItem:
    sku: str
    description: str
    category: str
    occurred_at: datetime
    quantity: int
    unit_price: float


@dataclass
class CustomerProfile:
    customer_id: str
    country: str | None
    as_of: datetime
    orders: int = 0
    monetary: float = 0.0
    first_order_at: datetime | None = None
    last_order_at: datetime | None = None
    purchases: list[PurchasedItem] = field(default_factory=list)  # newest first
    recent_category_purchases: Counter[str] = field(default_factory=Counter)
    category_purchases: Counter[str] = field(default_factory=Counter)
    refunds: int = 0
    searches: list[str] = field(default_factory=list)  # newest first
    carted_skus: list[str] = field(default_factory=list)

    @property
    def recency_days(self) -> int | None:
        return None if self.last_order_at is None else (self.as_of - self.last_order_at).days

    @property
    def average_order_value(self) -> float:
        return self.monetary / self.orders if self.orders else 0.0

    @property
    def orders_per_day(self) -> float:
        """Order rate over the customer's active span, at least 30 days so a single order is not a trend."""
        if not self.orders or self.first_order_at is None:
            return 0.0
        span = max((self.as_of - self.first_order_at).days, 30)
        return self.orders / span

    def top_categories(self, n: int = 3) -> list[tuple[str, int]]:
        return self.category_purchases.most_common(n)

    def summary(self) -> str:
        """One sentence of history, for people and prompts."""
        if not self.orders:
            return f"Customer {self.customer_id} has no purchases yet."
        cats = ", ".join(f"{name} ({count})" for name, count in self.top_categories())
        return (
            f"{self.orders} orders worth £{self.monetary:,.2f} since {self.first_order_at:%Y-%m-%d}; "
            f"last order {plural(self.recency_days or 0, 'day')} ago; buys most in {cats}."
        )


def plural(count: float, noun: str) -> str:
    return f"{count:g} {noun}" + ("" if count == 1 else "s")


def load_profile(session: Session, customer_id: str, as_of: datetime) -> CustomerProfile | None:
    """Build the profile of one customer from events up to `as_of`; None if the customer is unknown."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        return None
    profile = CustomerProfile(customer_id=customer.id, country=customer.country, as_of=as_of)
    rows = session.execute(
        select(Event, Product.description, Product.category)
        .outerjoin(Product, Product.sku == Event.sku)
        .where(Event.customer_id == customer_id, Event.occurred_at <= as_of)
        .order_by(Event.occurred_at.desc(), Event.id.desc())
    ).all()
    orders: set[str] = set()
    recent_cutoff = as_of - timedelta(days=AFFINITY_WINDOW_DAYS)
    for event, description, category in rows:
        if event.kind is EventKind.purchase:
            profile.purchases.append(
                PurchasedItem(
                    event.sku or "",
                    description or "",
                    category or "",
                    event.occurred_at,
                    event.quantity or 0,
                    event.unit_price or 0.0,
                )
            )
            orders.add(event.order_id or f"event-{event.id}")
            profile.monetary += (event.quantity or 0) * (event.unit_price or 0.0)
            profile.category_purchases[category] += 1
            if event.occurred_at >= recent_cutoff:
                profile.recent_category_purchases[category] += 1
            profile.last_order_at = profile.last_order_at or event.occurred_at
            profile.first_order_at = event.occurred_at
        elif event.kind is EventKind.refund:
            profile.refunds += 1
            profile.monetary -= (event.quantity or 0) * (event.unit_price or 0.0)
        elif event.kind is EventKind.search and event.query:
            profile.searches.append(event.query)
        elif event.kind is EventKind.cart and event.sku:
            profile.carted_skus.append(event.sku)
    profile.orders = len(orders)
    profile.monetary = round(profile.monetary, 2)
    return profile
