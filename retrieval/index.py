"""A FAISS index of coupon embeddings, saved with the metadata needed to refuse a stale one.

Inner product on normalised vectors (cosine). Coupon ids are strings; FAISS keeps int64 ids, so the
index stores positions into `ids` and removal marks positions free rather than renumbering.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import faiss
import numpy as np

INDEX_FILE = "coupons.faiss"
META_FILE = "coupons.json"


class CouponIndexError(RuntimeError):
    """The index on disk is missing, damaged or built for another encoder."""


@dataclass
class CouponIndex:
    encoder_version: str
    dim: int
    index: faiss.IndexIDMap2
    ids: list[str | None]
    built_at: str

    @classmethod
    def build(cls, encoder_version: str, coupon_ids: list[str], vectors: np.ndarray) -> CouponIndex:
        dim = int(vectors.shape[1])
        index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        index.add_with_ids(vectors, np.arange(len(coupon_ids), dtype=np.int64))
        return cls(encoder_version, dim, index, list(coupon_ids), datetime.now(UTC).isoformat())

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def search(self, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        if not len(self):
            return []  # FAISS asserts k > 0
        scores, positions = self.index.search(vector.reshape(1, -1), min(k, len(self)))
        return [
            (self.ids[p], float(s))
            for s, p in zip(scores[0], positions[0], strict=True)
            if p >= 0 and self.ids[p] is not None
        ]

    def upsert(self, coupon_id: str, vector: np.ndarray) -> None:
        """Add a coupon or replace its vector, without a rebuild."""
        self.remove(coupon_id)
        self.ids.append(coupon_id)
        self.index.add_with_ids(vector.reshape(1, -1), np.array([len(self.ids) - 1], dtype=np.int64))

    def remove(self, coupon_id: str) -> None:
        for position, known in enumerate(self.ids):
            if known == coupon_id:
                self.index.remove_ids(np.array([position], dtype=np.int64))
                self.ids[position] = None

    def save(self, directory: Path) -> None:
        """Write index and metadata atomically, so a reader never sees one without the other."""
        directory.mkdir(parents=True, exist_ok=True)
        meta = {
            "encoder_version": self.encoder_version,
            "dim": self.dim,
            "count": len(self),
            "ids": self.ids,
            "built_at": self.built_at,
            "faiss_version": faiss.__version__,
        }
        for name, write in (
            (INDEX_FILE, lambda p: faiss.write_index(self.index, str(p))),
            (META_FILE, lambda p: p.write_text(json.dumps(meta, indent=1))),
        ):
            fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.")
            os.close(fd)
            write(Path(tmp))
            os.replace(tmp, directory / name)

    @classmethod
    def load(cls, directory: Path, encoder_version: str) -> CouponIndex:
        index_path, meta_path = directory / INDEX_FILE, directory / META_FILE
        if not index_path.exists() or not meta_path.exists():
            raise CouponIndexError(f"no coupon index in {directory}: run `offerpilot index build`")
        meta = json.loads(meta_path.read_text())
        if meta["encoder_version"] != encoder_version:
            raise CouponIndexError(
                f"coupon index in {directory} was built with encoder {meta['encoder_version']!r}, "
                f"but the service runs {encoder_version!r}: run `offerpilot index build`"
            )
        index = faiss.read_index(str(index_path))
        if index.ntotal != meta["count"] or index.d != meta["dim"]:
            raise CouponIndexError(
                f"coupon index in {directory} does not match its metadata "
                f"({index.ntotal} vectors of dim {index.d}, metadata says {meta['count']} of {meta['dim']}): "
                "run `offerpilot index build`"
            )
        return cls(encoder_version, meta["dim"], index, meta["ids"], meta["built_at"])
