"""The Litestar application: wiring only; the routes live in one small module per resource.

`create_app()` builds the store, encoder and offer service from settings; tests and benchmarks pass
their own service (and clock) instead, so the same app runs against any store.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import anyio.to_thread
import numpy as np
import structlog
from litestar import Litestar, Router
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from sqlalchemy import select

from api import agent, catalog, customers, events, health, offers
from api.auth import SECURITY_COMPONENTS, SECURITY_SCHEME, KeyRing, require_api_key
from api.errors import EXCEPTION_HANDLERS
from api.metrics import Metrics, MetricsMiddleware
from api.runtime import Clock, Runtime, provide_runtime, utc_now
from core.config import Settings, get_settings
from offerpilot import __version__
from retrieval.encoder import get_encoder
from retrieval.index import CouponIndex, CouponIndexError
from services.indexing import build_coupon_index
from services.offers import OfferService
from store.db import Database
from store.models import Coupon

EXPIRY_INTERVAL_S = 60.0

log = structlog.get_logger(__name__)


def create_app(
    settings: Settings | None = None, *, service: OfferService | None = None, clock: Clock = utc_now
) -> Litestar:
    """The API over `service`, or over a service built from `settings` (store migrated, index loaded)."""
    settings = settings or (service.settings if service else get_settings())
    keys = KeyRing(settings.parsed_api_keys())
    if not keys:
        log.warning("no_api_keys", hint="set OFFERPILOT_API_KEYS=key:scope1+scope2; every /v1 route answers 401")
    owns_db = service is None
    service = service or build_service(settings)
    runtime = Runtime(settings, service, keys, Metrics(service.db), clock, owns_db)
    v1 = Router(
        "/v1",
        route_handlers=[offers.router, events.router, customers.router, catalog.router, agent.router],
        guards=[require_api_key],
        security=[{SECURITY_SCHEME: []}],
    )
    return Litestar(
        route_handlers=[health.healthz, health.metrics, v1],
        dependencies={"runtime": Provide(provide_runtime, sync_to_thread=False)},
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[MetricsMiddleware(runtime.metrics)],
        before_send=[runtime.metrics.count_unmatched],
        lifespan=[_background_expiry],
        state=State({"runtime": runtime}),
        openapi_config=OpenAPIConfig(
            title="offerpilot",
            version=__version__,
            path="/schema",
            description="Explained, budget-safe coupon offers. Errors are application/problem+json (RFC 9457).",
            components=SECURITY_COMPONENTS,
        ),
    )


def build_service(settings: Settings) -> OfferService:
    """Open the store (creating its schema if absent), load the encoder and the coupon index.

    A missing or stale index is rebuilt from the store, or started empty when the store has no coupons
    yet, so a fresh server can be filled through `POST /v1/coupons`.
    """
    db = Database(settings.db_url)
    if not db.has_schema():
        db.migrate()
    encoder = get_encoder()
    try:
        CouponIndex.load(settings.index_dir, encoder.version)
    except CouponIndexError as error:
        log.warning("coupon_index_rebuilt", reason=str(error))
        with db.session() as session:
            has_coupons = session.scalar(select(Coupon.id).limit(1)) is not None
        if has_coupons:
            build_coupon_index(db, encoder, settings.index_dir)
        else:
            CouponIndex.build(encoder.version, [], np.zeros((0, encoder.dim), np.float32)).save(settings.index_dir)
    return OfferService.create(settings, db, encoder)


@asynccontextmanager
async def _background_expiry(app: Litestar) -> AsyncIterator[None]:
    """Expire due offers every minute while the app runs, releasing their reservations to the budget."""
    runtime: Runtime = app.state.runtime
    task = asyncio.create_task(_expire_forever(runtime))
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
        if runtime.owns_db:
            runtime.db.dispose()


async def _expire_forever(runtime: Runtime) -> None:
    while True:
        try:
            expired = await anyio.to_thread.run_sync(runtime.service.expire_due, runtime.clock())
        except Exception as error:  # the loop must survive a failed round (e.g. the database restarting)
            log.error("offer_expiry_failed", error=str(error))
        else:
            if expired:
                log.info("offers_expired", count=expired)
        await asyncio.sleep(EXPIRY_INTERVAL_S)
