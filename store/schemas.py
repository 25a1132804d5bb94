"""Validated input records: one pydantic model per kind of row, shared by file ingestion and the API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from store.models import CouponKind, EventKind


def _aware(value: datetime) -> datetime:
    """Timestamps without a zone are read as UTC; everything is stored as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_aware)]
Identifier = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")]
Money = Annotated[float, Field(ge=0, allow_inf_nan=False)]


def _split_list(value: object) -> object:
    """CSV cells carry lists as `a|b|c`; JSON carries real lists."""
    if isinstance(value, str):
        return [part.strip() for part in value.split("|") if part.strip()]
    if value is None:
        return []
    return value


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CustomerIn(Record):
    id: Identifier
    country: str | None = Field(default=None, max_length=64)
    email: str | None = Field(default=None, max_length=255)
    created_at: UtcDatetime | None = None


class ProductIn(Record):
    sku: Identifier
    description: str = Field(min_length=1, max_length=2000)
    category: str = Field(min_length=1, max_length=64)
    unit_price: Money
    unit_margin: float = Field(allow_inf_nan=False)

    @model_validator(mode="after")
    def _margin_below_price(self) -> Self:
        if self.unit_margin > self.unit_price:
            raise ValueError("unit_margin cannot exceed unit_price")
        return self


class CampaignIn(Record):
    id: Identifier
    name: str = Field(min_length=1, max_length=200)
    budget: Money
    per_customer_cap: Money
    max_discount_per_order: Money
    holdout_share: float = Field(default=0.0, ge=0.0, lt=1.0)
    starts_at: UtcDatetime | None = None
    ends_at: UtcDatetime | None = None

    @model_validator(mode="after")
    def _window(self) -> Self:
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class CouponIn(Record):
    id: Identifier
    campaign_id: Identifier
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(min_length=1, max_length=2000)
    kind: CouponKind
    depths: list[Annotated[float, Field(gt=0, allow_inf_nan=False)]] = Field(min_length=1)
    min_spend: Money = 0.0
    scope_categories: list[str] = Field(default_factory=list)
    scope_skus: list[str] = Field(default_factory=list)
    valid_from: UtcDatetime | None = None
    valid_to: UtcDatetime | None = None
    per_customer_limit: int = Field(default=1, ge=1)

    _lists = field_validator("depths", "scope_categories", "scope_skus", mode="before")(_split_list)

    @model_validator(mode="after")
    def _terms(self) -> Self:
        if self.kind is CouponKind.percent and any(d >= 100 for d in self.depths):
            raise ValueError("percent depths must be below 100")
        if self.valid_from and self.valid_to and self.valid_to <= self.valid_from:
            raise ValueError("valid_to must be after valid_from")
        self.depths = sorted(set(self.depths))
        return self


class EventIn(Record):
    customer_id: Identifier
    kind: EventKind
    occurred_at: UtcDatetime
    sku: Identifier | None = None
    quantity: int | None = None
    unit_price: Money | None = None
    order_id: str | None = Field(default=None, max_length=64)
    query: str | None = Field(default=None, max_length=1000)

    @model_validator(mode="after")
    def _fields_for_kind(self) -> Self:
        if self.kind in (EventKind.purchase, EventKind.refund, EventKind.cart):
            if self.sku is None or self.quantity is None:
                raise ValueError(f"a {self.kind.value} event needs sku and quantity")
            if self.quantity <= 0:
                raise ValueError("quantity must be positive (a refund is its own kind, not a negative purchase)")
            if self.kind is not EventKind.cart and self.unit_price is None:
                raise ValueError(f"a {self.kind.value} event needs unit_price")
        if self.kind is EventKind.search and not self.query:
            raise ValueError("a search event needs query")
        if self.kind is EventKind.view and self.sku is None:
            raise ValueError("a view event needs sku")
        return self


RecordKind = Literal["customers", "products", "campaigns", "coupons", "events"]
RECORD_MODELS: dict[str, type[Record]] = {
    "customers": CustomerIn,
    "products": ProductIn,
    "campaigns": CampaignIn,
    "coupons": CouponIn,
    "events": EventIn,
}
