"""`/v1/offers`: issue explained offers, redeem them, roll them back."""

from __future__ import annotations

from typing import Annotated

from litestar import Response, Router, post
from litestar.di import NamedDependency
from litestar.params import FromPath, HeaderParameter, JSONBody

from api.auth import Scope, needs
from api.errors import problem_responses
from api.runtime import Runtime
from api.schemas import OfferBatchOut, OfferOut, OfferRequestBody, OfferStateOut, RedeemBody
from services import catalog

IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="Retrying with the same key returns the same offers instead of issuing new ones.",
    ),
]


@post(
    "/offers", opt=needs(Scope.OFFERS_WRITE), sync_to_thread=True, responses=problem_responses(401, 403, 404, 409, 422)
)
def create_offers(
    data: JSONBody[OfferRequestBody], runtime: NamedDependency[Runtime], idempotency_key: IdempotencyKey = None
) -> Response[OfferBatchOut]:
    """Up to k offers for one customer; 201 when issued, 200 with `Idempotent-Replayed` on a retry."""
    context = data.context.to_context() if data.context else None
    batch = runtime.service.create_offers(
        data.customer_id, context, k=data.k, idempotency_key=idempotency_key, now=runtime.clock()
    )
    coupons = catalog.coupons_by_id(runtime.db, [o.coupon_id for o in batch.offers])
    body = OfferBatchOut(
        request_id=batch.request_id, offers=[OfferOut.of(o, coupons[o.coupon_id]) for o in batch.offers]
    )
    if batch.replayed:
        return Response(body, status_code=200, headers={"Idempotent-Replayed": "true"})
    for offer in batch.offers:
        runtime.metrics.offers_issued.labels(offer.campaign_id).inc()
    return Response(body, status_code=201)


@post(
    "/offers/{offer_id:str}/redeem",
    opt=needs(Scope.OFFERS_WRITE),
    sync_to_thread=True,
    status_code=200,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def redeem_offer(
    offer_id: FromPath[str], data: JSONBody[RedeemBody], runtime: NamedDependency[Runtime]
) -> OfferStateOut:
    """Redeem once against an order; the same order again changes nothing, another order is a 409."""
    offer = runtime.service.redeem(offer_id, data.order_id, data.order_total, now=runtime.clock())
    return OfferStateOut.of(offer)


@post(
    "/offers/{offer_id:str}/rollback",
    opt=needs(Scope.OFFERS_WRITE),
    sync_to_thread=True,
    status_code=200,
    responses=problem_responses(401, 403, 404, 409),
)
def rollback_offer(offer_id: FromPath[str], runtime: NamedDependency[Runtime]) -> OfferStateOut:
    """Release what the offer holds, or refund its redemption to the budget; repeating it changes nothing."""
    return OfferStateOut.of(runtime.service.rollback(offer_id, now=runtime.clock()))


router = Router("/", route_handlers=[create_offers, redeem_offer, rollback_offer], tags=["offers"])
