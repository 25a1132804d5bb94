"""The offer log and the budget: issue, redeem, roll back and expire offers, each in one transaction.

Budget rule: `spent + reserved <= budget` always. Issuing reserves an offer's worst-case cost with a
conditional UPDATE (atomic on SQLite and PostgreSQL, and it locks the campaign row on PostgreSQL);
redeeming moves the actual cost from reserved to spent; rolling back or expiring releases it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from core.errors import Conflict, InvalidInput, NotFound
from store.models import Campaign, Coupon, CouponKind, Offer, OfferRequest, OfferStatus

CENT = 0.005
LIVE = (OfferStatus.issued, OfferStatus.redeemed)


@dataclass
class OfferDraft:
    """An offer the flow wants to issue; it becomes an `Offer` only if the guardrails let it."""

    coupon_id: str
    campaign_id: str
    discount_kind: CouponKind
    discount_value: float
    max_cost: float
    redeem_probability: float
    expected_incremental_margin: float
    propensity: float
    explanation: dict
    versions: dict


def find_request(session: Session, idempotency_key: str) -> OfferRequest | None:
    return session.scalar(select(OfferRequest).where(OfferRequest.idempotency_key == idempotency_key))


def offers_of_request(session: Session, request_id: str) -> list[Offer]:
    return list(session.scalars(select(Offer).where(Offer.request_id == request_id).order_by(Offer.rank)))


def live_usage(session: Session, customer_id: str, coupon_ids: list[str]) -> dict[str, int]:
    """How many live or redeemed offers of each coupon the customer holds."""
    rows = session.execute(
        select(Offer.coupon_id, func.count())
        .where(Offer.customer_id == customer_id, Offer.coupon_id.in_(coupon_ids), Offer.status.in_(LIVE))
        .group_by(Offer.coupon_id)
    ).all()
    return {coupon_id: count for coupon_id, count in rows}


def customer_exposure(session: Session, customer_id: str, campaign_id: str) -> float:
    """What a customer holds of a campaign: reserved cost of live offers plus cost of redeemed ones."""
    cost = func.coalesce(func.sum(func.coalesce(Offer.actual_cost, Offer.max_cost)), 0.0)
    return float(
        session.scalar(
            select(cost).where(
                Offer.customer_id == customer_id, Offer.campaign_id == campaign_id, Offer.status.in_(LIVE)
            )
        )
    )


def _reserve(session: Session, campaign_id: str, amount: float) -> bool:
    result = session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id, Campaign.spent + Campaign.reserved + amount <= Campaign.budget + CENT)
        .values(reserved=Campaign.reserved + amount)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _adjust(session: Session, campaign_id: str, *, reserved: float = 0.0, spent: float = 0.0) -> None:
    session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id)
        .values(reserved=Campaign.reserved + reserved, spent=Campaign.spent + spent)
        .execution_options(synchronize_session=False)
    )


def issue(
    session: Session,
    *,
    request: OfferRequest,
    drafts: list[OfferDraft],
    k: int,
    now: datetime,
    expires_at: datetime,
) -> list[Offer]:
    """Issue up to k drafts in rank order, skipping any the budget, cap or coupon limit refuses.

    Must run in a write session: the first UPDATE serialises concurrent issuers of a campaign, so the
    per-customer checks that follow read a state no one else can change before commit.
    """
    session.add(request)
    session.flush()
    issued: list[Offer] = []
    for draft in drafts:
        if len(issued) == k:
            break
        if not _reserve(session, draft.campaign_id, draft.max_cost):
            continue
        campaign = session.get(Campaign, draft.campaign_id)
        coupon = session.get(Coupon, draft.coupon_id)
        used = live_usage(session, request.customer_id, [draft.coupon_id]).get(draft.coupon_id, 0)
        exposure = customer_exposure(session, request.customer_id, draft.campaign_id)
        if used >= coupon.per_customer_limit or exposure + draft.max_cost > campaign.per_customer_cap + CENT:
            _adjust(session, draft.campaign_id, reserved=-draft.max_cost)
            continue
        offer = Offer(
            id=str(uuid.uuid4()),
            request_id=request.id,
            customer_id=request.customer_id,
            rank=len(issued) + 1,
            status=OfferStatus.issued,
            created_at=now,
            expires_at=expires_at,
            **draft.__dict__,
        )
        session.add(offer)
        session.flush()
        issued.append(offer)
    return issued


def _locked_offer(session: Session, offer_id: str) -> Offer:
    offer = session.scalar(select(Offer).where(Offer.id == offer_id).with_for_update())
    if offer is None:
        raise NotFound(f"offer {offer_id!r} does not exist", field="offer_id")
    return offer


def redemption_cost(kind: CouponKind, value: float, order_total: float, cost_cap: float) -> float:
    """What a redeemed offer costs: the discount on this order, never above the cost held for it."""
    if kind is CouponKind.percent:
        raw = order_total * value / 100
    elif kind is CouponKind.amount:
        raw = min(value, order_total)
    else:
        raw = value
    return round(min(raw, cost_cap), 2)


def redeem(session: Session, offer_id: str, order_id: str, order_total: float, now: datetime) -> Offer:
    """Redeem once; the same order redeeming again gets the same answer and changes nothing."""
    offer = _locked_offer(session, offer_id)
    if offer.status is OfferStatus.redeemed and offer.order_id == order_id:
        return offer
    if offer.status is not OfferStatus.issued:
        raise Conflict(f"offer {offer_id} is {offer.status.value} and cannot be redeemed")
    if now >= offer.expires_at:
        raise Conflict(f"offer {offer_id} expired at {offer.expires_at.isoformat()}")
    coupon = session.get(Coupon, offer.coupon_id)
    if order_total < coupon.min_spend:
        raise InvalidInput(
            f"order_total {order_total:.2f} is below the coupon's minimum spend {coupon.min_spend:.2f}",
            field="order_total",
        )
    cost = redemption_cost(offer.discount_kind, offer.discount_value, order_total, offer.max_cost)
    _adjust(session, offer.campaign_id, reserved=-offer.max_cost, spent=cost)
    offer.status = OfferStatus.redeemed
    offer.actual_cost = cost
    offer.order_id = order_id
    offer.order_total = round(order_total, 2)
    offer.redeemed_at = now
    return offer


def rollback(session: Session, offer_id: str, now: datetime) -> Offer:
    """Undo an offer once: release what it holds, or refund a redemption to the budget."""
    offer = _locked_offer(session, offer_id)
    if offer.status is OfferStatus.rolled_back:
        return offer
    if offer.status is OfferStatus.expired:
        raise Conflict(f"offer {offer_id} has expired; there is nothing to roll back")
    if offer.status is OfferStatus.redeemed:
        _adjust(session, offer.campaign_id, spent=-(offer.actual_cost or 0.0))
    else:
        _adjust(session, offer.campaign_id, reserved=-offer.max_cost)
    offer.status = OfferStatus.rolled_back
    offer.rolled_back_at = now
    return offer


def expire_due(session: Session, now: datetime) -> int:
    """Expire issued offers past their date and release what they held; returns how many."""
    due = list(
        session.scalars(
            select(Offer).where(Offer.status == OfferStatus.issued, Offer.expires_at <= now).with_for_update()
        )
    )
    for offer in due:
        offer.status = OfferStatus.expired
        _adjust(session, offer.campaign_id, reserved=-offer.max_cost)
    return len(due)
