"""FAISS indexes of embeddings, saved with the metadata needed to refuse a stale one.

Inner product on normalised vectors (cosine). Ids are strings; FAISS keeps int64 ids, so an index stores
positions into `ids`, and a removed entry's position is set to None rather than renumbered.

The structure is chosen by size: exact search (`IndexFlatIP`) while a scan stays within a few
milliseconds, HNSW graphs in the middle range, and IVF (inverted lists over k-means cells) beyond the
size at which building a graph on two cores takes too long. The thresholds and search parameters come
from `offerpilot bench retrieval` (bench/results/retrieval.md). Every kind supports add, update and
remove without a rebuild: HNSW cannot delete from its graph, so a removed vector stays in it, is
skipped at search time, and is dropped for good by `compact()`.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

import faiss
import numpy as np

EXACT_MAX = 50_000
HNSW_MAX = 500_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 160
HNSW_EF_SEARCH = 128
IVF_PROBE_SHARE = 0.02  # share of cells searched per query

KINDS = ("flat", "hnsw", "ivf")


class CouponIndexError(RuntimeError):
    """The index on disk is missing, damaged or built for another encoder (raised for every VectorIndex)."""


def choose_kind(count: int) -> str:
    """Exact when a full scan is cheap, a graph in the middle, inverted lists when a graph is too slow to build."""
    if count <= EXACT_MAX:
        return "flat"
    return "hnsw" if count <= HNSW_MAX else "ivf"


def make_faiss_index(kind: str, dim: int, training: np.ndarray | None = None) -> faiss.Index:
    """An empty FAISS index of `kind` that takes our int64 ids; IVF needs `training` vectors for its cells.

    Flat and HNSW are wrapped in IndexIDMap2 (id ↔ slot, and reconstruction by id); IVF keeps ids in its
    own lists, with a hash-table direct map so it can remove and reconstruct by id.
    """
    if kind == "flat":
        return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
    if kind == "hnsw":
        graph = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        graph.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        graph.hnsw.efSearch = HNSW_EF_SEARCH
        return faiss.IndexIDMap2(graph)
    if kind == "ivf":
        if training is None or not len(training):
            raise ValueError("an IVF index needs training vectors")
        cells = max(1, min(int(math.sqrt(len(training))), len(training) // 39))
        lists = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, cells, faiss.METRIC_INNER_PRODUCT)
        lists.cp.max_points_per_centroid = 64  # k-means on a sample, not on millions of vectors
        lists.train(training)
        lists.nprobe = ivf_probes(cells)
        lists.set_direct_map_type(faiss.DirectMap.Hashtable)
        return lists
    raise ValueError(f"unknown index kind {kind!r}; expected one of {KINDS}")


def ivf_probes(cells: int) -> int:
    return max(1, math.ceil(IVF_PROBE_SHARE * cells))


def kind_of(index: faiss.Index) -> str:
    if isinstance(index, faiss.IndexIVF):
        return "ivf"
    return "hnsw" if isinstance(faiss.downcast_index(index.index), faiss.IndexHNSW) else "flat"


@dataclass
class VectorIndex:
    """String-keyed vectors in FAISS; `kind` is picked by size at build time and kept in the metadata."""

    INDEX_FILE: ClassVar[str] = "vectors.faiss"
    META_FILE: ClassVar[str] = "vectors.json"

    encoder_version: str
    dim: int
    index: faiss.Index
    ids: list[str | None]
    built_at: str
    positions: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not self.positions:
            self.positions = {key: p for p, key in enumerate(self.ids) if key is not None}

    @classmethod
    def build(cls, encoder_version: str, ids: list[str], vectors: np.ndarray, kind: str = "auto"):
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        dim = int(vectors.shape[1])
        kind = choose_kind(len(ids)) if kind == "auto" else kind
        index = make_faiss_index(kind, dim, vectors if kind == "ivf" else None)
        if len(ids):
            index.add_with_ids(vectors, np.arange(len(ids), dtype=np.int64))
        return cls(encoder_version, dim, index, list(ids), datetime.now(UTC).isoformat())

    @property
    def kind(self) -> str:
        return kind_of(self.index)

    def __len__(self) -> int:
        return len(self.positions)

    @property
    def dead(self) -> int:
        """Removed vectors still in the FAISS structure (HNSW only), skipped by search."""
        return int(self.index.ntotal) - len(self.positions)

    @property
    def default_effort(self) -> int | None:
        if self.kind == "flat":
            return None
        return HNSW_EF_SEARCH if self.kind == "hnsw" else ivf_probes(self.index.nlist)

    def set_search_effort(self, effort: int | None) -> None:
        """Trade recall for speed: HNSW's efSearch or IVF's nprobe (cells visited); exact search has none."""
        if effort is None or self.kind == "flat":
            return
        if self.kind == "hnsw":
            faiss.downcast_index(self.index.index).hnsw.efSearch = effort
        else:
            self.index.nprobe = effort

    def memory_bytes(self) -> int:
        """Size of the serialised FAISS structure: vectors, graph or lists, and the id map."""
        return int(faiss.serialize_index(self.index).size)

    def search(self, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        return self.search_many(vector.reshape(1, -1), k)[0]

    def search_many(self, vectors: np.ndarray, k: int) -> list[list[tuple[str, float]]]:
        """The k nearest live ids of each query, best first."""
        if not len(self) or k <= 0:
            return [[] for _ in range(len(vectors))]  # FAISS asserts k > 0
        fetch = min(int(self.index.ntotal), k + self.dead)
        scores, positions = self.index.search(np.ascontiguousarray(vectors, dtype=np.float32), fetch)
        return [
            [(self.ids[p], float(s)) for s, p in zip(row_s, row_p, strict=True) if p >= 0 and self.ids[p] is not None][
                :k
            ]
            for row_s, row_p in zip(scores, positions, strict=True)
        ]

    def upsert(self, key: str, vector: np.ndarray) -> None:
        """Add an entry or replace its vector, without a rebuild."""
        self.upsert_many([key], vector.reshape(1, -1))

    def upsert_many(self, keys: list[str], vectors: np.ndarray) -> None:
        for key in keys:
            self.remove(key)
        start = len(self.ids)
        self.ids.extend(keys)
        self.positions.update({key: start + i for i, key in enumerate(keys)})
        positions = np.arange(start, start + len(keys), dtype=np.int64)
        self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), positions)

    def remove(self, key: str) -> None:
        position = self.positions.pop(key, None)
        if position is None:
            return
        self.ids[position] = None
        if self.kind != "hnsw":  # a graph cannot drop a node; search skips it until compact()
            self.index.remove_ids(np.array([position], dtype=np.int64))

    def compact(self) -> None:
        """Rebuild the FAISS structure from the live vectors, dropping removed ones for good."""
        live = sorted(self.positions.items(), key=lambda kv: kv[1])
        vectors = np.stack([self.index.reconstruct(p) for _, p in live]) if live else np.zeros((0, self.dim), "f4")
        fresh = type(self).build(self.encoder_version, [k for k, _ in live], vectors, self.kind)
        self.index, self.ids, self.positions = fresh.index, fresh.ids, fresh.positions

    def save(self, directory: Path) -> None:
        """Write index and metadata atomically, so a reader never sees one without the other."""
        directory.mkdir(parents=True, exist_ok=True)
        meta = {
            "encoder_version": self.encoder_version,
            "dim": self.dim,
            "kind": self.kind,
            "count": int(self.index.ntotal),
            "ids": self.ids,
            "built_at": self.built_at,
            "faiss_version": faiss.__version__,
        }
        for name, write in (
            (self.INDEX_FILE, lambda p: faiss.write_index(self.index, str(p))),
            (self.META_FILE, lambda p: p.write_text(json.dumps(meta, indent=1))),
        ):
            fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.")
            os.close(fd)
            write(Path(tmp))
            os.replace(tmp, directory / name)

    @classmethod
    def load(cls, directory: Path, encoder_version: str):
        """The saved index, or a CouponIndexError saying why it cannot be used and how to fix it."""
        index_path, meta_path = directory / cls.INDEX_FILE, directory / cls.META_FILE
        if not index_path.exists() or not meta_path.exists():
            raise CouponIndexError(f"no index in {directory}: run `offerpilot index build`")
        meta = json.loads(meta_path.read_text())
        if meta["encoder_version"] != encoder_version:
            raise CouponIndexError(
                f"index in {directory} was built with encoder {meta['encoder_version']!r}, "
                f"but the service runs {encoder_version!r}: run `offerpilot index build`"
            )
        index = faiss.read_index(str(index_path))
        if index.ntotal != meta["count"] or index.d != meta["dim"] or len(meta["ids"]) < index.ntotal:
            raise CouponIndexError(
                f"index in {directory} does not match its metadata "
                f"({index.ntotal} vectors of dim {index.d}, metadata says {meta['count']} of {meta['dim']}): "
                "run `offerpilot index build`"
            )
        return cls(encoder_version, meta["dim"], index, meta["ids"], meta["built_at"])


@dataclass
class CouponIndex(VectorIndex):
    """The offer flow's index of coupon texts."""

    INDEX_FILE: ClassVar[str] = "coupons.faiss"
    META_FILE: ClassVar[str] = "coupons.json"
