"""Write services for contracts: drafts, signing, amendments, payments, milestones and completion.

Same pattern as ``bos.tenders.service``: auth → workflow → rules → change → release, never committing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from flask_babel import gettext as _
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from bos import workflow
from bos.accounts.service import record_audit
from bos.contracts.models import Contract, ContractAmendment, Milestone, Transaction
from bos.db import utcnow
from bos.enums import AwardStatus, ContractStatus, MilestoneStatus, TenderStatus
from bos.exceptions import Conflict, Invalid, NotFound
from bos.tenders.models import Award, Process
from bos.tenders.service import load_for_update, publish, replace_documents
from bos.workflow import Action

if TYPE_CHECKING:
    from bos.accounts.models import User

Data = Mapping[str, Any]
CONTRACT_FIELDS = ("title", "description", "value_amount", "value_currency", "period_start", "period_end")


def _contract(session: Session, process: Process, contract_id: int) -> Contract:
    contract = session.get(Contract, contract_id)
    if contract is None or contract.process_id != process.id:
        raise NotFound(_("No such contract."))
    return contract


def _check_period(contract: Contract) -> None:
    if contract.period_start and contract.period_end and contract.period_end < contract.period_start:
        raise Invalid(_("The contract is not valid."), {"period_end": [_("The period cannot end before it starts.")]})


def save_contract(
    session: Session,
    actor: User | None,
    process_id: int,
    data: Data,
    contract_id: int | None = None,
    now: dt.datetime | None = None,
) -> Contract:
    """Create or edit the draft contract of an active award (private to the buyer's officers until signed)."""
    now = now or utcnow()
    process = load_for_update(session, actor, process_id, data.get("version"), now)
    workflow.require(process, Action.SAVE_CONTRACT, now)
    if contract_id is None:
        award = session.get(Award, data["award_id"])
        if award is None or award.process_id != process.id or award.status is not AwardStatus.ACTIVE:
            raise Invalid(_("The contract is not valid."), {"award_id": [_("Not an active award of this process.")]})
        contract = Contract(
            process_id=process.id,
            award_id=award.id,
            local_id=data.get("local_id") or f"C-{process.id:07d}-{award.local_id}",
            status=ContractStatus.PENDING,
            value_amount=data["value_amount"],
            value_currency=data.get("value_currency") or award.value_currency,
            period_start=award.contract_period_start,
            period_end=award.contract_period_end,
        )
        session.add(contract)
    else:
        contract = _contract(session, process, contract_id)
        if contract.date_signed is not None:
            raise Conflict(_("A signed contract changes only through an amendment with a rationale."))
    for key in CONTRACT_FIELDS:
        if key in data and data[key] is not None:
            setattr(contract, key, data[key])
    _check_period(contract)
    session.flush()
    if data.get("documents") is not None:
        replace_documents(session, process, "contract", data["documents"], now, contract_id=contract.id)
    if data.get("milestones") is not None:
        # The schedule written into the contract (the termin): published with it, met later.
        session.execute(delete(Milestone).where(Milestone.contract_id == contract.id))
        for number, milestone in enumerate(data["milestones"], start=1):
            session.add(
                Milestone(contract_id=contract.id, local_id=str(number), status=MilestoneStatus.SCHEDULED, **milestone)
            )
        session.flush()
    workflow.advance(process, Action.SAVE_CONTRACT, now)
    record_audit(session, actor, "save_contract", process_id=process.id, target=contract, now=now)
    return contract


def sign_contract(
    session: Session, actor: User | None, process_id: int, contract_id: int, data: Data, now: dt.datetime | None = None
) -> Contract:
    """Record the signature of the draft contract and publish it: ``contract``."""
    now = now or utcnow()
    process = load_for_update(session, actor, process_id, data.get("version"), now)
    workflow.require(process, Action.SIGN_CONTRACT, now)
    contract = _contract(session, process, contract_id)
    if contract.date_signed is not None or contract.status is not ContractStatus.PENDING:
        raise Conflict(_("This contract is already signed."))
    signed = data.get("date_signed") or now
    if signed > now + dt.timedelta(minutes=5):
        raise Invalid(_("The contract is not valid."), {"date_signed": [_("Not after now.")]})
    errors: dict[str, list[str]] = {}
    if contract.period_start is None or contract.period_end is None:
        errors["period_end"] = [_("Set the contract period.")]
    if errors:
        raise Invalid(_("The contract cannot be signed yet."), errors)
    contract.date_signed = signed
    contract.status = ContractStatus.ACTIVE
    workflow.advance(process, Action.SIGN_CONTRACT, now)
    publish(session, process, ["contract"], now)
    record_audit(session, actor, "sign_contract", process_id=process.id, target=contract, now=now)
    return contract


def _signed_contract(session: Session, process: Process, contract_id: int) -> Contract:
    contract = _contract(session, process, contract_id)
    if contract.status is not ContractStatus.ACTIVE:
        raise Conflict(_("This contract is not in force."))
    return contract


def amend_contract(
    session: Session, actor: User | None, process_id: int, contract_id: int, data: Data, now: dt.datetime | None = None
) -> ContractAmendment:
    """Change a signed contract's value or period (an addendum), with its rationale: ``contractAmendment``."""
    now = now or utcnow()
    process = load_for_update(session, actor, process_id, data.get("version"), now)
    workflow.require(process, Action.AMEND_CONTRACT, now)
    contract = _signed_contract(session, process, contract_id)
    new_value, new_end = data.get("new_value_amount"), data.get("new_period_end")
    if new_value is None and new_end is None:
        raise Invalid(
            _("The amendment changes nothing."), {"new_value_amount": [_("Change the value or the end date.")]}
        )
    if new_value is not None and new_value < paid_total(session, contract):
        raise Invalid(
            _("The amendment is not valid."), {"new_value_amount": [_("Less than what has already been paid.")]}
        )
    if new_end is not None and contract.period_start is not None and new_end < contract.period_start:
        raise Invalid(_("The amendment is not valid."), {"new_period_end": [_("Before the contract starts.")]})
    number = (
        session.scalar(
            select(func.count()).select_from(ContractAmendment).where(ContractAmendment.contract_id == contract.id)
        )
        or 0
    )
    amendment = ContractAmendment(
        contract_id=contract.id,
        local_id=str(number + 1),
        date=now,
        rationale=data["rationale"],
        description=data.get("description"),
        old_value_amount=contract.value_amount if new_value is not None else None,
        new_value_amount=new_value,
        old_period_end=contract.period_end if new_end is not None else None,
        new_period_end=new_end,
    )
    session.add(amendment)
    if new_value is not None:
        contract.value_amount = new_value
    if new_end is not None:
        contract.period_end = new_end
    workflow.advance(process, Action.AMEND_CONTRACT, now)
    publish(session, process, ["contractAmendment"], now)
    record_audit(session, actor, "amend_contract", process_id=process.id, target=amendment, now=now)
    return amendment


def paid_total(session: Session, contract: Contract) -> Decimal:
    total = session.scalar(
        select(func.coalesce(func.sum(Transaction.value_amount), 0)).where(Transaction.contract_id == contract.id)
    )
    return Decimal(total or 0)


def add_transaction(
    session: Session, actor: User | None, process_id: int, contract_id: int, data: Data, now: dt.datetime | None = None
) -> Transaction:
    """Record a payment: never above the contract value (amend the contract first). ``implementation``."""
    now = now or utcnow()
    process = load_for_update(session, actor, process_id, data.get("version"), now)
    workflow.require(process, Action.ADD_TRANSACTION, now)
    contract = _signed_contract(session, process, contract_id)
    date = data.get("date") or now
    if date > now + dt.timedelta(minutes=5):
        raise Invalid(_("The payment is not valid."), {"date": [_("Not after now.")]})
    if contract.date_signed is not None and date < contract.date_signed:
        raise Invalid(_("The payment is not valid."), {"date": [_("Before the contract was signed.")]})
    currency = data.get("value_currency") or contract.value_currency
    if currency != contract.value_currency:
        raise Invalid(_("The payment is not valid."), {"value_currency": [_("Pay in the contract's currency.")]})
    paid = paid_total(session, contract)
    if paid + data["value_amount"] > contract.value_amount:
        raise Conflict(
            _(
                "Payments would total %(total)s, above the contract value %(value)s. "
                "Amend the contract, with its rationale, before paying more.",
                total=paid + data["value_amount"],
                value=contract.value_amount,
            )
        )
    award = session.get(Award, contract.award_id)
    payee_id = data.get("payee_id") or (award.suppliers[0].id if award is not None and award.suppliers else None)
    if award is None or payee_id not in {s.id for s in award.suppliers}:
        raise Invalid(_("The payment is not valid."), {"payee_id": [_("Pay a supplier of the award.")]})
    if data.get("milestone_id") is not None:
        # A termin paid on a milestone: the milestone is met on the payment's date, in the same release.
        _unmet_milestone(contract, data["milestone_id"]).mark_met(date)
    first = not contract.transactions
    number = len(contract.transactions) + 1
    payment = Transaction(
        contract_id=contract.id,
        local_id=str(number),
        date=date,
        value_amount=data["value_amount"],
        value_currency=currency,
        payer_id=process.buyer_id,
        payee_id=payee_id,
        source=data.get("source"),
    )
    session.add(payment)
    workflow.advance(process, Action.ADD_TRANSACTION, now)
    publish(session, process, ["implementation" if first else "implementationUpdate"], now)
    record_audit(session, actor, "add_transaction", process_id=process.id, target=payment, now=now)
    return payment


def add_milestone(
    session: Session, actor: User | None, process_id: int, contract_id: int, data: Data, now: dt.datetime | None = None
) -> Milestone:
    """Add an implementation milestone (met or scheduled): ``implementationUpdate``."""
    now = now or utcnow()
    process = load_for_update(session, actor, process_id, data.get("version"), now)
    workflow.require(process, Action.ADD_MILESTONE, now)
    contract = _signed_contract(session, process, contract_id)
    status = data.get("status") or MilestoneStatus.SCHEDULED
    milestone = Milestone(
        contract_id=contract.id,
        local_id=str(len(contract.milestones) + 1),
        title=data["title"],
        type=data.get("type") or "delivery",
        status=status,
        due_date=data.get("due_date"),
        date_met=(data.get("date_met") or now) if status is MilestoneStatus.MET else None,
        description=data.get("description"),
        added_at=now,
    )
    session.add(milestone)
    workflow.advance(process, Action.ADD_MILESTONE, now)
    publish(session, process, ["implementationUpdate"], now)
    record_audit(session, actor, "add_milestone", process_id=process.id, target=milestone, now=now)
    return milestone


def _unmet_milestone(contract: Contract, milestone_id: int) -> Milestone:
    milestone = next((m for m in contract.milestones if m.id == milestone_id), None)
    if milestone is None:
        raise Invalid(_("The milestone is not valid."), {"milestone_id": [_("Not a milestone of this contract.")]})
    if milestone.status is not MilestoneStatus.SCHEDULED:
        raise Conflict(_("This milestone is no longer scheduled."))
    return milestone


def meet_milestone(
    session: Session,
    actor: User | None,
    process_id: int,
    contract_id: int,
    milestone_id: int,
    data: Data,
    now: dt.datetime | None = None,
) -> Milestone:
    """Record that a scheduled milestone was met, now: ``implementationUpdate``."""
    now = now or utcnow()
    process = load_for_update(session, actor, process_id, data.get("version"), now)
    workflow.require(process, Action.ADD_MILESTONE, now)
    contract = _signed_contract(session, process, contract_id)
    milestone = _unmet_milestone(contract, milestone_id)
    milestone.mark_met(now)
    workflow.advance(process, Action.ADD_MILESTONE, now)
    publish(session, process, ["implementationUpdate"], now)
    record_audit(session, actor, "meet_milestone", process_id=process.id, target=milestone, now=now)
    return milestone


def complete_contract(
    session: Session, actor: User | None, process_id: int, contract_id: int, data: Data, now: dt.datetime | None = None
) -> Contract:
    """Close a contract that was carried out: the process is completed and can no longer change."""
    now = now or utcnow()
    process = load_for_update(session, actor, process_id, data.get("version"), now)
    workflow.require(process, Action.COMPLETE, now)
    contract = _signed_contract(session, process, contract_id)
    contract.status = ContractStatus.TERMINATED
    contract.closed_at = now
    if process.tender is not None:
        process.tender.status = TenderStatus.COMPLETE
    workflow.advance(process, Action.COMPLETE, now)
    publish(session, process, ["contractTermination"], now)
    record_audit(session, actor, "complete_contract", process_id=process.id, target=contract, now=now)
    return contract
