"""Keyset-paged queries over stored releases and records, and the streamed bulk files.

Feeds seek on the full sort key — releases ``(date, ocid, release_id)``, records ``(last_release_date, ocid)`` — so
page 5,000 costs what page 1 costs, and ties on a date never skip or repeat a row. A watermark hides rows dated in
the last few seconds on forward pages: a transaction that took its timestamp earlier but commits later would
otherwise land behind a harvester's cursor (Prozorro's fix for the same race).
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Select, select, tuple_
from sqlalchemy.orm import Session

from bos.exceptions import BadParameter
from bos.ocds.models import Record, Release
from bos.pagination import decode_cursor, encode_cursor

BULK_BATCH = 2000


@dataclass(frozen=True)
class FeedFilters:
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    buyer: str | None = None
    ocid: str | None = None
    source: str = "bos"


@dataclass(frozen=True)
class ReleasePage:
    rows: list[tuple[dt.datetime, str, str, str]]  # date, ocid, release_id, json
    next_cursor: str | None


@dataclass(frozen=True)
class RecordPage:
    records: list[Record]
    next_cursor: str | None


def parse_datetime(raw: str | None, name: str) -> dt.datetime | None:
    if raw is None or raw == "":
        return None
    try:
        value = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadParameter(f"Malformed {name}.", {name: ["Use ISO 8601, e.g. 2026-01-31T00:00:00Z."]}) from exc
    if value.tzinfo is None:
        raise BadParameter(f"Malformed {name}.", {name: ["Give a time zone offset, e.g. Z or +07:00."]})
    return value.astimezone(dt.UTC)


def _cursor_datetime(raw: Any) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(raw)
    except (TypeError, ValueError) as exc:
        raise BadParameter("Malformed cursor.", {"cursor": ["Not a cursor issued by this server."]}) from exc


def release_page(
    session: Session, filters: FeedFilters, cursor: str | None, limit: int, watermark: dt.datetime | None
) -> ReleasePage:
    stmt: Select[Any] = select(Release.date, Release.ocid, Release.release_id, Release.json).where(
        Release.source == filters.source
    )
    if filters.since is not None:
        stmt = stmt.where(Release.date >= filters.since)
    if filters.until is not None:
        stmt = stmt.where(Release.date <= filters.until)
    if filters.buyer:
        stmt = stmt.where(Release.buyer_identifier == filters.buyer)
    if filters.ocid:
        stmt = stmt.where(Release.ocid == filters.ocid)
    if watermark is not None:
        stmt = stmt.where(Release.date <= watermark)
    if cursor:
        date, ocid, release_id = decode_cursor(cursor, 3)
        stmt = stmt.where(
            tuple_(Release.date, Release.ocid, Release.release_id) > tuple_(_cursor_datetime(date), ocid, release_id)
        )
    rows = session.execute(stmt.order_by(Release.date, Release.ocid, Release.release_id).limit(limit + 1)).all()
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor([last.date.isoformat(), last.ocid, last.release_id])
    return ReleasePage([tuple(row) for row in rows[:limit]], next_cursor)


def record_page(
    session: Session, filters: FeedFilters, cursor: str | None, limit: int, watermark: dt.datetime | None
) -> RecordPage:
    stmt = select(Record).where(Record.source == filters.source)
    if filters.since is not None:
        stmt = stmt.where(Record.last_release_date >= filters.since)
    if filters.until is not None:
        stmt = stmt.where(Record.last_release_date <= filters.until)
    if filters.buyer:
        stmt = stmt.where(Record.buyer_identifier == filters.buyer)
    if filters.ocid:
        stmt = stmt.where(Record.ocid == filters.ocid)
    if watermark is not None:
        stmt = stmt.where(Record.last_release_date <= watermark)
    if cursor:
        date, ocid = decode_cursor(cursor, 2)
        stmt = stmt.where(tuple_(Record.last_release_date, Record.ocid) > tuple_(_cursor_datetime(date), ocid))
    records = list(session.scalars(stmt.order_by(Record.last_release_date, Record.ocid).limit(limit + 1)))
    next_cursor = None
    if len(records) > limit:
        last = records[limit - 1]
        next_cursor = encode_cursor([last.last_release_date.isoformat(), last.ocid])
    return RecordPage(records[:limit], next_cursor)


def linked_releases(session: Session, ocids: list[str]) -> dict[str, list[tuple[str, dt.datetime, str]]]:
    """Release id, date and tags of each ocid's releases, oldest first, for the record's linked releases."""
    result: dict[str, list[tuple[str, dt.datetime, str]]] = {ocid: [] for ocid in ocids}
    if not ocids:
        return result
    rows = session.execute(
        select(Release.ocid, Release.release_id, Release.date, Release.tags)
        .where(Release.ocid.in_(ocids))
        .order_by(Release.ocid, Release.date, Release.release_id)
    )
    for ocid, release_id, date, tags in rows:
        result[ocid].append((release_id, date, tags))
    return result


def stream_gzip_lines(batches: Iterator[list[bytes]]) -> Iterator[bytes]:
    """Gzip batches of lines into chunks of ~64 KB: memory stays flat whatever the number of lines.

    One compressor call per batch, not per line: per-line calls cost more than the compression itself.
    """
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=6, mtime=0) as gz:
        for batch in batches:
            if batch:
                gz.write(b"\n".join(batch) + b"\n")
            if buffer.tell() > 1 << 16:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue()


def iter_release_lines(session: Session, source: str = "bos") -> Iterator[list[bytes]]:
    """Every stored release in the order it was stored, in primary-key batches (no cursor held across yields).

    Core, not ORM, and no date column: the bulk file needs only the stored bytes, and row processing would cost
    more than reading them.
    """
    table = Release.__table__
    last_id = 0
    connection = session.connection()
    while True:
        rows = connection.execute(
            select(table.c.id, table.c.json)
            .where(table.c.source == source, table.c.id > last_id)
            .order_by(table.c.id)
            .limit(BULK_BATCH)
        ).all()
        if not rows:
            return
        yield [row[1].encode() for row in rows]
        last_id = rows[-1][0]


def iter_record_lines(session: Session, record_builder: Any, source: str = "bos") -> Iterator[list[bytes]]:
    last: tuple[dt.datetime, str] | None = None
    while True:
        stmt = select(Record).where(Record.source == source)
        if last is not None:
            stmt = stmt.where(tuple_(Record.last_release_date, Record.ocid) > tuple_(*last))
        records = list(session.scalars(stmt.order_by(Record.last_release_date, Record.ocid).limit(BULK_BATCH)))
        if not records:
            return
        links = linked_releases(session, [record.ocid for record in records])
        yield [orjson.dumps(record_builder(record, links[record.ocid])) for record in records]
        last = (records[-1].last_release_date, records[-1].ocid)
        session.expunge_all()
