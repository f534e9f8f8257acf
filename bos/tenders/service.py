"""Read and write services for contracting processes. They take the session and never commit."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, selectinload

from bos.contracts.models import Contract
from bos.enums import OrganisationKind, ProcessStage, ProcurementMethod
from bos.exceptions import NotFound
from bos.pagination import decode_cursor, encode_cursor
from bos.parties.models import Organisation
from bos.tenders.models import Award, Bid, Process, Tender


@dataclass(frozen=True)
class ProcessFilters:
    stage: ProcessStage | None = None
    buyer_id: int | None = None
    method: ProcurementMethod | None = None
    query: str | None = None


@dataclass(frozen=True)
class ProcessPage:
    processes: list[Process]
    next_cursor: str | None


def list_processes(session: Session, filters: ProcessFilters, cursor: str | None, limit: int) -> ProcessPage:
    """Processes, most recently changed first, in keyset pages of ``limit``."""
    stmt: Select[tuple[Process]] = select(Process).options(
        selectinload(Process.tender), selectinload(Process.buyer), selectinload(Process.planning)
    )
    if filters.stage is not None:
        stmt = stmt.where(Process.stage == filters.stage)
    if filters.buyer_id is not None:
        stmt = stmt.where(Process.buyer_id == filters.buyer_id)
    if filters.method is not None:
        stmt = stmt.where(Process.tender.has(Tender.procurement_method == filters.method))
    if filters.query:
        pattern = f"%{filters.query.strip()}%"
        stmt = stmt.where(or_(Process.title.ilike(pattern), Process.ocid.ilike(pattern)))
    if cursor:
        last_id = decode_cursor(cursor, 1)[0]
        stmt = stmt.where(Process.id < last_id)
    # id order is creation order; a keyset on the primary key keeps every page an index range scan.
    rows = list(session.scalars(stmt.order_by(Process.id.desc()).limit(limit + 1)))
    next_cursor = encode_cursor([rows[limit - 1].id]) if len(rows) > limit else None
    return ProcessPage(rows[:limit], next_cursor)


def get_process(session: Session, process_id: int) -> Process:
    process = session.scalars(
        select(Process)
        .where(Process.id == process_id)
        .options(
            selectinload(Process.planning),
            selectinload(Process.tender).selectinload(Tender.items),
            selectinload(Process.tender).selectinload(Tender.bids).selectinload(Bid.supplier),
            selectinload(Process.tender).selectinload(Tender.amendments),
            selectinload(Process.awards).selectinload(Award.suppliers),
            selectinload(Process.documents),
        )
    ).one_or_none()
    if process is None:
        raise NotFound("No such contracting process.")
    return process


def process_contracts(session: Session, process: Process) -> list[Contract]:
    return list(
        session.scalars(
            select(Contract)
            .where(Contract.process_id == process.id)
            .options(
                selectinload(Contract.amendments),
                selectinload(Contract.transactions),
                selectinload(Contract.milestones),
            )
            .order_by(Contract.id)
        )
    )


def bids_are_sealed(tender: Tender) -> bool:
    """Until bids are opened, no one may read a bid's value or the bidder list; only the count may be shown."""
    return tender.bids_opened_at is None


def bid_count(session: Session, tender: Tender) -> int:
    return session.scalar(select(func.count()).select_from(Bid).where(Bid.tender_id == tender.id)) or 0


def stage_counts(session: Session) -> dict[ProcessStage, int]:
    rows = session.execute(select(Process.stage, func.count()).group_by(Process.stage))
    return dict(rows.all())


def list_buyers(session: Session) -> list[Organisation]:
    return list(
        session.scalars(
            select(Organisation).where(Organisation.kind != OrganisationKind.SUPPLIER).order_by(Organisation.name)
        )
    )
