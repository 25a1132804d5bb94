"""A cache of customer-history embeddings, invalidated by the customer's next event.

Encoding a history text is the costliest step of retrieval (tens of milliseconds on a CPU), yet most
customers ask for offers again before anything new happens to them. An entry is keyed by the customer
and stamped with what its text was built from: the newest event, the event counts and the day (recency
weights move with the clock), plus any live query or cart. A new event changes the stamp, so the stale
vector is never returned.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import numpy as np

from store.profiles import CustomerProfile


def profile_stamp(profile: CustomerProfile, query: str | None = None, cart: list[str] | None = None) -> str:
    """What a profile's history text depends on; any new purchase, refund, search or cart event changes it."""
    newest = profile.purchases[0].occurred_at.isoformat() if profile.purchases else ""
    parts = (
        newest,
        len(profile.purchases),
        profile.refunds,
        len(profile.searches),
        len(profile.carted_skus),
        profile.as_of.date().isoformat(),
        query or "",
        "|".join(cart or ()),
    )
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


class EmbeddingCache:
    """Least-recently-used vectors per customer, each valid for one stamp of one encoder version."""

    def __init__(self, encoder_version: str, max_entries: int = 100_000) -> None:
        self.encoder_version = encoder_version
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[str, np.ndarray]] = OrderedDict()
        # The API serves requests from a thread pool; reordering an OrderedDict is not atomic.
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, customer_id: str, stamp: str) -> np.ndarray | None:
        with self._lock:
            entry = self._entries.get(customer_id)
            if entry is None or entry[0] != stamp:
                self.misses += 1
                return None
            self._entries.move_to_end(customer_id)
            self.hits += 1
            return entry[1]

    def put(self, customer_id: str, stamp: str, vector: np.ndarray) -> None:
        with self._lock:
            self._entries[customer_id] = (stamp, vector)
            self._entries.move_to_end(customer_id)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def get_or_encode(
        self, keys: list[tuple[str, str]], texts: Callable[[list[int]], list[str]], encode: Callable
    ) -> np.ndarray:
        """Vectors for (customer, stamp) keys, encoding only the misses in one batch.

        `texts(positions)` builds the texts of the missing keys, so unchanged customers cost no text either.
        """
        found = [self.get(customer, stamp) for customer, stamp in keys]
        missing = [i for i, vector in enumerate(found) if vector is None]
        if missing:
            for i, vector in zip(missing, encode(texts(missing)), strict=True):
                self.put(*keys[i], vector)
                found[i] = vector
        return np.stack(found) if found else np.zeros((0, 0), dtype=np.float32)

    def save(self, path: Path) -> None:
        """Persist for offline jobs (benchmarks) that meet the same customers run after run."""
        path.parent.mkdir(parents=True, exist_ok=True)
        keys = list(self._entries)
        vectors = np.stack([self._entries[k][1] for k in keys]) if keys else np.zeros((0, 0), np.float32)
        stamps = [self._entries[k][0] for k in keys]
        np.savez(path, vectors=vectors, meta=json.dumps([self.encoder_version, keys, stamps]))

    @classmethod
    def load(cls, path: Path, encoder_version: str) -> EmbeddingCache:
        """A saved cache of the same encoder version, or an empty one."""
        cache = cls(encoder_version)
        if path.exists():
            with np.load(path) as stored:
                version, keys, stamps = json.loads(str(stored["meta"]))
                if version == encoder_version:
                    for key, stamp, vector in zip(keys, stamps, stored["vectors"], strict=True):
                        cache.put(key, stamp, vector)
        return cache
