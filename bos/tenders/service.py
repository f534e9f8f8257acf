"""Read and write services for contracting processes. They take the session and never commit.

Write services run auth → validate → change: ``bos.permissions`` says who, ``bos.workflow`` says whether the step
is possible now (409 otherwise), and each published step writes its immutable OCDS release through
``bos.ocds.publish.publish_release`` in the caller's transaction. Drafts (a plan or tender whose ``date_published``
is NULL, a contract whose ``date_signed`` is NULL) are visible to the buyer's officers only.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask_babel import gettext as _
from sqlalchemy import ColumnElement, Select, delete, func, or_, select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.exc import StaleDataError

from bos import workflow
from bos.accounts.service import record_audit
from bos.contracts.models import Contract
from bos.db import utcnow
from bos.enums import (
    AwardStatus,
    BidStatus,
    ContractStatus,
    OrganisationKind,
    ProcessStage,
    ProcurementMethod,
    TenderStatus,
)
from bos.exceptions import Conflict, Invalid, NotAllowed, NotFound
from bos.pagination import decode_cursor, encode_cursor
from bos.parties.models import Organisation
from bos.permissions import can_bid, can_create_process, can_manage_bid, can_manage_process, can_view_drafts
from bos.tenders.models import Award, Bid, Document, Item, Planning, Process, Tender, TenderAmendment
from bos.workflow import Action

if TYPE_CHECKING:
    from bos.accounts.models import User

Data = Mapping[str, Any]
RATIONALE_METHODS = (ProcurementMethod.LIMITED, ProcurementMethod.DIRECT)


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


def published_process() -> ColumnElement[bool]:
    """A process is public once its plan is published; before that it is a draft of the buyer's officers."""
    return Process.planning.has(Planning.date_published.is_not(None))


def visible_to(actor: User | None) -> ColumnElement[bool]:
    if actor is not None and actor.organisation_id is not None and can_create_process(actor, actor.organisation_id):
        return or_(published_process(), Process.buyer_id == actor.organisation_id)
    return published_process()


def list_processes(
    session: Session, filters: ProcessFilters, cursor: str | None, limit: int, actor: User | None = None
) -> ProcessPage:
    """Processes, most recently created first, in keyset pages of ``limit``; drafts only for their officers."""
    stmt: Select[tuple[Process]] = (
        select(Process)
        .where(visible_to(actor))
        .options(selectinload(Process.tender), selectinload(Process.buyer), selectinload(Process.planning))
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


def get_process(session: Session, process_id: int, actor: User | None = None) -> Process:
    """A process with what its pages show; a draft process is found only by its buyer's officers."""
    process = session.scalars(
        select(Process)
        .where(Process.id == process_id)
        .options(
            selectinload(Process.planning),
            selectinload(Process.tender).selectinload(Tender.items),
            selectinload(Process.tender).selectinload(Tender.amendments),
            selectinload(Process.awards).selectinload(Award.suppliers),
            selectinload(Process.documents),
        )
    ).one_or_none()
    if process is None or not (is_published(process) or can_view_drafts(actor, process)):
        raise NotFound(_("No such contracting process."))
    return process


def is_published(process: Process) -> bool:
    return process.planning is not None and process.planning.date_published is not None


def process_contracts(session: Session, process: Process, actor: User | None = None) -> list[Contract]:
    """The process's contracts: signed ones for everyone, drafts too for the buyer's officers."""
    stmt = (
        select(Contract)
        .where(Contract.process_id == process.id)
        .options(
            selectinload(Contract.amendments),
            selectinload(Contract.transactions),
            selectinload(Contract.milestones),
        )
        .order_by(Contract.id)
    )
    if not can_view_drafts(actor, process):
        stmt = stmt.where(Contract.date_signed.is_not(None))
    return list(session.scalars(stmt))


def bids_are_sealed(tender: Tender) -> bool:
    """Until bids are opened, no one may read a bid's value or the bidder list; only the count may be shown."""
    return tender.bids_opened_at is None


def bid_count(session: Session, tender: Tender) -> int:
    """Bids submitted and not withdrawn: the only thing about sealed bids anyone may know."""
    return (
        session.scalar(
            select(func.count()).select_from(Bid).where(Bid.tender_id == tender.id, Bid.status != BidStatus.WITHDRAWN)
        )
        or 0
    )


def stage_counts(session: Session) -> dict[ProcessStage, int]:
    rows = session.execute(select(Process.stage, func.count()).where(published_process()).group_by(Process.stage))
    return dict(rows.all())


def list_buyers(session: Session) -> list[Organisation]:
    return list(
        session.scalars(
            select(Organisation).where(Organisation.kind != OrganisationKind.SUPPLIER).order_by(Organisation.name)
        )
    )


@dataclass
class ProcessView:
    """What one reader may see of a process: published sections, plus drafts for the buyer's officers.

    Bids are not here: they are read through ``list_bids``, which keeps the seal.
    """

    process: Process
    planning: Planning | None
    tender: Tender | None
    awards: list[Award]
    contracts: list[Contract]
    bid_count: int
    sealed: bool
    can_manage: bool
    actions: list[str] = field(default_factory=list)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.process, name)


def view_process(session: Session, actor: User | None, process_id: int, now: dt.datetime | None = None) -> ProcessView:
    now = now or utcnow()
    process = get_process(session, process_id, actor)
    drafts = can_view_drafts(actor, process)
    tender = process.tender
    if tender is not None and tender.date_published is None and not drafts:
        tender = None
    manage = can_manage_process(actor, process)
    return ProcessView(
        process=process,
        planning=process.planning if process.planning is not None and (drafts or is_published(process)) else None,
        tender=tender,
        awards=list(process.awards),
        contracts=process_contracts(session, process, actor),
        bid_count=bid_count(session, tender) if tender is not None else 0,
        sealed=tender is None or bids_are_sealed(tender),
        can_manage=manage,
        actions=[a.value for a in workflow.allowed_actions(process, now)] if manage else [],
    )


# ---------------------------------------------------------------------------------------------------- writing


def publish(session: Session, process: Process, tags: Iterable[str], now: dt.datetime) -> None:
    """Write the immutable OCDS release of the process as it now stands (the one path every step uses)."""
    from bos.ocds.publish import publish_release  # noqa: PLC0415 - bos.ocds imports the domain models

    publish_release(session, process, list(tags), now)


def load_for_update(
    session: Session, actor: User | None, process_id: int, version: int | None, now: dt.datetime
) -> Process:
    """The process, checked for its officers, locked against concurrent edits (optimistic, by ``version``).

    Touching the row makes the ORM issue ``UPDATE … WHERE version_id = :seen``: a concurrent save that got there
    first makes it match nothing (StaleDataError), so the second writer gets 409, never a silent overwrite.
    """
    process = session.get(Process, process_id)
    if process is None or not (is_published(process) or can_view_drafts(actor, process)):
        raise NotFound(_("No such contracting process."))
    if not can_manage_process(actor, process):
        raise NotAllowed(_("Only the buyer's officers can change this process."))
    check_version(process, version)
    process.updated_at = now
    flush_or_conflict(session)
    return process


def check_version(process: Process, version: int | None) -> None:
    if version is not None and version != process.version_id:
        raise Conflict(
            _(
                "Someone else changed this process since you opened it (version %(seen)s, now %(now)s). "
                "Reload it and make your change again.",
                seen=version,
                now=process.version_id,
            )
        )


def flush_or_conflict(session: Session) -> None:
    try:
        session.flush()
    except StaleDataError as exc:
        raise Conflict(_("Someone else changed this process at the same time. Reload it and try again.")) from exc


def _not_future(value: dt.datetime | None, now: dt.datetime, name: str) -> None:
    if value is not None and value > now + dt.timedelta(minutes=5):
        raise Invalid(_("A decision cannot be dated in the future."), {name: [_("Not after now.")]})


PLANNING_FIELDS = (
    "rup_code",
    "project",
    "budget_description",
    "budget_amount",
    "budget_currency",
    "budget_source",
    "fiscal_year",
    "rationale",
)


def create_process(
    session: Session, actor: User | None, data: Data, ocid_prefix: str, now: dt.datetime | None = None
) -> Process:
    """Start a process with its plan (RUP entry) as a draft of the actor's buyer."""
    now = now or utcnow()
    buyer_id = data.get("buyer_id") or (actor.organisation_id if actor is not None else None)
    if buyer_id is None or not can_create_process(actor, buyer_id):
        raise NotAllowed(_("Only a buyer's officers can plan its processes."))
    # The ocid carries the row id, which exists only after the insert: a unique placeholder bridges the gap.
    process = Process(
        ocid=f"{ocid_prefix}-draft-{uuid.uuid4().hex}",
        title=data["title"],
        buyer_id=buyer_id,
        stage=ProcessStage.PLANNED,
        needs_evaluation=False,
        created_at=now,
        updated_at=now,
    )
    session.add(process)
    session.flush()
    process.ocid = f"{ocid_prefix}-{process.id:07d}"
    planning = Planning(process=process, **{key: data.get(key) for key in PLANNING_FIELDS})
    session.add(planning)
    session.flush()
    record_audit(session, actor, "create_process", process_id=process.id, target=process, now=now)
    return process


def update_planning(
    session: Session, actor: User | None, process_id: int, data: Data, now: dt.datetime | None = None
) -> Process:
    """Edit the plan: a draft changes quietly; a published plan publishes a ``planningUpdate`` at once."""
    now = now or utcnow()
    process = load_for_update(session, actor, process_id, data.get("version"), now)
    workflow.require(process, Action.UPDATE_PLANNING, now)
    planning = process.planning
    assert planning is not None  # noqa: S101 - every process is created with its plan
    if "title" in data:
        process.title = data["title"]
    for key in PLANNING_FIELDS:
        if key in data:
            setattr(planning, key, data[key])
    workflow.advance(process, Action.UPDATE_PLANNING, now)
    if planning.date_published is not None:
        publish(session, process, ["planningUpdate"], now)
    record_audit(session, actor, "update_planning", process_id=process.id, target=planning, now=now)
    return process


def publish_planning(
    session: Session, actor: User | None, process_id: int, data: Data, now: dt.datetime | None = None
) -> Process:
    now = now or utcnow()
    process = load_for_update(session, actor, process_id, data.get("version"), now)
    workflow.require(process, Action.PUBLISH_PLANNING, now)
    assert process.planning is not None  # noqa: S101
    process.planning.date_published = now
    for document in process.documents:
        if document.section == "planning":
            document.date_published = now
    workflow.advance(process, Action.PUBLISH_PLANNING, now)
    publish(session, process, ["planning"], now)
    record_audit(session, actor, "publish_planning", process_id=process.id, now=now)
    return process


TENDER_FIELDS = (
    "local_id",
    "title",
    "description",
    "procurement_method",
    "procurement_method_details",
    "procurement_method_rationale",
    "main_procurement_category",
    "award_criteria",
    "value_amount",
    "value_currency",
    "tender_period_start",
    "tender_period_end",
    "enquiry_period_start",
    "enquiry_period_end",
    "procuring_entity_id",
)


def _tender_errors(tender: Tender) -> dict[str, list[str]]:
    """Rules on the tender as a whole (after a partial update too)."""
    errors: dict[str, list[str]] = {}
    if tender.procurement_method in RATIONALE_METHODS and not (tender.procurement_method_rationale or "").strip():
        errors["procurement_method_rationale"] = [_("Required for limited and direct procurement: say why.")]
    start, end = tender.tender_period_start, tender.tender_period_end
    if start is not None and end is not None and end <= start:
        errors["tender_period_end"] = [_("The submission period must end after it starts.")]
    enquiry_end = tender.enquiry_period_end
    if enquiry_end is not None and end is not None and enquiry_end > end:
        errors["enquiry_period_end"] = [_("Questions close before the submission period ends.")]
    return errors


def _add_items(session: Session, items: list[Data], **owner: int) -> None:
    """Item lines of a tender or an award (``tender_id=`` / ``award_id=``), numbered from 1."""
    for number, item in enumerate(items, start=1):
        session.add(Item(**owner, local_id=str(number), **({"classification_scheme": "KBKI"} | dict(item))))


def _replace_items(session: Session, tender: Tender, items: list[Data]) -> None:
    session.execute(delete(Item).where(Item.tender_id == tender.id))
    _add_items(session, items, tender_id=tender.id)


def replace_documents(
    session: Session, process: Process, section: str, documents: list[Data], now: dt.datetime, **owner: int
) -> None:
    """Replace a draft section's documents (they are published with the section)."""
    stmt = delete(Document).where(Document.process_id == process.id, Document.section == section)
    for key, value in owner.items():
        stmt = stmt.where(getattr(Document, key) == value)
    session.execute(stmt)
    for number, document in enumerate(documents, start=1):
        session.add(
            Document(
                process_id=process.id,
                section=section,
                local_id=f"{section}-{owner.get('contract_id', '')}{number}",
                date_published=now,
                **owner,
                **document,
            )
        )


def save_tender(
    session: Session, actor: User | None, process_id: int, data: Data, now: dt.datetime | None = None
) -> Tender:
    """Create or edit the draft tender of a planned process."""
    now = now or utcnow()
    process = load_for_update(session, actor, process_id, data.get("version"), now)
    tender = process.tender
    if tender is None:
        workflow.require(process, Action.CREATE_TENDER, now)
        missing = [key for key in ("title", "procurement_method", "main_procurement_category") if key not in data]
        if missing:
            raise Invalid(
                _("The tender is incomplete."), {key: [_("Missing data for required field.")] for key in missing}
            )
        tender = Tender(
            process=process,
            local_id=data.get("local_id") or f"T-{process.id:07d}",
            status=TenderStatus.PLANNING,
            procurement_method_details=data.get("procurement_method_details") or "",
            procuring_entity_id=data.get("procuring_entity_id") or process.buyer_id,
            title=data["title"],
            procurement_method=data["procurement_method"],
            main_procurement_category=data["main_procurement_category"],
        )
        session.add(tender)
        action = Action.CREATE_TENDER
    else:
        workflow.require(process, Action.UPDATE_TENDER, now)
        action = Action.UPDATE_TENDER
    for key in TENDER_FIELDS:
        if key in data and (data[key] is not None or key not in ("local_id", "procuring_entity_id")):
            setattr(tender, key, data[key])
    if tender.value_amount is not None and tender.value_currency is None:
        tender.value_currency = "IDR"
    errors = _tender_errors(tender)
    if errors:
        raise Invalid(_("The tender breaks a rule."), errors)
    session.flush()
    if data.get("items") is not None:
        _replace_items(session, tender, data["items"])
    if data.get("documents") is not None:
        replace_documents(session, process, "tender", data["documents"], now)
    workflow.advance(process, action, now)
    record_audit(session, actor, action.value, process_id=process.id, target=tender, now=now)
    session.flush()
    return tender


def publish_tender(
    session: Session, actor: User | None, process_id: int, data: Data, now: dt.datetime | None = None
) -> Tender:
    """Publish the draft tender: the submission period must be set and still ahead; the process is open."""
    now = now or utcnow()
    process = load_for_update(session, actor, process_id, data.get("version"), now)
    workflow.require(process, Action.PUBLISH_TENDER, now)
    tender = process.tender
    assert tender is not None  # noqa: S101 - the workflow guard checked it
    errors = _tender_errors(tender)
    if tender.tender_period_end is None:
        errors["tender_period_end"] = [_("Set the end of the submission period.")]
    elif tender.tender_period_end <= now:
        errors["tender_period_end"] = [_("The submission period must end in the future.")]
    if tender.value_amount is None:
        errors["value_amount"] = [_("Set the owner's estimate (HPS).")]
    if not tender.items:
        errors["items"] = [_("A tender needs at least one item.")]
    if errors:
        raise Invalid(_("The tender cannot be published yet."), errors)
    if tender.tender_period_start is None:
        tender.tender_period_start = now
    tender.status = TenderStatus.ACTIVE
    tender.date_published = now
    for document in process.documents:
        if document.section == "tender":
            document.date_published = now
    workflow.advance(process, Action.PUBLISH_TENDER, now)
    publish(session, process, ["tender"], now)
    record_audit(session, actor, "publish_tender", process_id=process.id, target=tender, now=now)
    return tender


def amend_tender(
    session: Session, actor: User | None, process_id: int, data: Data, now: dt.datetime | None = None
) -> TenderAmendment:
    """Change a published, open tender (a deadline extension is one), with its rationale: ``tenderAmendment``."""
    now = now or utcnow()
    process = load_for_update(session, actor, process_id, data.get("version"), now)
    workflow.require(process, Action.AMEND_TENDER, now)
    tender = process.tender
    assert tender is not None  # noqa: S101
    changes: list[str] = []
    for key in ("title", "description", "value_amount", "tender_period_end", "enquiry_period_end"):
        if key in data and data[key] is not None and data[key] != getattr(tender, key):
            changes.append(f"{key}: {getattr(tender, key)} → {data[key]}")
            setattr(tender, key, data[key])
    if "tender_period_end" in data and tender.tender_period_end is not None and tender.tender_period_end <= now:
        raise Invalid(
            _("The amendment breaks a rule."), {"tender_period_end": [_("The new deadline must be in the future.")]}
        )
    errors = _tender_errors(tender)
    if errors:
        raise Invalid(_("The amendment breaks a rule."), errors)
    if not changes and not data.get("description_of_change"):
        raise Invalid(_("The amendment changes nothing."), {"tender_period_end": [_("Change at least one value.")]})
    amendment = TenderAmendment(
        tender=tender,
        date=now,
        rationale=data["rationale"],
        description=data.get("description_of_change") or "; ".join(changes),
    )
    session.add(amendment)
    workflow.advance(process, Action.AMEND_TENDER, now)
    publish(session, process, ["tenderAmendment"], now)
    record_audit(session, actor, "amend_tender", process_id=process.id, target=amendment, now=now, changes=changes)
    return amendment


# ---------------------------------------------------------------------------------------------------- bids


@dataclass(frozen=True)
class BidListing:
    """Bids as one reader may see them: while sealed, only the count (and a contractor's own bids)."""

    sealed: bool
    count: int
    bids: list[Bid]


def _process_with_tender(session: Session, process_id: int) -> tuple[Process, Tender]:
    process = session.get(Process, process_id)
    if process is None or not is_published(process) or process.tender is None or process.tender.date_published is None:
        raise NotFound(_("No published tender for this process."))
    return process, process.tender


def list_bids(session: Session, actor: User | None, process_id: int) -> BidListing:
    _process, tender = _process_with_tender(session, process_id)
    count = bid_count(session, tender)
    if bids_are_sealed(tender):
        own: list[Bid] = []
        if can_bid(actor) and actor is not None:
            own = list(
                session.scalars(
                    select(Bid).where(Bid.tender_id == tender.id, Bid.supplier_id == actor.organisation_id)
                )
            )
        return BidListing(sealed=True, count=count, bids=own)
    bids = session.scalars(
        select(Bid).where(Bid.tender_id == tender.id).options(selectinload(Bid.supplier)).order_by(Bid.id)
    )
    return BidListing(sealed=False, count=count, bids=list(bids))


def _next_bid_id(session: Session, tender: Tender) -> str:
    existing = session.scalar(select(func.count()).select_from(Bid).where(Bid.tender_id == tender.id)) or 0
    return f"BID-{existing + 1}"


def _check_currency(tender: Tender, currency: str) -> None:
    if tender.value_currency and currency != tender.value_currency:
        raise Invalid(
            _("The bid is not valid."),
            {"value_currency": [_("Bids are in %(currency)s.", currency=tender.value_currency)]},
        )


def submit_bid(
    session: Session, actor: User | None, process_id: int, data: Data, now: dt.datetime | None = None
) -> Bid:
    """Submit or replace the contractor's own sealed bid while the submission period runs. No release: sealed."""
    now = now or utcnow()
    process, tender = _process_with_tender(session, process_id)
    if not can_bid(actor) or actor is None:
        raise NotAllowed(_("Only contractors can bid."))
    workflow.require(process, Action.SUBMIT_BID, now)
    _check_currency(tender, data["value_currency"])
    bid = session.scalars(
        select(Bid).where(Bid.tender_id == tender.id, Bid.supplier_id == actor.organisation_id)
    ).first()
    if bid is None:
        bid = Bid(
            tender_id=tender.id,
            supplier_id=actor.organisation_id,
            local_id=_next_bid_id(session, tender),
            received_offline=False,
        )
        session.add(bid)
    bid.date = now
    bid.status = BidStatus.PENDING
    bid.value_amount = data["value_amount"]
    bid.value_currency = data["value_currency"]
    session.flush()
    # The audit entry names the bid, never its value: the log must not break the seal.
    record_audit(session, actor, "submit_bid", process_id=process.id, target=bid, now=now)
    return bid


def _own_bid(session: Session, actor: User | None, tender: Tender, bid_id: int) -> Bid:
    bid = session.get(Bid, bid_id)
    if bid is None or bid.tender_id != tender.id:
        raise NotFound(_("No such bid."))
    if not can_manage_bid(actor, bid):
        raise NotAllowed(_("Only the contractor who submitted a bid can change it."))
    return bid


def replace_bid(
    session: Session, actor: User | None, process_id: int, bid_id: int, data: Data, now: dt.datetime | None = None
) -> Bid:
    now = now or utcnow()
    process, tender = _process_with_tender(session, process_id)
    bid = _own_bid(session, actor, tender, bid_id)
    workflow.require(process, Action.SUBMIT_BID, now)
    _check_currency(tender, data["value_currency"])
    bid.value_amount = data["value_amount"]
    bid.value_currency = data["value_currency"]
    bid.status = BidStatus.PENDING
    bid.date = now
    record_audit(session, actor, "replace_bid", process_id=process.id, target=bid, now=now)
    session.flush()
    return bid


def withdraw_bid(
    session: Session, actor: User | None, process_id: int, bid_id: int, now: dt.datetime | None = None
) -> Bid:
    now = now or utcnow()
    process, tender = _process_with_tender(session, process_id)
    bid = _own_bid(session, actor, tender, bid_id)
    workflow.require(process, Action.SUBMIT_BID, now)
    bid.status = BidStatus.WITHDRAWN
    bid.date = now
    record_audit(session, actor, "withdraw_bid", process_id=process.id, target=bid, now=now)
    session.flush()
    return bid


def open_bids(
    session: Session, actor: User | None, process_id: int, data: Data, now: dt.datetime | None = None
) -> Process:
    """Open the bids once the submission period has ended: from now on they are all published (``tenderUpdate``)."""
    now = now or utcnow()
    process = load_for_update(session, actor, process_id, data.get("version"), now)
    workflow.require(process, Action.OPEN_BIDS, now)
    tender = process.tender
    assert tender is not None  # noqa: S101
    tender.bids_opened_at = now
    if tender.award_period_start is None:
        tender.award_period_start = now
    workflow.advance(process, Action.OPEN_BIDS, now)
    publish(session, process, ["tenderUpdate"], now)
    record_audit(session, actor, "open_bids", process_id=process.id, target=tender, now=now)
    return process


def record_offline_bid(
    session: Session, actor: User | None, process_id: int, data: Data, now: dt.datetime | None = None
) -> Bid:
    """Record a bid received on paper, after opening only (before it, a recorded bid would be readable)."""
    now = now or utcnow()
    process = load_for_update(session, actor, process_id, data.get("version"), now)
    workflow.require(process, Action.RECORD_OFFLINE_BID, now)
    tender = process.tender
    assert tender is not None  # noqa: S101
    supplier = session.get(Organisation, data["supplier_id"])
    if supplier is None or supplier.kind is not OrganisationKind.SUPPLIER:
        raise Invalid(_("The bid is not valid."), {"supplier_id": [_("Not a supplier.")]})
    received = data["date"]
    if tender.tender_period_end is not None and received > tender.tender_period_end:
        raise Invalid(_("The bid is not valid."), {"date": [_("Received after the submission period ended.")]})
    _check_currency(tender, data["value_currency"])
    bid = Bid(
        tender_id=tender.id,
        supplier_id=supplier.id,
        local_id=_next_bid_id(session, tender),
        date=received,
        status=BidStatus.PENDING,
        value_amount=data["value_amount"],
        value_currency=data["value_currency"],
        received_offline=True,
    )
    session.add(bid)
    workflow.advance(process, Action.RECORD_OFFLINE_BID, now)
    publish(session, process, ["tenderUpdate"], now)
    record_audit(session, actor, "record_offline_bid", process_id=process.id, target=bid, now=now)
    return bid


def evaluate_bid(
    session: Session, actor: User | None, process_id: int, bid_id: int, data: Data, now: dt.datetime | None = None
) -> Bid:
    """Mark an opened bid valid, or disqualified with its reason (``tenderUpdate``)."""
    evaluation = {"bid_id": bid_id, **{k: data.get(k) for k in ("status", "disqualification_reason")}}
    return evaluate_bids(
        session, actor, process_id, {"version": data.get("version"), "evaluations": [evaluation]}, now
    )[0]


def evaluate_bids(
    session: Session, actor: User | None, process_id: int, data: Data, now: dt.datetime | None = None
) -> list[Bid]:
    """Publish the evaluation of several opened bids at once (the evaluation report): one ``tenderUpdate``.

    Each bid is valid, or disqualified with its reason. All or nothing: one bad entry refuses the whole report.
    """
    now = now or utcnow()
    process = load_for_update(session, actor, process_id, data.get("version"), now)
    workflow.require(process, Action.EVALUATE_BID, now)
    evaluated: list[Bid] = []
    for evaluation in data["evaluations"]:
        bid = session.get(Bid, evaluation["bid_id"])
        if bid is None or process.tender is None or bid.tender_id != process.tender.id:
            raise NotFound(_("No such bid."))
        if bid.status is BidStatus.WITHDRAWN:
            raise Conflict(_("A withdrawn bid is not evaluated."))
        if bid in evaluated:
            raise Invalid(_("The evaluation is not valid."), {"evaluations": [_("Each bid is evaluated once.")]})
        status = evaluation["status"]
        reason = (evaluation.get("disqualification_reason") or "").strip() or None
        if status is BidStatus.DISQUALIFIED and reason is None:
            raise Invalid(_("Say why the bid is disqualified."), {"disqualification_reason": [_("Required.")]})
        bid.status = status
        bid.disqualification_reason = reason if status is BidStatus.DISQUALIFIED else None
        bid.evaluated_at = now
        evaluated.append(bid)
    workflow.advance(process, Action.EVALUATE_BID, now)
    publish(session, process, ["tenderUpdate"], now)
    for bid in evaluated:
        record_audit(
            session, actor, "evaluate_bid", process_id=process.id, target=bid, now=now, status=bid.status.value
        )
    return evaluated


# ---------------------------------------------------------------------------------------------------- awards


def _award_suppliers(session: Session, process: Process, data: Data) -> tuple[list[Organisation], Bid | None]:
    tender = process.tender
    assert tender is not None  # noqa: S101
    ids = list(dict.fromkeys(data["supplier_ids"]))
    suppliers = list(session.scalars(select(Organisation).where(Organisation.id.in_(ids))))
    if len(suppliers) != len(ids) or any(s.kind is not OrganisationKind.SUPPLIER for s in suppliers):
        raise Invalid(_("The award is not valid."), {"supplier_ids": [_("Every supplier must be a known supplier.")]})
    bid = None
    if data.get("bid_id") is not None:
        bid = session.get(Bid, data["bid_id"])
        if bid is None or bid.tender_id != tender.id:
            raise Invalid(_("The award is not valid."), {"bid_id": [_("Not a bid on this tender.")]})
        if bid.status is not BidStatus.VALID:
            raise Invalid(_("The award is not valid."), {"bid_id": [_("Only a bid evaluated as valid can win.")]})
        if bid.supplier_id not in ids:
            raise Invalid(_("The award is not valid."), {"bid_id": [_("The winning bid is from another supplier.")]})
    elif tender.procurement_method in (ProcurementMethod.OPEN, ProcurementMethod.SELECTIVE):
        raise Invalid(
            _("The award is not valid."), {"bid_id": [_("An open or selective tender is won by a valid bid.")]}
        )
    return sorted(suppliers, key=lambda s: s.id), bid


def award_process(
    session: Session, actor: User | None, process_id: int, data: Data, now: dt.datetime | None = None
) -> Award:
    """Award the closed tender (supplier(s), value, date, rationale) and publish it: ``award``."""
    now = now or utcnow()
    process = load_for_update(session, actor, process_id, data.get("version"), now)
    workflow.require(process, Action.AWARD, now)
    tender = process.tender
    assert tender is not None  # noqa: S101
    suppliers, bid = _award_suppliers(session, process, data)
    date = data.get("date") or now
    _not_future(date, now, "date")
    award = Award(
        process=process,
        local_id=str(len(process.awards) + 1),
        bid_id=bid.id if bid is not None else None,
        title=data.get("title") or process.title,
        status=AwardStatus.ACTIVE,
        date=date,
        value_amount=data["value_amount"],
        value_currency=data["value_currency"],
        rationale=data["rationale"],
        contract_period_start=data.get("contract_period_start"),
        contract_period_end=data.get("contract_period_end"),
    )
    award.suppliers = suppliers
    session.add(award)
    session.flush()
    # The awarded items at the awarded unit prices (the tender's items carry the estimate's).
    _add_items(session, data.get("items") or [], award_id=award.id)
    if data.get("documents"):
        replace_documents(session, process, "award", data["documents"], now, award_id=award.id)
    tender.award_period_end = date
    workflow.advance(process, Action.AWARD, now)
    publish(session, process, ["award"], now)
    record_audit(session, actor, "award", process_id=process.id, target=award, now=now)
    return award


def update_award(
    session: Session, actor: User | None, process_id: int, award_id: int, data: Data, now: dt.datetime | None = None
) -> Award:
    """Correct a published award before the contract is signed: a new ``awardUpdate`` release, never an edit."""
    now = now or utcnow()
    process = load_for_update(session, actor, process_id, data.get("version"), now)
    workflow.require(process, Action.UPDATE_AWARD, now)
    award = session.get(Award, award_id)
    if award is None or award.process_id != process.id:
        raise NotFound(_("No such award."))
    for key in ("title", "value_amount", "rationale", "contract_period_start", "contract_period_end"):
        if key in data and data[key] is not None:
            setattr(award, key, data[key])
    workflow.advance(process, Action.UPDATE_AWARD, now)
    publish(session, process, ["awardUpdate"], now)
    record_audit(session, actor, "update_award", process_id=process.id, target=award, now=now)
    return award


# ---------------------------------------------------------------------------------------------------- cancellation


def cancel_process(
    session: Session, actor: User | None, process_id: int, data: Data, now: dt.datetime | None = None
) -> Process:
    """Cancel at any stage before completion, with the rationale; a signed contract is terminated.

    The release tags say what ended: the tender (``tenderCancellation``), the award (``awardCancellation``) or
    the contract (``contractTermination``). A process never published is cancelled without a release.
    """
    now = now or utcnow()
    process = load_for_update(session, actor, process_id, data.get("version"), now)
    workflow.require(process, Action.CANCEL, now)
    stage = workflow.stage_of(process, now)
    rationale = data["rationale"]
    process.cancelled_at = now
    process.cancellation_rationale = rationale
    tags: list[str] = []
    tender = process.tender
    published_tender = tender is not None and tender.date_published is not None
    if stage in (ProcessStage.CONTRACTED, ProcessStage.IMPLEMENTATION):
        for contract in process_contracts(session, process, actor):
            if contract.status is ContractStatus.ACTIVE:
                contract.status = ContractStatus.TERMINATED
                contract.closed_at = now
            elif contract.date_signed is None:
                contract.status = ContractStatus.CANCELLED
        tags = ["contractTermination"]
    else:
        for contract in process_contracts(session, process, actor):  # drafts only, at this stage
            contract.status = ContractStatus.CANCELLED
        if stage is ProcessStage.AWARDED:
            for award in process.awards:
                award.status = AwardStatus.CANCELLED
            tags.append("awardCancellation")
        if tender is not None:
            tender.status = TenderStatus.CANCELLED
            if published_tender:
                tags.append("tenderCancellation")
        if not tags and is_published(process):
            tags = ["planningUpdate"]
    workflow.advance(process, Action.CANCEL, now)
    if tags:
        publish(session, process, tags, now)
    record_audit(session, actor, "cancel", process_id=process.id, target=process, now=now)
    return process
