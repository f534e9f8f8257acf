"""The report archive: every PDF BOS hands out, byte for byte, with its SHA-256.

The PDF bytes live in the database row rather than in files under ``instance/reports``: the archive is then backed
up, replicated and restored with everything else, a row can never point at a missing or altered file, and every web
and scheduler process sees the same archive even on different hosts. A report is 30-200 KB, so even a weekly profile
of every buyer adds only a few MB a year. Rows are never updated or deleted: a circulated copy must stay verifiable.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import CheckConstraint, ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bos.db import Base, utcnow
from bos.enums import db_enum


class ReportKind(enum.StrEnum):
    DOSSIER = "dossier"  # one contracting process; subject is its ocid
    BUYER_PROFILE = "buyer_profile"  # one buyer; subject is its organisation id
    WATCHDOG = "watchdog"  # flags of a subscription's filters over a period; subject names the filters


class ArchivedReport(Base):
    __tablename__ = "reports"
    __table_args__ = (
        CheckConstraint("length(sha256) = 64", name="sha256_hex"),
        CheckConstraint("size = length(pdf)", name="size_matches_pdf"),
        CheckConstraint("language IN ('id', 'en')", name="language_known"),
        # Finding the report already rendered from identical data (see ``bos.reports.service.reuse_or_render``).
        Index("ix_reports_kind_subject_digest", "kind", "subject", "language", "data_digest"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[ReportKind] = mapped_column(db_enum(ReportKind, "report_kind"))
    subject: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(500))
    language: Mapped[str] = mapped_column(String(8))
    parameters: Mapped[str | None] = mapped_column(Text)  # JSON: watchdog filters and period
    generated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    data_cutoff: Mapped[dt.datetime]  # the data was read at this moment; later changes are not in the PDF
    # SHA-256 of the inputs the PDF was rendered from (plus the report format version).
    data_digest: Mapped[str] = mapped_column(String(64))
    sha256: Mapped[str] = mapped_column(String(64), unique=True)  # of the PDF bytes: what verification looks up
    size: Mapped[int]
    # Deferred: listing or verifying reports must not drag megabytes of PDF out of the database.
    pdf: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    origin: Mapped[str] = mapped_column(String(16))  # web, api, cli or job
