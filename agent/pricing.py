"""The policy's answer for one customer and one coupon, outside the retrieval shortlist.

`OfferService` prices only the coupons its retrieval returns; a marketer asking "what would 12347 get
on candle-glow?" names the coupon. This prices that pair with the service's own stages (encoder and
index for similarity, ranker, discount policy, guardrails, explainer), so the answer is what the offer
flow would issue for it, and an ineligible pair is reported as such rather than priced.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from core.errors import NotFound
from policies.discount import DiscountPolicy, expected_discount
from policies.exploration import EpsilonGreedy
from policies.guardrails import eligibility, max_cost
from retrieval.ranker import Candidate
from retrieval.texts import history_text
from services.catalog import customer_profile
from services.explain import Explanation
from services.offers import OfferService
from store import offer_log
from store.models import Campaign, Coupon
from store.profiles import CustomerProfile

DEFAULT_BASKET = 20.0


@dataclass(frozen=True)
class Priced:
    """One customer × coupon as the policy and guardrails see it; `depth` is None when not offerable."""

    coupon: Coupon
    campaign: Campaign
    profile: CustomerProfile
    similarity: float
    eligible: bool
    reason: str = ""
    depth: float | None = None
    redeem_probability: float = 0.0
    expected_incremental_margin: float = 0.0
    max_cost: float = 0.0
    expected_cost: float = 0.0
    explanation: Explanation | None = None


def quoting_policy(service: OfferService) -> DiscountPolicy:
    """The service's policy without its exploration: a quote or a plan states the policy's own choice.

    Exploration draws a random depth now and then so that issued offers (whose propensity is logged) can
    be evaluated off-policy; a quote that changed at random between two questions would only mislead."""
    policy = service.policy
    return policy.policy if isinstance(policy, EpsilonGreedy) else policy


def assumed_basket(profile: CustomerProfile, coupon: Coupon) -> float:
    """The order value the baseline policy assumes: the customer's average, else the coupon's minimum spend."""
    return profile.average_order_value or coupon.min_spend or DEFAULT_BASKET


def expected_cost(coupon: Coupon, campaign: Campaign, depth: float, profile: CustomerProfile, redeem: float) -> float:
    """Discount paid in expectation: the chance of redemption times the discount on the assumed basket,
    capped at the campaign's maximum per order (as redemption caps it)."""
    paid = min(expected_discount(coupon, depth, assumed_basket(profile, coupon)), campaign.max_discount_per_order)
    return round(redeem * paid, 2)


def resolve_coupon(service: OfferService, reference: str) -> Coupon:
    """A coupon by id, title or the title's short form ("Candle glow"); never a guess by similarity."""
    with service.db.session() as session:
        coupons = list(session.scalars(select(Coupon)))
    wanted = _slug(reference)
    for coupon in coupons:
        names = {coupon.id, coupon.title, coupon.title.split(":")[0]}
        if wanted in {_slug(n) for n in names}:
            return coupon
    close = difflib.get_close_matches(wanted, [c.id for c in coupons], n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise NotFound(f"no coupon {reference!r}{hint}", field="coupon_id")


def resolve_by_meaning(service: OfferService, description: str) -> tuple[Coupon, float]:
    """The coupon whose text is nearest to a description such as "10% off home decor", with its similarity."""
    try:
        return resolve_coupon(service, description), 1.0
    except NotFound:
        pass
    hits = service.index.search(service.encoder.encode([description])[0], 1)
    if not hits:
        raise NotFound("the coupon catalogue is empty", field="coupon")
    coupon_id, similarity = hits[0]
    with service.db.session() as session:
        coupon = session.get(Coupon, coupon_id)
    if coupon is None:
        raise NotFound(f"coupon {coupon_id!r} is no longer in the store", field="coupon")
    return coupon, similarity


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def similarity(service: OfferService, profile: CustomerProfile, coupon_id: str) -> float:
    """Cosine similarity of the customer's history text and the coupon, as the offer flow's retrieval scores it."""
    vector = service.encoder.encode([history_text(profile)])[0]
    scores = dict(service.index.search(vector, len(service.index)))
    return scores.get(coupon_id, 0.0)


def price(service: OfferService, customer_id: str, coupon: Coupon, now: datetime) -> Priced:
    """Eligibility, depth, redemption chance, margin and cost of one coupon for one customer."""
    profile = customer_profile(service.db, customer_id, now)
    with service.db.session() as session:
        campaign = session.get(Campaign, coupon.campaign_id)
        used = offer_log.live_usage(session, customer_id, [coupon.id]).get(coupon.id, 0)
    if campaign is None:
        raise NotFound(f"campaign {coupon.campaign_id!r} of coupon {coupon.id!r} is not in the store")
    return price_profile(service, profile, coupon, campaign, used, now, similarity(service, profile, coupon.id))


def price_profile(
    service: OfferService,
    profile: CustomerProfile,
    coupon: Coupon,
    campaign: Campaign,
    used: int,
    now: datetime,
    sim: float,
) -> Priced:
    """`price` for a profile already loaded, with the similarity given (plans price hundreds at once)."""
    verdict = eligibility(coupon, campaign, profile.customer_id, used, now)
    if not verdict.ok:
        return Priced(coupon, campaign, profile, sim, False, verdict.reason)
    ranked = service.ranker.rank(profile, [Candidate(coupon, sim)])[0]
    decision = quoting_policy(service).choose(profile, coupon, ranked.score)
    cost = max_cost(coupon.kind, decision.depth, campaign.max_discount_per_order)
    if cost is None:
        return Priced(coupon, campaign, profile, sim, False, "no depth fits the per-order maximum")
    return Priced(
        coupon,
        campaign,
        profile,
        sim,
        True,
        depth=decision.depth,
        redeem_probability=decision.redeem_probability,
        expected_incremental_margin=decision.expected_incremental_margin,
        max_cost=cost,
        expected_cost=expected_cost(coupon, campaign, decision.depth, profile, decision.redeem_probability),
        explanation=service.explainer.explain(profile, ranked, decision),
    )
