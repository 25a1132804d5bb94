"""Request and response bodies of the HTTP API (v1), as pydantic models so OpenAPI documents them.

Request bodies reuse the store's input records (`CouponIn`, `CampaignIn`, `EventIn`) where the shapes
match, so a row is validated the same way whether it arrives in a file or over HTTP.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from litestar.params import QueryParameter
from pydantic import BaseModel, Field

from services.catalog import Page
from services.offers import CartLine, OfferContext
from store.models import Campaign, Coupon, CouponKind, Customer, Offer, OfferStatus
from store.profiles import CustomerProfile
from store.schemas import EventIn, Identifier, Money, Record

MAX_PAGE = 500
MAX_EVENTS = 1000

Limit = Annotated[int, QueryParameter(ge=1, le=MAX_PAGE, description="Page size.")]
Offset = Annotated[int, QueryParameter(ge=0, description="Items to skip; take it from `next_offset`.")]

# --- requests -----------------------------------------------------------------------------------------


class CartLineBody(Record):
    sku: Identifier
    quantity: int = Field(ge=1, le=10_000)
    unit_price: Money


class OfferContextBody(Record):
    cart: list[CartLineBody] = Field(default_factory=list, max_length=200)
    channel: str | None = Field(default=None, max_length=32)
    query: str | None = Field(default=None, max_length=500)

    def to_context(self) -> OfferContext:
        cart = tuple(CartLine(line.sku, line.quantity, line.unit_price) for line in self.cart)
        return OfferContext(cart=cart, channel=self.channel, query=self.query)


class OfferRequestBody(Record):
    customer_id: Identifier
    context: OfferContextBody | None = None
    k: int = Field(default=3, ge=1, le=10)


class RedeemBody(Record):
    order_id: str = Field(min_length=1, max_length=64)
    order_total: Money


class EventBatchBody(Record):
    events: list[EventIn] = Field(min_length=1, max_length=MAX_EVENTS)


# --- responses ----------------------------------------------------------------------------------------


class DiscountOut(BaseModel):
    kind: CouponKind
    value: float


class ReasonOut(BaseModel):
    kind: str
    text: str
    value: float


class ExplanationOut(BaseModel):
    summary: str
    reasons: list[ReasonOut]


class OfferOut(BaseModel):
    offer_id: str
    coupon_id: str
    campaign_id: str
    title: str
    description: str
    discount: DiscountOut
    expires_at: datetime
    redeem_probability: float
    expected_incremental_margin: float
    propensity: float
    explanation: ExplanationOut
    versions: dict[str, str]

    @classmethod
    def of(cls, offer: Offer, coupon: Coupon) -> OfferOut:
        return cls(
            offer_id=offer.id,
            coupon_id=offer.coupon_id,
            campaign_id=offer.campaign_id,
            title=coupon.title,
            description=coupon.description,
            discount=DiscountOut(kind=offer.discount_kind, value=offer.discount_value),
            expires_at=offer.expires_at,
            redeem_probability=offer.redeem_probability,
            expected_incremental_margin=offer.expected_incremental_margin,
            propensity=offer.propensity,
            explanation=ExplanationOut.model_validate(offer.explanation),
            versions=offer.versions,
        )


class OfferBatchOut(BaseModel):
    request_id: str
    offers: list[OfferOut]


class OfferStateOut(BaseModel):
    """An offer after a redemption or rollback: what it cost and where it stands."""

    offer_id: str
    coupon_id: str
    campaign_id: str
    status: OfferStatus
    discount: DiscountOut
    order_id: str | None
    order_total: float | None
    cost: float | None
    redeemed_at: datetime | None
    rolled_back_at: datetime | None

    @classmethod
    def of(cls, offer: Offer) -> OfferStateOut:
        return cls(
            offer_id=offer.id,
            coupon_id=offer.coupon_id,
            campaign_id=offer.campaign_id,
            status=offer.status,
            discount=DiscountOut(kind=offer.discount_kind, value=offer.discount_value),
            order_id=offer.order_id,
            order_total=offer.order_total,
            cost=offer.actual_cost,
            redeemed_at=offer.redeemed_at,
            rolled_back_at=offer.rolled_back_at,
        )


class EventsAccepted(BaseModel):
    accepted: int


class CustomerOut(BaseModel):
    id: str
    country: str | None
    created_at: datetime | None

    @classmethod
    def of(cls, customer: Customer) -> CustomerOut:
        return cls(id=customer.id, country=customer.country, created_at=customer.created_at)


class CategoryCount(BaseModel):
    category: str
    purchases: int


class PurchaseOut(BaseModel):
    sku: str
    description: str
    category: str
    occurred_at: datetime
    quantity: int
    unit_price: float


class ProfileOut(BaseModel):
    customer_id: str
    country: str | None
    as_of: datetime
    recency_days: int | None
    frequency: Annotated[int, Field(description="distinct orders")]
    monetary: Annotated[float, Field(description="purchases minus refunds, currency units")]
    average_order_value: float
    first_order_at: datetime | None
    last_order_at: datetime | None
    refunds: int
    top_categories: list[CategoryCount]
    recent_purchases: list[PurchaseOut]
    summary: str

    @classmethod
    def of(cls, profile: CustomerProfile, recent: int = 10) -> ProfileOut:
        return cls(
            customer_id=profile.customer_id,
            country=profile.country,
            as_of=profile.as_of,
            recency_days=profile.recency_days,
            frequency=profile.orders,
            monetary=profile.monetary,
            average_order_value=round(profile.average_order_value, 2),
            first_order_at=profile.first_order_at,
            last_order_at=profile.last_order_at,
            refunds=profile.refunds,
            top_categories=[CategoryCount(category=c, purchases=n) for c, n in profile.top_categories(5)],
            recent_purchases=[
                PurchaseOut(
                    sku=p.sku,
                    description=p.description,
                    category=p.category,
                    occurred_at=p.occurred_at,
                    quantity=p.quantity,
                    unit_price=p.unit_price,
                )
                for p in profile.purchases[:recent]
            ],
            summary=profile.summary(),
        )


class CouponOut(BaseModel):
    id: str
    campaign_id: str
    title: str
    description: str
    kind: CouponKind
    depths: list[float]
    min_spend: float
    scope_categories: list[str]
    scope_skus: list[str]
    valid_from: datetime | None
    valid_to: datetime | None
    per_customer_limit: int
    created_at: datetime | None

    @classmethod
    def of(cls, coupon: Coupon) -> CouponOut:
        return cls.model_validate(coupon, from_attributes=True)


class CampaignOut(BaseModel):
    id: str
    name: str
    budget: float
    spent: float
    reserved: float
    remaining: float
    per_customer_cap: float
    max_discount_per_order: float
    holdout_share: float
    starts_at: datetime | None
    ends_at: datetime | None
    created_at: datetime | None

    @classmethod
    def of(cls, campaign: Campaign) -> CampaignOut:
        remaining = round(campaign.budget - campaign.spent - campaign.reserved, 2)
        fields = {name: getattr(campaign, name) for name in cls.model_fields if name != "remaining"}
        return cls(remaining=remaining, **fields)


class PageOut(BaseModel):
    total: int
    limit: int
    offset: int
    next_offset: int | None


class CustomerPage(PageOut):
    items: list[CustomerOut]


class CouponPage(PageOut):
    items: list[CouponOut]


class CampaignPage(PageOut):
    items: list[CampaignOut]


def page_fields(page: Page[object]) -> dict[str, int | None]:
    return {"total": page.total, "limit": page.limit, "offset": page.offset, "next_offset": page.next_offset}
