"""The index manager: exact or approximate by size, add / update / remove without a rebuild, and a
saved index refused when it was built for another encoder."""

from __future__ import annotations

import faiss
import numpy as np
import pytest

from retrieval import index as index_module
from retrieval.index import CouponIndex, CouponIndexError, VectorIndex, choose_kind


def unit_vectors(n: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_kind_follows_size():
    assert choose_kind(10) == "flat"
    assert choose_kind(index_module.EXACT_MAX) == "flat"
    assert choose_kind(index_module.EXACT_MAX + 1) == "hnsw"
    assert choose_kind(index_module.HNSW_MAX + 1) == "ivf"


def test_auto_build_picks_exact_when_small_and_hnsw_when_large(monkeypatch):
    monkeypatch.setattr(index_module, "EXACT_MAX", 100)
    vectors = unit_vectors(300)
    assert VectorIndex.build("enc", [f"v{i}" for i in range(50)], vectors[:50]).kind == "flat"
    large = VectorIndex.build("enc", [f"v{i}" for i in range(300)], vectors)
    assert large.kind == "hnsw"
    assert large.search(vectors[123], 1)[0][0] == "v123"


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf"])
def test_add_update_remove_without_rebuild_and_round_trip(kind, tmp_path):
    vectors = unit_vectors(2000)
    index = VectorIndex.build("enc-1", [f"v{i}" for i in range(2000)], vectors, kind)
    structure = index.index
    index.remove("v5")
    assert "v5" not in [key for key, _ in index.search(vectors[5], 10)]
    index.upsert("v6", vectors[5])  # update: v6 moves to where v5 was
    assert index.search(vectors[5], 1)[0][0] == "v6"
    assert "v6" not in [key for key, _ in index.search(vectors[6], 3)]
    index.upsert("fresh", -vectors[7])  # add
    assert index.search(-vectors[7], 1)[0][0] == "fresh"
    assert index.index is structure  # nothing was rebuilt
    assert len(index) == 2000

    index.save(tmp_path)
    loaded = VectorIndex.load(tmp_path, "enc-1")
    assert loaded.kind == kind and len(loaded) == 2000
    assert loaded.search(vectors[5], 1)[0][0] == "v6"
    loaded.compact()
    assert loaded.dead == 0 and len(loaded) == 2000
    assert loaded.search(-vectors[7], 1)[0][0] == "fresh"


def test_mismatched_encoder_or_damaged_metadata_is_refused(tmp_path):
    vectors = unit_vectors(20)
    CouponIndex.build("all-MiniLM-L6-v2@0.1.0", [f"c{i}" for i in range(20)], vectors).save(tmp_path)
    with pytest.raises(
        CouponIndexError, match=r"built with encoder 'all-MiniLM-L6-v2@0\.1\.0'.*offerpilot index build"
    ):
        CouponIndex.load(tmp_path, "all-MiniLM-L6-v2@0.1.0+lora-abc")
    with pytest.raises(CouponIndexError, match="no index"):
        CouponIndex.load(tmp_path / "missing", "all-MiniLM-L6-v2@0.1.0")
    meta = tmp_path / CouponIndex.META_FILE
    meta.write_text(meta.read_text().replace('"count": 20', '"count": 21'))
    with pytest.raises(CouponIndexError, match="does not match its metadata"):
        CouponIndex.load(tmp_path, "all-MiniLM-L6-v2@0.1.0")


def test_coupon_index_keeps_its_positional_constructor_and_empty_build():
    empty = CouponIndex.build("enc", [], np.zeros((0, 8), np.float32))
    assert empty.search(np.zeros(8, np.float32), 3) == []
    index = CouponIndex.build("enc", ["a", "b"], unit_vectors(2, 8))
    copy = CouponIndex(
        index.encoder_version, index.dim, faiss.clone_index(index.index), list(index.ids), index.built_at
    )
    copy.remove("a")
    assert [key for key, _ in copy.search(unit_vectors(2, 8)[0], 2)] == ["b"]
    assert len(index) == 2
