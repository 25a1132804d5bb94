"""The agent's tools: thin functions over the services, each returning the facts its answer may quote.

`Toolkit.execute` is the one door every backend goes through (the LangChain tools call it too): it
validates the call against the tool's schema, binds a chat to its own customer, refuses writes without
the `offers:write` scope and runs the tool. A result carries a summary for marketers and a reply for
the customer (the template answers), the fact sentences a phrasing may draw on, an optional table and
the offers it proposed or issued.

Nothing here takes a depth, a cost or a budget beyond what a campaign holds: pricing is the policy's,
issuing is `OfferService.create_offers` with its eligibility and budget guardrails, and a plan's spend
is capped at the campaign's remaining budget.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from agent import pricing
from agent.calls import CallError, ToolCall, validate
from agent.schemas import (
    TOOLS,
    CustomerArgs,
    FindSegmentArgs,
    IssueArgs,
    OfferArgs,
    PlanCampaignArgs,
    RecommendArgs,
    SearchCouponsArgs,
    ToolArgs,
    ToolSpec,
)
from agent.segments import find_segment, load_profiles
from core.errors import OfferpilotError
from retrieval.ranker import category_affinity
from retrieval.texts import describe_terms
from services import catalog
from services.explain import discount_phrase
from services.offers import OfferContext, OfferService
from store.models import Campaign, Coupon, Event, Offer
from store.offer_log import CENT, LIVE
from store.profiles import CustomerProfile, plural

Clock = Callable[[], datetime]
TABLE_ROWS = 20


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class ToolResult:
    tool: str
    args: dict[str, Any]
    summary: str
    facts: list[str] = field(default_factory=list)
    table: list[dict[str, Any]] | None = None
    offers: list[dict[str, Any]] = field(default_factory=list)
    reply: str = ""  # what a customer is told; never margins or probabilities

    def customer_reply(self) -> str:
        return self.reply or self.summary

    def record(self) -> dict[str, Any]:
        """The `tool_calls` entry of an API answer."""
        return {"tool": self.tool, "args": self.args, "result_summary": self.summary}


def money(value: float) -> str:
    return f"£{value:,.2f}"


def _segment_words(filters: dict[str, Any]) -> str:
    words = {
        "lapsed_days": lambda v: f"no order for {plural(v, 'day')}",
        "active_days": lambda v: f"ordered within {plural(v, 'day')}",
        "min_orders": lambda v: f"at least {plural(v, 'order')}",
        "max_orders": lambda v: f"at most {plural(v, 'order')}",
        "min_spend": lambda v: f"spent at least {money(v)}",
        "max_spend": lambda v: f"spent at most {money(v)}",
        "categories": lambda v: "bought " + " and ".join(v),
    }
    return ", ".join(words[k](v) for k, v in filters.items()) or "all customers"


def _profile_row(profile: CustomerProfile) -> dict[str, Any]:
    top = profile.top_categories(1)
    return {
        "customer_id": profile.customer_id,
        "recency_days": profile.recency_days,
        "orders": profile.orders,
        "monetary": profile.monetary,
        "top_category": top[0][0] if top else None,
    }


class Toolkit:
    """The tools over one offer service; each call says which customer a chat is bound to and whether
    the caller may write."""

    def __init__(self, service: OfferService, clock: Clock = utc_now) -> None:
        self.service = service
        self.clock = clock
        self._profiles: tuple[tuple[Any, ...], dict[str, CustomerProfile]] | None = None
        self._runners: dict[str, Callable[[Any], ToolResult]] = {
            "customer_profile": self.customer_profile,
            "search_coupons": self.search_coupons,
            "recommend_offers": self.recommend_offers,
            "price_offer": self.price_offer,
            "explain_offer": self.explain_offer,
            "find_segment": self.find_segment,
            "plan_campaign": self.plan_campaign,
            "issue_offer": self.issue_offer,
        }

    @staticmethod
    def specs(customer_id: str | None = None, can_write: bool = False) -> list[ToolSpec]:
        """Tools offered to a marketer (no customer) or to a chat with `customer_id`."""
        chat = customer_id is not None
        return [s for s in TOOLS.values() if (s.chat if chat else s.marketer) and (can_write or not s.writes)]

    def validate(self, call: ToolCall, customer_id: str | None = None, can_write: bool = False) -> ToolArgs:
        """The call bound to the conversation's customer and validated; `CallError` says what to fix."""
        allowed = frozenset(s.name for s in self.specs(customer_id, can_write))
        args = dict(call.args)
        spec = TOOLS.get(call.tool)
        if customer_id is not None and spec is not None and "customer_id" in spec.args.model_fields:
            args["customer_id"] = customer_id  # a chat can only ever act for its own customer
        return validate(ToolCall(call.tool, args), allowed)

    def execute(self, call: ToolCall, customer_id: str | None = None, can_write: bool = False) -> ToolResult:
        """Validate and run one call. Raises `CallError` for a call to fix, `OfferpilotError` from the
        services (unknown customer or coupon), both of which the agent shows the model once.

        A write the caller may not make is answered with proposals: nothing is issued, and the answer
        says why."""
        spec = TOOLS.get(call.tool)
        if spec is not None and spec.writes and not can_write:
            return self._proposals_instead(call, customer_id)
        return self._runners[call.tool](self.validate(call, customer_id, can_write))

    def _proposals_instead(self, call: ToolCall, customer_id: str | None) -> ToolResult:
        wanted = {k: v for k, v in call.args.items() if k in ("customer_id", "query")}
        result = self.execute(ToolCall("recommend_offers", wanted), customer_id)
        note = "Nothing was issued: issuing needs the offers:write scope."
        result.summary = f"{note} {result.summary}"
        result.facts.insert(0, note)
        reply = result.customer_reply()
        result.reply = f"I can't put an offer on your account from here, but {reply[0].lower()}{reply[1:]}"
        return result

    def langchain_tools(self, customer_id: str | None = None, can_write: bool = False) -> list[Any]:
        """The tools as LangChain `StructuredTool`s (for `bind_tools` or `create_agent`).

        Each returns its summary to the model and the whole `ToolResult` as the message's artifact; a
        call that fails comes back as an error message for the model to correct."""
        from langchain_core.tools import StructuredTool, ToolException

        def runner(name: str) -> Callable[..., tuple[str, ToolResult]]:
            def run(**args: Any) -> tuple[str, ToolResult]:
                try:
                    result = self.execute(ToolCall(name, args), customer_id, can_write)
                except (CallError, OfferpilotError) as error:
                    raise ToolException(str(error)) from error
                return (result.customer_reply() if customer_id else result.summary), result

            return run

        return [
            StructuredTool.from_function(
                runner(spec.name),
                name=spec.name,
                description=spec.when,
                args_schema=spec.args,
                response_format="content_and_artifact",
                handle_tool_error=True,
                handle_validation_error=True,
            )
            for spec in self.specs(customer_id, can_write)
        ]

    # --- the tools ---------------------------------------------------------------------------------

    def customer_profile(self, args: CustomerArgs) -> ToolResult:
        profile = catalog.customer_profile(self.service.db, args.customer_id, self.clock())
        row = _profile_row(profile) | {"average_order_value": round(profile.average_order_value, 2)}
        facts = [profile.summary()]
        if profile.orders:
            facts.append(f"Average order value {money(profile.average_order_value)}.")
        return ToolResult("customer_profile", args.model_dump(), " ".join(facts), facts, [row])

    def search_coupons(self, args: SearchCouponsArgs) -> ToolResult:
        hits = self.service.index.search(self.service.encoder.encode([args.query])[0], args.k)
        coupons = catalog.coupons_by_id(self.service.db, [coupon_id for coupon_id, _ in hits])
        rows = [
            {
                "coupon_id": coupon_id,
                "title": coupons[coupon_id].title,
                "terms": describe_terms(coupons[coupon_id]),
                "similarity": round(score, 2),
            }
            for coupon_id, score in hits
            if coupon_id in coupons
        ]
        facts = [f"{r['coupon_id']}: {r['title']} ({r['terms']})." for r in rows]
        summary = f"Coupons matching {args.query!r}: " + " ".join(facts) if rows else "No coupons in the catalogue."
        return ToolResult("search_coupons", args.model_dump(), summary, facts, rows)

    def recommend_offers(self, args: RecommendArgs) -> ToolResult:
        drafts = self.service.preview_offers(
            args.customer_id, OfferContext(query=args.query, channel="agent"), k=args.k, now=self.clock()
        )
        coupons = catalog.coupons_by_id(self.service.db, [d.coupon_id for d in drafts])
        offers, lines, facts = [], [], []
        for draft in drafts:
            coupon = coupons[draft.coupon_id]
            what = discount_phrase(draft.discount_kind, draft.discount_value)
            offers.append(
                {
                    "offer_id": None,
                    "coupon_id": draft.coupon_id,
                    "title": coupon.title,
                    "discount": {"kind": draft.discount_kind.value, "value": draft.discount_value},
                    "redeem_probability": draft.redeem_probability,
                    "expected_incremental_margin": draft.expected_incremental_margin,
                    "explanation": draft.explanation,
                }
            )
            lines.append(
                f"{draft.coupon_id}: {what} ({coupon.title}), redemption probability "
                f"{draft.redeem_probability:.2f}, expected incremental margin "
                f"{money(draft.expected_incremental_margin)}."
            )
            facts.append(lines[-1])
            facts.extend(r["text"] + "." for r in draft.explanation["reasons"])
        if not drafts:
            summary = f"No offer for customer {args.customer_id}: nothing eligible is expected to pay off."
        else:
            lead = drafts[0].explanation["summary"]
            summary = f"Best offers for customer {args.customer_id}: {' '.join(lines)} Why the first: {lead}"
        rows = [
            {k: o[k] for k in ("coupon_id", "title", "redeem_probability", "expected_incremental_margin")}
            | {"discount": discount_phrase(d.discount_kind, d.discount_value)}
            for o, d in zip(offers, drafts, strict=True)
        ]
        reply = (
            "Here is what I can offer you: " + " ".join(d.explanation["summary"] for d in drafts)
            if drafts
            else "I'm sorry, there is no offer I can give you right now."
        )
        return ToolResult("recommend_offers", args.model_dump(), summary, facts, rows, offers, reply)

    def _priced(self, args: OfferArgs) -> pricing.Priced:
        coupon = pricing.resolve_coupon(self.service, args.coupon_id)
        return pricing.price(self.service, args.customer_id, coupon, self.clock())

    def price_offer(self, args: OfferArgs) -> ToolResult:
        priced = self._priced(args)
        coupon, who = priced.coupon, f"customer {args.customer_id}"
        if not priced.eligible:
            summary = f"{coupon.id} cannot be offered to {who}: {priced.reason}."
            reply = f"{coupon.title} is not available to you right now: {priced.reason}."
            return ToolResult("price_offer", args.model_dump(), summary, [summary], None, reply=reply)
        assert priced.depth is not None
        what = discount_phrase(coupon.kind, priced.depth)
        facts = [
            f"The policy's depth for {who} on {coupon.id} is {what}.",
            f"Redemption probability {priced.redeem_probability:.2f}.",
            f"Expected incremental margin {money(priced.expected_incremental_margin)}.",
            f"Expected discount cost {money(priced.expected_cost)}; at most {money(priced.max_cost)} per order.",
        ]
        row = {
            "coupon_id": coupon.id,
            "discount": what,
            "redeem_probability": priced.redeem_probability,
            "expected_incremental_margin": priced.expected_incremental_margin,
            "expected_cost": priced.expected_cost,
            "max_cost": priced.max_cost,
        }
        offer = {
            "offer_id": None,
            "coupon_id": coupon.id,
            "title": coupon.title,
            "discount": {"kind": coupon.kind.value, "value": priced.depth},
            "redeem_probability": priced.redeem_probability,
            "expected_incremental_margin": priced.expected_incremental_margin,
            "explanation": priced.explanation.to_dict() if priced.explanation else None,
        }
        reply = f"With {coupon.title!r} you would get {what}."
        return ToolResult("price_offer", args.model_dump(), " ".join(facts), facts, [row], [offer], reply)

    def explain_offer(self, args: OfferArgs) -> ToolResult:
        priced = self._priced(args)
        if not priced.eligible or priced.explanation is None:
            summary = f"{priced.coupon.id} cannot be offered to customer {args.customer_id}: {priced.reason}."
            return ToolResult("explain_offer", args.model_dump(), summary, [summary])
        reasons = priced.explanation.reasons
        summary = priced.explanation.summary
        facts = [summary] + [f"{r.text}." for r in reasons if r.text[1:] not in summary]
        rows = [{"kind": r.kind, "text": r.text, "value": r.value} for r in reasons]
        return ToolResult("explain_offer", args.model_dump(), " ".join(facts), facts, rows)

    def _all_profiles(self, as_of: datetime) -> dict[str, CustomerProfile]:
        """Every profile as of the current minute, kept until an event arrives or the minute turns."""
        as_of = as_of.replace(second=0, microsecond=0)
        with self.service.db.session() as session:
            stamp = (as_of, *session.execute(select(func.max(Event.id), func.count(Event.id))).one())
        if self._profiles is None or self._profiles[0] != stamp:
            self._profiles = (stamp, load_profiles(self.service.db, as_of))
        return self._profiles[1]

    def _segment(self, args: FindSegmentArgs | PlanCampaignArgs, as_of: datetime) -> list[CustomerProfile]:
        return find_segment(self._all_profiles(as_of).values(), args)

    def find_segment(self, args: FindSegmentArgs) -> ToolResult:
        members = self._segment(args, self.clock())
        filters = args.filters()
        rows = [_profile_row(p) for p in members[: args.limit]]
        facts = [f"{plural(len(members), 'customer')} match: {_segment_words(filters)}."]
        if members:
            spend = sum(p.monetary for p in members)
            facts.append(f"Together they spent {money(spend)}.")
            facts.append(
                "Top by spend: " + ", ".join(f"{p.customer_id} ({money(p.monetary)})" for p in members[:3]) + "."
            )
        return ToolResult("find_segment", args.model_dump(), " ".join(facts), facts, rows)

    def plan_campaign(self, args: PlanCampaignArgs) -> ToolResult:
        """Price every customer of the segment and keep the best value per pound of worst-case cost
        while it fits the budget (issuing reserves the worst case, so a plan that fits cannot overspend).

        Relevance comes from category affinity rather than embedding hundreds of histories; issuing an
        offer re-prices it with the full flow."""
        now = self.clock()
        coupon, match = pricing.resolve_by_meaning(self.service, args.coupon)
        with self.service.db.session() as session:
            campaign = session.get(Campaign, coupon.campaign_id)
            used = dict(
                session.execute(
                    select(Offer.customer_id, func.count())
                    .where(Offer.coupon_id == coupon.id, Offer.status.in_(LIVE))
                    .group_by(Offer.customer_id)
                ).all()
            )
        assert campaign is not None
        remaining = max(round(campaign.budget - campaign.spent - campaign.reserved, 2), 0.0)
        budget = min(args.budget, remaining)
        members = self._segment(args, now)
        priced = [
            pricing.price_profile(
                self.service, p, coupon, campaign, used.get(p.customer_id, 0), now, category_affinity(p, coupon)
            )
            for p in members
        ]
        worth = [q for q in priced if q.eligible and q.expected_incremental_margin > 0]
        worth = [q for q in worth if q.max_cost <= campaign.per_customer_cap + CENT]
        worth.sort(key=lambda q: (-q.expected_incremental_margin / max(q.max_cost, CENT), q.profile.customer_id))
        chosen, held = [], 0.0
        for q in worth:
            if held + q.max_cost <= budget + CENT:
                chosen.append(q)
                held = round(held + q.max_cost, 2)
        cost = round(sum(q.expected_cost for q in chosen), 2)
        redemptions = round(sum(q.redeem_probability for q in chosen), 2)
        margin = round(sum(q.expected_incremental_margin for q in chosen), 2)
        filters = args.filters()
        facts = [
            f"Coupon {coupon.id} ({coupon.title}) for {_segment_words(filters)}.",
            f"{plural(len(members), 'customer')} in the segment, {len(worth)} eligible and expected to pay off; "
            f"the plan targets {len(chosen)}.",
            f"Worst-case cost {money(held)} within the budget of {money(budget)}.",
            f"Expected cost {money(cost)}, expected redemptions {redemptions:g}, "
            f"expected incremental margin {money(margin)}.",
        ]
        if budget < args.budget:
            facts.append(f"The campaign has only {money(remaining)} left, so the budget is capped there.")
        if match < 1.0:
            facts.append(f"{coupon.id} is the coupon nearest to {args.coupon!r} (similarity {match:.2f}).")
        rows = [
            {
                "customer_id": q.profile.customer_id,
                "discount": discount_phrase(coupon.kind, q.depth or 0),
                "redeem_probability": q.redeem_probability,
                "expected_incremental_margin": q.expected_incremental_margin,
                "expected_cost": q.expected_cost,
                "max_cost": q.max_cost,
            }
            for q in chosen[:TABLE_ROWS]
        ]
        return ToolResult("plan_campaign", args.model_dump(), " ".join(facts), facts, rows)

    def issue_offer(self, args: IssueArgs) -> ToolResult:
        batch = self.service.create_offers(
            args.customer_id, OfferContext(query=args.query, channel="agent"), k=args.k, now=self.clock()
        )
        coupons = catalog.coupons_by_id(self.service.db, [o.coupon_id for o in batch.offers])
        offers, facts = [], []
        for offer in batch.offers:
            coupon: Coupon = coupons[offer.coupon_id]
            what = discount_phrase(offer.discount_kind, offer.discount_value)
            offers.append(
                {
                    "offer_id": offer.id,
                    "coupon_id": offer.coupon_id,
                    "title": coupon.title,
                    "discount": {"kind": offer.discount_kind.value, "value": offer.discount_value},
                    "redeem_probability": offer.redeem_probability,
                    "expected_incremental_margin": offer.expected_incremental_margin,
                    "expires_at": offer.expires_at.isoformat(),
                    "explanation": offer.explanation,
                }
            )
            facts.append(
                f"Issued {what} with {coupon.title} (offer {offer.id}), valid until {offer.expires_at:%d %b %Y}."
            )
        if not offers:
            why = "; ".join(sorted(set(batch.skipped.values()))) or "nothing eligible fits the budget and guardrails"
            facts.append(f"No offer was issued to customer {args.customer_id}: {why}.")
        rows = [{k: o[k] for k in ("offer_id", "coupon_id", "title")} for o in offers]
        return ToolResult("issue_offer", args.model_dump(), " ".join(facts), facts, rows or None, offers)
