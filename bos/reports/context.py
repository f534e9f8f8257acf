"""What each report shows, read from the database into plain values the templates print.

Every report reads the *published* OCDS record (``Record.compiled``) and release rows rather than the domain tables:
drafts are never in it, and sealed bids are not either, because ``bos/ocds/release.py`` leaves out bids, tenderers
and their parties until the bids are opened. The dossier checks the seal once more against the tender row. Flags come
in as :class:`FlagView` values (see ``bos.reports.service.flags_for_report``). No Flask here: the service renders.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bos.ocds.models import Record, Release
from bos.ocds.release import party_id
from bos.parties.models import Organisation, Region
from bos.red_flags.indicators.base import as_dict, as_list, as_str, money, parse_datetime
from bos.tenders.models import Process
from bos.tenders.service import bid_count

BOS_SOURCE = "bos"


@dataclass(frozen=True)
class Amount:
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class FlagResponse:
    """A response to a flag: usually the buyer's officer explaining the case."""

    author: str
    date: dt.datetime | None
    text: str
    kind: str = "response"  # response (buyer's officer), annotation (monitor) or dismissal (administrator)


@dataclass(frozen=True)
class FlagView:
    """One red flag as reports show it, whatever table or computation it comes from."""

    code: str
    ocid: str | None  # None for organisation-grain flags (a buyer, a supplier)
    subject: str  # the ocid, or the organisation's OCDS party id
    #: "flagged" while it stands, "dismissed" when an administrator set it aside with a public reason, "cleared"
    #: once the data no longer raises it.
    status: str
    value: float | None
    score: float
    evidence: Mapping[str, Any]
    details: str | None = None  # the engine's one-line account of the values compared
    raised_at: dt.datetime | None = None  # start of the current episode: a flag cleared and raised again restarts
    cleared_at: dt.datetime | None = None
    dismissed_at: dt.datetime | None = None
    responses: tuple[FlagResponse, ...] = ()
    buyer_id: str | None = None  # the OCDS buyer party id (of the process, or the buyer flagged)

    def standing_at(self, moment: dt.datetime) -> bool:
        """Raised before ``moment`` and neither cleared nor dismissed by then."""
        if self.raised_at is not None and self.raised_at >= moment:
            return False
        for ended, status in ((self.cleared_at, "cleared"), (self.dismissed_at, "dismissed")):
            if ended is not None and ended < moment:
                return False
            if ended is None and self.status == status:
                return False
        return True


@dataclass(frozen=True)
class WatchdogFilters:
    """A subscription's filters as plain values; every filter given must match (AND), an empty one matches all.

    ``region`` is a Kemendagri code: the buyers in that region or below it (35.22.16 covers 35.22.16.2007).
    ``min_value`` compares with the largest of the estimate (HPS) and the award values of a process.
    """

    buyer_ids: tuple[int, ...] = ()
    region: str | None = None
    indicator_codes: tuple[str, ...] = ()
    category: str | None = None
    min_value: Decimal | None = None
    keyword: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "buyer_ids": list(self.buyer_ids),
            "region": self.region,
            "indicator_codes": list(self.indicator_codes),
            "category": self.category,
            "min_value": str(self.min_value) if self.min_value is not None else None,
            "keyword": self.keyword,
        }


# --------------------------------------------------------------------------------------------------- reading OCDS


def _amount(value: Any) -> Amount | None:
    found = money(value)
    return Amount(found[0], found[1]) if found is not None else None


def _date(value: Any) -> dt.datetime | None:
    return parse_datetime(value)


def _names(references: Any) -> str:
    return ", ".join(str(as_dict(r).get("name") or as_dict(r).get("id") or "-") for r in as_list(references))


def _items(items: Any) -> list[dict[str, Any]]:
    rows = []
    for item in map(as_dict, as_list(items)):
        classification = as_dict(item.get("classification"))
        unit = as_dict(item.get("unit"))
        rows.append(
            {
                "description": as_str(item.get("description")) or "-",
                "classification": " ".join(
                    str(classification[k]) for k in ("scheme", "id") if classification.get(k) is not None
                ),
                "quantity": Decimal(str(item["quantity"])).normalize() if item.get("quantity") is not None else None,
                "unit": as_str(unit.get("name")) or "",
                "unit_value": _amount(unit.get("value")),
            }
        )
    return rows


def _sum(amounts: Iterable[Amount | None], currency: str) -> Decimal:
    return sum((a.amount for a in amounts if a is not None and a.currency == currency), Decimal(0))


def load_release(record: Record) -> dict[str, Any]:
    return orjson.loads(record.compiled)


def process_value(release: Mapping[str, Any]) -> Amount | None:
    """The largest of the estimate and the award values: what the ``min_value`` filter and rankings compare."""
    candidates = [_amount(as_dict(release.get("tender")).get("value"))]
    candidates += [_amount(as_dict(a).get("value")) for a in as_list(release.get("awards"))]
    found = [c for c in candidates if c is not None]
    return max(found, key=lambda a: a.amount) if found else None


def record_url(base_url: str, ocid: str) -> str:
    return f"{base_url.rstrip('/')}/api/ocds/records/{ocid}"


# --------------------------------------------------------------------------------------------------- dossier


def dossier_context(
    session: Session, record: Record, process: Process | None, flags: Sequence[FlagView], currency: str, base_url: str
) -> dict[str, Any]:
    """Everything the process dossier prints, from the published record of ``record.ocid``."""
    release = load_release(record)
    tender = as_dict(release.get("tender"))
    planning = as_dict(release.get("planning"))
    budget = as_dict(planning.get("budget"))

    timeline = [
        {"date": row.date, "release_id": row.release_id, "tags": row.tags.split()}
        for row in session.execute(
            select(Release.date, Release.release_id, Release.tags)
            .where(Release.ocid == record.ocid, Release.source == record.source)
            .order_by(Release.date, Release.id)
        )
    ]

    # The published record already leaves sealed bids out; the tender row is checked as well, so that a bug in
    # either place cannot print a sealed bid on paper, where it can never be recalled.
    sealed = process is not None and (process.tender is None or process.tender.bids_opened_at is None)
    bids: list[dict[str, Any]] = []
    if not sealed:
        for bid in map(as_dict, as_list(as_dict(release.get("bids")).get("details"))):
            bids.append(
                {
                    "id": as_str(bid.get("id")) or "-",
                    "date": _date(bid.get("date")),
                    "status": as_str(bid.get("status")),
                    "tenderers": _names(bid.get("tenderers")),
                    "value": _amount(bid.get("value")),
                    "reason": as_str(bid.get("statusDetails")),
                }
            )
        bids.sort(key=lambda b: (b["value"].amount if b["value"] else Decimal("Infinity"), b["id"]))
    sealed_count = bid_count(session, process.tender) if sealed and process and process.tender else None

    awards = [
        {
            "id": as_str(award.get("id")) or "-",
            "status": as_str(award.get("status")),
            "date": _date(award.get("date")),
            "value": _amount(award.get("value")),
            "suppliers": _names(award.get("suppliers")),
            "reason": as_str(award.get("description")),
            "contract_period": as_dict(award.get("contractPeriod")),
        }
        for award in map(as_dict, as_list(release.get("awards")))
    ]
    contracts = []
    for contract in map(as_dict, as_list(release.get("contracts"))):
        implementation = as_dict(contract.get("implementation"))
        period = as_dict(contract.get("period"))
        payments = [
            {
                "id": as_str(t.get("id")) or "-",
                "date": _date(t.get("date")),
                "value": _amount(t.get("value")),
                "payee": as_str(as_dict(t.get("payee")).get("name")) or "-",
            }
            for t in map(as_dict, as_list(implementation.get("transactions")))
        ]
        value = _amount(contract.get("value"))
        paid = _sum((p["value"] for p in payments), value.currency if value else currency)
        contracts.append(
            {
                "id": as_str(contract.get("id")) or "-",
                "title": as_str(contract.get("title")),
                "status": as_str(contract.get("status")),
                "value": value,
                "date_signed": _date(contract.get("dateSigned")),
                "period_start": _date(period.get("startDate")),
                "period_end": _date(period.get("endDate")),
                "amendments": [
                    {
                        "date": _date(a.get("date")),
                        "rationale": as_str(a.get("rationale")) or "-",
                        "description": as_str(a.get("description")),
                    }
                    for a in map(as_dict, as_list(contract.get("amendments")))
                ],
                "payments": payments,
                "paid": Amount(paid, value.currency if value else currency),
                "paid_share": float(paid / value.amount) if value and value.amount else None,
                "milestones": [
                    {
                        "title": as_str(m.get("title")) or "-",
                        "status": as_str(m.get("status")),
                        "due": _date(m.get("dueDate")),
                        "met": _date(m.get("dateMet")),
                    }
                    for m in map(as_dict, as_list(implementation.get("milestones")))
                ],
            }
        )

    tender_period = as_dict(tender.get("tenderPeriod"))
    return {
        "ocid": record.ocid,
        "title": as_str(tender.get("title")) or (process.title if process else record.ocid),
        "description": as_str(tender.get("description")),
        "stage": process.stage.value if process is not None else None,
        "buyer": as_str(as_dict(release.get("buyer")).get("name")) or "-",
        "procuring_entity": as_str(as_dict(tender.get("procuringEntity")).get("name")),
        "planning": {
            "budget": _amount(budget.get("amount")),
            "budget_description": as_str(budget.get("description")),
            "project": as_str(budget.get("project")),
            "rup": as_str(budget.get("id")),
            "rationale": as_str(planning.get("rationale")),
        }
        if planning
        else None,
        "tender": {
            "id": as_str(tender.get("id")),
            "status": as_str(tender.get("status")),
            "method": as_str(tender.get("procurementMethod")),
            "method_details": as_str(tender.get("procurementMethodDetails")),
            "method_rationale": as_str(tender.get("procurementMethodRationale")),
            "category": as_str(tender.get("mainProcurementCategory")),
            "award_criteria": as_str(tender.get("awardCriteria")),
            "value": _amount(tender.get("value")),
            "period_start": _date(tender_period.get("startDate")),
            "period_end": _date(tender_period.get("endDate")),
            "tenderers": tender.get("numberOfTenderers") if not sealed else None,
            "amendments": [
                {"date": _date(a.get("date")), "rationale": as_str(a.get("rationale")) or "-"}
                for a in map(as_dict, as_list(tender.get("amendments")))
            ],
        }
        if tender
        else None,
        "timeline": timeline,
        "parties": [
            {
                "name": as_str(p.get("name")) or "-",
                "identifier": " ".join(
                    str(v)
                    for v in (as_dict(p.get("identifier")).get("scheme"), as_dict(p.get("identifier")).get("id"))
                    if v
                ),
                "roles": [r for r in as_list(p.get("roles")) if isinstance(r, str)],
                "place": as_str(as_dict(p.get("address")).get("region"))
                or as_str(as_dict(p.get("address")).get("locality")),
            }
            for p in map(as_dict, as_list(release.get("parties")))
        ],
        "tender_items": _items(tender.get("items")),
        "bids": {"sealed": sealed, "count": sealed_count, "rows": bids},
        "awards": awards,
        "contracts": contracts,
        "totals": {
            "awarded": _sum((a["value"] for a in awards if a["status"] == "active"), currency),
            "contracted": _sum((c["value"] for c in contracts if c["status"] != "cancelled"), currency),
            "paid": _sum((p["value"] for c in contracts for p in c["payments"]), currency),
            "currency": currency,
        },
        "flags": sorted(flags, key=lambda f: (f.status != "flagged", -f.score, f.code)),
        "record_url": record_url(base_url, record.ocid),
        "last_release_date": record.last_release_date,
        "release_count": record.release_count,
    }


# --------------------------------------------------------------------------------------------------- buyer profile


def buyer_records(session: Session, buyer: Organisation) -> list[Record]:
    return list(
        session.scalars(
            select(Record)
            .where(Record.buyer_identifier == party_id(buyer), Record.source == BOS_SOURCE)
            .order_by(Record.ocid)
        )
    )


def _month(moment: dt.datetime) -> str:
    return f"{moment.year:04d}-{moment.month:02d}"


def last_months(until: dt.datetime, count: int = 12) -> list[str]:
    year, month = until.year, until.month
    months = []
    for _ in range(count):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return months[::-1]


def _flag_summary(flags: Sequence[FlagView], until: dt.datetime) -> dict[str, Any]:
    standing = [f for f in flags if f.standing_at(until)]
    by_month = Counter(_month(f.raised_at) for f in flags if f.raised_at is not None)
    return {
        "standing": sorted(standing, key=lambda f: (-f.score, f.code, f.subject)),
        "by_code": Counter(f.code for f in standing).most_common(),
        "by_month": [(month, by_month.get(month, 0)) for month in last_months(until)],
        "total": len(flags),
    }


def buyer_profile_context(
    buyer: Organisation, records: Sequence[Record], flags: Sequence[FlagView], currency: str, until: dt.datetime
) -> dict[str, Any]:
    """Spending, methods, top suppliers and flags over time of one buyer, from its published records."""
    by_year: dict[int, dict[str, Decimal]] = defaultdict(lambda: {"contracted": Decimal(0), "paid": Decimal(0)})
    methods: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"count": 0, "estimate": Decimal(0), "awarded": Decimal(0)}
    )
    suppliers: dict[str, dict[str, Any]] = defaultdict(lambda: {"name": "", "awards": 0, "value": Decimal(0)})
    statuses: Counter[str] = Counter()
    awarded_total = Decimal(0)
    largest = []
    for record in records:
        release = load_release(record)
        tender = as_dict(release.get("tender"))
        statuses[as_str(tender.get("status")) or ("planning" if release.get("planning") else "-")] += 1
        method = as_str(tender.get("procurementMethodDetails")) or as_str(tender.get("procurementMethod"))
        if tender:
            entry = methods[method or "-"]
            entry["count"] += 1
            estimate = _amount(tender.get("value"))
            entry["estimate"] += _sum([estimate], currency)
        for award in map(as_dict, as_list(release.get("awards"))):
            value = _amount(award.get("value"))
            if award.get("status") != "active" or value is None or value.currency != currency:
                continue
            awarded_total += value.amount
            if tender:
                methods[method or "-"]["awarded"] += value.amount
            winners = [as_dict(s) for s in as_list(award.get("suppliers"))]
            for winner in winners:
                # A consortium's award is split evenly, so that shares add up to the buyer's total.
                row = suppliers[as_str(winner.get("id")) or "-"]
                row["name"] = as_str(winner.get("name")) or "-"
                row["awards"] += 1
                row["value"] += value.amount / len(winners)
        for contract in map(as_dict, as_list(release.get("contracts"))):
            value = _amount(contract.get("value"))
            signed = _date(contract.get("dateSigned"))
            signed_value = signed is not None and value is not None and value.currency == currency
            if signed_value and contract.get("status") != "cancelled":
                by_year[signed.year]["contracted"] += value.amount
                largest.append((value.amount, record.ocid, as_str(tender.get("title")) or record.ocid, signed))
            for payment in map(as_dict, as_list(as_dict(contract.get("implementation")).get("transactions"))):
                paid = _amount(payment.get("value"))
                date = _date(payment.get("date"))
                if paid is not None and date is not None and paid.currency == currency:
                    by_year[date.year]["paid"] += paid.amount

    top_suppliers = sorted(suppliers.values(), key=lambda s: (-s["value"], s["name"]))[:10]
    for row in top_suppliers:
        row["share"] = float(row["value"] / awarded_total) if awarded_total else 0.0
    region = buyer.region
    return {
        "buyer": {
            "id": buyer.id,
            "name": buyer.name,
            "kind": buyer.kind.value,
            "identifier": f"{buyer.identifier_scheme} {buyer.identifier_id}",
            "region": region.name if region is not None else None,
            "address": ", ".join(v for v in (buyer.street_address, buyer.locality) if v),
        },
        "process_count": len(records),
        "statuses": statuses.most_common(),
        "by_year": [(year, by_year[year]["contracted"], by_year[year]["paid"]) for year in sorted(by_year)],
        "contracted_total": sum((v["contracted"] for v in by_year.values()), Decimal(0)),
        "paid_total": sum((v["paid"] for v in by_year.values()), Decimal(0)),
        "awarded_total": awarded_total,
        "methods": sorted(
            ({"method": k, **v} for k, v in methods.items()), key=lambda m: (-m["awarded"], -m["count"], m["method"])
        ),
        "top_suppliers": top_suppliers,
        "supplier_count": len(suppliers),
        "largest": [
            {"value": Amount(v, currency), "ocid": o, "title": t, "signed": s}
            for v, o, t, s in sorted(largest, key=lambda row: (-row[0], row[1]))[:10]
        ],
        "flags": _flag_summary(flags, until),
        "currency": currency,
    }


# --------------------------------------------------------------------------------------------------- watchdog

NEW_FLAG_CARDS = 30  # new flags printed in full (evidence, explanation, responses); the rest are listed per buyer


def _matches(release: Mapping[str, Any], filters: WatchdogFilters) -> bool:
    tender = as_dict(release.get("tender"))
    if filters.category and tender.get("mainProcurementCategory") != filters.category:
        return False
    if filters.min_value is not None:
        value = process_value(release)
        if value is None or value.amount < filters.min_value:
            return False
    if filters.keyword:
        needle = filters.keyword.casefold()
        haystack = " ".join(
            str(text)
            for text in (
                release.get("ocid"),
                tender.get("title"),
                tender.get("description"),
                as_dict(as_dict(release.get("planning")).get("budget")).get("project"),
            )
            if text
        )
        if needle not in haystack.casefold():
            return False
    return True


def _buyer_identifiers(session: Session, filters: WatchdogFilters) -> set[str] | None:
    """OCDS buyer ids the buyer and region filters allow; None when neither is given (every buyer)."""
    if not filters.buyer_ids and not filters.region:
        return None
    stmt = select(Organisation).options(selectinload(Organisation.region))
    if filters.buyer_ids:
        stmt = stmt.where(Organisation.id.in_(filters.buyer_ids))
    if filters.region:
        code = filters.region.strip()
        stmt = stmt.join(Region, Organisation.region_id == Region.id).where(
            (Region.code == code) | Region.code.startswith(code + ".", autoescape=True)
        )
    return {party_id(org) for org in session.scalars(stmt)}


def watchdog_scope(session: Session, filters: WatchdogFilters) -> list[tuple[Record, dict[str, Any]]]:
    """The published records matching ``filters`` (flag codes aside), with their compiled releases."""
    stmt = select(Record).where(Record.source == BOS_SOURCE).order_by(Record.ocid)
    identifiers = _buyer_identifiers(session, filters)
    if identifiers is not None:
        stmt = stmt.where(Record.buyer_identifier.in_(sorted(identifiers)))
    scope = []
    for record in session.scalars(stmt):
        release = load_release(record)
        if _matches(release, filters):
            scope.append((record, release))
    return scope


def watchdog_context(
    session: Session,
    scope: Sequence[tuple[Record, dict[str, Any]]],
    flags: Sequence[FlagView],
    filters: WatchdogFilters,
    period_start: dt.datetime,
    period_end: dt.datetime,
    currency: str,
) -> dict[str, Any]:
    """New and cleared flags of the period, the riskiest processes at its end, and the charts' numbers."""
    releases = {record.ocid: release for record, release in scope}
    buyer_names = {
        as_str(as_dict(r.get("buyer")).get("id")): as_str(as_dict(r.get("buyer")).get("name"))
        for r in releases.values()
    }
    if filters.indicator_codes:
        flags = [f for f in flags if f.code in set(filters.indicator_codes)]

    def buyer_of(flag: FlagView) -> str | None:
        if flag.ocid is not None and flag.ocid in releases:
            return as_str(as_dict(releases[flag.ocid].get("buyer")).get("id"))
        return flag.buyer_id or flag.subject

    def in_period(moment: dt.datetime | None) -> bool:
        return moment is not None and period_start <= moment < period_end

    new = [f for f in flags if in_period(f.raised_at)]
    cleared = [f for f in flags if in_period(f.cleared_at)]
    standing = [f for f in flags if f.standing_at(period_end)]

    risk: dict[str, dict[str, Any]] = {}
    for flag in standing:
        if flag.ocid is None or flag.ocid not in releases:
            continue
        release = releases[flag.ocid]
        row = risk.setdefault(
            flag.ocid,
            {
                "ocid": flag.ocid,
                "title": as_str(as_dict(release.get("tender")).get("title")) or flag.ocid,
                "buyer": as_str(as_dict(release.get("buyer")).get("name")) or "-",
                "value": process_value(release),
                "score": 0.0,
                "codes": [],
            },
        )
        row["score"] += flag.score
        row["codes"].append(flag.code)
    riskiest = sorted(
        risk.values(),
        key=lambda r: (-r["score"], -len(r["codes"]), -(r["value"].amount if r["value"] else 0), r["ocid"]),
    )[:15]
    for row in riskiest:
        row["codes"] = sorted(set(row["codes"]))

    by_buyer = Counter(buyer_names.get(buyer_of(f)) or buyer_of(f) or "-" for f in standing)
    by_code = Counter(f.code for f in standing)

    active = [
        (record, release)
        for record, release in scope
        if any(in_period(moment) for moment in (record.last_release_date,))
        or any(in_period(_date(as_dict(a).get("date"))) for a in as_list(release.get("awards")))
    ]
    by_method: dict[str, Decimal] = defaultdict(Decimal)
    for _record, release in active:
        tender = as_dict(release.get("tender"))
        value = process_value(release)
        if tender and value is not None and value.currency == currency:
            method = as_str(tender.get("procurementMethodDetails")) or as_str(tender.get("procurementMethod")) or "-"
            by_method[method] += value.amount

    def describe(flag: FlagView) -> dict[str, Any]:
        release = releases.get(flag.ocid or "")
        return {
            "flag": flag,
            "title": as_str(as_dict(as_dict(release).get("tender")).get("title")) if release else None,
            "buyer": buyer_names.get(buyer_of(flag)) or buyer_of(flag) or "-",
        }

    new_rows = [describe(f) for f in sorted(new, key=lambda f: (-f.score, f.code, f.subject))]
    # Past the first cards, new flags are grouped per buyer and process in running text: a first run or a busy
    # week raises a thousand flags, and a thousand-row table is dozens of pages that take WeasyPrint a minute.
    grouped: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for row in new_rows[NEW_FLAG_CARDS:]:
        grouped[row["buyer"]][row["flag"].ocid or row["flag"].subject].append(row["flag"].code)
    return {
        "filters": filters,
        "buyer_filter": sorted(
            name for name in session.scalars(select(Organisation.name).where(Organisation.id.in_(filters.buyer_ids)))
        )
        if filters.buyer_ids
        else [],
        "period_start": period_start,
        "period_end": period_end,
        "process_count": len(scope),
        "active_count": len(active),
        "new": new_rows,
        "new_cards": NEW_FLAG_CARDS,
        "new_by_buyer": [
            (buyer, sorted((subject, sorted(set(codes))) for subject, codes in subjects.items()))
            for buyer, subjects in sorted(grouped.items())
        ],
        "cleared": [describe(f) for f in sorted(cleared, key=lambda f: (f.code, f.subject))],
        "standing_count": len(standing),
        "riskiest": riskiest,
        "by_buyer": by_buyer.most_common(12),
        "by_code": by_code.most_common(),
        "by_method": sorted(by_method.items(), key=lambda item: (-item[1], item[0])),
        "currency": currency,
    }
