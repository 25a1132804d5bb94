"""`/v1/coupons` and `/v1/campaigns`: read and upsert the offer catalogue."""

from __future__ import annotations

from litestar import Response, Router, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from api.auth import Scope, needs
from api.errors import problem_responses
from api.runtime import Runtime
from api.schemas import CampaignOut, CampaignPage, CouponOut, CouponPage, Limit, Offset, page_fields
from services import catalog
from store.schemas import CampaignIn, CouponIn


@get("/coupons", opt=needs(Scope.CATALOG_READ), sync_to_thread=True, responses=problem_responses(401, 403, 422))
def list_coupons(runtime: NamedDependency[Runtime], limit: Limit = 50, offset: Offset = 0) -> CouponPage:
    page = catalog.list_coupons(runtime.db, limit, offset)
    return CouponPage(items=[CouponOut.of(c) for c in page.items], **page_fields(page))


@post("/coupons", opt=needs(Scope.CATALOG_WRITE), sync_to_thread=True, responses=problem_responses(401, 403, 422))
def upsert_coupon(data: JSONBody[CouponIn], runtime: NamedDependency[Runtime]) -> Response[CouponOut]:
    """Create (201) or replace (200) a coupon; it is retrievable by the next offer request."""
    saved = catalog.upsert_coupon(runtime.service, data, runtime.clock())
    return Response(CouponOut.of(saved.row), status_code=201 if saved.created else 200)


@get("/campaigns", opt=needs(Scope.CATALOG_READ), sync_to_thread=True, responses=problem_responses(401, 403, 422))
def list_campaigns(runtime: NamedDependency[Runtime], limit: Limit = 50, offset: Offset = 0) -> CampaignPage:
    page = catalog.list_campaigns(runtime.db, limit, offset)
    return CampaignPage(items=[CampaignOut.of(c) for c in page.items], **page_fields(page))


@post("/campaigns", opt=needs(Scope.CATALOG_WRITE), sync_to_thread=True, responses=problem_responses(401, 403, 422))
def upsert_campaign(data: JSONBody[CampaignIn], runtime: NamedDependency[Runtime]) -> Response[CampaignOut]:
    """Create (201) or change (200) a campaign's terms; spent and reserved amounts are kept."""
    saved = catalog.upsert_campaign(runtime.db, data, runtime.clock())
    return Response(CampaignOut.of(saved.row), status_code=201 if saved.created else 200)


router = Router("/", route_handlers=[list_coupons, upsert_coupon, list_campaigns, upsert_campaign], tags=["catalog"])
