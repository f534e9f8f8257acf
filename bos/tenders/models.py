"""Contracting processes from the plan (RUP) through tender, bids and awards.

The tables follow OCDS concepts so that ``bos/ocds/release.py`` is a straightforward mapping. Amounts are Decimal
with an ISO 4217 currency; the database itself refuses negative amounts and periods that end before they start.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import CheckConstraint, Column, ForeignKey, Index, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bos.db import Base, utcnow
from bos.enums import (
    AwardStatus,
    BidStatus,
    BudgetSource,
    ProcessStage,
    ProcurementCategory,
    ProcurementMethod,
    TenderStatus,
    db_enum,
)
from bos.parties.models import Organisation


def money_checks(*prefixes: str) -> tuple[CheckConstraint, ...]:
    """CHECKs for each ``<prefix>_amount``/``<prefix>_currency`` pair: non-negative, three-letter currency."""
    checks: list[CheckConstraint] = []
    for prefix in prefixes:
        checks.append(CheckConstraint(f"{prefix}_amount >= 0", name=f"{prefix}_amount_not_negative"))
        checks.append(CheckConstraint(f"length({prefix}_currency) = 3", name=f"{prefix}_currency_iso4217"))
    return tuple(checks)


def period_check(prefix: str) -> CheckConstraint:
    return CheckConstraint(
        f"{prefix}_end IS NULL OR {prefix}_start IS NULL OR {prefix}_end >= {prefix}_start",
        name=f"{prefix}_ends_after_start",
    )


class Process(Base):
    """One contracting process, identified by its ocid."""

    __tablename__ = "processes"
    __table_args__ = (
        Index("ix_processes_stage_updated", "stage", "updated_at"),
        Index("ix_processes_buyer_updated", "buyer_id", "updated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ocid: Mapped[str] = mapped_column(String(128), unique=True)
    title: Mapped[str] = mapped_column(String(500))
    buyer_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    stage: Mapped[ProcessStage] = mapped_column(db_enum(ProcessStage, "process_stage"))
    # Set in the same transaction as a published change; the red-flag job clears it after re-evaluating.
    needs_evaluation: Mapped[bool] = mapped_column(default=True, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    version_id: Mapped[int] = mapped_column(default=1)
    # Cancellation at any stage (or termination of a signed contract) is a decision with its reason.
    cancelled_at: Mapped[dt.datetime | None]
    cancellation_rationale: Mapped[str | None] = mapped_column(Text)

    __mapper_args__ = {"version_id_col": version_id}  # noqa: RUF012 - optimistic locking: stale saves raise

    buyer: Mapped[Organisation] = relationship()
    planning: Mapped[Planning | None] = relationship(back_populates="process", uselist=False)
    tender: Mapped[Tender | None] = relationship(back_populates="process", uselist=False)
    awards: Mapped[list[Award]] = relationship(back_populates="process", order_by="Award.id")
    documents: Mapped[list[Document]] = relationship(back_populates="process", order_by="Document.id")


class Planning(Base):
    """The RUP (Rencana Umum Pengadaan) entry: budget and project behind the process."""

    __tablename__ = "plannings"
    __table_args__ = (
        *money_checks("budget"),
        CheckConstraint("fiscal_year BETWEEN 2000 AND 2100", name="fiscal_year_plausible"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[int] = mapped_column(ForeignKey("processes.id", ondelete="CASCADE"), unique=True)
    rup_code: Mapped[str | None] = mapped_column(String(64))
    project: Mapped[str] = mapped_column(String(500))
    budget_description: Mapped[str | None] = mapped_column(Text)
    budget_amount: Mapped[Decimal]
    budget_currency: Mapped[str] = mapped_column(String(3))
    budget_source: Mapped[BudgetSource] = mapped_column(db_enum(BudgetSource, "budget_source"))
    fiscal_year: Mapped[int]
    rationale: Mapped[str | None] = mapped_column(Text)
    date_published: Mapped[dt.datetime | None]

    process: Mapped[Process] = relationship(back_populates="planning")


class Tender(Base):
    """The tender (or direct procurement) of a process. ``value`` is the HPS, the owner's estimate."""

    __tablename__ = "tenders"
    __table_args__ = (
        *money_checks("value"),
        period_check("tender_period"),
        period_check("enquiry_period"),
        period_check("award_period"),
        Index("ix_tenders_method_category", "procurement_method", "main_procurement_category"),
        Index("ix_tenders_period_end", "tender_period_end"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[int] = mapped_column(ForeignKey("processes.id", ondelete="CASCADE"), unique=True)
    local_id: Mapped[str] = mapped_column(String(64))  # tender.id in OCDS, e.g. the SPSE package code
    title: Mapped[str] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[TenderStatus] = mapped_column(db_enum(TenderStatus, "tender_status"))
    procurement_method: Mapped[ProcurementMethod] = mapped_column(db_enum(ProcurementMethod, "procurement_method"))
    # The Indonesian method name (Perpres 16/2018): Tender, Seleksi, Pengadaan Langsung, Penunjukan Langsung, ...
    procurement_method_details: Mapped[str] = mapped_column(String(100))
    procurement_method_rationale: Mapped[str | None] = mapped_column(Text)
    main_procurement_category: Mapped[ProcurementCategory] = mapped_column(
        db_enum(ProcurementCategory, "procurement_category")
    )
    award_criteria: Mapped[str | None] = mapped_column(String(32))
    value_amount: Mapped[Decimal | None]
    value_currency: Mapped[str | None] = mapped_column(String(3))
    procuring_entity_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    tender_period_start: Mapped[dt.datetime | None]
    tender_period_end: Mapped[dt.datetime | None]
    enquiry_period_start: Mapped[dt.datetime | None]
    enquiry_period_end: Mapped[dt.datetime | None]
    award_period_start: Mapped[dt.datetime | None]
    award_period_end: Mapped[dt.datetime | None]
    date_published: Mapped[dt.datetime | None]
    bids_opened_at: Mapped[dt.datetime | None]  # sealed until then: no value or bidder may be read
    version_id: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version_id}  # noqa: RUF012

    process: Mapped[Process] = relationship(back_populates="tender")
    procuring_entity: Mapped[Organisation | None] = relationship()
    items: Mapped[list[Item]] = relationship(
        back_populates="tender", order_by="Item.id", primaryjoin="Item.tender_id == Tender.id"
    )
    bids: Mapped[list[Bid]] = relationship(back_populates="tender", order_by="Bid.id")
    amendments: Mapped[list[TenderAmendment]] = relationship(back_populates="tender", order_by="TenderAmendment.id")


class TenderAmendment(Base):
    """A published change to an active tender (a deadline extension is one), with its rationale."""

    __tablename__ = "tender_amendments"

    id: Mapped[int] = mapped_column(primary_key=True)
    tender_id: Mapped[int] = mapped_column(ForeignKey("tenders.id", ondelete="CASCADE"), index=True)
    date: Mapped[dt.datetime]
    rationale: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)

    tender: Mapped[Tender] = relationship(back_populates="amendments")


class Item(Base):
    """A line of goods, works or services, belonging to a tender, an award or a contract (exactly one)."""

    __tablename__ = "items"
    __table_args__ = (
        CheckConstraint(
            "(CASE WHEN tender_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN award_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN contract_id IS NULL THEN 0 ELSE 1 END) = 1",
            name="one_owner",
        ),
        CheckConstraint("quantity >= 0", name="quantity_not_negative"),
        *money_checks("unit_value"),
        Index("ix_items_classification", "classification_scheme", "classification_id", "unit_name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tender_id: Mapped[int | None] = mapped_column(ForeignKey("tenders.id", ondelete="CASCADE"), index=True)
    award_id: Mapped[int | None] = mapped_column(ForeignKey("awards.id", ondelete="CASCADE"), index=True)
    contract_id: Mapped[int | None] = mapped_column(ForeignKey("contracts.id", ondelete="CASCADE"), index=True)
    local_id: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(String(500))
    classification_scheme: Mapped[str] = mapped_column(String(32))  # e.g. KBKI (Indonesia's CPC), UNSPSC
    classification_id: Mapped[str] = mapped_column(String(64))
    classification_description: Mapped[str | None] = mapped_column(String(300))
    quantity: Mapped[Decimal] = mapped_column(default=Decimal(1))
    unit_name: Mapped[str] = mapped_column(String(64))
    unit_value_amount: Mapped[Decimal | None]
    unit_value_currency: Mapped[str | None] = mapped_column(String(3))

    tender: Mapped[Tender | None] = relationship(back_populates="items", foreign_keys=[tender_id])


class Document(Base):
    """A published document (notice, evaluation report, signed contract ...) with its SHA-256."""

    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[int] = mapped_column(ForeignKey("processes.id", ondelete="CASCADE"), index=True)
    section: Mapped[str] = mapped_column(String(16))  # planning, tender, award, contract, implementation
    award_id: Mapped[int | None] = mapped_column(ForeignKey("awards.id", ondelete="CASCADE"))
    contract_id: Mapped[int | None] = mapped_column(ForeignKey("contracts.id", ondelete="CASCADE"))
    local_id: Mapped[str] = mapped_column(String(64))
    document_type: Mapped[str] = mapped_column(String(64))  # OCDS documentType codelist
    title: Mapped[str] = mapped_column(String(300))
    url: Mapped[str] = mapped_column(String(1000))
    format: Mapped[str | None] = mapped_column(String(100))
    language: Mapped[str] = mapped_column(String(8), default="id")
    sha256: Mapped[str | None] = mapped_column(String(64))
    date_published: Mapped[dt.datetime]

    process: Mapped[Process] = relationship(back_populates="documents")


class Bid(Base):
    """A bid on a tender. Sealed until the tender's bids are opened: only the count may be shown before."""

    __tablename__ = "bids"
    __table_args__ = (
        *money_checks("value"),
        CheckConstraint(
            "status <> 'disqualified' OR disqualification_reason IS NOT NULL", name="disqualification_has_reason"
        ),
        Index("ix_bids_supplier", "supplier_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tender_id: Mapped[int] = mapped_column(ForeignKey("tenders.id", ondelete="CASCADE"), index=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    local_id: Mapped[str] = mapped_column(String(64))
    date: Mapped[dt.datetime]
    status: Mapped[BidStatus] = mapped_column(db_enum(BidStatus, "bid_status"))
    value_amount: Mapped[Decimal]
    value_currency: Mapped[str] = mapped_column(String(3))
    disqualification_reason: Mapped[str | None] = mapped_column(Text)
    received_offline: Mapped[bool] = mapped_column(default=False)
    # When the evaluation result (valid / disqualified) was published; until then the opened bid reads "pending".
    # NULL on bids evaluated before this was recorded: read as evaluated when opened.
    evaluated_at: Mapped[dt.datetime | None]

    tender: Mapped[Tender] = relationship(back_populates="bids")
    supplier: Mapped[Organisation] = relationship()


award_suppliers = Table(
    "award_suppliers",
    Base.metadata,
    Column("award_id", ForeignKey("awards.id", ondelete="CASCADE"), primary_key=True),
    Column("organisation_id", ForeignKey("organisations.id"), primary_key=True, index=True),
)


class Award(Base):
    """The decision to award (part of) a process to one or more suppliers, with the reason behind it."""

    __tablename__ = "awards"
    __table_args__ = (
        *money_checks("value"),
        period_check("contract_period"),
        UniqueConstraint("process_id", "local_id"),
        Index("ix_awards_date", "date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[int] = mapped_column(ForeignKey("processes.id", ondelete="CASCADE"), index=True)
    local_id: Mapped[str] = mapped_column(String(64))
    bid_id: Mapped[int | None] = mapped_column(ForeignKey("bids.id"))
    title: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[AwardStatus] = mapped_column(db_enum(AwardStatus, "award_status"))
    date: Mapped[dt.datetime]
    value_amount: Mapped[Decimal]
    value_currency: Mapped[str] = mapped_column(String(3))
    rationale: Mapped[str | None] = mapped_column(Text)  # "the reason behind the selection of partners"
    contract_period_start: Mapped[dt.datetime | None]
    contract_period_end: Mapped[dt.datetime | None]

    process: Mapped[Process] = relationship(back_populates="awards")
    suppliers: Mapped[list[Organisation]] = relationship(secondary=award_suppliers, order_by=Organisation.id)
    items: Mapped[list[Item]] = relationship(order_by="Item.id", primaryjoin="Item.award_id == Award.id")
