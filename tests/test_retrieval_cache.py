"""The customer-embedding cache: reused while nothing happens, never reused after a new event."""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from retrieval.cache import EmbeddingCache, profile_stamp
from store.models import Event, EventKind
from store.profiles import load_profile
from tests.conftest import NOW, seed_store


def counting_encoder(calls: list[list[str]]):
    def encode(texts: list[str]) -> np.ndarray:
        calls.append(list(texts))
        return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)

    return encode


def test_new_event_invalidates_the_cached_vector(sqlite_db):
    seed_store(sqlite_db)
    cache, calls = EmbeddingCache("enc"), []
    encode = counting_encoder(calls)

    def vector_for(customer: str, when, query: str | None = None) -> np.ndarray:
        with sqlite_db.session() as session:
            profile = load_profile(session, customer, when)
        key = (customer, profile_stamp(profile, query))
        return cache.get_or_encode([key], lambda _: [f"{customer} {profile.orders} {query}"], encode)[0]

    vector_for("candle-fan", NOW)
    vector_for("candle-fan", NOW + timedelta(minutes=5))  # same day, nothing new: a hit
    assert len(calls) == 1 and cache.hits == 1
    vector_for("candle-fan", NOW, query="cake stand")  # live intent changes the text: a miss
    assert len(calls) == 2

    with sqlite_db.session() as session:
        session.add(
            Event(
                customer_id="candle-fan",
                kind=EventKind.purchase,
                sku="K1",
                quantity=1,
                unit_price=12.75,
                order_id="cf-new",
                occurred_at=NOW - timedelta(minutes=1),
            )
        )
    vector_for("candle-fan", NOW)
    assert len(calls) == 3 and calls[-1] == ["candle-fan 9 None"]


def test_batches_encode_only_the_misses_and_survive_a_round_trip(tmp_path):
    cache, calls = EmbeddingCache("enc", max_entries=3), []
    encode = counting_encoder(calls)
    texts = {"a": "aa", "b": "bbb", "c": "c"}
    first = cache.get_or_encode([(k, "s1") for k in "ab"], lambda missing: [texts["ab"[i]] for i in missing], encode)
    both = cache.get_or_encode([(k, "s1") for k in "abc"], lambda missing: [texts["abc"[i]] for i in missing], encode)
    assert calls == [["aa", "bbb"], ["c"]]
    np.testing.assert_array_equal(both[:2], first)
    cache.put("d", "s1", np.zeros(2, np.float32))  # over capacity: the least recently used ("a") goes
    assert len(cache) == 3 and cache.get("a", "s1") is None

    cache.save(tmp_path / "cache.npz")
    assert EmbeddingCache.load(tmp_path / "cache.npz", "enc").get("b", "s1") is not None
    assert len(EmbeddingCache.load(tmp_path / "cache.npz", "another-encoder")) == 0


def test_offer_flow_encodes_a_history_once_until_the_customer_acts(sqlite_db, encoder, tmp_path):
    from tests.conftest import make_service

    seed_store(sqlite_db)
    service = make_service(sqlite_db, encoder, tmp_path)
    first = service.preview_offers("candle-fan", now=NOW)
    again = service.preview_offers("candle-fan", now=NOW + timedelta(minutes=1))
    assert (service.history_cache.misses, service.history_cache.hits) == (1, 1)
    assert [d.coupon_id for d in again] == [d.coupon_id for d in first]

    with sqlite_db.session() as session:
        session.add(
            Event(
                customer_id="candle-fan",
                kind=EventKind.purchase,
                sku="K1",
                quantity=1,
                unit_price=12.75,
                order_id="cf-next",
                occurred_at=NOW,
            )
        )
    service.preview_offers("candle-fan", now=NOW + timedelta(minutes=2))
    assert (service.history_cache.misses, service.history_cache.hits) == (2, 1)
