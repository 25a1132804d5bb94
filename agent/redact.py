"""Personal data out of prompts: e-mail addresses, phone numbers and street addresses become placeholders.

Everything the agent sends to a model, local or remote, passes `redact` first, so a customer pasting
their address into the support chat never reaches a prompt, a log line or a third-party server. The
patterns are deliberately greedy about what looks like contact data; a false positive costs a
placeholder in a question, a false negative leaks a person's data.

Customer ids (e.g. 12347) are not personal data here and must survive: phone patterns require at
least nine digits, or a leading + or 0 with separators.
"""

from __future__ import annotations

import re

EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
# +44 20 7946 0958, 020 7946 0958, (020) 7946-0958, 07700900123, +1-202-555-0143: a run of digits and
# separators, counted as a phone number when it holds 9 to 15 digits.
PHONE = re.compile(r"(?<![\w-])\+?\(?\d[\d \t().\-]{6,}\d(?![\w-])")
PHONE_DIGITS = range(9, 16)
STREET_WORDS = (
    "street|st|road|rd|avenue|ave|lane|ln|drive|dr|close|way|court|ct|place|pl|crescent|terrace|gardens|grove|"
    "square|sq|hill|park|boulevard|blvd|mews|row|walk"
)
# 221B Baker Street, 10 Downing St, Flat 3, 14 Park Lane
STREET = re.compile(
    rf"\b(?:(?:flat|apartment|apt|unit)\s+\d+[A-Za-z]?,?\s+)?\d{{1,5}}[A-Za-z]?,?\s+(?:[A-Z][a-z]+\s+){{1,3}}"
    rf"(?:{STREET_WORDS})\b\.?",
    re.IGNORECASE,
)
# UK postcodes: SW1A 1AA, M1 1AE, EC1A 1BB
POSTCODE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b")

PLACEHOLDERS = (
    (EMAIL, "[email]"),
    (STREET, "[address]"),
    (POSTCODE, "[postcode]"),
)


def _phone(match: re.Match[str]) -> str:
    digits = sum(char.isdigit() for char in match.group())
    return "[phone]" if digits in PHONE_DIGITS else match.group()


def redact(text: str) -> str:
    """`text` with every e-mail address, street address, postcode and phone number replaced."""
    for pattern, placeholder in PLACEHOLDERS:
        text = pattern.sub(placeholder, text)
    return PHONE.sub(_phone, text)
