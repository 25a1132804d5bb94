"""SQLAlchemy 2 models of the offer store.

Money is stored as float currency units rounded to cents at every write; budget checks compare with a
cent of tolerance so rounding can never let spend exceed a budget.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC and returns aware UTC, so SQLite and PostgreSQL read back the same instant."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; pass an aware datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class CouponKind(enum.StrEnum):
    percent = "percent"
    amount = "amount"
    free_shipping = "free_shipping"


class EventKind(enum.StrEnum):
    view = "view"
    search = "search"
    cart = "cart"
    purchase = "purchase"
    refund = "refund"


class OfferStatus(enum.StrEnum):
    issued = "issued"
    redeemed = "redeemed"
    expired = "expired"
    rolled_back = "rolled_back"


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(cls, name=name, native_enum=False, length=16, validate_strings=True)


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    country: Mapped[str | None] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Product(Base):
    __tablename__ = "products"

    sku: Mapped[str] = mapped_column(String(64), primary_key=True)
    description: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(64), index=True)
    unit_price: Mapped[float] = mapped_column(Float)
    unit_margin: Mapped[float] = mapped_column(Float)


class Campaign(Base):
    __tablename__ = "campaigns"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    budget: Mapped[float] = mapped_column(Float)
    # Discount paid out on redeemed offers.
    spent: Mapped[float] = mapped_column(Float, default=0.0)
    # Worst-case cost of issued, not yet redeemed offers: spent + reserved never exceeds budget.
    reserved: Mapped[float] = mapped_column(Float, default=0.0)
    per_customer_cap: Mapped[float] = mapped_column(Float)
    max_discount_per_order: Mapped[float] = mapped_column(Float)
    holdout_share: Mapped[float] = mapped_column(Float, default=0.0)
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Coupon(Base):
    __tablename__ = "coupons"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    kind: Mapped[CouponKind] = mapped_column(_enum(CouponKind, "coupon_kind"))
    # Depths the policy may choose from: percentages for `percent`, currency for `amount`,
    # the shipping fee waived for `free_shipping`.
    depths: Mapped[list[float]] = mapped_column(JSON)
    min_spend: Mapped[float] = mapped_column(Float, default=0.0)
    scope_categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    scope_skus: Mapped[list[str]] = mapped_column(JSON, default=list)
    valid_from: Mapped[datetime | None] = mapped_column(UTCDateTime())
    valid_to: Mapped[datetime | None] = mapped_column(UTCDateTime())
    per_customer_limit: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (Index("ix_events_customer_time", "customer_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"))
    kind: Mapped[EventKind] = mapped_column(_enum(EventKind, "event_kind"))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sku: Mapped[str | None] = mapped_column(ForeignKey("products.sku"))
    quantity: Mapped[int | None] = mapped_column(Integer)
    unit_price: Mapped[float | None] = mapped_column(Float)
    order_id: Mapped[str | None] = mapped_column(String(64))
    query: Mapped[str | None] = mapped_column(Text)


class OfferRequest(Base):
    """One call of the offer flow; the idempotency key makes a retry return the same offers."""

    __tablename__ = "offer_requests"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    body_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Offer(Base):
    __tablename__ = "offers"
    __table_args__ = (
        Index("ix_offers_customer_coupon", "customer_id", "coupon_id"),
        Index("ix_offers_status_expiry", "status", "expires_at"),
        UniqueConstraint("request_id", "coupon_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("offer_requests.id"), index=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"))
    coupon_id: Mapped[str] = mapped_column(ForeignKey("coupons.id"))
    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id"), index=True)
    rank: Mapped[int] = mapped_column(Integer)
    discount_kind: Mapped[CouponKind] = mapped_column(_enum(CouponKind, "offer_discount_kind"))
    discount_value: Mapped[float] = mapped_column(Float)
    # Most this offer can cost the campaign; held against the budget until redeemed or released.
    max_cost: Mapped[float] = mapped_column(Float)
    actual_cost: Mapped[float | None] = mapped_column(Float)
    redeem_probability: Mapped[float] = mapped_column(Float)
    expected_incremental_margin: Mapped[float] = mapped_column(Float)
    propensity: Mapped[float] = mapped_column(Float)
    explanation: Mapped[dict] = mapped_column(JSON)
    versions: Mapped[dict] = mapped_column(JSON)
    status: Mapped[OfferStatus] = mapped_column(_enum(OfferStatus, "offer_status"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    redeemed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rolled_back_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    order_id: Mapped[str | None] = mapped_column(String(64))
    order_total: Mapped[float | None] = mapped_column(Float)
