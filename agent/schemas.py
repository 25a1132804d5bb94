"""The agent's tools as typed argument models: what each tool accepts, and nothing the policy forbids.

One model per tool. They are the single contract for every path that calls a tool: the local model's
JSON, an OpenAI-compatible model's tool calls, the fine-tuning data and the benchmark's expected calls
are all validated (and normalised) here, so "£2k" and 2000, or "candles" and "Candles & Holders", compare
equal wherever they came from.

What is *not* here matters as much: no tool takes a discount depth, a cost or a budget override beyond
a campaign's own, so nothing said in a conversation can push an offer past the policy or the guardrails.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from core.config import REPO_ROOT

CATEGORIES_FILE = REPO_ROOT / "data" / "categories.json"

# Colloquial words for the catalogue's categories, as marketers and shoppers say them.
CATEGORY_ALIASES = {
    "candle": "Candles & Holders",
    "tea light": "Candles & Holders",
    "t-light": "Candles & Holders",
    "home decor": "Home Decor",
    "decor": "Home Decor",
    "christmas": "Christmas Decorations",
    "xmas": "Christmas Decorations",
    "bag": "Bags & Totes",
    "tote": "Bags & Totes",
    "baking": "Kitchen & Baking",
    "kitchen": "Kitchen & Baking",
    "kitchenware": "Kitchen & Baking",
    "bake": "Kitchen & Baking",
    "card": "Cards & Wrap",
    "gift wrap": "Cards & Wrap",
    "wrap": "Cards & Wrap",
    "party": "Party & Celebrations",
    "party good": "Party & Celebrations",
    "bunting": "Party & Celebrations",
    "stationery": "Stationery",
    "notebook": "Stationery",
    "tea": "Tea, Mugs & Tableware",
    "mug": "Tea, Mugs & Tableware",
    "tableware": "Tea, Mugs & Tableware",
    "storage": "Storage & Tins",
    "tin": "Storage & Tins",
    "clock": "Clocks",
    "sign": "Signs & Wall Art",
    "wall art": "Signs & Wall Art",
    "frame": "Frames & Mirrors",
    "mirror": "Frames & Mirrors",
    "cushion": "Cushions & Textiles",
    "textile": "Cushions & Textiles",
    "bathroom": "Bathroom",
    "garden": "Garden & Outdoor",
    "outdoor": "Garden & Outdoor",
    "toy": "Toys & Games",
    "game": "Toys & Games",
    "children": "Children's",
    "kids": "Children's",
    "jewellery": "Jewellery & Accessories",
    "jewelry": "Jewellery & Accessories",
    "sewing": "Sewing & Crafts",
    "craft": "Sewing & Crafts",
    "easter": "Easter & Spring",
    "spring": "Easter & Spring",
    "light": "Lights & Lanterns",
    "lantern": "Lights & Lanterns",
}


@lru_cache(maxsize=1)
def known_categories() -> tuple[str, ...]:
    """The catalogue's category names (data/categories.json), the vocabulary of every category argument."""
    return tuple(c["name"] for c in json.loads(CATEGORIES_FILE.read_text())["categories"])


def canonical_category(value: str) -> str:
    """Map what a person wrote ("candle", "home decor", "Candles & Holders") to a category name.

    Exact names win, then the alias table (singular forms, so "candles" finds "candle"), then a close
    spelling; anything else is refused with the list of names, which is what the model is shown on retry.
    """
    text = value.strip()
    names = known_categories()
    by_lower = {n.lower(): n for n in names}
    lowered = text.lower()
    if lowered in by_lower:
        return by_lower[lowered]
    plain = lowered.replace("'", "")
    forms = (plain, re.sub(r"(?<=[a-z])s\b", "", plain))
    for alias, name in CATEGORY_ALIASES.items():  # longer aliases first: "tea light" before "tea"
        for form in forms:
            if form == alias or form.startswith(alias + " ") or form.endswith(" " + alias):
                return name
    close = difflib.get_close_matches(lowered, list(by_lower), n=1, cutoff=0.75)
    if close:
        return by_lower[close[0]]
    raise ValueError(f"unknown category {value!r}; categories are: {', '.join(names)}")


_SCALE = {"k": 1_000, "m": 1_000_000}


def parse_money(value: Any) -> Any:
    """Accept £2k, £2,000, 2000 pounds or 2000 as the number 2000; leave anything else to pydantic."""
    if not isinstance(value, str):
        return value
    text = value.strip().lower().replace(",", "").replace("£", "").replace("gbp", "").replace("pounds", "").strip()
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([km])?", text)
    if not match:
        return value
    return float(match.group(1)) * _SCALE.get(match.group(2) or "", 1)


def parse_days(value: Any) -> Any:
    """Accept 90, "90", "90 days", "3 months" (30 days each) or "a year" as whole days."""
    if not isinstance(value, str):
        return value
    text = value.strip().lower()
    match = re.fullmatch(r"(\d+|a|an|one)?\s*(day|week|month|year)s?", text)
    if match:
        count = 1 if match.group(1) in (None, "a", "an", "one") else int(match.group(1))
        return count * {"day": 1, "week": 7, "month": 30, "year": 365}[match.group(2)]
    return text


def _categories(value: Any) -> Any:
    if value is None:
        return []
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        return value
    return list(dict.fromkeys(canonical_category(str(item)) for item in items))


CustomerId = Annotated[
    str,
    BeforeValidator(lambda v: str(v) if isinstance(v, int) else v),
    Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$", description="the customer's id, e.g. 12347"),
]
CouponId = Annotated[
    str,
    Field(min_length=1, max_length=200, description="the coupon's id (e.g. candle-glow) or its title"),
]
Budget = Annotated[float, BeforeValidator(parse_money), Field(gt=0, le=1_000_000, description="budget in pounds")]
Spend = Annotated[Annotated[float, Field(ge=0)] | None, BeforeValidator(parse_money)]
Days = Annotated[Annotated[int, Field(ge=1, le=3650)] | None, BeforeValidator(parse_days)]
Categories = Annotated[
    list[str],
    BeforeValidator(_categories),
    Field(default_factory=list, max_length=5, description="product categories bought, e.g. Candles & Holders"),
]
FreeText = Annotated[str, Field(min_length=2, max_length=300)]


class ToolArgs(BaseModel):
    """Arguments as the model must give them: unknown keys are refused, not silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CustomerArgs(ToolArgs):
    customer_id: CustomerId


class SearchCouponsArgs(ToolArgs):
    query: FreeText = Field(description="what the coupon should be about, in plain words")
    k: int = Field(default=5, ge=1, le=10)


class RecommendArgs(ToolArgs):
    customer_id: CustomerId
    query: FreeText | None = Field(default=None, description="what the customer is looking for, if said")
    k: int = Field(default=3, ge=1, le=5)


class OfferArgs(ToolArgs):
    customer_id: CustomerId
    coupon_id: CouponId


class SegmentArgs(ToolArgs):
    lapsed_days: Days = Field(default=None, description="no order in at least this many days")
    active_days: Days = Field(default=None, description="ordered within this many days")
    min_orders: int | None = Field(default=None, ge=0)
    max_orders: int | None = Field(default=None, ge=0)
    min_spend: Spend = Field(default=None, description="lifetime spend in pounds at least this")
    max_spend: Spend = Field(default=None, description="lifetime spend in pounds at most this")
    categories: Categories

    @field_validator("max_orders")
    @classmethod
    def _orders_order(cls, value: int | None, info: Any) -> int | None:
        low = info.data.get("min_orders")
        if value is not None and low is not None and value < low:
            raise ValueError("max_orders is below min_orders")
        return value

    def filters(self) -> dict[str, Any]:
        """The filters that were set, as the table of the answer names them."""
        return {k: v for k, v in self.model_dump(include=set(SegmentArgs.model_fields)).items() if v not in (None, [])}


class FindSegmentArgs(SegmentArgs):
    limit: int = Field(default=20, ge=1, le=200, description="rows of the table to show")


class PlanCampaignArgs(SegmentArgs):
    coupon: CouponId = Field(description="the coupon's id, title, or a description such as '10% off home decor'")
    budget: Budget


class IssueArgs(ToolArgs):
    customer_id: CustomerId
    query: FreeText | None = Field(default=None, description="what the offer should be about, if said")
    k: int = Field(default=1, ge=1, le=3)


@dataclass(frozen=True)
class ToolSpec:
    """A tool's name, argument model, when to use it (the model reads this) and who may call it."""

    name: str
    args: type[ToolArgs]
    when: str
    signature: str
    marketer: bool = True  # offered to /v1/ask
    chat: bool = False  # offered to /v1/chat, bound to the conversation's customer
    writes: bool = False  # needs the offers:write scope


TOOLS: dict[str, ToolSpec] = {
    spec.name: spec
    for spec in (
        ToolSpec(
            "customer_profile",
            CustomerArgs,
            "One customer's history: recency, orders, spend, favourite categories. Use for 'tell me about "
            "customer X', 'when did X last order', 'what does X buy'.",
            "customer_profile(customer_id)",
            chat=True,
        ),
        ToolSpec(
            "search_coupons",
            SearchCouponsArgs,
            "Find coupons in the catalogue by meaning. Use for 'do we have a coupon for …', 'find deals on …'.",
            "search_coupons(query)",
            chat=True,
        ),
        ToolSpec(
            "recommend_offers",
            RecommendArgs,
            "The best offers for one customer now (policy depth, redemption chance, margin), without issuing "
            "them. Use for 'what should we offer X', 'any discount for me', and for any request for a bigger "
            "discount: the policy decides the depth.",
            "recommend_offers(customer_id, query?)",
            chat=True,
        ),
        ToolSpec(
            "price_offer",
            OfferArgs,
            "The policy's depth, redemption probability and expected incremental margin of one coupon for one "
            "customer, and whether they are eligible. Use for 'how much off would X get on coupon C'.",
            "price_offer(customer_id, coupon_id)",
            chat=True,
        ),
        ToolSpec(
            "explain_offer",
            OfferArgs,
            "Why one coupon suits one customer, with the numbers behind it. Use for 'why would X get C', "
            "'explain the offer'.",
            "explain_offer(customer_id, coupon_id)",
            chat=True,
        ),
        ToolSpec(
            "find_segment",
            FindSegmentArgs,
            "Customers matching filters: lapsed for N days, active within N days, order counts, lifetime spend, "
            "categories bought. Use for 'which customers …', 'how many lapsed candle buyers'.",
            "find_segment(lapsed_days?, active_days?, min_orders?, max_orders?, min_spend?, max_spend?, categories?)",
        ),
        ToolSpec(
            "plan_campaign",
            PlanCampaignArgs,
            "A budgeted plan: a segment (same filters as find_segment), a coupon and a budget give the customers "
            "to target, expected cost, redemptions and incremental margin, within the budget.",
            "plan_campaign(coupon, budget, lapsed_days?, active_days?, min_orders?, max_orders?, min_spend?, "
            "max_spend?, categories?)",
        ),
        ToolSpec(
            "issue_offer",
            IssueArgs,
            "Issue (send) the customer's best offer now, through the budget and eligibility guardrails. Only "
            "when asked to send, issue, give or apply an offer.",
            "issue_offer(customer_id, query?)",
            chat=True,
            writes=True,
        ),
    )
}
