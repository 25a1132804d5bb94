"""Build and maintain the coupon index from the store."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from retrieval.encoder import Encoder
from retrieval.index import CouponIndex
from retrieval.texts import coupon_text
from store.db import Database
from store.models import Coupon


def build_coupon_index(db: Database, encoder: Encoder, directory: Path, progress: bool = False) -> CouponIndex:
    """Embed every coupon's text and save a fresh index with its metadata."""
    with db.session() as session:
        coupons = list(session.scalars(select(Coupon).order_by(Coupon.id)))
    if not coupons:
        raise ValueError("the store has no coupons to index: ingest coupons first")
    vectors = encoder.encode([coupon_text(c) for c in coupons], progress=progress)
    index = CouponIndex.build(encoder.version, [c.id for c in coupons], vectors)
    index.save(directory)
    return index


def index_coupon(index: CouponIndex, encoder: Encoder, coupon: Coupon, directory: Path) -> None:
    """Add or refresh one coupon in a live index and persist it, without a rebuild."""
    index.upsert(coupon.id, encoder.encode([coupon_text(coupon)])[0])
    index.save(directory)
