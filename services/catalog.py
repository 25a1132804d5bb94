"""Catalogue reads and writes: customers, coupons, campaigns and events.

The API, the CLI and the agent all call these, so every check (referential integrity, a budget that
cannot drop below what is already committed, a coupon that is retrievable the moment it is saved)
holds whichever shell the change came through.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import faiss
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from core.errors import InvalidInput, NotFound
from retrieval.index import CouponIndex
from services.indexing import index_coupon
from services.offers import OfferService
from store.db import Database
from store.models import Base, Campaign, Coupon, Customer, Event, Product
from store.offer_log import CENT
from store.profiles import CustomerProfile, load_profile
from store.schemas import CampaignIn, CouponIn, EventIn

T = TypeVar("T")

# Coupon writers replace the live index one at a time, or two concurrent writes would lose one.
_INDEX_WRITES = threading.Lock()


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int

    @property
    def next_offset(self) -> int | None:
        following = self.offset + self.limit
        return following if following < self.total else None


@dataclass(frozen=True)
class Saved(Generic[T]):
    """A row after an upsert, and whether the upsert created it (HTTP answers 201) or changed it (200)."""

    row: T
    created: bool


class InvalidReferences(InvalidInput):
    """Records point at rows the store does not hold; `problems` names every offending field."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        field, message = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(message + more, field=field)
        self.problems = problems


def _page(session: Session, model: type[Base], order_by: Any, limit: int, offset: int) -> Page[Any]:
    total = session.scalar(select(func.count()).select_from(model)) or 0
    items = list(session.scalars(select(model).order_by(order_by).limit(limit).offset(offset)))
    return Page(items, total, limit, offset)


def list_customers(db: Database, limit: int = 50, offset: int = 0) -> Page[Customer]:
    with db.session() as session:
        return _page(session, Customer, Customer.id, limit, offset)


def customer_profile(db: Database, customer_id: str, now: datetime) -> CustomerProfile:
    with db.session() as session:
        profile = load_profile(session, customer_id, now)
    if profile is None:
        raise NotFound(f"customer {customer_id!r} is not in the store", field="customer_id")
    return profile


def list_coupons(db: Database, limit: int = 50, offset: int = 0) -> Page[Coupon]:
    with db.session() as session:
        return _page(session, Coupon, Coupon.id, limit, offset)


def coupons_by_id(db: Database, coupon_ids: Sequence[str]) -> dict[str, Coupon]:
    with db.session() as session:
        return {c.id: c for c in session.scalars(select(Coupon).where(Coupon.id.in_(set(coupon_ids))))}


def upsert_coupon(service: OfferService, record: CouponIn, now: datetime) -> Saved[Coupon]:
    """Create or replace a coupon and publish it to the live index, so the next offer can retrieve it.

    The index is copied, updated and swapped in while the row's transaction is still open: requests
    searching the old index are never disturbed, and a failed embedding leaves the store unchanged.
    """
    with service.db.write_session() as session:
        if session.get(Campaign, record.campaign_id) is None:
            raise InvalidInput(f"campaign {record.campaign_id!r} is not in the store", field="campaign_id")
        coupon = session.get(Coupon, record.id)
        created = coupon is None
        if coupon is None:
            coupon = Coupon(created_at=now)
            session.add(coupon)
        for name, value in record.model_dump().items():
            setattr(coupon, name, value)
        session.flush()
        with _INDEX_WRITES:
            fresh = _copy(service.index)
            index_coupon(fresh, service.encoder, coupon, service.settings.index_dir)
            service.index = fresh
    return Saved(coupon, created)


def _copy(index: CouponIndex) -> CouponIndex:
    return CouponIndex(
        index.encoder_version, index.dim, faiss.clone_index(index.index), list(index.ids), index.built_at
    )


def list_campaigns(db: Database, limit: int = 50, offset: int = 0) -> Page[Campaign]:
    with db.session() as session:
        return _page(session, Campaign, Campaign.id, limit, offset)


def upsert_campaign(db: Database, record: CampaignIn, now: datetime) -> Saved[Campaign]:
    """Create a campaign or change its terms; what it has spent and reserved stays with it.

    The row is locked (PostgreSQL) or the write lock held (SQLite) so an offer being issued cannot
    reserve against the old budget while a smaller one is written.
    """
    with db.write_session() as session:
        campaign = session.scalar(select(Campaign).where(Campaign.id == record.id).with_for_update())
        created = campaign is None
        if campaign is None:
            campaign = Campaign(spent=0.0, reserved=0.0, created_at=now)
            session.add(campaign)
        elif record.budget + CENT < campaign.spent + campaign.reserved:
            raise InvalidInput(
                f"budget {record.budget:.2f} is below what the campaign has already spent and reserved "
                f"({campaign.spent + campaign.reserved:.2f})",
                field="budget",
            )
        for name, value in record.model_dump().items():
            setattr(campaign, name, value)
        session.flush()
    return Saved(campaign, created)


def add_events(db: Database, events: Sequence[EventIn]) -> int:
    """Append a batch of events, all or none; every unknown customer or product is named by position."""
    with db.write_session() as session:
        customers = _known(session, Customer.id, {e.customer_id for e in events})
        skus = _known(session, Product.sku, {e.sku for e in events if e.sku is not None})
        problems = []
        for position, event in enumerate(events):
            if event.customer_id not in customers:
                problems.append(
                    (f"events.{position}.customer_id", f"customer {event.customer_id!r} is not in the store")
                )
            if event.sku is not None and event.sku not in skus:
                problems.append((f"events.{position}.sku", f"product {event.sku!r} is not in the store"))
        if problems:
            raise InvalidReferences(problems)
        if events:
            session.execute(insert(Event), [event.model_dump() for event in events])
    return len(events)


def _known(session: Session, column: Any, values: set[str]) -> set[str]:
    return set(session.scalars(select(column).where(column.in_(values)))) if values else set()
