"""Contracts signed from awards, their amendments, payments (implementation transactions) and milestones."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bos.db import Base
from bos.enums import ContractStatus, MilestoneStatus, db_enum
from bos.parties.models import Organisation
from bos.tenders.models import Award, Item, Process, money_checks, period_check


class Contract(Base):
    __tablename__ = "contracts"
    __table_args__ = (
        *money_checks("value"),
        period_check("period"),
        UniqueConstraint("process_id", "local_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[int] = mapped_column(ForeignKey("processes.id", ondelete="CASCADE"), index=True)
    award_id: Mapped[int] = mapped_column(ForeignKey("awards.id"), index=True)
    local_id: Mapped[str] = mapped_column(String(64))
    title: Mapped[str | None] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[ContractStatus] = mapped_column(db_enum(ContractStatus, "contract_status"))
    value_amount: Mapped[Decimal]
    value_currency: Mapped[str] = mapped_column(String(3))
    period_start: Mapped[dt.datetime | None]
    period_end: Mapped[dt.datetime | None]
    date_signed: Mapped[dt.datetime | None]
    # When the contract was closed (completed or terminated) and its contractTermination release published.
    closed_at: Mapped[dt.datetime | None]
    version_id: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version_id}  # noqa: RUF012 - optimistic locking

    process: Mapped[Process] = relationship()
    award: Mapped[Award] = relationship()
    items: Mapped[list[Item]] = relationship(order_by="Item.id", primaryjoin="Item.contract_id == Contract.id")
    amendments: Mapped[list[ContractAmendment]] = relationship(
        back_populates="contract", order_by="ContractAmendment.id"
    )
    transactions: Mapped[list[Transaction]] = relationship(back_populates="contract", order_by="Transaction.id")
    milestones: Mapped[list[Milestone]] = relationship(back_populates="contract", order_by="Milestone.id")


class ContractAmendment(Base):
    """A change of contract value or period (an addendum), with its rationale and the values before and after."""

    __tablename__ = "contract_amendments"
    __table_args__ = (
        CheckConstraint("old_value_amount IS NULL OR old_value_amount >= 0", name="old_value_not_negative"),
        CheckConstraint("new_value_amount IS NULL OR new_value_amount >= 0", name="new_value_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id", ondelete="CASCADE"), index=True)
    local_id: Mapped[str] = mapped_column(String(64))
    date: Mapped[dt.datetime]
    rationale: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    old_value_amount: Mapped[Decimal | None]
    new_value_amount: Mapped[Decimal | None]
    old_period_end: Mapped[dt.datetime | None]
    new_period_end: Mapped[dt.datetime | None]

    contract: Mapped[Contract] = relationship(back_populates="amendments")


class Transaction(Base):
    """A payment made under a contract (OCDS implementation transaction)."""

    __tablename__ = "transactions"
    __table_args__ = (*money_checks("value"), Index("ix_transactions_date", "date"))

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id", ondelete="CASCADE"), index=True)
    local_id: Mapped[str] = mapped_column(String(64))
    date: Mapped[dt.datetime]
    value_amount: Mapped[Decimal]
    value_currency: Mapped[str] = mapped_column(String(3))
    payer_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    payee_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    source: Mapped[str | None] = mapped_column(String(300))  # budget line (kode rekening) it was paid from

    contract: Mapped[Contract] = relationship(back_populates="transactions")
    payer: Mapped[Organisation] = relationship(foreign_keys=[payer_id])
    payee: Mapped[Organisation] = relationship(foreign_keys=[payee_id])


class Milestone(Base):
    __tablename__ = "milestones"

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id", ondelete="CASCADE"), index=True)
    local_id: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(300))
    type: Mapped[str] = mapped_column(String(32), default="delivery")  # OCDS milestoneType codelist
    status: Mapped[MilestoneStatus] = mapped_column(db_enum(MilestoneStatus, "milestone_status"))
    due_date: Mapped[dt.datetime | None]
    date_met: Mapped[dt.datetime | None]
    description: Mapped[str | None] = mapped_column(Text)
    # When a milestone added to a signed contract was published; NULL: part of the contract from its signature.
    added_at: Mapped[dt.datetime | None]

    contract: Mapped[Contract] = relationship(back_populates="milestones")

    def mark_met(self, when: dt.datetime) -> None:
        self.status = MilestoneStatus.MET
        self.date_met = when
