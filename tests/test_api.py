"""The HTTP API over a real store (SQLite and PostgreSQL), the real encoder and a real FAISS index.

Every assertion on money reads the campaign row back from the database, so a test passes only when the
API's answer and the store agree.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from litestar.testing import TestClient
from sqlalchemy import func, select

from api.app import create_app
from core.config import Settings
from services.offers import OfferService
from store.db import Database
from store.models import Campaign, Event, Offer, OfferStatus
from tests.conftest import NOW, make_service, seed_store

ADMIN = {"X-API-Key": "admin-key"}
READER = {"X-API-Key": "reader-key"}
PROBLEM = "application/problem+json"


def _client(service: OfferService, data_dir: Path) -> TestClient:
    settings = Settings(
        data_dir=data_dir, database_url=service.db.url, api_keys="admin-key:admin,reader-key:catalog:read"
    )
    return TestClient(create_app(settings, service=service, clock=lambda: NOW))


@pytest.fixture(scope="module")
def shared_service(encoder, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OfferService]:
    """One service over one seeded SQLite store, built once for the module."""
    data_dir = tmp_path_factory.mktemp("shared")
    db = Database(f"sqlite:///{data_dir / 'offerpilot.db'}")
    db.migrate()
    seed_store(db)
    yield make_service(db, encoder, data_dir)
    db.dispose()


@pytest.fixture(scope="module")
def http_client(shared_service: OfferService) -> Iterator[TestClient]:
    """For checks that change nothing in the store (auth, routing, body parsing, unknown ids), where the
    database makes no difference: one app for all of them keeps the suite fast."""
    with _client(shared_service, shared_service.settings.data_dir) as test_client:
        yield test_client


@pytest.fixture
def service(store: Database, encoder, shared_service: OfferService, tmp_path: Path) -> OfferService:
    """A service over this test's own seeded store (on each database); every store holds the same five
    coupons, so their index is copied from the shared one rather than embedded again."""
    shutil.copytree(shared_service.settings.index_dir, tmp_path / "index")
    settings = Settings(data_dir=tmp_path, database_url=store.url, exploration_epsilon=0.0)
    return OfferService.create(settings, store, encoder)


@pytest.fixture
def client(service: OfferService, tmp_path: Path) -> Iterator[TestClient]:
    with _client(service, tmp_path) as test_client:
        yield test_client


def campaign(db: Database) -> Campaign:
    with db.session() as s:
        return s.get(Campaign, "camp")


def offers_for(client: TestClient, customer_id: str, **body: object) -> dict:
    response = client.post("/v1/offers", json={"customer_id": customer_id, **body}, headers=ADMIN)
    assert response.status_code == 201, response.text
    return response.json()


def assert_problem(response, status: int, field: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert {"type", "title", "status", "detail", "instance"} <= body.keys()
    assert body["status"] == status
    if field is not None:
        assert field in [e["field"] for e in body["errors"]], body
    return body


# --- offers -------------------------------------------------------------------------------------------


def test_offers_come_with_reasons_whose_numbers_match_the_store(client, store):
    body = offers_for(client, "candle-fan")
    assert 1 <= len(body["offers"]) <= 3
    top = body["offers"][0]
    assert top["coupon_id"] == "candles10"
    assert top["title"] == "Candle lovers' treat"
    assert top["discount"] == {"kind": "percent", "value": top["discount"]["value"]}
    assert 0 < top["redeem_probability"] < 1 and 0 < top["propensity"] <= 1
    assert top["expires_at"].startswith((NOW + timedelta(days=14)).date().isoformat())
    assert set(top["versions"]) >= {"encoder", "ranker", "policy"}
    reasons = {r["kind"]: r for r in top["explanation"]["reasons"]}
    assert reasons["category_affinity"]["value"] == 7
    assert "7 purchases in Candles & Holders" in reasons["category_affinity"]["text"]
    assert all(isinstance(r["value"], int | float) for r in top["explanation"]["reasons"])
    with store.session() as s:
        issued = s.scalars(select(Offer).where(Offer.request_id == body["request_id"])).all()
    assert {o.id for o in issued} == {o["offer_id"] for o in body["offers"]}


def test_idempotency_key_replays_the_same_offers_and_refuses_another_body(client, store):
    headers = ADMIN | {"Idempotency-Key": "checkout-42"}
    first = client.post("/v1/offers", json={"customer_id": "candle-fan", "k": 2}, headers=headers)
    reserved = campaign(store).reserved
    retry = client.post("/v1/offers", json={"customer_id": "candle-fan", "k": 2}, headers=headers)
    assert first.status_code == 201 and retry.status_code == 200
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.json() == first.json()
    assert campaign(store).reserved == reserved > 0
    other_body = client.post("/v1/offers", json={"customer_id": "lapsed-baker"}, headers=headers)
    assert_problem(other_body, 409)
    assert campaign(store).reserved == reserved


def test_redeeming_twice_spends_once_and_a_rollback_refunds_it(client, store):
    offer = offers_for(client, "candle-fan", k=1)["offers"][0]
    before = campaign(store)
    url = f"/v1/offers/{offer['offer_id']}/redeem"
    first = client.post(url, json={"order_id": "order-1", "order_total": 60.0}, headers=ADMIN)
    assert first.status_code == 200, first.text
    state = first.json()
    assert state["status"] == "redeemed"
    assert state["cost"] == round(60.0 * offer["discount"]["value"] / 100, 2)
    again = client.post(url, json={"order_id": "order-1", "order_total": 60.0}, headers=ADMIN)
    assert again.status_code == 200 and again.json() == state
    other_order = client.post(url, json={"order_id": "order-2", "order_total": 60.0}, headers=ADMIN)
    assert_problem(other_order, 409)
    after = campaign(store)
    assert after.spent == pytest.approx(before.spent + state["cost"])
    assert after.reserved == pytest.approx(before.reserved - 15.0)  # a percent offer holds the per-order maximum
    assert client.post(f"/v1/offers/{offer['offer_id']}/rollback", headers=ADMIN).json()["status"] == "rolled_back"
    assert campaign(store).spent == pytest.approx(before.spent)


def test_rolling_back_twice_releases_once(client, store):
    offer = offers_for(client, "candle-fan", k=1)["offers"][0]
    reserved = campaign(store).reserved
    url = f"/v1/offers/{offer['offer_id']}/rollback"
    first = client.post(url, headers=ADMIN)
    second = client.post(url, headers=ADMIN)
    assert first.status_code == second.status_code == 200
    assert second.json()["status"] == "rolled_back"
    assert campaign(store).reserved == pytest.approx(reserved - 15.0)


def test_redeeming_below_minimum_spend_names_order_total(client, store):
    offer = offers_for(client, "candle-fan", k=1)["offers"][0]
    assert offer["coupon_id"] == "candles10"  # minimum spend £10
    response = client.post(
        f"/v1/offers/{offer['offer_id']}/redeem", json={"order_id": "o", "order_total": 5.0}, headers=ADMIN
    )
    body = assert_problem(response, 422, "order_total")
    assert body["field"] == "order_total"
    assert campaign(store).spent == 0


def test_unknown_customer_offer_or_cart_sku_is_named(http_client):
    body = assert_problem(
        http_client.post("/v1/offers", json={"customer_id": "nobody"}, headers=ADMIN), 404, "customer_id"
    )
    assert "nobody" in body["detail"] and body["field"] == "customer_id"
    assert_problem(http_client.post("/v1/offers/no-such-offer/rollback", headers=ADMIN), 404)
    cart = {"cart": [{"sku": "NOPE", "quantity": 1, "unit_price": 2.0}]}
    response = http_client.post("/v1/offers", json={"customer_id": "candle-fan", "context": cart}, headers=ADMIN)
    assert "NOPE" in assert_problem(response, 422)["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "customer_id"),
        ({"customer_id": 7}, "customer_id"),
        ({"customer_id": "candle-fan", "k": 11}, "k"),
        ({"customer_id": "candle-fan", "k": 0}, "k"),
        (
            {"customer_id": "candle-fan", "context": {"cart": [{"sku": "C1", "quantity": 0, "unit_price": 2}]}},
            "context.cart.0.quantity",
        ),
        (
            {"customer_id": "candle-fan", "context": {"cart": [{"sku": "C1", "quantity": 1}]}},
            "context.cart.0.unit_price",
        ),
        ({"customer_id": "candle-fan", "surprise": True}, "surprise"),
        ([1, 2], "body"),
    ],
)
def test_malformed_offer_request_is_422_naming_the_field(http_client, body, field):
    assert_problem(http_client.post("/v1/offers", json=body, headers=ADMIN), 422, field)


def test_invalid_json_is_a_problem_not_a_crash(http_client):
    response = http_client.post(
        "/v1/offers", content=b'{"customer_id": ', headers=ADMIN | {"content-type": "application/json"}
    )
    assert_problem(response, 400)


def test_overlong_idempotency_key_is_422(http_client):
    headers = ADMIN | {"Idempotency-Key": "x" * 201}
    response = http_client.post("/v1/offers", json={"customer_id": "candle-fan"}, headers=headers)
    assert_problem(response, 422, "idempotency_key")


def test_unexpected_failure_is_a_500_problem_without_internals(http_client, monkeypatch):
    service = http_client.app.state.runtime.service

    def explode(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(service, "create_offers", explode)
    body = assert_problem(http_client.post("/v1/offers", json={"customer_id": "candle-fan"}, headers=ADMIN), 500)
    assert "secret" not in str(body) and "Traceback" not in str(body)


# --- auth and routing ---------------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "wrong"}, {"X-API-Key": ""}])
def test_missing_or_unknown_key_is_401(http_client, headers):
    assert_problem(http_client.get("/v1/customers", headers=headers), 401)
    assert_problem(http_client.post("/v1/offers", json={"customer_id": "candle-fan"}, headers=headers), 401)


def test_key_without_the_scope_is_403(http_client):
    assert http_client.get("/v1/customers", headers=READER).status_code == 200
    assert http_client.get("/v1/coupons", headers=READER).status_code == 200
    assert_problem(http_client.post("/v1/offers", json={"customer_id": "candle-fan"}, headers=READER), 403)
    assert_problem(http_client.post("/v1/events", json={"events": []}, headers=READER), 403)
    assert_problem(http_client.post("/v1/campaigns", json={}, headers=READER), 403)


def test_open_endpoints_need_no_key(http_client):
    for path in ("/healthz", "/metrics", "/schema/openapi.json"):
        assert http_client.get(path).status_code == 200, path


def test_unknown_route_and_method_are_problems(http_client):
    assert_problem(http_client.get("/v1/nothing-here", headers=ADMIN), 404)
    assert_problem(http_client.delete("/v1/offers", headers=ADMIN), 405)


# --- events -------------------------------------------------------------------------------------------


def _events(*overrides: dict) -> dict:
    base = {
        "customer_id": "newcomer",
        "kind": "purchase",
        "sku": "K2",
        "quantity": 1,
        "unit_price": 4.95,
        "order_id": "n-1",
    }
    return {"events": [base | {"occurred_at": (NOW - timedelta(days=2)).isoformat()} | o for o in overrides]}


def event_count(db: Database) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(Event))


def test_events_batch_is_written_and_shows_in_the_profile(client, store):
    batch = _events(
        {},
        {"kind": "view", "quantity": None, "unit_price": None},
        {"kind": "search", "sku": None, "query": "cake tins"},
    )
    response = client.post("/v1/events", json=batch, headers=ADMIN)
    assert response.status_code == 201, response.text
    assert response.json() == {"accepted": 3}
    profile = client.get("/v1/customers/newcomer", headers=ADMIN).json()
    assert profile["frequency"] == 1 and profile["monetary"] == 4.95 and profile["recency_days"] == 2


def test_an_invalid_event_rejects_the_whole_batch(client, store):
    before = event_count(store)
    for override, field in [
        ({"quantity": -1}, "events.3"),
        ({"kind": "teleport"}, "events.3.kind"),
        ({"unit_price": "cheap"}, "events.3.unit_price"),
        ({"sku": "NO-SUCH-SKU"}, "events.3.sku"),
        ({"customer_id": "nobody"}, "events.3.customer_id"),
    ]:
        response = client.post("/v1/events", json=_events({}, {}, {}, override), headers=ADMIN)
        assert_problem(response, 422, field)
    assert_problem(client.post("/v1/events", json={"events": []}, headers=ADMIN), 422, "events")
    assert event_count(store) == before


# --- customers, coupons, campaigns --------------------------------------------------------------------


def test_customers_are_paginated_and_profiled(client):
    first = client.get("/v1/customers", params={"limit": 2}, headers=READER).json()
    assert first["total"] == 3 and len(first["items"]) == 2 and first["next_offset"] == 2
    rest = client.get("/v1/customers", params={"limit": 2, "offset": first["next_offset"]}, headers=READER).json()
    assert len(rest["items"]) == 1 and rest["next_offset"] is None
    ids = [c["id"] for c in first["items"] + rest["items"]]
    assert ids == ["candle-fan", "lapsed-baker", "newcomer"]
    assert_problem(client.get("/v1/customers", params={"limit": 0}, headers=READER), 422, "limit")

    profile = client.get("/v1/customers/candle-fan", headers=READER).json()
    assert profile["recency_days"] == 5
    assert profile["frequency"] == 8
    assert profile["monetary"] == pytest.approx(7 * 2 * 3.0 + 2.08)
    assert profile["top_categories"][0] == {"category": "Candles & Holders", "purchases": 7}
    assert profile["summary"].startswith("8 orders worth £44.08")
    assert_problem(client.get("/v1/customers/nobody", headers=READER), 404, "customer_id")


NEW_COUPON = {
    "id": "teatime",
    "campaign_id": "camp",
    "title": "Tea light top-up",
    "description": "Tea lights and t-light holders for candle lovers, a little cheaper.",
    "kind": "percent",
    "depths": [5],
    "scope_categories": ["Candles & Holders"],
}


def test_a_posted_coupon_is_offered_at_once(client, service):
    assert_problem(
        client.post("/v1/coupons", json=NEW_COUPON | {"campaign_id": "nope"}, headers=ADMIN), 422, "campaign_id"
    )
    assert_problem(client.post("/v1/coupons", json=NEW_COUPON | {"depths": []}, headers=ADMIN), 422, "depths")
    assert "teatime" not in service.index.ids
    created = client.post("/v1/coupons", json=NEW_COUPON, headers=ADMIN)
    assert created.status_code == 201, created.text
    assert created.json()["depths"] == [5.0]
    offered = offers_for(client, "candle-fan", k=10)["offers"]
    assert "teatime" in [o["coupon_id"] for o in offered]
    updated = client.post("/v1/coupons", json=NEW_COUPON | {"title": "Tea light treat"}, headers=ADMIN)
    assert updated.status_code == 200 and updated.json()["title"] == "Tea light treat"
    listed = client.get("/v1/coupons", headers=READER).json()
    assert listed["total"] == 6 and "teatime" in [c["id"] for c in listed["items"]]


CAMPAIGN = {"id": "spring", "name": "Spring", "budget": 250.0, "per_customer_cap": 20.0, "max_discount_per_order": 10.0}


def test_campaigns_are_created_and_updated_keeping_what_they_hold(client, store):
    created = client.post("/v1/campaigns", json=CAMPAIGN | {"holdout_share": 0.1}, headers=ADMIN)
    assert created.status_code == 201, created.text
    assert created.json() | {"created_at": None} == CAMPAIGN | {
        "holdout_share": 0.1,
        "spent": 0.0,
        "reserved": 0.0,
        "remaining": 250.0,
        "starts_at": None,
        "ends_at": None,
        "created_at": None,
    }
    offers_for(client, "candle-fan", k=1)
    camp = {"id": "camp", "name": "Renamed", "budget": 400.0, "per_customer_cap": 40.0, "max_discount_per_order": 15.0}
    updated = client.post("/v1/campaigns", json=camp, headers=ADMIN)
    assert updated.status_code == 200
    assert updated.json()["reserved"] == 15.0 and updated.json()["remaining"] == 385.0
    assert campaign(store).name == "Renamed"
    too_small = client.post("/v1/campaigns", json=camp | {"budget": 10.0}, headers=ADMIN)
    assert_problem(too_small, 422, "budget")
    listed = client.get("/v1/campaigns", headers=READER).json()
    assert {c["id"]: c["budget"] for c in listed["items"]} == {"camp": 400.0, "spring": 250.0}
    assert_problem(
        client.post("/v1/campaigns", json=CAMPAIGN | {"holdout_share": 1.5}, headers=ADMIN), 422, "holdout_share"
    )


# --- operations ---------------------------------------------------------------------------------------


def test_healthz_and_metrics_report_the_store(client, store):
    health = client.get("/healthz").json()
    assert health["status"] == "ok"
    assert health["checks"]["database"] | {"dialect": None} == {
        "reachable": True,
        "dialect": None,
        "customers": 3,
        "coupons": 5,
        "campaigns": 1,
    }
    assert health["checks"]["index"]["coupons"] == 5

    offers = offers_for(client, "candle-fan")["offers"]
    client.get("/v1/customers/nobody", headers=READER)
    response = client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'offerpilot_http_requests_total{method="POST",route="/v1/offers",status="201"} 1.0' in text
    assert 'offerpilot_http_requests_total{method="GET",route="/v1/customers/{customer_id}",status="404"} 1.0' in text
    assert (
        'offerpilot_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/healthz",status="200"}' in text
    )
    assert f'offerpilot_offers_issued_total{{campaign="camp"}} {float(len(offers))}' in text
    assert 'offerpilot_campaign_budget{campaign="camp"} 500.0' in text
    assert f'offerpilot_campaign_reserved{{campaign="camp"}} {campaign(store).reserved}' in text
    assert 'offerpilot_campaign_spent{campaign="camp"} 0.0' in text


def test_openapi_documents_every_path_and_the_key(http_client):
    doc = http_client.get("/schema/openapi.json").json()
    assert doc["info"]["title"] == "offerpilot"
    assert {
        "/healthz",
        "/metrics",
        "/v1/offers",
        "/v1/offers/{offer_id}/redeem",
        "/v1/offers/{offer_id}/rollback",
        "/v1/events",
        "/v1/customers",
        "/v1/customers/{customer_id}",
        "/v1/coupons",
        "/v1/campaigns",
    } <= doc["paths"].keys()
    scheme = doc["components"]["securitySchemes"]["apiKey"]
    assert (scheme["type"], scheme["name"], scheme["in"]) == ("apiKey", "X-API-Key", "header")
    offers = doc["paths"]["/v1/offers"]["post"]
    assert offers["security"] == [{"apiKey": []}]
    assert "application/problem+json" in offers["responses"]["422"]["content"]
    assert "security" not in doc["paths"]["/healthz"]["get"]


def test_due_offers_are_expired_in_the_background(service, store, tmp_path):
    stale = service.create_offers("candle-fan", k=1, now=NOW - timedelta(days=30))
    assert campaign(store).reserved == 15.0
    with _client(service, tmp_path):  # the lifespan task runs its first round at startup
        deadline = time.monotonic() + 10
        while campaign(store).reserved and time.monotonic() < deadline:
            time.sleep(0.05)
    assert campaign(store).reserved == 0.0
    with store.session() as s:
        assert s.get(Offer, stale.offers[0].id).status is OfferStatus.expired


def test_an_app_built_from_settings_creates_its_store_and_index(tmp_path):
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'fresh.db'}", api_keys="k:admin")
    with TestClient(create_app(settings)) as fresh:
        health = fresh.get("/healthz").json()["checks"]
        assert health["database"]["customers"] == 0 and health["index"]["coupons"] == 0
        assert fresh.post("/v1/offers", json={"customer_id": "anyone"}, headers={"X-API-Key": "k"}).status_code == 404
        campaign = {"id": "c", "name": "C", "budget": 10, "per_customer_cap": 5, "max_discount_per_order": 5}
        assert fresh.post("/v1/campaigns", json=campaign, headers={"X-API-Key": "k"}).status_code == 201
        assert (
            fresh.post("/v1/coupons", json=NEW_COUPON | {"campaign_id": "c"}, headers={"X-API-Key": "k"}).status_code
            == 201
        )
    (tmp_path / "index" / "coupons.faiss").unlink()  # a lost index is rebuilt from the store
    with TestClient(create_app(settings)) as rebuilt:
        assert rebuilt.get("/healthz").json()["checks"]["index"]["coupons"] == 1
