"""Published OCDS releases: immutable rows, never updated or deleted."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from bos.db import Base, utcnow


class Release(Base):
    """One published OCDS release, stored as the exact JSON served, so feeds stream it byte for byte.

    ``source`` is ``bos`` for BOS's own releases, or the publisher an imported release came from.
    """

    __tablename__ = "releases"
    __table_args__ = (
        UniqueConstraint("ocid", "release_id"),
        # The feed's keyset order: (date, ocid, release_id). Every page is an index range scan.
        Index("ix_releases_feed", "date", "ocid", "release_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ocid: Mapped[str] = mapped_column(String(128), index=True)
    release_id: Mapped[str] = mapped_column(String(256))
    date: Mapped[dt.datetime]
    tags: Mapped[str] = mapped_column(String(200))  # space-separated OCDS releaseTag codes
    buyer_identifier: Mapped[str | None] = mapped_column(String(128), index=True)
    source: Mapped[str] = mapped_column(String(200), default="bos")
    json: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    published_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Record(Base):
    """The compiled state of one contracting process, kept up to date as each release is stored.

    ``compiled`` (and ``versioned``) are the OCDS merge of every release of the ocid from ``source``. The red-flag
    engine reads ``compiled`` and clears ``needs_evaluation``; publishing or importing a release sets it in the same
    transaction.
    """

    __tablename__ = "records"
    __table_args__ = (
        # The records feed's keyset order: the record's last change, then ocid.
        Index("ix_records_feed", "last_release_date", "ocid"),
        # The incremental red-flag run's queue: only dirty records, in id order. A partial index stays as small as
        # the queue and answers "the oldest dirty records" whatever the planner's statistics say; an index on the
        # flag alone let PostgreSQL, with statistics from a time when every record was dirty, walk all 100,000
        # records by id for each run (126-200 ms instead of 0.04 ms). Query it with ``needs_evaluation = true``.
        Index(
            "ix_records_dirty",
            "id",
            postgresql_where=text("needs_evaluation"),
            sqlite_where=text("needs_evaluation = 1"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ocid: Mapped[str] = mapped_column(String(128), unique=True)
    source: Mapped[str] = mapped_column(String(200), default="bos")
    release_count: Mapped[int] = mapped_column(default=0)
    last_release_date: Mapped[dt.datetime]
    buyer_identifier: Mapped[str | None] = mapped_column(String(128), index=True)
    compiled: Mapped[str] = mapped_column(Text)
    versioned: Mapped[str | None] = mapped_column(Text)
    # For an imported record whose publisher only linked its releases: those links (url, date, tag) as published,
    # served in place of stored releases so the record stays valid OCDS.
    linked_releases: Mapped[str | None] = mapped_column(Text)
    needs_evaluation: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
