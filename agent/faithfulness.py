"""The faithfulness check: a phrasing may only say what the facts say.

Tool results are the facts; a language model only rephrases them. Before a phrasing is shown, every
number in it (counts, percentages, pound amounts, probabilities, number words) and every category name
must be found in the facts, or the phrasing is rejected and the template answer is used instead.

Numbers are compared as values, so "£1,234.50" matches "1234.5" and a rounded "0.3" matches a fact of
"0.31" only when the fact rounds to it; a percentage may restate a probability ("31%" for 0.31).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from agent.schemas import known_categories

NUMBER = re.compile(r"(?<![\w.])[-+]?£?\d[\d,]*(?:\.\d+)?%?")
WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "twenty": 20,
    "thirty": 30,
    "fifty": 50,
    "hundred": 100,
    "half": 0.5,
    "twice": 2,
    "double": 2,
}
NUMBER_WORD = re.compile(r"\b(" + "|".join(WORDS) + r")\b", re.IGNORECASE)


@dataclass(frozen=True)
class Verdict:
    faithful: bool
    unsupported: tuple[str, ...] = ()


@dataclass(frozen=True)
class Number:
    written: str
    value: float
    decimals: int
    kind: str  # "percent", "money" or "plain"


def numbers(text: str) -> list[Number]:
    """Every number in the text as written, with its value, precision and kind; number words included."""
    found = []
    for match in NUMBER.finditer(text):
        raw = match.group().rstrip(",")
        digits = raw.lstrip("+-£").rstrip("%").replace(",", "")
        if not digits:
            continue
        kind = "percent" if raw.endswith("%") else "money" if "£" in raw else "plain"
        decimals = len(digits.split(".")[1]) if "." in digits else 0
        found.append(Number(raw, float(digits), decimals, kind))
    for match in NUMBER_WORD.finditer(text):
        found.append(Number(match.group(), float(WORDS[match.group().lower()]), 0, "plain"))
    return found


def categories(text: str) -> set[str]:
    """Category names mentioned in the text (full names, case-insensitive)."""
    lowered = text.lower()
    return {name for name in known_categories() if name.lower() in lowered}


def _supported(number: Number, facts: list[Number]) -> bool:
    """Some fact of a compatible kind rounds to the number as written.

    A percentage needs a percentage or a probability (a plain fact below 1, times 100) — so "90% off"
    is not backed by "90 days"; a pound amount needs an amount or a plain number; a plain number any fact."""
    for fact in facts:
        if number.kind == "percent":
            candidates = [fact.value] if fact.kind == "percent" else [fact.value * 100] if fact.value <= 1 else []
        elif number.kind == "money":
            candidates = [fact.value] if fact.kind != "percent" else []
        else:
            candidates = [fact.value]
        if any(round(c, number.decimals) == round(number.value, number.decimals) for c in candidates):
            return True
    return False


def check(phrasing: str, facts: Iterable[str]) -> Verdict:
    """Whether every number and category in `phrasing` is backed by the facts; what is not, if any."""
    fact_text = " ".join(facts)
    fact_numbers = numbers(fact_text)
    unsupported = [n.written for n in numbers(phrasing) if not _supported(n, fact_numbers)]
    unsupported += sorted(categories(phrasing) - categories(fact_text))
    return Verdict(not unsupported, tuple(unsupported))
