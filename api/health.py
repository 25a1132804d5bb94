"""The open operational endpoints: `/healthz` for load balancers and `/metrics` for Prometheus."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.di import NamedDependency
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from api.errors import problem, problem_responses
from api.metrics import CONTENT_TYPE
from api.runtime import Runtime
from store.models import Campaign, Coupon, Customer


@get("/healthz", sync_to_thread=True, tags=["operations"], responses=problem_responses(503))
def healthz(request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]) -> Response[dict[str, Any]]:
    """Ready when the store answers and the coupon index is loaded; 503 with the failing check if not."""
    index = runtime.service.index
    checks: dict[str, Any] = {
        "index": {"loaded": True, "coupons": len(index), "encoder": index.encoder_version, "built_at": index.built_at}
    }
    try:
        with runtime.db.session() as session:
            checks["database"] = {
                "reachable": True,
                "dialect": runtime.db.engine.dialect.name,
                **{
                    name: session.scalar(select(func.count()).select_from(model))
                    for name, model in (("customers", Customer), ("coupons", Coupon), ("campaigns", Campaign))
                },
            }
    except SQLAlchemyError as error:
        checks["database"] = {"reachable": False, "error": type(error).__name__}
        return problem(request, 503, kind="not-ready", detail="the database is not reachable", checks=checks)
    return Response({"status": "ok", "checks": checks, "versions": runtime.service.versions})


@get("/metrics", sync_to_thread=True, tags=["operations"])
def metrics(runtime: NamedDependency[Runtime]) -> Response[bytes]:
    return Response(runtime.metrics.render(), media_type=CONTENT_TYPE)
