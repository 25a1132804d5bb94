"""The temporal split every model and benchmark here shares, and the next-basket cases cut from it.

Training data ends on 2011-08-31; September is for choosing epochs and training the ranker; October is
the test month and is read only by the benchmark's final scoring. A case's history always ends strictly
before the moment it is asked about, so nothing from the future can reach a model's input.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from retrieval.datasets import Basket, RetailData
from retrieval.texts import Purchase, purchase_history_text

TRAIN_END = datetime(2011, 9, 1, tzinfo=UTC)
VALID_END = datetime(2011, 10, 1, tzinfo=UTC)
TEST_END = datetime(2011, 11, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Case:
    """One question "what does this customer buy next?", asked at `as_of` with the history before it."""

    customer: str
    as_of: datetime
    history: tuple[Basket, ...]  # oldest first, every basket strictly before as_of
    target: Basket


def by_customer(baskets: Iterable[Basket]) -> dict[str, list[Basket]]:
    grouped: defaultdict[str, list[Basket]] = defaultdict(list)
    for basket in baskets:
        grouped[basket.customer].append(basket)
    return dict(grouped)


def next_basket_cases(data: RetailData, start: datetime, end: datetime) -> list[Case]:
    """Customers with history before `start` and a basket in [start, end): their first basket there."""
    cases = []
    for customer, baskets in sorted(by_customer(b for b in data.baskets if b.at < end).items()):
        history = tuple(b for b in baskets if b.at < start)
        upcoming = [b for b in baskets if b.at >= start]
        if history and upcoming:
            cases.append(Case(customer, start, history, upcoming[0]))
    return cases


def training_cases(data: RetailData, end: datetime, per_customer: int, seed: int) -> list[Case]:
    """Up to `per_customer` (history → next basket) cases per customer, every target basket before `end`.

    Each case is asked at its target's own time, with only the baskets strictly before it; sampling
    baskets per customer keeps a few heavy buyers from dominating the data.
    """
    rng = random.Random(seed)
    cases = []
    for customer, baskets in sorted(by_customer(b for b in data.baskets if b.at < end).items()):
        options = [
            Case(customer, target.at, tuple(b for b in baskets[:k] if b.at < target.at), target)
            for k, target in enumerate(baskets)
            if k and baskets[0].at < target.at
        ]
        cases += rng.sample(options, min(per_customer, len(options)))
    return cases


def known_items(baskets: Iterable[Basket], n_items: int) -> np.ndarray:
    """Products sold at least once in `baskets`: the catalogue a ranking at their end may choose from."""
    known = np.zeros(n_items, dtype=bool)
    for basket in baskets:
        known[list(basket.items)] = True
    return known


def case_purchases(case: Case, data: RetailData) -> list[Purchase]:
    """The case's purchase lines, newest first, as the text builders read them."""
    catalogue = data.catalogue
    return [
        Purchase(catalogue.descriptions[item], catalogue.categories[item], basket.at)
        for basket in reversed(case.history)
        for item in basket.items
    ]


def case_text(case: Case, data: RetailData) -> str:
    return purchase_history_text(case_purchases(case, data), case.as_of)
