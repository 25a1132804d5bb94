"""The bundled demo store: real Online Retail customers and products, authored coupons, one campaign.

Built once per data directory, in one transaction. The extract ends on 2011-10-31; every timestamp is
moved forward by whole days so its last day becomes yesterday and "the last 90 days" means something.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from core.config import DEMO_DATA_DIR, Settings
from retrieval.encoder import Encoder
from retrieval.index import CouponIndex, CouponIndexError
from services.indexing import build_coupon_index
from store.db import Database
from store.ingest import Fields, IngestReport, read_records, write_records
from store.models import Customer

DEMO_FILES = (
    ("campaigns", "campaigns.csv"),
    ("customers", "customers.csv"),
    ("products", "products.csv"),
    ("coupons", "coupons.csv"),
    ("events", "events.csv.gz"),
)
TIME_FIELDS = {
    "customers": ("created_at",),
    "campaigns": ("starts_at", "ends_at"),
    "coupons": ("valid_from", "valid_to"),
    "events": ("occurred_at",),
}


@dataclass
class DemoBuild:
    built: bool
    shift_days: int = 0
    reports: list[IngestReport] = field(default_factory=list)


def _parse(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _shifted(records: Iterable[tuple[int, Fields]], names: tuple[str, ...], shift: timedelta) -> Iterator:
    for line, fields in records:
        for name in names if isinstance(fields, dict) else ():
            if fields.get(name):
                fields[name] = (_parse(str(fields[name])) + shift).isoformat()
        yield line, fields


def demo_shift(events: list[tuple[int, Fields]], today: datetime) -> timedelta:
    """Whole days that move the extract's last event to yesterday."""
    last = max(_parse(str(fields["occurred_at"])) for _, fields in events if isinstance(fields, dict))
    return timedelta(days=(today.date() - last.date()).days - 1)


def build_demo_store(db: Database, source: Path = DEMO_DATA_DIR, progress: bool = False) -> DemoBuild:
    """Ingest the bundled files unless the store already has customers (so reruns are no-ops)."""
    db.migrate()
    with db.session() as session:
        if session.scalar(select(func.count()).select_from(Customer)):
            return DemoBuild(built=False)
    events = list(read_records("events", source / "events.csv.gz"))
    shift = demo_shift(events, datetime.now(UTC))
    result = DemoBuild(built=True, shift_days=shift.days)
    with db.write_session() as session:
        for kind, name in DEMO_FILES:
            records = events if kind == "events" else read_records(kind, source / name)
            records = _shifted(records, TIME_FIELDS.get(kind, ()), shift)
            result.reports.append(write_records(session, kind, records, name, progress=progress))
    return result


def ensure_index(db: Database, encoder: Encoder, settings: Settings, progress: bool = False) -> bool:
    """Build the coupon index when it is missing or was built by another encoder; True if built."""
    try:
        CouponIndex.load(settings.index_dir, encoder.version)
        return False
    except CouponIndexError:
        build_coupon_index(db, encoder, settings.index_dir, progress=progress)
        return True


def demo_api_key(settings: Settings) -> str:
    """A key kept in the data directory so the printed curl examples keep working across restarts."""
    path = settings.data_dir / "demo_api_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"op_demo_{secrets.token_urlsafe(18)}\n")
        path.chmod(0o600)
    return path.read_text().strip()
