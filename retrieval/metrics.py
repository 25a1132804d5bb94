"""Full-ranking metrics for next-basket recommendation: every catalogue product is ranked, none sampled.

Relevance is binary (the product is in the next basket). Recall@k divides by the whole basket; NDCG@k's
ideal fills min(k, basket size) places; MRR uses the rank of the first relevant product over the full
ranking. Products outside the allowed catalogue still count in the basket, so every method pays the
same for products it could not have known. Ties are broken by a shared prior (popularity), so a method
that scores many products equal is not credited for an arbitrary order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

K = 10


@dataclass
class RankingReport:
    recall: float
    ndcg: float
    mrr: float
    coverage: float
    cases: int

    def row(self, method: str) -> dict:
        return {
            "method": method,
            "ndcg@10": round(self.ndcg, 4),
            "recall@10": round(self.recall, 4),
            "mrr": round(self.mrr, 4),
            "coverage": round(self.coverage, 4),
        }


def ranking(scores: np.ndarray, allowed: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """Allowed products by descending score, ties by descending prior."""
    candidates = np.flatnonzero(allowed)
    order = np.lexsort((-prior[candidates], -scores[candidates]))
    return candidates[order]


def evaluate(
    scores: np.ndarray, targets: Sequence[Sequence[int]], allowed: np.ndarray, prior: np.ndarray, k: int = K
) -> RankingReport:
    """Metrics over cases: `scores` is (cases, products), `targets` the products of each next basket."""
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    recalls, ndcgs, reciprocal = [], [], []
    shown = np.zeros(scores.shape[1], dtype=bool)
    for row, target in zip(scores, targets, strict=True):
        order = ranking(row, allowed, prior)
        relevant = np.zeros(scores.shape[1], dtype=bool)
        relevant[list(target)] = True
        hits = relevant[order]
        shown[order[:k]] = True
        top = hits[:k]
        recalls.append(top.sum() / len(target))
        ndcgs.append((top * discounts).sum() / discounts[: min(k, len(target))].sum())
        first = np.flatnonzero(hits)
        reciprocal.append(1.0 / (first[0] + 1) if len(first) else 0.0)
    return RankingReport(
        float(np.mean(recalls)),
        float(np.mean(ndcgs)),
        float(np.mean(reciprocal)),
        float(shown.sum() / allowed.sum()),
        len(recalls),
    )
