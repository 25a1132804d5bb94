"""Segments: the customers whose recency, frequency, spend and categories match a marketer's filters.

A segment needs every customer's profile. `store.profiles.load_profile` reads one customer at a time
(seconds for the whole demo store on two cores), so this reads all purchase and refund events in one
query and builds the same `CustomerProfile`s with the same rules; a test holds the two to equality.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import select

from agent.schemas import SegmentArgs
from store.db import Database
from store.models import Customer, Event, EventKind, Product
from store.profiles import AFFINITY_WINDOW_DAYS, CustomerProfile, PurchasedItem


def load_profiles(db: Database, as_of: datetime) -> dict[str, CustomerProfile]:
    """Every customer's profile as of `as_of`, from purchases and refunds (what segments filter on)."""
    recent_cutoff = as_of - timedelta(days=AFFINITY_WINDOW_DAYS)
    with db.session() as session:
        profiles = {
            customer_id: CustomerProfile(customer_id=customer_id, country=country, as_of=as_of)
            for customer_id, country in session.execute(select(Customer.id, Customer.country))
        }
        rows = session.execute(
            select(
                Event.customer_id,
                Event.id,
                Event.kind,
                Event.sku,
                Event.quantity,
                Event.unit_price,
                Event.order_id,
                Event.occurred_at,
                Product.description,
                Product.category,
            )
            .outerjoin(Product, Product.sku == Event.sku)
            .where(Event.occurred_at <= as_of, Event.kind.in_((EventKind.purchase, EventKind.refund)))
            .order_by(Event.customer_id, Event.occurred_at.desc(), Event.id.desc())
        ).all()
    orders: dict[str, set[str]] = {}
    for customer_id, event_id, kind, sku, quantity, unit_price, order_id, occurred_at, description, category in rows:
        profile = profiles[customer_id]
        value = (quantity or 0) * (unit_price or 0.0)
        if kind is EventKind.refund:
            profile.refunds += 1
            profile.monetary -= value
            continue
        profile.purchases.append(
            PurchasedItem(sku or "", description or "", category or "", occurred_at, quantity or 0, unit_price or 0.0)
        )
        orders.setdefault(customer_id, set()).add(order_id or f"event-{event_id}")
        profile.monetary += value
        profile.category_purchases[category] += 1
        if occurred_at >= recent_cutoff:
            profile.recent_category_purchases[category] += 1
        profile.last_order_at = profile.last_order_at or occurred_at
        profile.first_order_at = occurred_at
    for customer_id, profile in profiles.items():
        profile.orders = len(orders.get(customer_id, ()))
        profile.monetary = round(profile.monetary, 2)
    return profiles


def matches(profile: CustomerProfile, filters: SegmentArgs) -> bool:
    """Whether one profile passes every filter that is set; customers who never ordered are never lapsed."""
    recency = profile.recency_days
    if filters.lapsed_days is not None and (recency is None or recency < filters.lapsed_days):
        return False
    if filters.active_days is not None and (recency is None or recency > filters.active_days):
        return False
    if filters.min_orders is not None and profile.orders < filters.min_orders:
        return False
    if filters.max_orders is not None and profile.orders > filters.max_orders:
        return False
    if filters.min_spend is not None and profile.monetary < filters.min_spend:
        return False
    if filters.max_spend is not None and profile.monetary > filters.max_spend:
        return False
    return all(profile.category_purchases.get(category, 0) > 0 for category in filters.categories)


def find_segment(profiles: Iterable[CustomerProfile], filters: SegmentArgs) -> list[CustomerProfile]:
    """Matching customers, biggest spenders first (ties by id, so the order is stable)."""
    members = [p for p in profiles if matches(p, filters)]
    return sorted(members, key=lambda p: (-p.monetary, p.customer_id))
