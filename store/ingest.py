"""Load customers, products, campaigns, coupons and events from CSV or JSONL files into the store.

Every row is validated with the shared pydantic records and checked against what the store already holds
(foreign keys, primary keys repeated in the file). All writes of one file happen in a single transaction,
so a file with a bad row is answered with one line per problem and leaves the store as it was.
"""

from __future__ import annotations

import csv
import gzip
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import IO, Any

from pydantic import ValidationError
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from store.db import Database
from store.models import Base, Campaign, Coupon, Customer, Event, Product
from store.schemas import RECORD_MODELS, Record

SUFFIXES = (".csv", ".csv.gz", ".jsonl", ".jsonl.gz")
# Rows validated and written together: large enough for fast executemany, small enough to bound memory.
BATCH_SIZE = 5_000

TABLES: dict[str, type[Base]] = {
    "customers": Customer,
    "products": Product,
    "campaigns": Campaign,
    "coupons": Coupon,
    "events": Event,
}
PRIMARY_KEYS = {"customers": "id", "products": "sku", "campaigns": "id", "coupons": "id"}
# The foreign keys the database would otherwise refuse: record field -> referenced column.
REFERENCES = {
    "coupons": {"campaign_id": Campaign.id},
    "events": {"customer_id": Customer.id, "sku": Product.sku},
}
# Columns the store owns: new rows start from these, re-ingested rows keep theirs (a campaign's spend).
STORE_OWNED = {"campaigns": {"spent": 0.0, "reserved": 0.0}}


@dataclass(frozen=True)
class RowError:
    """Stands in for a row's fields when the row could not even be parsed (bad JSON, wrong field count)."""

    reason: str


Fields = dict[str, Any] | RowError


@dataclass(frozen=True)
class Rejected:
    source: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.reason}"


@dataclass
class IngestReport:
    kind: str
    source: str
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    rejected: list[Rejected] = field(default_factory=list)

    @property
    def rows_written(self) -> int:
        return self.inserted + self.updated


class IngestError(Exception):
    """The file was refused as a whole; `report.rejected` lists every problem and nothing was written."""

    def __init__(self, report: IngestReport) -> None:
        self.report = report
        count = len(report.rejected)
        super().__init__(f"{report.source}: {count} problem{'s' * (count != 1)}, nothing written")


def ingest_file(
    db: Database, kind: str, path: Path, *, skip_invalid: bool = False, progress: bool = False
) -> IngestReport:
    """Validate and write one file of `kind` records (CSV or JSONL, optionally gzip-compressed)."""
    return ingest_records(db, kind, read_records(kind, path), str(path), skip_invalid=skip_invalid, progress=progress)


def ingest_records(
    db: Database,
    kind: str,
    records: Iterable[tuple[int, Fields]],
    source: str,
    *,
    skip_invalid: bool = False,
    progress: bool = False,
) -> IngestReport:
    """Validate and write `(line, fields)` records in one transaction of their own."""
    with db.write_session() as session:
        return write_records(session, kind, records, source, skip_invalid=skip_invalid, progress=progress)


def write_records(
    session: Session,
    kind: str,
    records: Iterable[tuple[int, Fields]],
    source: str,
    *,
    skip_invalid: bool = False,
    progress: bool = False,
) -> IngestReport:
    """Validate, check and write records inside the caller's transaction, batch by batch.

    Batches keep memory flat for large files. Once a row is refused (and `skip_invalid` is false) no
    more batches are written, the remaining rows are still checked so every problem is reported, and
    `IngestError` is raised: the caller's transaction must then roll back, as the `Database` session
    context managers do, so nothing of the file stays written.
    """
    if kind not in RECORD_MODELS:
        raise ValueError(f"unknown record kind {kind!r}; expected one of {', '.join(RECORD_MODELS)}")
    report = IngestReport(kind, source)
    loader = _Loader(session, kind, report)
    with progress_bar(progress) as bar:
        task = bar.add_task(f"loading {source}")
        for batch in _batches(records, BATCH_SIZE):
            valid = loader.check(_validate(kind, batch, report))
            if skip_invalid or not report.rejected:
                loader.write(valid)
            bar.update(task, completed=report.rows_read)
    report.rejected.sort(key=lambda rejected: rejected.line)
    if report.rejected and not skip_invalid:
        report.inserted = report.updated = 0
        raise IngestError(report)
    return report


def read_records(kind: str, path: Path) -> Iterator[tuple[int, Fields]]:
    """`(physical line, fields)` per row, the format chosen by suffix; the suffix is checked at once."""
    name = path.name.lower()
    if not name.endswith(SUFFIXES):
        raise ValueError(f"{path}: unknown file type; expected one of {', '.join(SUFFIXES)}")
    return _read(kind, path, _csv_rows if ".csv" in name else _jsonl_rows)


def _read(
    kind: str, path: Path, reader: Callable[[str, IO[str], str], Iterator[tuple[int, Fields]]]
) -> Iterator[tuple[int, Fields]]:
    """Unreadable bytes (bad gzip, bad UTF-8, broken CSV quoting) refuse the file at the line reached."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    line = 0
    try:
        with opener(path, "rt", encoding="utf-8-sig", newline="") as handle:
            for line, fields in reader(kind, handle, str(path)):
                yield line, fields
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        report = IngestReport(kind, str(path), rejected=[Rejected(str(path), line + 1, f"unreadable: {exc}")])
        raise IngestError(report) from exc


def _csv_rows(kind: str, handle: IO[str], source: str) -> Iterator[tuple[int, Fields]]:
    """CSV rows as dicts; an empty cell means the field is absent, so the record's default applies."""
    reader = csv.reader(handle)
    header = [name.strip() for name in next(reader, [])]
    _check_header(kind, header, source)
    start = reader.line_num + 1
    for row in reader:
        line, start = start, reader.line_num + 1
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            yield line, RowError(f"expected {len(header)} fields, found {len(row)}")
        else:
            yield line, {name: cell for name, cell in zip(header, row, strict=True) if cell.strip()}


def _jsonl_rows(kind: str, handle: IO[str], source: str) -> Iterator[tuple[int, Fields]]:
    for line, text in enumerate(handle, start=1):
        if not text.strip():
            continue
        try:
            fields = json.loads(text)
        except json.JSONDecodeError as exc:
            yield line, RowError(f"invalid JSON: {exc.msg} at column {exc.colno}")
            continue
        yield line, fields if isinstance(fields, dict) else RowError("expected a JSON object")


def _check_header(kind: str, header: list[str], source: str) -> None:
    """A wrong header would fail every row alike, so it is reported once, as a problem of line 1."""
    model_fields = RECORD_MODELS[kind].model_fields
    problems = [f"unknown column {name!r}" for name in header if name not in model_fields]
    problems += [f"column {name!r} appears twice" for name in sorted(set(header)) if header.count(name) > 1]
    problems += [
        f"required column {name!r} is missing"
        for name, info in model_fields.items()
        if info.is_required() and name not in header
    ]
    if problems:
        reason = "; ".join(problems) + f" (columns of {kind}: {', '.join(model_fields)})"
        raise IngestError(IngestReport(kind, source, rejected=[Rejected(source, 1, reason)]))


def _batches(records: Iterable[tuple[int, Fields]], size: int) -> Iterator[list[tuple[int, Fields]]]:
    iterator = iter(records)
    while batch := list(islice(iterator, size)):
        yield batch


def _validate(kind: str, records: list[tuple[int, Fields]], report: IngestReport) -> list[tuple[int, Record]]:
    model = RECORD_MODELS[kind]
    valid: list[tuple[int, Record]] = []
    for line, fields in records:
        report.rows_read += 1
        if isinstance(fields, RowError):
            report.rejected.append(Rejected(report.source, line, fields.reason))
            continue
        try:
            valid.append((line, model.model_validate(fields)))
        except ValidationError as exc:
            report.rejected.append(Rejected(report.source, line, describe(exc)))
    return valid


def describe(exc: ValidationError) -> str:
    """One readable clause per pydantic error, naming the field and the offending value."""
    parts = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        value = error.get("input")
        if where and error["type"] != "missing" and isinstance(value, str | int | float):
            message += f" (got {str(value)[:40]!r})"
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


class _Loader:
    """What checking and writing one file needs to remember across batches; the id sets are read once."""

    def __init__(self, session: Session, kind: str, report: IngestReport) -> None:
        self.session, self.kind, self.report = session, kind, report
        self.table = TABLES[kind]
        self.pk = PRIMARY_KEYS.get(kind)
        self.references = REFERENCES.get(kind, {})
        self.known = {name: set(session.scalars(select(column))) for name, column in self.references.items()}
        self.existing = set(session.scalars(select(getattr(self.table, self.pk)))) if self.pk else set()
        self.first_seen: dict[str, int] = {}
        self.stamped = "created_at" in self.table.__table__.c
        self.now = datetime.now(UTC)

    def check(self, valid: list[tuple[int, Record]]) -> list[Record]:
        """Reject primary keys repeated within the file and references to rows the store does not hold."""
        kept = []
        for line, record in valid:
            problems = [
                f"{name} {value!r} is not in the store"
                for name in self.references
                if (value := getattr(record, name)) is not None and value not in self.known[name]
            ]
            if self.pk is not None:
                key = getattr(record, self.pk)
                if key in self.first_seen:
                    problems.append(f"{self.pk} {key!r} repeats the row on line {self.first_seen[key]}")
                else:
                    self.first_seen[key] = line
            if problems:
                self.report.rejected.append(Rejected(self.report.source, line, "; ".join(problems)))
            else:
                kept.append(record)
        return kept

    def write(self, records: list[Record]) -> None:
        """Append events; upsert the rest by primary key (plain INSERT/UPDATE, so any dialect will do).

        An update replaces the record's fields but keeps the store-owned columns and, when the record
        carries none, the original `created_at`; a new row without one is stamped now.
        """
        new, old = [], []
        for record in records:
            row = record.model_dump()
            if self.pk and row[self.pk] in self.existing:
                if "created_at" in row and row["created_at"] is None:
                    del row["created_at"]
                old.append(row)
            else:
                if self.stamped and row.get("created_at") is None:
                    row["created_at"] = self.now
                new.append(row | STORE_OWNED.get(self.kind, {}))
        if new:
            self.session.execute(insert(self.table), new)
        if old:
            self.session.execute(update(self.table), old)
        self.report.inserted += len(new)
        self.report.updated += len(old)


def progress_bar(enabled: bool) -> Progress:
    """A row counter for long loads; disabled it draws nothing, so callers need no second code path."""
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed:,.0f} rows"),
        TimeElapsedColumn(),
        disable=not enabled,
        transient=True,
    )
