"""Redaction of personal data and the faithfulness check (pure text, no model)."""

from __future__ import annotations

import pytest

from agent.faithfulness import check, numbers
from agent.redact import redact


@pytest.mark.parametrize(
    ("text", "placeholder", "gone"),
    [
        ("mail me at jane.doe+shop@example.co.uk please", "[email]", "jane.doe"),
        ("call 07700 900123 after six", "[phone]", "900123"),
        ("my number is +44 20 7946 0958", "[phone]", "7946"),
        ("ring (020) 7946-0958", "[phone]", "7946"),
        ("US office +1-202-555-0143", "[phone]", "555"),
        ("send it to 221B Baker Street, London", "[address]", "Baker"),
        ("I live at 14 park lane", "[address]", "park lane"),
        ("Flat 3, 10 Downing St", "[address]", "Downing"),
        ("postcode SW1A 1AA", "[postcode]", "SW1A"),
    ],
)
def test_personal_data_is_replaced(text: str, placeholder: str, gone: str) -> None:
    clean = redact(text)
    assert placeholder in clean and gone not in clean


@pytest.mark.parametrize(
    "text",
    [
        "Tell me about customer 12347",
        "Which lapsed candle buyers should get 10% off home decor, £2,000 budget?",
        "customers with 10 or more orders who spent over £1500 in the last 90 days",
        "Price candle-glow for 12352 and 12360",
    ],
)
def test_business_text_survives(text: str) -> None:
    assert redact(text) == text


FACTS = [
    "The policy's depth for customer 12347 on candle-glow is 15% off.",
    "Redemption probability 0.31.",
    "Expected incremental margin £2.40.",
    "7 purchases in Candles & Holders in the last 90 days.",
]


@pytest.mark.parametrize(
    "phrasing",
    [
        "You get 15% off: there's a 31% chance you'll use it, worth about £2.40 to us.",
        "Seven purchases in Candles & Holders over the last 90 days make candle-glow a fit.",
        "Redemption probability 0.3, margin £2.",
    ],
)
def test_phrasings_that_restate_the_facts_pass(phrasing: str) -> None:
    assert check(phrasing, FACTS).faithful


@pytest.mark.parametrize(
    ("phrasing", "unsupported"),
    [
        ("Enjoy 90% off everything!", "90%"),  # 90 appears only as days
        ("Expected margin £24.00.", "£24.00"),
        ("Perfect for Home Decor fans.", "Home Decor"),
        ("You have made 12 orders.", "12"),
    ],
)
def test_invented_numbers_and_categories_are_rejected(phrasing: str, unsupported: str) -> None:
    verdict = check(phrasing, FACTS)
    assert not verdict.faithful and unsupported in verdict.unsupported


def test_numbers_are_read_with_their_kind() -> None:
    found = {(n.written, n.kind) for n in numbers("£1,234.50, 15% and 7 days")}
    assert found == {("£1,234.50", "money"), ("15%", "percent"), ("7", "plain")}
