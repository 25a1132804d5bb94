"""The agent's tools over the real offer flow (seeded store on SQLite and PostgreSQL, real encoder and index).

Every tool is checked against what the services say directly, and every write against the store: the
tools must be exactly as safe as the API, whatever a model asks of them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from agent import pricing
from agent.calls import CallError, ToolCall
from agent.segments import load_profiles
from agent.tools import Toolkit
from core.errors import NotFound
from retrieval.encoder import Encoder
from retrieval.ranker import Candidate
from services import catalog
from services.offers import OfferContext, OfferService
from store.db import Database
from store.models import Campaign, Offer
from store.profiles import load_profile
from tests.conftest import NOW, make_service, seed_store


@pytest.fixture
def service(store: Database, encoder: Encoder, tmp_path: Path) -> OfferService:
    """The production wiring without exploration, so tool results can be compared with the services'."""
    return make_service(store, encoder, tmp_path, exploration_epsilon=0.0)


@pytest.fixture
def toolkit(service: OfferService) -> Toolkit:
    return Toolkit(service, lambda: NOW)


def run(toolkit: Toolkit, tool: str, *, chat: str | None = None, can_write: bool = False, **args: object):
    """Execute one call as a marketer, or in the support chat of customer `chat`."""
    return toolkit.execute(ToolCall(tool, args), chat, can_write)


def offers_written(db: Database) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(Offer)) or 0


def held(db: Database) -> float:
    with db.session() as session:
        campaign = session.get(Campaign, "camp")
        return round(campaign.spent + campaign.reserved, 2)


def test_profile_numbers_come_from_the_store(toolkit: Toolkit) -> None:
    result = run(toolkit, "customer_profile", customer_id="candle-fan")
    row = result.table[0]
    assert (row["orders"], row["recency_days"], row["top_category"]) == (8, 5, "Candles & Holders")
    assert "8 orders" in result.summary


def test_unknown_customer_is_a_not_found(toolkit: Toolkit) -> None:
    with pytest.raises(NotFound):
        run(toolkit, "customer_profile", customer_id="nobody")


def test_coupons_are_found_by_meaning(toolkit: Toolkit) -> None:
    result = run(toolkit, "search_coupons", query="tea lights and scented candles")
    assert result.table[0]["coupon_id"] == "candles10"


def test_recommendations_are_the_offer_flow_preview_and_write_nothing(toolkit: Toolkit, service: OfferService) -> None:
    result = run(toolkit, "recommend_offers", customer_id="candle-fan")
    drafts = service.preview_offers("candle-fan", OfferContext(channel="agent"), k=3, now=NOW)
    assert [(o["coupon_id"], o["discount"]["value"]) for o in result.offers] == [
        (d.coupon_id, d.discount_value) for d in drafts
    ]
    assert offers_written(service.db) == 0 and held(service.db) == 0


@pytest.mark.parametrize(("customer", "coupon"), [("candle-fan", "candles10"), ("lapsed-baker", "Bake it better")])
def test_a_quote_is_the_policy_choice(toolkit: Toolkit, service: OfferService, customer: str, coupon: str) -> None:
    result = run(toolkit, "price_offer", customer_id=customer, coupon_id=coupon)
    found = pricing.resolve_coupon(service, coupon)  # by id or by title
    profile = catalog.customer_profile(service.db, customer, NOW)
    similarity = pricing.similarity(service, profile, found.id)
    score = service.ranker.rank(profile, [Candidate(found, similarity)])[0].score
    decision = pricing.quoting_policy(service).choose(profile, found, score)
    assert result.offers[0]["discount"]["value"] == decision.depth and decision.depth in found.depths
    assert result.table[0]["expected_incremental_margin"] == decision.expected_incremental_margin


def test_a_quote_ignores_exploration(store: Database, encoder: Encoder, tmp_path: Path) -> None:
    exploring = Toolkit(make_service(store, encoder, tmp_path, exploration_epsilon=1.0), lambda: NOW)
    quotes = {
        str(run(exploring, "price_offer", customer_id="candle-fan", coupon_id="candles10").table) for _ in range(4)
    }
    assert len(quotes) == 1


def test_an_ineligible_pair_is_reported_not_priced(toolkit: Toolkit) -> None:
    issued = run(toolkit, "issue_offer", customer_id="candle-fan", can_write=True, query="candles")
    coupon = issued.offers[0]["coupon_id"]  # each coupon allows one live offer per customer
    result = run(toolkit, "price_offer", customer_id="candle-fan", coupon_id=coupon)
    assert "per-customer limit reached" in result.summary and not result.offers


def test_explanations_quote_the_profile(toolkit: Toolkit) -> None:
    result = run(toolkit, "explain_offer", customer_id="candle-fan", coupon_id="candles10")
    assert any(row["kind"] == "category_affinity" and row["value"] == 7 for row in result.table)
    assert "7 purchases in Candles & Holders" in result.summary


def test_a_chat_acts_only_for_its_own_customer(toolkit: Toolkit) -> None:
    result = run(toolkit, "customer_profile", chat="candle-fan", customer_id="lapsed-baker")
    assert result.args["customer_id"] == "candle-fan"


def test_marketer_tools_are_not_offered_in_a_chat(toolkit: Toolkit) -> None:
    with pytest.raises(CallError, match="unknown tool 'find_segment'"):
        run(toolkit, "find_segment", chat="candle-fan", lapsed_days=30)


def test_without_the_write_scope_issuing_only_proposes(toolkit: Toolkit, service: OfferService) -> None:
    result = run(toolkit, "issue_offer", chat="candle-fan")
    assert result.tool == "recommend_offers" and result.offers and result.offers[0]["offer_id"] is None
    assert "needs the offers:write scope" in result.summary
    assert result.customer_reply().startswith("I can't put an offer on your account from here")
    assert offers_written(service.db) == 0


def test_issuing_goes_through_the_guardrails(toolkit: Toolkit, service: OfferService) -> None:
    result = run(toolkit, "issue_offer", customer_id="candle-fan", can_write=True, k=2)
    assert 1 <= len(result.offers) <= 2 and all(o["offer_id"] for o in result.offers)
    with service.db.session() as session:
        reserved = session.get(Campaign, "camp").reserved
        costs = session.scalars(select(Offer.max_cost).where(Offer.customer_id == "candle-fan")).all()
    assert reserved == pytest.approx(sum(costs))


def test_issuing_never_exceeds_a_small_budget(sqlite_db: Database, encoder, tmp_path: Path) -> None:
    seed_store(sqlite_db, budget=15.0)
    toolkit = Toolkit(make_service(sqlite_db, encoder, tmp_path), lambda: NOW)
    for customer in ("candle-fan", "lapsed-baker", "newcomer"):
        run(toolkit, "issue_offer", customer_id=customer, can_write=True, k=3)
    assert 0 < held(sqlite_db) <= 15.0


@pytest.mark.parametrize(
    ("filters", "members"),
    [
        ({"lapsed_days": 90}, ["lapsed-baker"]),
        ({"categories": ["candles"]}, ["candle-fan"]),
        ({"min_orders": 5}, ["candle-fan"]),
        ({"active_days": 30}, ["candle-fan"]),
        ({"max_orders": 2}, ["lapsed-baker", "newcomer"]),
        ({"min_spend": "£100"}, ["lapsed-baker"]),
        ({"categories": ["candles", "bags"]}, ["candle-fan"]),
        ({"lapsed_days": "1 year"}, []),
    ],
)
def test_segments_filter_on_the_profile(toolkit: Toolkit, filters: dict, members: list[str]) -> None:
    result = run(toolkit, "find_segment", **filters)
    assert sorted(row["customer_id"] for row in result.table) == members


def test_bulk_profiles_equal_one_by_one_profiles(store: Database) -> None:
    bulk = load_profiles(store, NOW)
    with store.session() as session:
        for customer_id, profile in bulk.items():
            single = load_profile(session, customer_id, NOW)
            assert (single.orders, single.monetary, single.last_order_at, single.first_order_at, single.refunds) == (
                profile.orders,
                profile.monetary,
                profile.last_order_at,
                profile.first_order_at,
                profile.refunds,
            )
            assert single.category_purchases == profile.category_purchases
            assert single.recent_category_purchases == profile.recent_category_purchases
            assert [p.sku for p in single.purchases] == [p.sku for p in profile.purchases]


def test_a_plan_fits_its_budget_and_writes_nothing(toolkit: Toolkit, service: OfferService) -> None:
    result = run(toolkit, "plan_campaign", coupon="candles10", budget=20)
    assert sum(row["max_cost"] for row in result.table or []) <= 20
    assert "within the budget of £20.00" in result.summary
    assert offers_written(service.db) == 0


def test_a_plan_cannot_spend_more_than_the_campaign_has(toolkit: Toolkit) -> None:
    result = run(toolkit, "plan_campaign", coupon="a discount on candles", budget="£100k")
    assert "only £500.00 left" in result.summary
    assert "candles10 is the coupon nearest to 'a discount on candles'" in result.summary


def test_langchain_tools_return_results_and_errors(toolkit: Toolkit) -> None:
    tools = {tool.name: tool for tool in toolkit.langchain_tools()}
    assert "issue_offer" not in tools  # no write scope, no write tool

    def call(name: str, **args: object):
        return tools[name].invoke({"type": "tool_call", "name": name, "args": args, "id": "1"})

    good = call("customer_profile", customer_id="candle-fan")
    assert good.status == "success" and good.artifact.table[0]["orders"] == 8
    bad = call("customer_profile", customer_id="nobody")
    assert bad.status == "error" and "not in the store" in bad.content
    invalid = call("plan_campaign", coupon="candles10", budget=-5)
    assert invalid.status == "error"
