"""Non-neural next-basket scorers: the baselines every learned model must beat, and ranker features.

Each returns a (cases, products) score matrix computed only from baskets before the cases' moment.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np
from scipy import sparse

from retrieval.datasets import Basket
from retrieval.splits import Case, by_customer
from retrieval.texts import HALF_LIFE_DAYS, recency_weight


def popularity(baskets: Sequence[Basket], n_items: int, as_of: datetime, window_days: int) -> np.ndarray:
    """How many baskets held each product in the `window_days` before `as_of`."""
    since = as_of - timedelta(days=window_days)
    counts = np.zeros(n_items)
    for basket in baskets:
        if since <= basket.at < as_of:
            counts[list(basket.items)] += 1
    return counts


def repeat_rate(baskets: Sequence[Basket], n_items: int) -> np.ndarray:
    """Per product, the share of its buyers who bought it in more than one basket (a staple or a one-off)."""
    holds: dict[tuple[str, int], int] = {}
    for basket in baskets:
        for item in basket.items:
            holds[basket.customer, item] = holds.get((basket.customer, item), 0) + 1
    buyers, repeaters = np.zeros(n_items), np.zeros(n_items)
    for (_, item), count in holds.items():
        buyers[item] += 1
        repeaters[item] += count > 1
    return repeaters / (buyers + 1)  # +1: a product with one buyer is no proven staple


def history_weights(cases: Sequence[Case], n_items: int, half_life_days: float = HALF_LIFE_DAYS) -> np.ndarray:
    """Recency-weighted purchase counts per case and product: the `repeat` baseline's score."""
    weights = np.zeros((len(cases), n_items))
    for row, case in enumerate(cases):
        for basket in case.history:
            weights[row, list(basket.items)] += recency_weight(basket.at, case.as_of, half_life_days)
    return weights


def co_purchase(baskets: Sequence[Basket], n_items: int) -> sparse.csr_matrix:
    """Cosine similarity of products over the baskets that hold them, without self-similarity."""
    rows = np.repeat(np.arange(len(baskets)), [len(b.items) for b in baskets])
    cols = np.fromiter((i for b in baskets for i in b.items), dtype=np.int64, count=len(rows))
    holds = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(baskets), n_items))
    together = (holds.T @ holds).tocsr()
    norms = np.sqrt(together.diagonal())
    norms[norms == 0] = 1.0
    together.setdiag(0)
    together.eliminate_zeros()
    scale = sparse.diags(1.0 / norms)
    return (scale @ together @ scale).tocsr()


def item_knn(weights: np.ndarray, similarity: sparse.csr_matrix) -> np.ndarray:
    """Products bought with what the customer bought, weighted by how recently they bought it."""
    return np.asarray(weights @ similarity)


def customer_knn(
    cases: Sequence[Case], baskets: Sequence[Basket], n_items: int, half_life_days: float, k: int = 50
) -> np.ndarray:
    """What the k customers most alike in recency-weighted purchases bought (user-kNN, as in TIFU-KNN)."""
    as_of = cases[0].as_of if cases else None
    neighbours = by_customer(baskets)
    ids = sorted(neighbours)
    matrix = np.zeros((len(ids), n_items), dtype=np.float32)
    for row, customer in enumerate(ids):
        for basket in neighbours[customer]:
            matrix[row, list(basket.items)] += recency_weight(basket.at, as_of, half_life_days)
    matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-9)
    mine = history_weights(cases, n_items, half_life_days).astype(np.float32)
    mine /= np.maximum(np.linalg.norm(mine, axis=1, keepdims=True), 1e-9)
    similar = mine @ matrix.T
    position = {customer: row for row, customer in enumerate(ids)}
    for row, case in enumerate(cases):  # a customer is not their own neighbour
        if case.customer in position:
            similar[row, position[case.customer]] = 0.0
    nearest = np.argpartition(-similar, min(k, len(ids) - 1), axis=1)[:, :k]
    weights = np.take_along_axis(similar, nearest, axis=1)
    rows = np.repeat(np.arange(len(cases)), nearest.shape[1])
    chosen = sparse.csr_matrix((weights.ravel(), (rows, nearest.ravel())), shape=(len(cases), len(ids)))
    return np.asarray(chosen @ matrix)


def bm25(queries: Sequence[str], documents: Sequence[str]) -> np.ndarray:
    """BM25 (bm25s, English stop words) of every document for every query."""
    import bm25s

    tokenizer = bm25s.tokenization.Tokenizer(stopwords="en")
    retriever = bm25s.BM25()
    retriever.index(tokenizer.tokenize(list(documents), show_progress=False), show_progress=False)
    tokens = tokenizer.tokenize(list(queries), update_vocab=False, show_progress=False, return_as="ids")
    return np.stack([retriever.get_scores(q) for q in tokens]) if len(queries) else np.zeros((0, len(documents)))
