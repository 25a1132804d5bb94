"""The offer flow: history → encoder → FAISS → eligibility → ranker → policy → guardrails → explanation → log.

Each stage is a small interface (Ranker, DiscountPolicy, Explainer) so that replacing one is a
one-line change where the service is built (`OfferService.create`).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import faiss
import structlog
from sqlalchemy import select

from core.config import Settings
from core.errors import Conflict, InvalidInput, NotFound
from policies.discount import BaselineDiscountRule, DiscountPolicy
from policies.exploration import EpsilonGreedy
from policies.guardrails import eligibility, max_cost
from retrieval.cache import EmbeddingCache, profile_stamp
from retrieval.encoder import Encoder
from retrieval.index import CouponIndex
from retrieval.ranker import Candidate, LearnedRanker, Ranker
from retrieval.texts import history_text
from services.explain import Explainer, TemplateExplainer
from store import offer_log
from store.db import Database
from store.models import Campaign, Coupon, Offer, OfferRequest, Product
from store.offer_log import OfferDraft
from store.profiles import CustomerProfile, load_profile

log = structlog.get_logger(__name__)

DRAFT_SPARE = 3  # drafts priced per offer asked for


@dataclass(frozen=True)
class CartLine:
    sku: str
    quantity: int
    unit_price: float


@dataclass(frozen=True)
class OfferContext:
    cart: tuple[CartLine, ...] = ()
    channel: str | None = None
    query: str | None = None


@dataclass
class OfferBatch:
    request_id: str
    offers: list[Offer]
    replayed: bool = False
    skipped: dict[str, str] = field(default_factory=dict)


def body_hash(customer_id: str, context: OfferContext, k: int) -> str:
    payload = {"customer_id": customer_id, "k": k, "context": json.dumps(context.__dict__, default=str)}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


class OfferService:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        encoder: Encoder,
        index: CouponIndex,
        ranker: Ranker,
        policy: DiscountPolicy,
        explainer: Explainer,
        history_cache: EmbeddingCache | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.encoder = encoder
        self.index = index
        self.ranker = ranker
        self.policy = policy
        self.explainer = explainer
        self.history_cache = history_cache or EmbeddingCache(encoder.version, settings.embedding_cache_entries)

    @classmethod
    def create(cls, settings: Settings, db: Database, encoder: Encoder) -> OfferService:
        """The production wiring: swap a stage here."""
        # One query at a time per request: FAISS's OpenMP threads would only spin against torch's.
        faiss.omp_set_num_threads(1)
        index = CouponIndex.load(settings.index_dir, encoder.version)
        policy = EpsilonGreedy(make_discount_policy(settings), settings.exploration_epsilon)
        return cls(settings, db, encoder, index, LearnedRanker.load(), policy, TemplateExplainer())

    @property
    def versions(self) -> dict[str, str]:
        return {
            "encoder": self.encoder.version,
            "ranker": self.ranker.version,
            "policy": self.policy.version,
            "explainer": self.explainer.version,
        }

    def create_offers(
        self,
        customer_id: str,
        context: OfferContext | None = None,
        k: int = 3,
        idempotency_key: str | None = None,
        now: datetime | None = None,
    ) -> OfferBatch:
        """Choose, price, explain and issue up to k offers for one customer."""
        context = context or OfferContext()
        now = now or datetime.now(UTC)
        digest = body_hash(customer_id, context, k)
        if idempotency_key:
            with self.db.session() as session:
                replay = self._replay(session, idempotency_key, digest)
            if replay:
                return replay
        drafts, skipped = self._draft(customer_id, context, now, k)
        request = OfferRequest(
            id=str(uuid.uuid4()),
            customer_id=customer_id,
            idempotency_key=idempotency_key,
            body_hash=digest,
            created_at=now,
        )
        try:
            with self.db.write_session() as session:
                offers = offer_log.issue(
                    session,
                    request=request,
                    drafts=drafts,
                    k=k,
                    now=now,
                    expires_at=now + timedelta(days=self.settings.offer_ttl_days),
                )
        except Exception as error:
            # A concurrent retry with the same key won the race: answer with its offers.
            if idempotency_key and _is_unique_violation(error):
                with self.db.session() as session:
                    replay = self._replay(session, idempotency_key, digest)
                if replay:
                    return replay
            raise
        log.info(
            "offers_issued",
            customer_id=customer_id,
            request_id=request.id,
            issued=[o.coupon_id for o in offers],
            drafted=len(drafts),
        )
        return OfferBatch(request.id, offers, skipped=skipped)

    def preview_offers(
        self, customer_id: str, context: OfferContext | None = None, k: int = 3, now: datetime | None = None
    ) -> list[OfferDraft]:
        """What `create_offers` would propose, without reserving budget or writing anything."""
        drafts, _ = self._draft(customer_id, context or OfferContext(), now or datetime.now(UTC), k)
        return drafts[:k]

    def _replay(self, session: Any, key: str, digest: str) -> OfferBatch | None:
        previous = offer_log.find_request(session, key)
        if previous is None:
            return None
        if previous.body_hash != digest:
            raise Conflict("this Idempotency-Key was used with a different request body", field="Idempotency-Key")
        return OfferBatch(previous.id, offer_log.offers_of_request(session, previous.id), replayed=True)

    def _draft(
        self, customer_id: str, context: OfferContext, now: datetime, k: int
    ) -> tuple[list[OfferDraft], dict[str, str]]:
        """Everything that only reads: profile, retrieval, eligibility, ranking, pricing, explanation.

        Pricing and explaining cost most per candidate, so they stop once there are `DRAFT_SPARE` times
        k drafts in rank order: spares replace offers the budget or a cap refuses at issue time."""
        with self.db.session() as session:
            profile = load_profile(session, customer_id, now)
            if profile is None:
                raise NotFound(f"customer {customer_id!r} is not in the store", field="customer_id")
            query_vector = self._history_vector(session, profile, context)
            hits = dict(self.index.search(query_vector, self.settings.candidate_pool))
            coupons = {c.id: c for c in session.scalars(select(Coupon).where(Coupon.id.in_(hits)))}
            campaigns = {
                c.id: c
                for c in session.scalars(
                    select(Campaign).where(Campaign.id.in_({c.campaign_id for c in coupons.values()}))
                )
            }
            used = offer_log.live_usage(session, customer_id, list(coupons))
        skipped: dict[str, str] = {}
        candidates: list[Candidate] = []
        for coupon_id, similarity in hits.items():
            coupon = coupons.get(coupon_id)
            if coupon is None:
                skipped[coupon_id] = "coupon no longer in the store"
                continue
            verdict = eligibility(coupon, campaigns[coupon.campaign_id], customer_id, used.get(coupon_id, 0), now)
            if verdict.ok:
                candidates.append(Candidate(coupon, similarity))
            else:
                skipped[coupon_id] = verdict.reason
        drafts = []
        for ranked in self.ranker.rank(profile, candidates):
            if len(drafts) >= DRAFT_SPARE * k:
                break
            draft = self._price(profile, ranked, campaigns[ranked.coupon.campaign_id])
            if draft is None:
                skipped[ranked.coupon.id] = "no depth fits the per-order maximum"
            elif draft.expected_incremental_margin < 0:
                skipped[ranked.coupon.id] = "expected to lose margin"
            else:
                drafts.append(draft)
        return drafts, skipped

    def _history_vector(self, session: Any, profile: CustomerProfile, context: OfferContext) -> Any:
        """The encoded history text, from the cache unless something the text depends on has changed."""
        stamp = profile_stamp(profile, context.query, [line.sku for line in context.cart])
        vector = self.history_cache.get(profile.customer_id, stamp)
        if vector is None:
            text = history_text(profile, context.query, self._cart_descriptions(session, context))
            vector = self.encoder.encode([text])[0]
            self.history_cache.put(profile.customer_id, stamp, vector)
        return vector

    def _price(self, profile: CustomerProfile, ranked: Any, campaign: Campaign) -> OfferDraft | None:
        coupon = ranked.coupon
        decision = self.policy.choose(profile, coupon, ranked.score)
        cost = max_cost(coupon.kind, decision.depth, campaign.max_discount_per_order)
        if cost is None:
            return None
        explanation = self.explainer.explain(profile, ranked, decision)
        return OfferDraft(
            coupon_id=coupon.id,
            campaign_id=coupon.campaign_id,
            discount_kind=coupon.kind,
            discount_value=decision.depth,
            max_cost=cost,
            redeem_probability=decision.redeem_probability,
            expected_incremental_margin=decision.expected_incremental_margin,
            propensity=decision.propensity,
            explanation=explanation.to_dict(),
            versions=self.versions,
        )

    @staticmethod
    def _cart_descriptions(session: Any, context: OfferContext) -> list[str]:
        if not context.cart:
            return []
        skus = [line.sku for line in context.cart]
        known = dict(session.execute(select(Product.sku, Product.description).where(Product.sku.in_(skus))).all())
        for position, sku in enumerate(skus):
            if sku not in known:
                raise InvalidInput(f"unknown sku {sku!r} in cart", field=f"context.cart.{position}.sku")
        return [known[sku] for sku in skus]

    def redeem(self, offer_id: str, order_id: str, order_total: float, now: datetime | None = None) -> Offer:
        with self.db.write_session() as session:
            return offer_log.redeem(session, offer_id, order_id, order_total, now or datetime.now(UTC))

    def rollback(self, offer_id: str, now: datetime | None = None) -> Offer:
        with self.db.write_session() as session:
            return offer_log.rollback(session, offer_id, now or datetime.now(UTC))

    def expire_due(self, now: datetime | None = None) -> int:
        with self.db.write_session() as session:
            return offer_log.expire_due(session, now or datetime.now(UTC))


def make_discount_policy(settings: Settings) -> DiscountPolicy:
    """The configured depth policy; the RL agent loads lazily since stable-baselines3 is slow to import."""
    if settings.policy == "baseline":
        return BaselineDiscountRule()
    from policies.rl.adapter import RLDiscountPolicy

    return RLDiscountPolicy.load()


def _is_unique_violation(error: Exception) -> bool:
    from sqlalchemy.exc import IntegrityError

    return isinstance(error, IntegrityError)
