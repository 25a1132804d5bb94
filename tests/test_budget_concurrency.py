"""A campaign's budget is never overspent, and an offer is never redeemed twice, under real concurrency.

Each test fires its requests from many threads at once (real concurrent transactions on SQLite and
PostgreSQL), or over HTTP at a real uvicorn server, then reads the campaign and the offer log back and
checks the invariants: spent + reserved <= budget, and reserved is exactly what the live offers hold.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
import uvicorn
from sqlalchemy import func, select

from api.app import create_app
from core.config import Settings
from core.errors import Conflict
from services.offers import OfferService
from store.db import Database
from store.models import Campaign, Customer, Event, EventKind, Offer, OfferRequest, OfferStatus
from tests.conftest import NOW, PRODUCTS, make_service, seed_store

BUDGET = 100.0
SHOPPERS = [f"shopper-{n:02d}" for n in range(40)]
K = 3
T = TypeVar("T")


@pytest.fixture
def crowded(db: Database, encoder, tmp_path: Path) -> OfferService:
    """The seeded store with a tight budget and forty more customers, each with two purchases."""
    seed_store(db, budget=BUDGET, per_customer_cap=20.0)
    with db.session() as s:
        for n, customer_id in enumerate(SHOPPERS):
            s.add(Customer(id=customer_id, country="United Kingdom", created_at=NOW - timedelta(days=100)))
            for j in range(2):
                sku, _, _, price = PRODUCTS[(n + j * 3) % len(PRODUCTS)]
                s.add(
                    Event(
                        customer_id=customer_id,
                        kind=EventKind.purchase,
                        sku=sku,
                        quantity=1 + j,
                        unit_price=price,
                        order_id=f"{customer_id}-{j}",
                        occurred_at=NOW - timedelta(days=3 + 20 * j + n % 7),
                    )
                )
    return make_service(db, encoder, tmp_path)


def all_at_once(calls: list[Callable[[], T]]) -> list[T | Exception]:
    """Run the calls in as many threads, released together by a barrier; exceptions are returned."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], T]) -> T | Exception:
        barrier.wait(timeout=60)
        try:
            return call()
        except Exception as error:
            return error

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def assert_budget_holds(db: Database, issued_ids: set[str]) -> Campaign:
    with db.session() as s:
        campaign = s.get(Campaign, "camp")
        live = list(s.scalars(select(Offer).where(Offer.status == OfferStatus.issued)))
    assert campaign.spent + campaign.reserved <= campaign.budget + 0.005
    assert {o.id for o in live} == issued_ids
    assert sum(o.max_cost for o in live) == pytest.approx(campaign.reserved, abs=0.01)
    return campaign


def assert_budget_ran_out(db: Database, counts: list[int]) -> None:
    """Some requests got fewer than k offers, and what is left could not pay for the dearest one issued."""
    with db.session() as s:
        campaign = s.get(Campaign, "camp")
        dearest = s.scalar(select(func.max(Offer.max_cost)))
    assert any(count < K for count in counts)
    assert campaign.budget - campaign.spent - campaign.reserved < dearest


def test_budget_is_never_overspent_by_concurrent_requests(crowded: OfferService, db: Database):
    results = all_at_once([lambda c=c: crowded.create_offers(c, k=K, now=NOW) for c in SHOPPERS])
    errors = [r for r in results if isinstance(r, Exception)]
    assert not errors, errors[:3]
    issued = {o.id for batch in results for o in batch.offers}
    assert issued, "nothing was issued at all"
    assert_budget_holds(db, issued)
    assert_budget_ran_out(db, [len(batch.offers) for batch in results])


@contextmanager
def serving(service: OfferService, data_dir: Path) -> Iterator[str]:
    """The app under a real uvicorn server on a free port, in a background thread."""
    settings = Settings(data_dir=data_dir, database_url=service.db.url, api_keys="load-key:offers:write+catalog:write")
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, service=service, clock=lambda: NOW), log_level="warning")
    )
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


async def post_all(base: str, customers: list[str]) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=len(customers))
    async with httpx.AsyncClient(base_url=base, headers={"X-API-Key": "load-key"}, timeout=60, limits=limits) as client:
        return await asyncio.gather(*(client.post("/v1/offers", json={"customer_id": c, "k": K}) for c in customers))


def test_budget_is_never_overspent_by_concurrent_http_requests(crowded: OfferService, db: Database, tmp_path: Path):
    customers = SHOPPERS[:32]
    with serving(crowded, tmp_path) as base:
        responses = asyncio.run(post_all(base, customers))
    assert [r.status_code for r in responses] == [201] * len(customers), [r.text for r in responses if r.is_error][:3]
    offers = [o for r in responses for o in r.json()["offers"]]
    assert_budget_holds(db, {o["offer_id"] for o in offers})
    assert_budget_ran_out(db, [len(r.json()["offers"]) for r in responses])


def test_concurrent_creates_of_one_campaign_are_answered_never_500(
    service: OfferService, store: Database, tmp_path: Path
):
    campaign = {"id": "flash", "name": "Flash", "budget": 100, "per_customer_cap": 10, "max_discount_per_order": 5}

    async def create_all(base: str) -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=base, headers={"X-API-Key": "load-key"}, timeout=60) as client:
            return await asyncio.gather(*(client.post("/v1/campaigns", json=campaign) for _ in range(16)))

    with serving(service, tmp_path) as base:
        responses = asyncio.run(create_all(base))
    statuses = [r.status_code for r in responses]
    assert statuses.count(201) == 1 and set(statuses) <= {200, 201, 409}, statuses
    with store.session() as s:
        assert s.get(Campaign, "flash").budget == 100


def test_concurrent_redeems_spend_once(service: OfferService, store: Database):
    same_order, other_orders = service.create_offers("candle-fan", k=2, now=NOW).offers
    results = all_at_once(
        [lambda: service.redeem(same_order.id, "order-1", 80.0, now=NOW) for _ in range(12)]
        + [lambda n=n: service.redeem(other_orders.id, f"order-{n}", 80.0, now=NOW) for n in range(2, 14)]
    )
    first, second = results[:12], results[12:]
    assert all(not isinstance(r, Exception) and r.order_id == "order-1" for r in first), first
    winners = [r for r in second if not isinstance(r, Exception)]
    assert len(winners) == 1
    assert all(isinstance(r, Conflict) for r in second if r not in winners)
    with store.session() as s:
        campaign = s.get(Campaign, "camp")
        redeemed = list(s.scalars(select(Offer).where(Offer.status == OfferStatus.redeemed)))
    assert len(redeemed) == 2
    assert campaign.spent == pytest.approx(sum(o.actual_cost for o in redeemed))
    assert campaign.spent == pytest.approx(first[0].actual_cost + winners[0].actual_cost)
    assert campaign.reserved == pytest.approx(0.0)


def test_concurrent_retries_with_one_idempotency_key_issue_once(service: OfferService, store: Database):
    results = all_at_once(
        [lambda: service.create_offers("candle-fan", k=2, idempotency_key="retry-me", now=NOW) for _ in range(12)]
    )
    assert not [r for r in results if isinstance(r, Exception)], results
    assert len({(r.request_id, tuple(o.id for o in r.offers)) for r in results}) == 1
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(OfferRequest)) == 1
        held = s.scalar(select(func.sum(Offer.max_cost)))
        assert s.get(Campaign, "camp").reserved == pytest.approx(held)


def test_concurrent_requests_for_one_customer_never_repeat_a_coupon(service: OfferService, store: Database):
    results = all_at_once([lambda: service.create_offers("candle-fan", k=3, now=NOW) for _ in range(12)])
    assert not [r for r in results if isinstance(r, Exception)], results
    coupons = [o.coupon_id for r in results for o in r.offers]
    assert coupons and len(coupons) == len(set(coupons))  # every coupon allows one offer per customer
    with store.session() as s:
        campaign = s.get(Campaign, "camp")
        assert campaign.reserved == pytest.approx(s.scalar(select(func.sum(Offer.max_cost))))
    assert campaign.reserved <= campaign.per_customer_cap + 0.005
