"""THE mapping from BOS's domain rows to an OCDS 1.1 release. Pure and deterministic: same rows, same JSON.

A release is a snapshot of the process as of a moment (``as_of``): only what had happened by then is included,
with the values then in force. Publishing builds the snapshot "now"; the demo seed replays a process's history by
building the snapshot at each event's date, through this same function, so both paths write identical releases.

Sealed bids: the ``bids`` section, ``tender.tenderers`` and ``numberOfTenderers`` appear only once the tender's bids
were opened (``bids_opened_at``), and tenderers are listed in ``parties`` only then.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any

from bos.contracts.models import Contract
from bos.enums import AwardStatus, BidStatus, ContractStatus, TenderStatus
from bos.parties.models import Organisation
from bos.tenders.models import Award, Item, Process, Tender

OCDS_LANGUAGE = "id"
EVALUATED = (BidStatus.VALID, BidStatus.DISQUALIFIED)


@lru_cache(maxsize=65536)
def ocds_date(value: dt.datetime) -> str:
    """RFC 3339 in UTC with a Z, to the second: what Cardinal and every OCDS tool parse.

    Cached: replaying a process's history formats the same few dates in every snapshot.
    """
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ocds_amount(amount: Decimal) -> int | float:
    """The one place a Decimal becomes a JSON number: whole amounts as integers, others as floats."""
    if amount == amount.to_integral_value():
        return int(amount)
    return float(amount)


def value(amount: Decimal | None, currency: str | None) -> dict[str, Any] | None:
    if amount is None:
        return None
    return {"amount": ocds_amount(amount), "currency": currency or "IDR"}


def party_id(org: Organisation) -> str:
    return f"{org.identifier_scheme}-{org.identifier_id}"


def org_reference(org: Organisation) -> dict[str, str]:
    return {"id": party_id(org), "name": org.name}


def period(start: dt.datetime | None, end: dt.datetime | None) -> dict[str, str] | None:
    result = {}
    if start is not None:
        result["startDate"] = ocds_date(start)
    if end is not None:
        result["endDate"] = ocds_date(end)
    return result or None


def _prune(data: dict[str, Any]) -> dict[str, Any]:
    """Drop None values and empty lists/objects: OCDS omits what is unknown rather than publishing nulls."""
    return {key: item for key, item in data.items() if item is not None and item not in ([], {})}


@dataclass(frozen=True)
class ProcessGraph:
    """Everything a release needs, loaded up front (see ``bos.ocds.publish.load_graph``)."""

    process: Process
    contracts: list[Contract]
    # Party and item objects do not change between the snapshots of one history: build each once per graph.
    memo: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict, compare=False, repr=False)


def _happened(moment: dt.datetime | None, as_of: dt.datetime | None) -> bool:
    return moment is not None and (as_of is None or moment <= as_of)


class _Parties:
    """Collects parties and their roles in first-seen order, so the list is deterministic."""

    def __init__(self, memo: dict[tuple[str, int], dict[str, Any]]) -> None:
        self.memo = memo
        self.orgs: dict[str, Organisation] = {}
        self.roles: dict[str, list[str]] = {}

    def add(self, org: Organisation, role: str) -> dict[str, str]:
        base = self.memo.get(("party", org.id))
        if base is None:
            base = self.memo[("party", org.id)] = _party(org)
        key = base["id"]
        self.orgs.setdefault(key, org)
        roles = self.roles.setdefault(key, [])
        if role not in roles:
            roles.append(role)
        return {"id": key, "name": base["name"]}

    def as_list(self) -> list[dict[str, Any]]:
        return [{**self.memo[("party", self.orgs[key].id)], "roles": roles} for key, roles in self.roles.items()]


def _party(org: Organisation) -> dict[str, Any]:
    """A party without its roles (they depend on the snapshot)."""
    region = org.region
    address = _prune(
        {
            "streetAddress": org.street_address,
            "locality": org.locality,
            "region": region.name if region is not None else None,
            "postalCode": org.postal_code,
            "countryName": org.country_name,
        }
    )
    contact = _prune({"name": org.contact_name, "email": org.contact_email, "telephone": org.contact_telephone})
    return _prune(
        {
            "id": party_id(org),
            "name": org.name,
            "identifier": _prune(
                {"scheme": org.identifier_scheme, "id": org.identifier_id, "legalName": org.legal_name}
            ),
            "address": address,
            "contactPoint": contact,
        }
    )


def _item(item: Item) -> dict[str, Any]:
    return _prune(
        {
            "id": item.local_id,
            "description": item.description,
            "classification": _prune(
                {
                    "scheme": item.classification_scheme,
                    "id": item.classification_id,
                    "description": item.classification_description,
                }
            ),
            "quantity": ocds_amount(item.quantity),
            "unit": _prune({"name": item.unit_name, "value": value(item.unit_value_amount, item.unit_value_currency)}),
        }
    )


def _item_of(graph: ProcessGraph, item: Item) -> dict[str, Any]:
    cached = graph.memo.get(("item", item.id))
    if cached is None:
        cached = graph.memo[("item", item.id)] = _item(item)
    return cached


def _documents(process: Process, section: str, as_of: dt.datetime | None, **owner: int) -> list[dict[str, Any]]:
    documents = []
    for document in process.documents:
        if document.section != section or not _happened(document.date_published, as_of):
            continue
        if any(getattr(document, key) != owner_id for key, owner_id in owner.items()):
            continue
        documents.append(
            _prune(
                {
                    "id": document.local_id,
                    "documentType": document.document_type,
                    "title": document.title,
                    "url": document.url,
                    "datePublished": ocds_date(document.date_published),
                    "format": document.format,
                    "language": document.language,
                }
            )
        )
    return documents


def _tender_status(tender: Tender, graph: ProcessGraph, as_of: dt.datetime | None, cancelled_at: dt.datetime) -> str:
    if tender.status is TenderStatus.CANCELLED:
        return TenderStatus.CANCELLED.value if _happened(cancelled_at, as_of) else TenderStatus.ACTIVE.value
    if tender.status is TenderStatus.COMPLETE:
        # The workflow completes the tender when its contract is closed; before that moment it was active.
        closed = [moment for moment in map(contract_closed_at, graph.contracts) if moment is not None]
        awarded = [a.date for a in graph.process.awards if a.status is AwardStatus.ACTIVE]
        moments = closed or awarded  # rows without a closed contract: complete once the award stood
        return TenderStatus.COMPLETE.value if moments and _happened(min(moments), as_of) else TenderStatus.ACTIVE.value
    return tender.status.value


def _tender(graph: ProcessGraph, parties: _Parties, as_of: dt.datetime | None, cancelled_at: dt.datetime) -> dict:
    process = graph.process
    tender = process.tender
    assert tender is not None  # noqa: S101 - callers check
    opened = _happened(tender.bids_opened_at, as_of)
    procuring_entity = parties.add(tender.procuring_entity, "procuringEntity") if tender.procuring_entity else None
    submitted = [bid for bid in tender.bids if bid.status.value in {"pending", "valid", "disqualified"}]
    tenderers: list[dict[str, str]] = []
    if opened:
        seen: set[str] = set()
        for bid in submitted:
            reference = parties.add(bid.supplier, "tenderer")
            if reference["id"] not in seen:
                seen.add(reference["id"])
                tenderers.append(reference)
    amendments = [
        _prune(
            {
                "id": str(amendment.id),
                "date": ocds_date(amendment.date),
                "rationale": amendment.rationale,
                "description": amendment.description,
            }
        )
        for amendment in tender.amendments
        if _happened(amendment.date, as_of)
    ]
    return _prune(
        {
            "id": tender.local_id,
            "title": tender.title,
            "description": tender.description,
            "status": _tender_status(tender, graph, as_of, cancelled_at),
            # Not in OCDS 1.1 core: the reason behind a cancellation, published with it.
            "statusDetails": process.cancellation_rationale
            if tender.status is TenderStatus.CANCELLED and _happened(cancelled_at, as_of)
            else None,
            "procuringEntity": procuring_entity,
            "items": [_item_of(graph, item) for item in tender.items],
            "value": value(tender.value_amount, tender.value_currency),
            "procurementMethod": tender.procurement_method.value,
            "procurementMethodDetails": tender.procurement_method_details,
            "procurementMethodRationale": tender.procurement_method_rationale,
            "mainProcurementCategory": tender.main_procurement_category.value,
            "awardCriteria": tender.award_criteria,
            "submissionMethod": ["electronicSubmission"],
            "tenderPeriod": period(tender.tender_period_start, tender.tender_period_end),
            "enquiryPeriod": period(tender.enquiry_period_start, tender.enquiry_period_end),
            # The award period starts when the bids are opened and ends with the award: shown once each happened.
            "awardPeriod": period(
                tender.award_period_start if _happened(tender.award_period_start, as_of) else None,
                tender.award_period_end if _happened(tender.award_period_end, as_of) else None,
            ),
            # Only after opening: before it, even the list of who bid is sealed.
            "numberOfTenderers": len(tenderers) if opened else None,
            "tenderers": tenderers,
            "amendments": amendments,
            "documents": _documents(process, "tender", as_of),
        }
    )


def _bids(graph: ProcessGraph, parties: _Parties, as_of: dt.datetime | None) -> dict[str, Any] | None:
    tender = graph.process.tender
    if tender is None or not _happened(tender.bids_opened_at, as_of):
        return None
    details = []
    for bid in tender.bids:
        if not _happened(bid.date, as_of):
            continue
        # An opened bid reads "pending" until its evaluation result is published.
        evaluated = bid.status not in EVALUATED or _happened(bid.evaluated_at or tender.bids_opened_at, as_of)
        details.append(
            _prune(
                {
                    "id": bid.local_id,
                    "date": ocds_date(bid.date),
                    "status": bid.status.value if evaluated else BidStatus.PENDING.value,
                    "tenderers": [parties.add(bid.supplier, "tenderer")],
                    "value": value(bid.value_amount, bid.value_currency),
                    # Not in the bid extension 1.1.5: BOS publishes the reason behind each disqualification.
                    "statusDetails": bid.disqualification_reason if evaluated else None,
                }
            )
        )
    return {"details": details} if details else None


def _awards(graph: ProcessGraph, parties: _Parties, as_of: dt.datetime | None) -> list[dict[str, Any]]:
    awards = []
    cancelled_at = graph.process.cancelled_at
    for award in sorted(graph.process.awards, key=lambda a: (a.date, a.id)):
        if not _happened(award.date, as_of):
            continue
        status = award.status
        if status is AwardStatus.CANCELLED and cancelled_at is not None and not _happened(cancelled_at, as_of):
            status = AwardStatus.ACTIVE  # cancelled with its process, later than this snapshot
        awards.append(
            _prune(
                {
                    "id": award.local_id,
                    "title": award.title,
                    # OCDS 1.1 has no award rationale field: the reason behind the selection goes in description.
                    "description": award.rationale,
                    "status": status.value,
                    "date": ocds_date(award.date),
                    "value": value(award.value_amount, award.value_currency),
                    "suppliers": [parties.add(supplier, "supplier") for supplier in award.suppliers],
                    "items": [_item_of(graph, item) for item in award.items],
                    "contractPeriod": period(award.contract_period_start, award.contract_period_end),
                    "documents": _documents(graph.process, "award", as_of, award_id=award.id),
                }
            )
        )
    return awards


def _contract_value_then(contract: Contract, as_of: dt.datetime | None) -> tuple[Decimal, dt.datetime | None]:
    """Value and end date in force at ``as_of``: undo the amendments that came later."""
    amount, end = contract.value_amount, contract.period_end
    for amendment in reversed(contract.amendments):
        if _happened(amendment.date, as_of):
            break
        if amendment.old_value_amount is not None:
            amount = amendment.old_value_amount
        if amendment.old_period_end is not None:
            end = amendment.old_period_end
    return amount, end


def contract_closed_at(contract: Contract) -> dt.datetime | None:
    """When a closed contract was closed (``closed_at``; for older rows a second after its last payment or end)."""
    if contract.status is not ContractStatus.TERMINATED:
        return None
    if contract.closed_at is not None:
        return contract.closed_at
    dates = [t.date for t in contract.transactions] or [contract.period_end or contract.date_signed]
    return max(d for d in dates if d is not None) + dt.timedelta(seconds=1)


def _contracts(graph: ProcessGraph, parties: _Parties, as_of: dt.datetime | None) -> list[dict[str, Any]]:
    awards_by_id = {award.id: award for award in graph.process.awards}
    contracts = []
    for contract in graph.contracts:
        if not _happened(contract.date_signed, as_of):
            continue
        amount, end = _contract_value_then(contract, as_of)
        status = contract.status
        if status is ContractStatus.TERMINATED and not _happened(contract_closed_at(contract), as_of):
            status = ContractStatus.ACTIVE
        transactions = [
            _prune(
                {
                    "id": payment.local_id,
                    "date": ocds_date(payment.date),
                    "value": value(payment.value_amount, payment.value_currency),
                    "payer": parties.add(payment.payer, "payer"),
                    "payee": parties.add(payment.payee, "payee"),
                }
            )
            # Date order is the order in which payments appear in the release history, hence in the compiled record.
            for payment in sorted(contract.transactions, key=lambda t: (t.date, t.id))
            if _happened(payment.date, as_of)
        ]
        milestones = [
            _prune(
                {
                    "id": milestone.local_id,
                    "title": milestone.title,
                    "type": milestone.type,
                    "status": milestone.status.value
                    if milestone.date_met is None or _happened(milestone.date_met, as_of)
                    else "scheduled",
                    "dueDate": ocds_date(milestone.due_date) if milestone.due_date else None,
                    "dateMet": ocds_date(milestone.date_met) if _happened(milestone.date_met, as_of) else None,
                }
            )
            for milestone in contract.milestones
            if milestone.added_at is None or _happened(milestone.added_at, as_of)
        ]
        amendments = [
            _prune(
                {
                    "id": amendment.local_id,
                    "date": ocds_date(amendment.date),
                    "rationale": amendment.rationale,
                    "description": amendment.description,
                }
            )
            for amendment in contract.amendments
            if _happened(amendment.date, as_of)
        ]
        award = awards_by_id.get(contract.award_id)
        contracts.append(
            _prune(
                {
                    "id": contract.local_id,
                    "awardID": award.local_id if award is not None else str(contract.award_id),
                    "title": contract.title,
                    "description": contract.description,
                    "status": status.value,
                    "period": period(contract.period_start, end),
                    "value": value(amount, contract.value_currency),
                    "items": [_item_of(graph, item) for item in contract.items],
                    "dateSigned": ocds_date(contract.date_signed) if contract.date_signed else None,
                    "documents": _documents(graph.process, "contract", as_of, contract_id=contract.id),
                    "amendments": amendments,
                    "implementation": _prune({"transactions": transactions, "milestones": milestones}),
                }
            )
        )
    return contracts


def cancellation_date(graph: ProcessGraph) -> dt.datetime:
    """When a cancelled process was cancelled (recorded by the workflow; the last change for older rows)."""
    return graph.process.cancelled_at or graph.process.updated_at


def build_release(
    graph: ProcessGraph, *, release_id: str, date: dt.datetime, tags: Iterable[str], as_of: dt.datetime | None = None
) -> dict[str, Any]:
    """The OCDS release of ``graph`` as of ``as_of`` (None: everything recorded), dated ``date``."""
    process = graph.process
    parties = _Parties(graph.memo)
    buyer = parties.add(process.buyer, "buyer")
    planning = process.planning
    planning_section = None
    # A plan or tender without its publication date is a draft, private to the buyer's officers: never published.
    if planning is not None and _happened(planning.date_published, as_of):
        planning_section = _prune(
            {
                "rationale": planning.rationale,
                "budget": _prune(
                    {
                        "id": planning.rup_code,
                        "description": f"{planning.budget_source.value} {planning.fiscal_year}"
                        + (f": {planning.budget_description}" if planning.budget_description else ""),
                        "amount": value(planning.budget_amount, planning.budget_currency),
                        "project": planning.project,
                        "projectID": planning.rup_code,
                    }
                ),
                "documents": _documents(process, "planning", as_of),
            }
        )
    tender_section = None
    tender = process.tender
    if tender is not None and _happened(tender.date_published, as_of):
        tender_section = _tender(graph, parties, as_of, cancellation_date(graph))
    bids = _bids(graph, parties, as_of)
    awards = _awards(graph, parties, as_of)
    contracts = _contracts(graph, parties, as_of)
    # Payers and payees were added while building contracts; parties is complete only now.
    release = {
        "ocid": process.ocid,
        "id": release_id,
        "date": ocds_date(date),
        "tag": list(tags),
        "initiationType": "tender",
        "language": OCDS_LANGUAGE,
        "parties": parties.as_list(),
        "buyer": buyer,
        "planning": planning_section,
        "tender": tender_section,
        "bids": bids,
        "awards": awards,
        "contracts": contracts,
    }
    return _prune(release)


@dataclass(frozen=True)
class HistoryEvent:
    date: dt.datetime
    tags: tuple[str, ...]


def history(graph: ProcessGraph) -> list[HistoryEvent]:
    """The publication events of a process, oldest first, derived from its recorded dates (the seed's bulk path).

    One event for each release the services publish (``bos.tenders.service``, ``bos.contracts.service``) for the
    steps the demo seed records: plan, tender, amendments, opening, each evaluation, cancellation, awards, contract
    signature, amendments, payments, milestones added or met, closing. ``tests/demo/test_seed_history.py`` replays
    seeded processes through the services and proves both write identical releases. Not replayable from the rows
    alone, and not written by the seed: values a tender amendment replaced, award corrections, and bids recorded
    offline (they are dated when received, published when recorded).
    """
    process = graph.process
    events: list[HistoryEvent] = []
    if process.planning is not None and process.planning.date_published is not None:
        events.append(HistoryEvent(process.planning.date_published, ("planning",)))
    tender = process.tender
    published_tender = tender is not None and tender.date_published is not None
    if tender is not None and published_tender:
        events.append(HistoryEvent(tender.date_published, ("tender",)))
        events.extend(HistoryEvent(amendment.date, ("tenderAmendment",)) for amendment in tender.amendments)
        if tender.bids_opened_at is not None:
            events.append(HistoryEvent(tender.bids_opened_at, ("tenderUpdate",)))
            evaluations = {bid.evaluated_at for bid in tender.bids if bid.evaluated_at is not None}
            evaluations.discard(tender.bids_opened_at)
            events.extend(HistoryEvent(moment, ("tenderUpdate",)) for moment in sorted(evaluations))
    events.extend(HistoryEvent(award.date, ("award",)) for award in process.awards)
    events.extend(_cancellation_events(graph, published_tender))
    for contract in graph.contracts:
        if contract.date_signed is not None:
            events.append(HistoryEvent(contract.date_signed, ("contract",)))
        events.extend(HistoryEvent(amendment.date, ("contractAmendment",)) for amendment in contract.amendments)
        paid_on = set()
        for index, payment in enumerate(sorted(contract.transactions, key=lambda t: (t.date, t.id))):
            paid_on.add(payment.date)
            events.append(HistoryEvent(payment.date, ("implementation",) if index == 0 else ("implementationUpdate",)))
        for milestone in contract.milestones:
            if milestone.added_at is not None:
                events.append(HistoryEvent(milestone.added_at, ("implementationUpdate",)))
            met = milestone.date_met
            # Met with a payment (same release), or already met when added: no release of its own.
            if met is not None and met not in paid_on and (milestone.added_at is None or met > milestone.added_at):
                events.append(HistoryEvent(met, ("implementationUpdate",)))
        closed = contract_closed_at(contract)
        if closed is not None:
            events.append(HistoryEvent(closed, ("contractTermination",)))
    # A stable sort: events on the same instant keep their lifecycle order.
    return sorted(events, key=lambda event: event.date)


def _cancellation_events(graph: ProcessGraph, published_tender: bool) -> list[HistoryEvent]:
    """The release a cancellation published (a cancelled contract's is its ``contractTermination``)."""
    process, tender = graph.process, graph.process.tender
    tender_cancelled = tender is not None and tender.status is TenderStatus.CANCELLED
    if process.cancelled_at is None and not tender_cancelled:
        return []
    tags = []
    if any(award.status is AwardStatus.CANCELLED for award in process.awards):
        tags.append("awardCancellation")
    if tender_cancelled and published_tender:
        tags.append("tenderCancellation")
    planned = process.planning is not None and process.planning.date_published is not None
    if not tags and planned and not any(contract.date_signed is not None for contract in graph.contracts):
        tags.append("planningUpdate")  # only the plan was published
    return [HistoryEvent(cancellation_date(graph), tuple(tags))] if tags else []


__all__ = ["Award", "ProcessGraph", "build_release", "history", "ocds_amount", "ocds_date"]
