"""Fairness guardrail: protected attributes never reach a model, and decisions are audited for parity by group.

Refusing the attribute itself is the floor, enforced in code every model passes through at `fit`. It is not
enough on its own: a model can rediscover an attribute through proxies (income, occupation, who rides along),
so `audit` measures what the decisions actually did per group, against a declared maximum gap.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

# Characteristics protected by equality law (the UK Equality Act 2010 list, in the names data sets use),
# plus having children, which the in-vehicle coupon survey records.
PROTECTED_ATTRIBUTES: frozenset[str] = frozenset(
    {
        "age",
        "gender",
        "sex",
        "marital_status",
        "has_children",
        "pregnancy",
        "race",
        "ethnicity",
        "nationality",
        "religion",
        "disability",
        "sexual_orientation",
    }
)

# Where an encoded feature name may continue after the attribute: `gender_Female`, `age=21`, `age:50plus`.
_SEPARATORS = re.compile(r"[_=:.\[\s]")


class ProtectedAttributeError(ValueError):
    """A model was about to be trained or scored with a protected attribute among its features."""


def _normalise(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def protected_features(features: Iterable[str], protected: Iterable[str] = PROTECTED_ATTRIBUTES) -> list[str]:
    """The features that are, or encode, a protected attribute.

    Names are compared without case and punctuation, so `maritalStatus` and `marital_status` match; a
    one-hot or bucketed encoding (`gender_Female`, `age=21`) matches through its prefix up to a separator,
    while a mere prefix of a word (`agency`) does not.
    """
    wanted = {_normalise(p) for p in protected}
    hits = []
    for feature in features:
        name = str(feature)
        cuts = [m.start() for m in _SEPARATORS.finditer(name)] + [len(name)]
        if any(_normalise(name[:cut]) in wanted for cut in cuts):
            hits.append(name)
    return hits


def assert_no_protected(features: Iterable[str], protected: Iterable[str] = PROTECTED_ATTRIBUTES) -> None:
    """Raise ProtectedAttributeError if any feature is or encodes a protected attribute."""
    hits = protected_features(features, protected)
    if hits:
        raise ProtectedAttributeError(f"protected attributes must not be model features: {', '.join(hits)}")


@dataclass(frozen=True)
class GroupStats:
    attribute: str
    group: str
    size: int
    offer_rate: float
    # Mean depth among the group's offers; None when the group got none (its offer rate already shows that).
    mean_depth: float | None
    # False for groups below min_group_size: shown, but too small for their rates to count in the gaps.
    judged: bool = True


@dataclass(frozen=True)
class AttributeAudit:
    attribute: str
    groups: tuple[GroupStats, ...]
    offer_rate_gap: float
    mean_depth_gap: float
    violations: tuple[str, ...]


@dataclass(frozen=True)
class FairnessReport:
    audits: tuple[AttributeAudit, ...]
    max_gap: float
    max_depth_gap: float | None

    @property
    def violated(self) -> bool:
        return any(a.violations for a in self.audits)

    @property
    def violations(self) -> list[str]:
        return [v for a in self.audits for v in a.violations]

    def group_rows(self) -> list[dict[str, object]]:
        return [g.__dict__.copy() for a in self.audits for g in a.groups]

    def gap_rows(self) -> list[dict[str, object]]:
        return [
            {
                "attribute": a.attribute,
                "offer_rate_gap": a.offer_rate_gap,
                "max_gap": self.max_gap,
                "mean_depth_gap": a.mean_depth_gap,
                "max_depth_gap": self.max_depth_gap,
                "violation": bool(a.violations),
            }
            for a in self.audits
        ]


def audit(
    decisions: Sequence[float],
    groups: Mapping[str, Sequence[object]],
    max_gap: float = 0.1,
    max_depth_gap: float | None = None,
    min_group_size: int = 1,
) -> FairnessReport:
    """Offer rate and mean depth per group of each attribute, and the largest gap between groups.

    `decisions` holds one depth per customer (a DiscountDecision's depth), 0 meaning no offer. An attribute
    violates the rule when its offer-rate gap (max minus min group rate) exceeds `max_gap`, or, when
    `max_depth_gap` is set, its gap in mean depth given an offer exceeds that (in depth units). Groups
    smaller than `min_group_size` are reported but left out of the gaps: a rate over a handful of
    customers swings by chance and would raise false alarms.
    """
    if not 0 <= max_gap <= 1:
        raise ValueError(f"max_gap is a difference of rates, so it must lie in [0, 1], got {max_gap}")
    if min_group_size < 1:
        raise ValueError(f"min_group_size must be at least 1, got {min_group_size}")
    if max_depth_gap is not None and max_depth_gap < 0:
        raise ValueError(f"max_depth_gap must not be negative, got {max_depth_gap}")
    depth = np.asarray(decisions, dtype=float)
    if depth.ndim != 1 or depth.size == 0:
        raise ValueError("decisions must be a non-empty sequence of depths")
    if not np.isfinite(depth).all() or (depth < 0).any():
        raise ValueError("depths must be finite and non-negative (0 for no offer)")
    audits = []
    for attribute, labels in groups.items():
        labels = np.asarray([str(label) for label in labels])
        if labels.shape != depth.shape:
            raise ValueError(f"{attribute}: {labels.size} group labels for {depth.size} decisions")
        stats = tuple(
            _group_stats(attribute, group, depth[labels == group], min_group_size) for group in np.unique(labels)
        )
        rates = [s.offer_rate for s in stats if s.judged]
        depths = [s.mean_depth for s in stats if s.judged and s.mean_depth is not None]
        rate_gap = max(rates) - min(rates) if rates else 0.0
        depth_gap = max(depths) - min(depths) if depths else 0.0
        violations = []
        if rate_gap > max_gap:
            violations.append(f"{attribute}: offer-rate gap {rate_gap:.3f} exceeds {max_gap:g}")
        if max_depth_gap is not None and depth_gap > max_depth_gap:
            violations.append(f"{attribute}: mean-depth gap {depth_gap:.3g} exceeds {max_depth_gap:g}")
        audits.append(AttributeAudit(attribute, stats, rate_gap, depth_gap, tuple(violations)))
    return FairnessReport(tuple(audits), max_gap, max_depth_gap)


def _group_stats(attribute: str, group: str, depth: np.ndarray, min_group_size: int) -> GroupStats:
    offered = depth[depth > 0]
    mean_depth = float(offered.mean()) if offered.size else None
    rate = float(offered.size / depth.size)
    return GroupStats(attribute, str(group), int(depth.size), rate, mean_depth, depth.size >= min_group_size)
