"""`/v1/customers`: the customer list and one customer's profile."""

from __future__ import annotations

from litestar import Router, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from api.auth import Scope, needs
from api.errors import problem_responses
from api.runtime import Runtime
from api.schemas import CustomerOut, CustomerPage, Limit, Offset, ProfileOut, page_fields
from services import catalog


@get("/customers", opt=needs(Scope.CATALOG_READ), sync_to_thread=True, responses=problem_responses(401, 403, 422))
def list_customers(runtime: NamedDependency[Runtime], limit: Limit = 50, offset: Offset = 0) -> CustomerPage:
    page = catalog.list_customers(runtime.db, limit, offset)
    return CustomerPage(items=[CustomerOut.of(c) for c in page.items], **page_fields(page))


@get(
    "/customers/{customer_id:str}",
    opt=needs(Scope.CATALOG_READ),
    sync_to_thread=True,
    responses=problem_responses(401, 403, 404),
)
def customer_profile(customer_id: FromPath[str], runtime: NamedDependency[Runtime]) -> ProfileOut:
    """Recency, frequency, monetary value, top categories and a one-sentence history, as of now."""
    return ProfileOut.of(catalog.customer_profile(runtime.db, customer_id, runtime.clock()))


router = Router("/", route_handlers=[list_customers, customer_profile], tags=["catalog"])
