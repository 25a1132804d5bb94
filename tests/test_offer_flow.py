"""The offer flow end to end on a real store, real encoder and real FAISS index."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from services.offers import OfferContext
from store.models import Campaign, Event, EventKind, Offer, OfferStatus, Product
from tests.conftest import NOW


def test_offers_carry_reasons_whose_numbers_match_the_store(service, store):
    batch = service.create_offers("candle-fan", k=3, now=NOW)
    assert 1 <= len(batch.offers) <= 3
    top = batch.offers[0]
    assert top.coupon_id == "candles10"
    reasons = {r["kind"]: r for r in top.explanation["reasons"]}
    affinity = reasons["category_affinity"]
    with store.session() as s:
        expected = s.scalar(
            select(func.count())
            .select_from(Event)
            .join(Product, Product.sku == Event.sku)
            .where(
                Event.customer_id == "candle-fan",
                Event.kind == EventKind.purchase,
                Product.category == "Candles & Holders",
                Event.occurred_at >= NOW - timedelta(days=90),
            )
        )
    assert affinity["value"] == expected == 7
    assert "7 purchases in Candles & Holders in the last 90 days" in affinity["text"]
    # The production wiring serves the tuned encoder and the learned ranker, and the offer names both.
    assert top.versions["encoder"].startswith("all-MiniLM-L6-v2@") and "+lora-" in top.versions["encoder"]
    assert top.versions["ranker"].startswith("lambdarank-")
    assert top.propensity == 1.0


def test_baseline_rule_gives_a_lapsed_customer_the_deepest_depth(store, encoder, tmp_path):
    from tests.conftest import make_service

    service = make_service(store, encoder, tmp_path, policy="baseline")
    batch = service.create_offers("lapsed-baker", context=OfferContext(query="cake stand"), k=1, now=NOW)
    offer = batch.offers[0]
    assert offer.coupon_id == "baking5"
    assert offer.discount_value == 5
    lapsed = next(r for r in offer.explanation["reasons"] if r["kind"] == "lapsed")
    assert lapsed["value"] == 120


def test_the_learned_season_policy_prices_offers_by_default(service):
    batch = service.create_offers("lapsed-baker", context=OfferContext(query="cake stand"), k=3, now=NOW)
    assert batch.offers
    for offer in batch.offers:
        assert offer.versions["policy"].startswith("rl-")
        kinds = {r["kind"] for r in offer.explanation["reasons"]}
        assert {"rl_policy", "response_model"} <= kinds
        assert offer.expected_incremental_margin >= 0
        response = next(r for r in offer.explanation["reasons"] if r["kind"] == "response_model")
        assert response["value"] == offer.redeem_probability


def test_issuing_reserves_budget_and_per_customer_limit_holds(service, store):
    first = service.create_offers("candle-fan", k=3, now=NOW)
    second = service.create_offers("candle-fan", k=3, now=NOW)
    assert not {o.coupon_id for o in first.offers} & {o.coupon_id for o in second.offers}
    with store.session() as s:
        campaign = s.get(Campaign, "camp")
        held = s.scalar(select(func.sum(Offer.max_cost)).where(Offer.status == OfferStatus.issued))
    assert campaign.reserved == held


def test_exploration_logs_the_probability_of_each_choice(store, encoder, tmp_path):
    from collections import Counter

    from policies.discount import BaselineDiscountRule
    from policies.exploration import EpsilonGreedy
    from tests.conftest import make_service

    service = make_service(store, encoder, tmp_path, exploration_epsilon=0.5)
    policy = EpsilonGreedy(BaselineDiscountRule(), epsilon=0.5, seed=7)
    service.policy = policy
    drafts = [service.preview_offers("candle-fan", k=1, now=NOW)[0] for _ in range(200)]
    seen = Counter((d.discount_value, d.propensity) for d in drafts)
    # candles10 has depths 5/10/15; the rule picks 10 for candle-fan: 0.5 + 0.5/3 for it, 0.5/3 for the others.
    assert set(seen) == {(10, round(0.5 + 0.5 / 3, 6)), (5, round(0.5 / 3, 6)), (15, round(0.5 / 3, 6))}
    share_greedy = seen[(10, round(0.5 + 0.5 / 3, 6))] / len(drafts)
    assert 0.55 < share_greedy < 0.78


def test_reasons_are_ordered_by_the_ranker_contributions(store):
    from policies.discount import DiscountDecision
    from retrieval.ranker import Candidate, RankedCandidate
    from services.explain import TemplateExplainer
    from store.models import Coupon
    from store.profiles import load_profile

    with store.session() as s:
        profile = load_profile(s, "candle-fan", NOW)
        coupon = s.get(Coupon, "candles10")
    decision = DiscountDecision(depth=10, propensity=1.0, redeem_probability=0.2, expected_incremental_margin=1.0)
    explainer = TemplateExplainer()

    def kinds(contributions: dict[str, float]) -> list[str]:
        ranked = RankedCandidate(Candidate(coupon, 0.5), sum(contributions.values()), contributions)
        return [r.kind for r in explainer.explain(profile, ranked, decision).reasons]

    by_text = kinds({"bias": 0.1, "similarity": 0.3, "category_share": 0.05})
    by_category = kinds({"bias": 0.1, "similarity": 0.05, "category_share": 0.2, "category_recent": 0.1})
    assert by_text[0] == "similarity" and by_category[0] == "category_affinity"
    assert "ranker" in by_text
    ranked = RankedCandidate(Candidate(coupon, 0.5), 0.45, {"bias": 0.1, "similarity": 0.3, "category_share": 0.05})
    ranker = next(r for r in explainer.explain(profile, ranked, decision).reasons if r.kind == "ranker")
    assert ranker.value == 0.45 and "match with your history +0.30" in ranker.text


def test_pricing_stops_once_there_are_spare_drafts(service, monkeypatch):
    import services.offers
    from services.offers import OfferContext

    everything, _ = service._draft("candle-fan", OfferContext(), NOW, k=10)
    assert len(everything) >= 3
    monkeypatch.setattr(services.offers, "DRAFT_SPARE", 1)
    for k in (1, 2):
        few, _ = service._draft("candle-fan", OfferContext(), NOW, k=k)
        assert [d.coupon_id for d in few] == [d.coupon_id for d in everything[:k]]
