"""Published OCDS releases: immutable rows, never updated or deleted."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
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

    ``compiled`` (and ``versioned``) are the OCDS merge of every release of the ocid from ``source``. Publishing or
    importing a release queues the record for the red-flag engine in the same transaction (``PendingEvaluation``).
    """

    __tablename__ = "records"
    __table_args__ = (
        # The records feed's keyset order: the record's last change, then ocid.
        Index("ix_records_feed", "last_release_date", "ocid"),
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
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PendingEvaluation(Base):
    """A record whose compiled release changed since the red-flag engine last evaluated it: the engine's queue.

    Publishing or importing puts the record here in the same transaction (``bos.ocds.publish.mark_for_evaluation``);
    the engine takes it off once it has stored the record's outcomes. A narrow table of its own rather than a flag on
    the record: clearing a flag rewrote the whole record row, its compiled release inline, with an entry in each of
    its indexes, for every process a run evaluated (a first run of 100,000 processes on PostgreSQL: 265 MB of its
    1.3 GB of WAL and ~3.4 s of the server's time). The queue's primary key also gives the queued records with the
    lowest ids at once, however large the records table.

    A record deleted (the importer replaces a compiled-only record) leaves the queue with it (ON DELETE CASCADE).
    So does a SQLite migration that rebuilds the records table with foreign keys on: read the queue first and put
    it back (see migration 0016).
    """

    __tablename__ = "pending_evaluations"

    record_id: Mapped[int] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"), primary_key=True)
    #: A random mark of the change that queued the record, new at every change: the engine removes the entry only if
    #: it still has the token read with the record, so a change stored while the record was being evaluated keeps it
    #: queued. Random rather than counted: a count would start again at 1 for a record whose id SQLite gives again
    #: after a deletion, and could match a token read before.
    token: Mapped[int] = mapped_column(BigInteger)
