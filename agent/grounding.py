"""Arguments must come from the message: the local model's call is held to what the person wrote.

A small model fills slots it should leave empty: a category nobody named, a day count copied from
"15% off", a customer id from an earlier example. Before a call runs, every argument is looked for in
the message (the redacted text the model read):

- a required id, budget or coupon the message does not contain is *missing*: the agent asks for it;
- an optional filter the message does not support is dropped: the agent acts on what was said, not
  on what the model imagined.

Values are looked for as people write them: "3 months" supports 90 days, "£2k" supports 2000, "candles"
supports the category Candles & Holders, and "lapsed" alone supports the policy's lapse threshold.
Chat calls are bound to the conversation's customer, so their `customer_id` is not looked for.
"""

from __future__ import annotations

import re
from typing import Any

from agent.calls import CallError, ToolCall
from agent.schemas import CATEGORY_ALIASES, TOOLS, canonical_category
from policies.discount import LAPSED_AFTER_DAYS

IDS = ("customer_id", "coupon_id")
NUMBERS = ("lapsed_days", "active_days", "min_orders", "max_orders", "min_spend", "max_spend", "budget")
FREE_TEXT = ("query", "coupon")
UNITS = {"day": 1, "week": 7, "month": 30, "year": 365}
STOP_WORDS = frozenset({"a", "an", "the", "of", "on", "for", "off", "and", "to", "in", "with", "our", "coupon"})


def _words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9%£]+", " ", text.lower()).split()


def mentioned(value: str, text: str) -> bool:
    """Whether `value` appears in `text` as whole words, ignoring case and punctuation."""
    words = _words(value)
    return bool(words) and f" {' '.join(words)} " in f" {' '.join(_words(text))} "


def stated_numbers(text: str) -> set[float]:
    """Every quantity the text states: plain numbers, £2k, 3 months, a year (not percentages: "15% off"
    is a depth, never a day count); the lapse threshold where it says "lapsed"."""
    lowered = re.sub(r"\d+(?:\.\d+)?\s*%", " ", text.lower().replace(",", ""))  # a depth is no count
    values = {float(n) for n in re.findall(r"\d+(?:\.\d+)?", lowered)}
    values |= {float(n) * 1000 for n in re.findall(r"(\d+(?:\.\d+)?)\s*k\b", lowered)}
    for count, unit in re.findall(r"(\d+|a|an|one)\s+(day|week|month|year)s?\b", lowered):
        values.add(float(1 if count in ("a", "an", "one") else int(count)) * UNITS[unit])
    if re.search(r"\blaps(ed|ing)?\b", lowered):
        values.add(float(LAPSED_AFTER_DAYS))
    return values


def _category_stated(category: str, text: str) -> bool:
    """The category's name or one of its aliases starts a word of the text ("candle" in "candles")."""
    said = " " + " ".join(_words(text.replace("'", ""))) + " "
    names = [category] + [alias for alias, name in CATEGORY_ALIASES.items() if name == category]
    return any(" " + " ".join(_words(name.replace("'", ""))) in said for name in names)


def _text_stated(value: str, text: str) -> bool:
    content = [w for w in _words(value) if w not in STOP_WORDS]
    return bool(content) and any(mentioned(w, text) or mentioned(w.rstrip("s"), text) for w in content)


def _required(tool: str, name: str) -> bool:
    spec = TOOLS.get(tool)
    return spec is not None and name in spec.args.model_fields and spec.args.model_fields[name].is_required()


def ground(call: ToolCall, text: str, chat: bool) -> ToolCall:
    """The call with unsupported optional arguments dropped; `CallError` naming required ones the text
    lacks. Values of the wrong type are left for schema validation to report."""
    args: dict[str, Any] = {}
    missing: list[str] = []
    numbers = stated_numbers(text)
    for name, value in call.args.items():
        if name == "customer_id" and chat:
            stated = True
        elif name in IDS:
            stated = mentioned(str(value), text)
        elif name in NUMBERS:
            stated = not isinstance(value, (int, float)) or float(value) in numbers
        elif name in FREE_TEXT:
            stated = not isinstance(value, str) or _text_stated(value, text)
        elif name == "categories" and isinstance(value, list):
            value = [c for c in value if _category_supported(str(c), text)]
            stated = bool(value)
        else:
            stated = True
        if stated:
            args[name] = value
        elif _required(call.tool, name):
            missing.append(name)
    if missing:
        raise CallError(f"{', '.join(missing)} not found in the message", missing=tuple(missing))
    return ToolCall(call.tool, args)


def _category_supported(category: str, text: str) -> bool:
    """A known category the text names, or an unknown one it mentions (left for validation to refuse)."""
    try:
        return _category_stated(canonical_category(category), text)
    except ValueError:
        return _text_stated(category, text)
