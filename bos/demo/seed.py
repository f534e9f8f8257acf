"""Deterministic demo data for a kabupaten: buyers, suppliers and contracting processes in every stage.

Same seed and same reference day give the same rows. It writes with bulk Core inserts in chunks (explicit ids, no
ORM unit of work), because benchmarks seed 100,000 processes. A realistic minority of processes carries risky
patterns (single bidders, inflated unit prices, value-raising amendments, split purchases, repeat winners, bids
close to the estimate) so that the red-flag engine has something true to find.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import random
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import click
from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.orm import Session

from bos.contracts.models import Contract, ContractAmendment, Milestone, Transaction
from bos.demo import catalogue as cat
from bos.enums import (
    AwardStatus,
    BidStatus,
    BudgetSource,
    ContractStatus,
    MilestoneStatus,
    OrganisationKind,
    ProcessStage,
    ProcurementCategory,
    ProcurementMethod,
    RegionLevel,
    TenderStatus,
)
from bos.ocds.publish import (
    HistoryRows,
    build_history_rows_in_worker,
    insert_history_rows,
    publish_history,
)
from bos.parties.models import Organisation, Region
from bos.tenders.models import Award, Bid, Item, Planning, Process, Tender, award_suppliers

AWARDED_STAGES = frozenset(
    {ProcessStage.AWARDED, ProcessStage.CONTRACTED, ProcessStage.IMPLEMENTATION, ProcessStage.COMPLETED}
)
CHUNK = 2000  # processes per bulk insert round: large enough to amortise, small enough to keep memory flat
ANALYZE_AFTER = 1000  # processes: a seed this large refreshes PostgreSQL's planner statistics

STAGE_WEIGHTS: dict[ProcessStage, int] = {
    ProcessStage.PLANNED: 8,
    ProcessStage.OPEN: 7,
    ProcessStage.CLOSED: 5,
    ProcessStage.AWARDED: 7,
    ProcessStage.CONTRACTED: 9,
    ProcessStage.IMPLEMENTATION: 20,
    ProcessStage.COMPLETED: 37,
    ProcessStage.CANCELLED: 7,
}

# Pengadaan Langsung ceilings (Perpres 16/2018 Pasal 38 and 41, RED_FLAGS.md section 3).
PL_CEILING = {ProcurementCategory.GOODS: 200_000_000, ProcurementCategory.WORKS: 200_000_000}
PL_CEILING_CONSULTANCY = 100_000_000
SUPPLIER_COUNT = 300


@dataclass
class Parties:
    buyers: list[tuple[int, cat.BuyerSpec]]
    suppliers: list[int]
    procuring_entity: int  # the kabupaten's procurement service unit (UKPBJ) runs tenders for the dinas
    favourites: dict[int, list[int]]  # buyer id → suppliers it (suspiciously) favours


@dataclass
class Rows:
    """Rows of one chunk, per table, ready for executemany."""

    by_table: dict[Table, list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, table: Table, row: dict[str, Any]) -> None:
        self.by_table.setdefault(table, []).append(row)


class Ids:
    """Next free primary key per table, so bulk rows can reference each other without RETURNING."""

    def __init__(self, session: Session, tables: list[Table]) -> None:
        self.next: dict[str, int] = {}
        for table in tables:
            if "id" in table.c:
                self.next[table.name] = (session.scalar(select(func.max(table.c.id))) or 0) + 1

    def take(self, table: Table) -> int:
        value = self.next[table.name]
        self.next[table.name] = value + 1
        return value


def money(value: float, step: int = 1000) -> Decimal:
    """IDR amounts are quoted in whole rupiah; round to ``step`` as Indonesian price lists do."""
    return Decimal(max(round(value / step) * step, 0))


def npwp(rng: random.Random) -> str:
    digits = "".join(str(rng.randint(0, 9)) for _ in range(9))
    return f"{digits[:2]}.{digits[2:5]}.{digits[5:8]}.{digits[8]}-{rng.choice(('601', '606', '612'))}.000"


def ensure_parties(session: Session, rng: random.Random) -> Parties:
    """Create the kabupaten's regions, buyers and suppliers once; later seeds reuse them."""
    existing = session.scalars(
        select(Organisation).where(
            Organisation.identifier_scheme == "ID-KEMENDAGRI", Organisation.identifier_id == "35.22"
        )
    ).one_or_none()
    if existing is None:
        _create_parties(session, rng)
    specs = {spec.code: spec for spec in cat.BUYERS}
    buyers = [
        (org.id, specs[org.identifier_id])
        for org in session.scalars(
            select(Organisation).where(Organisation.identifier_id.in_(specs)).order_by(Organisation.id)
        )
    ]
    suppliers = list(
        session.scalars(
            select(Organisation.id).where(Organisation.kind == OrganisationKind.SUPPLIER).order_by(Organisation.id)
        )
    )
    entity = session.scalar(select(Organisation.id).where(Organisation.identifier_id == "35.22"))
    assert entity is not None  # noqa: S101 - created just above
    favourites = {buyer_id: rng.sample(suppliers, 2) for buyer_id, _ in buyers}
    return Parties(buyers, suppliers, entity, favourites)


def _create_parties(session: Session, rng: random.Random) -> None:
    province = Region(code=cat.PROVINCE[0], name=cat.PROVINCE[1], level=RegionLevel.PROVINCE)
    kabupaten = Region(code=cat.KABUPATEN[0], name=cat.KABUPATEN[1], level=RegionLevel.KABUPATEN, parent=province)
    session.add_all([province, kabupaten])
    kecamatan = []
    desas = []
    for number, name in enumerate(cat.KECAMATAN, start=1):
        region = Region(
            code=f"35.22.{number:02d}", name=f"Kecamatan {name}", level=RegionLevel.KECAMATAN, parent=kabupaten
        )
        kecamatan.append(region)
        for desa_number, desa in enumerate(rng.sample(cat.DESA_NAMES, 3), start=1):
            desas.append(
                Region(
                    code=f"35.22.{number:02d}.{2000 + desa_number}",
                    name=f"Desa {desa}",
                    level=RegionLevel.DESA,
                    parent=region,
                )
            )
    session.add_all(kecamatan + desas)
    session.flush()
    session.add(
        Organisation(
            kind=OrganisationKind.KABUPATEN,
            name="UKPBJ Kabupaten Bojonegoro",
            legal_name="Pemerintah Kabupaten Bojonegoro",
            identifier_scheme="ID-KEMENDAGRI",
            identifier_id="35.22",
            street_address="Jl. Mas Tumapel No. 1",
            locality="Bojonegoro",
            postal_code="62111",
            region_id=kabupaten.id,
            contact_name="Bagian Pengadaan Barang/Jasa",
            contact_email="ukpbj@bojonegorokab.go.id",
        )
    )
    for spec in cat.BUYERS:
        session.add(
            Organisation(
                kind=spec.kind,
                name=spec.name,
                identifier_scheme="ID-KEMENDAGRI" if spec.kind is not OrganisationKind.SCHOOL else "ID-NPSN",
                identifier_id=spec.code,
                locality="Bojonegoro",
                region_id=rng.choice(kecamatan).id,
                contact_name="Pejabat Pembuat Komitmen",
            )
        )
    seen: set[str] = set()
    while len(seen) < SUPPLIER_COUNT:
        name = f"{rng.choice(cat.COMPANY_FORMS)} {rng.choice(cat.COMPANY_WORDS_A)} {rng.choice(cat.COMPANY_WORDS_B)}"
        if name in seen:
            name = f"{name} {rng.choice(cat.KECAMATAN)}"
        if name in seen:
            continue
        seen.add(name)
        region = rng.choice(kecamatan + desas)
        session.add(
            Organisation(
                kind=OrganisationKind.SUPPLIER,
                name=name,
                legal_name=name,
                identifier_scheme="ID-NPWP",
                identifier_id=npwp(rng),
                street_address=f"Jl. {rng.choice(cat.DESA_NAMES)} No. {rng.randint(1, 200)}",
                locality=region.name.removeprefix("Desa ").removeprefix("Kecamatan "),
                region_id=region.id,
                contact_name=f"Direktur {name.split(' ', 1)[1]}",
                contact_telephone=f"+62 353 {rng.randint(100000, 999999)}",
            )
        )
    session.flush()


@dataclass
class Generator:
    rng: random.Random
    parties: Parties
    ids: Ids
    today: dt.datetime
    ocid_prefix: str
    currency: str = "IDR"
    stage_counts: dict[ProcessStage, int] = field(default_factory=dict)

    def process(self, rows: Rows, stage: ProcessStage, remaining: int) -> None:
        """Add one process, or a small cluster of split purchases (never more than ``remaining``)."""
        rng = self.rng
        buyer_id, spec = rng.choices(self.parties.buyers, weights=[s.weight for _, s in self.parties.buyers])[0]
        category = rng.choice(spec.categories)
        items = [c for c in cat.CATALOGUE if c.category is category]
        chosen = rng.sample(items, k=min(len(items), rng.choice((1, 1, 1, 2, 3))))
        lines = [(item, rng.randint(*item.quantity)) for item in chosen]
        inflate = rng.random() < 0.03  # risky: an inflated unit price
        priced = []
        for item, quantity in lines:
            price = item.unit_price * rng.lognormvariate(0, 0.12)
            if inflate and not priced:
                price *= rng.uniform(2.5, 4.0)
            priced.append((item, quantity, money(price, 100)))
        estimate = sum((price * quantity for _, quantity, price in priced), Decimal(0))
        split = rng.random() < 0.02 and category is not ProcurementCategory.SERVICES and remaining >= 3
        if split:
            # Risky: a purchase split into several Pengadaan Langsung packages just under the ceiling.
            self._split_cluster(rows, buyer_id, category, priced[0][0])
            return
        self._one_process(rows, stage, buyer_id, category, priced, estimate)

    def _split_cluster(
        self, rows: Rows, buyer_id: int, category: ProcurementCategory, item: cat.CatalogueItem
    ) -> None:
        supplier = self.rng.choice(self.parties.suppliers)
        ceiling = PL_CEILING[category]
        start = self.today - dt.timedelta(days=self.rng.randint(60, 500))
        for part in range(3):
            value = ceiling * self.rng.uniform(0.90, 0.99)
            unit = money(item.unit_price * self.rng.uniform(0.95, 1.05), 100)
            quantity = max(1, int(value / float(unit)))
            priced = [(item, quantity, unit)]
            estimate = unit * quantity
            self._one_process(
                rows,
                ProcessStage.COMPLETED,
                buyer_id,
                category,
                priced,
                estimate,
                forced_method=ProcurementMethod.LIMITED,
                forced_supplier=supplier,
                forced_start=start + dt.timedelta(days=part * self.rng.randint(5, 20)),
            )

    def _one_process(
        self,
        rows: Rows,
        stage: ProcessStage,
        buyer_id: int,
        category: ProcurementCategory,
        priced: list[tuple[cat.CatalogueItem, int, Decimal]],
        estimate: Decimal,
        forced_method: ProcurementMethod | None = None,
        forced_supplier: int | None = None,
        forced_start: dt.datetime | None = None,
    ) -> None:
        rng = self.rng
        self.stage_counts[stage] = self.stage_counts.get(stage, 0) + 1
        consultancy = category is ProcurementCategory.SERVICES and priced[0][0].code.startswith(("8110", "8010"))
        method, details, rationale = (
            forced_method,
            "Pengadaan Langsung",
            "Nilai paket di bawah batas Pengadaan Langsung",
        )
        if method is None:
            method, details, rationale = self._choose_method(category, estimate, consultancy)
        process_id = self.ids.take(Process.__table__)
        first_item = priced[0][0]
        title = f"{first_item.description} - {rng.choice(cat.KECAMATAN)}"
        timeline = self._timeline(stage, method, forced_start)
        plan_date = timeline["plan"]
        rows.add(
            Process.__table__,
            {
                "id": process_id,
                "ocid": f"{self.ocid_prefix}-{process_id:07d}",
                "title": title,
                "buyer_id": buyer_id,
                "stage": stage.value,
                "needs_evaluation": True,
                "created_at": plan_date,
                "updated_at": timeline["last"],
                "cancelled_at": timeline.get("cancelled"),
                "cancellation_rationale": rng.choice(cat.CANCELLATION_RATIONALES) if "cancelled" in timeline else None,
                "version_id": 1,
            },
        )
        budget = money(float(estimate) * rng.uniform(1.0, 1.15), 1_000_000) or Decimal(1_000_000)
        rows.add(
            Planning.__table__,
            {
                "id": self.ids.take(Planning.__table__),
                "process_id": process_id,
                "rup_code": str(30_000_000 + process_id),
                "project": f"Program {first_item.description} Tahun {plan_date.year}",
                "budget_description": f"Belanja {category.value} {plan_date.year}",
                "budget_amount": budget,
                "budget_currency": self.currency,
                "budget_source": self._budget_source(buyer_id).value,
                "fiscal_year": plan_date.year,
                "rationale": "Kebutuhan sesuai Rencana Kerja Perangkat Daerah",
                "date_published": plan_date,
            },
        )
        if stage is ProcessStage.PLANNED:
            return
        tender_id = self.ids.take(Tender.__table__)
        cancelled = stage is ProcessStage.CANCELLED
        rows.add(
            Tender.__table__,
            {
                "id": tender_id,
                "process_id": process_id,
                "local_id": f"SPSE-{process_id:08d}",
                "title": title,
                "description": f"Pengadaan {', '.join(i.description for i, _, _ in priced)}",
                "status": self._tender_status(stage).value,
                "procurement_method": method.value,
                "procurement_method_details": details,
                "procurement_method_rationale": rationale,
                "main_procurement_category": category.value,
                "award_criteria": "priceOnly",
                "value_amount": estimate,
                "value_currency": self.currency,
                "procuring_entity_id": self.parties.procuring_entity
                if method in (ProcurementMethod.OPEN, ProcurementMethod.SELECTIVE)
                else buyer_id,
                "tender_period_start": timeline["tender_start"],
                "tender_period_end": timeline["tender_end"],
                "enquiry_period_start": timeline["tender_start"],
                "enquiry_period_end": timeline["tender_start"]
                + (timeline["tender_end"] - timeline["tender_start"]) / 2,
                "award_period_start": timeline.get("opened"),
                "award_period_end": timeline["award"] if stage in AWARDED_STAGES else None,
                "date_published": timeline["tender_start"],
                "bids_opened_at": timeline.get("opened"),
                "version_id": 1,
            },
        )
        for number, (item, quantity, price) in enumerate(priced, start=1):
            self._item(rows, {"tender_id": tender_id}, number, item, quantity, price)
        if stage is ProcessStage.OPEN or (cancelled and timeline.get("opened") is None):
            # Sealed bids of an open tender: present in the database, unreadable until opening.
            for number, supplier in enumerate(rng.sample(self.parties.suppliers, rng.randint(0, 4)), start=1):
                self._bid(rows, tender_id, number, supplier, estimate * Decimal(str(rng.uniform(0.8, 0.99))),
                          BidStatus.PENDING, timeline["tender_start"])  # fmt: skip
            return
        winner, winning_bid_id, award_value = self._bids(
            rows, tender_id, buyer_id, method, estimate, timeline, forced_supplier
        )
        if stage in (ProcessStage.CLOSED, ProcessStage.CANCELLED) or winner is None:
            return
        award_id = self.ids.take(Award.__table__)
        rows.add(
            Award.__table__,
            {
                "id": award_id,
                "process_id": process_id,
                "local_id": "1",
                "bid_id": winning_bid_id,
                "title": title,
                "status": AwardStatus.ACTIVE.value,
                "date": timeline["award"],
                "value_amount": award_value,
                "value_currency": self.currency,
                "rationale": "Penawaran terendah yang memenuhi persyaratan administrasi, teknis dan harga"
                if method in (ProcurementMethod.OPEN, ProcurementMethod.SELECTIVE)
                else "Penyedia memenuhi kualifikasi dan harga wajar hasil negosiasi",
                "contract_period_start": timeline["contract_start"],
                "contract_period_end": timeline["contract_end"],
            },
        )
        rows.add(award_suppliers, {"award_id": award_id, "organisation_id": winner})
        ratio = award_value / estimate if estimate else Decimal(1)
        for number, (item, quantity, price) in enumerate(priced, start=1):
            self._item(rows, {"award_id": award_id}, number, item, quantity, money(float(price * ratio), 100))
        if stage is ProcessStage.AWARDED:
            return
        self._contract(rows, process_id, award_id, title, stage, award_value, timeline, buyer_id, winner)

    def _choose_method(
        self, category: ProcurementCategory, estimate: Decimal, consultancy: bool
    ) -> tuple[ProcurementMethod, str, str | None]:
        rng = self.rng
        ceiling = PL_CEILING_CONSULTANCY if consultancy else PL_CEILING.get(category, 200_000_000)
        roll = rng.random()
        if estimate <= ceiling:
            if roll < 0.12 and category is ProcurementCategory.GOODS:
                return ProcurementMethod.DIRECT, "E-purchasing", "Barang tersedia dalam katalog elektronik"
            return ProcurementMethod.LIMITED, "Pengadaan Langsung", "Nilai paket di bawah batas Pengadaan Langsung"
        if roll < 0.04:
            # Risky minority: a large contract by direct appointment.
            return (
                ProcurementMethod.DIRECT,
                "Penunjukan Langsung",
                rng.choice(("Keadaan darurat bencana banjir", "Pekerjaan lanjutan yang tidak dapat dipisahkan")),
            )
        if roll < 0.06:
            # Risky: Pengadaan Langsung above its ceiling, on a thin reason (the workflow requires one).
            return ProcurementMethod.LIMITED, "Pengadaan Langsung", "Kebutuhan mendesak untuk pelayanan masyarakat"
        if consultancy:
            return ProcurementMethod.SELECTIVE, "Seleksi", None
        return ProcurementMethod.OPEN, "Tender", None

    def _budget_source(self, buyer_id: int) -> BudgetSource:
        spec = dict(self.parties.buyers)[buyer_id]
        if spec.kind is OrganisationKind.VILLAGE:
            return BudgetSource.DANA_DESA
        if spec.kind is OrganisationKind.PUSKESMAS:
            return self.rng.choice((BudgetSource.BLUD, BudgetSource.APBD))
        return self.rng.choices((BudgetSource.APBD, BudgetSource.DAK, BudgetSource.APBN), weights=(80, 15, 5))[0]

    @staticmethod
    def _tender_status(stage: ProcessStage) -> TenderStatus:
        if stage is ProcessStage.CANCELLED:
            return TenderStatus.CANCELLED
        if stage is ProcessStage.COMPLETED:
            return TenderStatus.COMPLETE
        return TenderStatus.ACTIVE

    def _timeline(
        self, stage: ProcessStage, method: ProcurementMethod | None, forced_start: dt.datetime | None
    ) -> dict[str, dt.datetime]:
        """Dates consistent with the stage relative to ``today``: open tenders close in the future, and so on."""
        rng, today = self.rng, self.today
        day = dt.timedelta(days=1)
        competitive = method in (ProcurementMethod.OPEN, ProcurementMethod.SELECTIVE)
        short = rng.random() < 0.06  # risky: a short submission period
        period = rng.randint(3, 9) if short else rng.randint(15, 30)
        if not competitive:
            period = rng.randint(1, 4)
        age = {
            ProcessStage.PLANNED: rng.randint(0, 60),
            ProcessStage.OPEN: rng.randint(1, period - 1) if period > 1 else 0,
            ProcessStage.CLOSED: period + rng.randint(1, 20),
            ProcessStage.AWARDED: period + rng.randint(25, 80),
            ProcessStage.CONTRACTED: period + rng.randint(40, 100),
            ProcessStage.IMPLEMENTATION: period + rng.randint(70, 300),
            ProcessStage.COMPLETED: period + rng.randint(200, 900),
            ProcessStage.CANCELLED: rng.randint(5, 600),
        }[stage]
        start = forced_start or (today - age * day).replace(hour=1, minute=0, second=0, microsecond=0)
        timeline = {"plan": start - rng.randint(20, 90) * day, "tender_start": start}
        timeline["tender_end"] = start + period * day + dt.timedelta(hours=7)
        if stage is ProcessStage.OPEN and timeline["tender_end"] <= today:
            timeline["tender_end"] = today + rng.randint(1, 10) * day
        timeline["last"] = timeline["tender_start"] if stage is not ProcessStage.PLANNED else timeline["plan"]
        if stage in (ProcessStage.PLANNED, ProcessStage.OPEN):
            return timeline
        if stage is ProcessStage.CANCELLED and rng.random() < 0.5:
            # Cancelled before the bids were opened: they stay sealed.
            halfway = timeline["tender_start"] + (timeline["tender_end"] - timeline["tender_start"]) / 2
            timeline["cancelled"] = max(min(halfway, today - dt.timedelta(hours=1)), start + dt.timedelta(minutes=5))
            timeline["last"] = timeline["cancelled"]
            return timeline
        timeline["opened"] = timeline["tender_end"] + dt.timedelta(hours=1)
        decision = rng.randint(1, 4) if rng.random() < 0.03 else rng.randint(7, 35)  # risky: a rushed decision
        if rng.random() < 0.03:
            decision = rng.randint(90, 160)  # risky: a decision left hanging for months
        timeline["award"] = min(timeline["opened"] + decision * day, today - dt.timedelta(hours=2))
        timeline["award"] = max(timeline["award"], timeline["opened"] + dt.timedelta(hours=1))
        # The evaluation report is published between the opening and the award.
        halfway = timeline["opened"] + (timeline["award"] - timeline["opened"]) / 2
        timeline["evaluated"] = max(
            min(halfway, today - dt.timedelta(hours=1)), timeline["opened"] + dt.timedelta(minutes=1)
        )
        if stage is ProcessStage.CANCELLED:
            cancelled = timeline["evaluated"] + rng.randint(1, 10) * day
            timeline["cancelled"] = max(
                min(cancelled, today - dt.timedelta(minutes=30)), timeline["evaluated"] + day / 24
            )
        signing = timeline["award"] + rng.randint(3, 14) * day
        timeline["signed"] = min(signing, today - dt.timedelta(hours=1))
        timeline["contract_start"] = timeline["signed"]
        timeline["contract_end"] = timeline["signed"] + rng.randint(30, 240) * day
        timeline["last"] = timeline.get("cancelled", timeline["opened"])
        return timeline

    def _bid(self, rows: Rows, tender_id: int, number: int, supplier: int, value: Decimal, status: BidStatus,
             date: dt.datetime, reason: str | None = None, evaluated: dt.datetime | None = None) -> int:  # fmt: skip
        bid_id = self.ids.take(Bid.__table__)
        rows.add(
            Bid.__table__,
            {
                "id": bid_id,
                "tender_id": tender_id,
                "supplier_id": supplier,
                "local_id": f"BID-{number}",  # numbered per tender in submission order, as the service does
                "date": date,
                "status": status.value,
                "value_amount": money(float(value)),
                "value_currency": self.currency,
                "disqualification_reason": reason,
                "received_offline": False,
                "evaluated_at": evaluated,
            },
        )
        return bid_id

    def _bids(
        self,
        rows: Rows,
        tender_id: int,
        buyer_id: int,
        method: ProcurementMethod,
        estimate: Decimal,
        timeline: dict[str, dt.datetime],
        forced_supplier: int | None,
    ) -> tuple[int | None, int | None, Decimal]:
        """Write the opened bids; return the winner, its bid and the award value."""
        rng = self.rng
        parties = self.parties
        submitted = timeline["tender_start"] + (timeline["tender_end"] - timeline["tender_start"]) * rng.uniform(
            0.3, 0.99
        )
        favourites = parties.favourites[buyer_id]
        if method not in (ProcurementMethod.OPEN, ProcurementMethod.SELECTIVE):
            supplier = forced_supplier or (
                rng.choice(favourites) if rng.random() < 0.15 else rng.choice(parties.suppliers)
            )
            value = money(float(estimate) * rng.uniform(0.93, 0.995))
            bid_id = self._bid(
                rows, tender_id, 1, supplier, value, BidStatus.VALID, submitted, None, timeline["evaluated"]
            )
            return supplier, bid_id, value
        count = 1 if rng.random() < 0.08 else rng.randint(2, 7)  # risky minority: a single bidder
        bidders = rng.sample(parties.suppliers, count)
        favoured = rng.random() < 0.12  # risky: the buyer's repeat winner turns up and wins
        if favoured:
            favourite = rng.choice(favourites)
            bidders = [favourite, *[b for b in bidders if b != favourite][: count - 1]]
        collusive = rng.random() < 0.05  # risky: bids bunched just under the estimate
        values = [
            money(float(estimate) * (rng.uniform(0.975, 0.999) if collusive else rng.uniform(0.78, 0.97)))
            for _ in bidders
        ]
        if count >= 3 and rng.random() < 0.01:
            values[1] = values[0]  # risky: identical bid prices from different bidders
        if favoured:
            values[0] = min(values) - 1000 if count > 1 else values[0]
        order = sorted(range(count), key=lambda i: values[i])
        statuses = [BidStatus.VALID] * count
        reasons: list[str | None] = [None] * count
        lowest_disqualified = count >= 2 and rng.random() < 0.05  # risky: the lowest bid thrown out
        for rank, index in enumerate(order):
            if favoured and index == 0:
                continue
            if (rank == 0 and lowest_disqualified) or (rank > 0 and rng.random() < 0.12):
                statuses[index] = BidStatus.DISQUALIFIED
                reasons[index] = rng.choice(cat.DISQUALIFICATION_REASONS)
        valid = [i for i in order if statuses[i] is BidStatus.VALID]
        if not valid:
            statuses[order[-1]], reasons[order[-1]] = BidStatus.VALID, None
            valid = [order[-1]]
        winner_index = valid[0]
        bid_ids = [
            self._bid(rows, tender_id, i + 1, bidders[i], Decimal(values[i]), statuses[i], submitted, reasons[i],
                      timeline["evaluated"])
            for i in range(count)
        ]  # fmt: skip
        return bidders[winner_index], bid_ids[winner_index], values[winner_index]

    def _item(self, rows: Rows, owner: dict[str, int], number: int, item: cat.CatalogueItem, quantity: int,
              price: Decimal) -> None:  # fmt: skip
        rows.add(
            Item.__table__,
            {
                "id": self.ids.take(Item.__table__),
                "tender_id": owner.get("tender_id"),
                "award_id": owner.get("award_id"),
                "contract_id": owner.get("contract_id"),
                "local_id": str(number),
                "description": item.description,
                "classification_scheme": item.scheme,
                "classification_id": item.code,
                "classification_description": item.description,
                "quantity": Decimal(quantity),
                "unit_name": item.unit,
                "unit_value_amount": price,
                "unit_value_currency": self.currency,
            },
        )

    def _contract(self, rows: Rows, process_id: int, award_id: int, title: str, stage: ProcessStage, value: Decimal,
                  timeline: dict[str, dt.datetime], buyer_id: int, supplier: int) -> None:  # fmt: skip
        rng = self.rng
        contract_id = self.ids.take(Contract.__table__)
        final_value = value
        amendments: list[dict[str, Any]] = []
        signed = timeline["signed"]
        last = [signed]

        def after(candidate: dt.datetime) -> dt.datetime:
            """``candidate`` kept before today and strictly after the previous step: one release per instant, as
            the services write them (signing is at least an hour before today; at most six steps follow)."""
            moment = max(min(candidate, self.today - dt.timedelta(minutes=10)), last[0] + dt.timedelta(minutes=1))
            last[0] = moment
            return moment

        if stage in (ProcessStage.IMPLEMENTATION, ProcessStage.COMPLETED) and rng.random() < 0.12:
            raise_share = rng.uniform(0.15, 0.35) if rng.random() < 0.4 else rng.uniform(0.02, 0.09)
            new_value = money(float(value) * (1 + raise_share))
            amendments.append(
                {
                    "id": self.ids.take(ContractAmendment.__table__),
                    "contract_id": contract_id,
                    "local_id": "1",
                    # Before the first payment (10+ days after signing): payments never exceed the value in force.
                    "date": after(signed + rng.randint(3, 9) * dt.timedelta(days=1)),
                    "rationale": rng.choice(cat.AMENDMENT_RATIONALES),
                    "description": "Addendum kontrak",
                    "old_value_amount": value,
                    "new_value_amount": new_value,
                    "old_period_end": timeline["contract_end"],
                    "new_period_end": timeline["contract_end"] + rng.randint(0, 45) * dt.timedelta(days=1),
                }
            )
            final_value = new_value
        contract = {
            "id": contract_id,
            "process_id": process_id,
            "award_id": award_id,
            "local_id": f"SPK-{process_id:07d}",
            "title": title,
            "description": None,
            "status": (ContractStatus.TERMINATED if stage is ProcessStage.COMPLETED else ContractStatus.ACTIVE).value,
            "value_amount": final_value,
            "value_currency": self.currency,
            "period_start": timeline["contract_start"],
            "period_end": amendments[-1]["new_period_end"] if amendments else timeline["contract_end"],
            "date_signed": signed,
            "closed_at": None,
            "version_id": 1,
        }
        rows.add(Contract.__table__, contract)
        for amendment in amendments:
            rows.add(ContractAmendment.__table__, amendment)
        if stage is ProcessStage.CONTRACTED:
            return
        terms = rng.choice((1, 2, 3, 4))
        paid_terms = terms if stage is ProcessStage.COMPLETED else rng.randint(1, terms)
        # No overpayment: the workflow refuses a payment above the contract value in force, and the seed writes
        # only what the services could have written (the red flag for it is tested on imported data).
        paid_on = signed
        paid = Decimal(0)
        met_on: list[dt.datetime] = []
        for term in range(paid_terms):
            paid_on = after(paid_on + rng.randint(10, 40) * dt.timedelta(days=1))
            # Each termin pays a share; the last pays what remains, so the total is the contract value exactly.
            share = final_value - paid if term == terms - 1 else money(float(final_value / terms))
            paid += share
            met_on.append(paid_on)  # the termin is paid on its milestone, in the same release
            rows.add(
                Transaction.__table__,
                {
                    "id": self.ids.take(Transaction.__table__),
                    "contract_id": contract_id,
                    "local_id": str(term + 1),
                    "date": paid_on,
                    "value_amount": share,
                    "value_currency": self.currency,
                    "payer_id": buyer_id,
                    "payee_id": supplier,
                    "source": "APBD Kabupaten Bojonegoro",
                },
            )
        if stage is ProcessStage.COMPLETED:
            contract["closed_at"] = after(paid_on + rng.randint(1, 14) * dt.timedelta(days=1))
        for term in range(terms):
            met = term < paid_terms
            rows.add(
                Milestone.__table__,
                {
                    "id": self.ids.take(Milestone.__table__),
                    "contract_id": contract_id,
                    "local_id": str(term + 1),
                    "title": f"Termin {term + 1}",
                    "type": "delivery",
                    "status": (MilestoneStatus.MET if met else MilestoneStatus.SCHEDULED).value,
                    "due_date": signed + (term + 1) * dt.timedelta(days=30),
                    "date_met": met_on[term] if met else None,
                    "description": None,
                    "added_at": None,  # written into the contract when it was signed
                },
            )


BULK_TABLES: list[Table] = [
    Process.__table__,  # type: ignore[list-item]
    Planning.__table__,  # type: ignore[list-item]
    Tender.__table__,  # type: ignore[list-item]
    Bid.__table__,  # type: ignore[list-item]
    Award.__table__,  # type: ignore[list-item]
    award_suppliers,
    Contract.__table__,  # type: ignore[list-item]
    Item.__table__,  # type: ignore[list-item]
    ContractAmendment.__table__,  # type: ignore[list-item]
    Transaction.__table__,  # type: ignore[list-item]
    Milestone.__table__,  # type: ignore[list-item]
]


@contextmanager
def _progress(enabled: bool, length: int) -> Iterator[Callable[[int], None]]:
    if not enabled:
        yield lambda _n: None
        return
    with click.progressbar(length=length, label="seeding processes", file=click.get_text_stream("stderr")) as bar:
        yield bar.update


def seed_database(
    session: Session,
    processes: int,
    seed: int = 1,
    today: dt.date | None = None,
    ocid_prefix: str | None = None,
    progress: bool = False,
    publish: bool = True,
    on_chunk: Callable[[], None] | None = None,
    workers: int = 0,
) -> dict[str, int]:
    """Add ``processes`` demo processes (and the parties, once). Deterministic for (seed, today).

    Does not commit; ``on_chunk`` is called after each chunk (the CLI commits there, so a 100,000-process seed
    never holds one giant transaction). With ``workers`` (and an ``on_chunk`` that commits), release histories are
    built by that many worker processes from committed rows while the next chunk is generated; the rows written
    are the same as without workers.
    """
    from flask import current_app, has_app_context  # noqa: PLC0415

    if ocid_prefix is None:
        ocid_prefix = current_app.config["OCID_PREFIX"] if has_app_context() else "ocds-demo00"
    day = today or dt.datetime.now(dt.UTC).date()
    rng = random.Random(seed)
    parties = ensure_parties(session, rng)
    if workers and on_chunk is None:
        raise ValueError("workers read committed rows: pass an on_chunk that commits")
    pool = _history_pool(workers) if publish and workers else None
    pending: deque[Future[HistoryRows]] = deque()
    url = session.get_bind().engine.url.render_as_string(hide_password=False)
    ids = Ids(session, BULK_TABLES)
    generator = Generator(
        rng=rng,
        parties=parties,
        ids=ids,
        today=dt.datetime.combine(day, dt.time(12, 0), tzinfo=dt.UTC),
        ocid_prefix=ocid_prefix,
    )
    stages = list(STAGE_WEIGHTS)
    weights = list(STAGE_WEIGHTS.values())
    done = 0
    with _progress(progress, processes) as advance:
        while done < processes:
            rows = Rows()
            target = min(CHUNK, processes - done)
            made = 0
            while made < target:
                before = sum(generator.stage_counts.values())
                stage = stages[done % len(stages)] if done < len(stages) else rng.choices(stages, weights)[0]
                generator.process(rows, stage, processes - done)
                made += sum(generator.stage_counts.values()) - before
                done += sum(generator.stage_counts.values()) - before
            for table in BULK_TABLES:
                batch = rows.by_table.get(table)
                if batch:
                    session.execute(insert(table), batch)
            process_ids = [row["id"] for row in rows.by_table.get(Process.__table__, [])]
            if publish and pool is None:
                # Every demo process gets its full release history through the release builder the services use.
                publish_history(session, process_ids)
            session.expunge_all()  # keep memory flat over 100,000 processes
            if on_chunk is not None:
                on_chunk()
            if pool is not None:
                pending.append(pool.submit(build_history_rows_in_worker, url, process_ids))
                while len(pending) > workers:
                    insert_history_rows(session, pending.popleft().result())
                    on_chunk()  # type: ignore[misc]
            advance(made)
    while pending:
        insert_history_rows(session, pending.popleft().result())
        on_chunk()  # type: ignore[misc]
    if pool is not None:
        pool.shutdown()
    _reset_sequences(session)
    if processes >= ANALYZE_AFTER and session.get_bind().dialect.name == "postgresql":
        # Fresh planner statistics for the tables just filled in bulk: without them (autovacuum may be off, or
        # not have run yet) PostgreSQL takes 100,000 records for a handful and plans scans accordingly.
        session.execute(text("ANALYZE"))
    counts = {stage.value: count for stage, count in generator.stage_counts.items()}
    counts["total"] = sum(generator.stage_counts.values())
    return counts


def _history_pool(workers: int) -> ProcessPoolExecutor:
    # spawn, not fork: a forked child would inherit the parent's open database connections.
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))


def _reset_sequences(session: Session) -> None:
    """PostgreSQL sequences do not see explicit ids; move them past the highest id so later inserts work."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for table in BULK_TABLES:
        if "id" in table.c:
            highest = session.scalar(select(func.max(table.c.id)))
            if highest:
                session.execute(
                    text("SELECT setval(pg_get_serial_sequence(:table, 'id'), :value)"),
                    {"table": table.name, "value": highest},
                )


DEMO_PASSWORD = "demo-password-123"  # noqa: S105 - printed by `bos demo`; demo databases only


def create_demo_accounts(session: Session) -> list[tuple[str, str]]:
    """One account per role for the demo, so a visitor can try every face of BOS. Returns (role, email)."""
    from bos.accounts.models import User  # noqa: PLC0415
    from bos.accounts.service import create_user  # noqa: PLC0415
    from bos.enums import UserRole  # noqa: PLC0415

    buyer = session.scalar(select(Organisation).where(Organisation.identifier_id == cat.BUYERS[0].code))
    supplier = session.scalar(
        select(Organisation).where(Organisation.kind == OrganisationKind.SUPPLIER).order_by(Organisation.id)
    )
    accounts = [
        (UserRole.ADMIN, "admin@demo.bos", None),
        (UserRole.OFFICER, "pejabat@demo.bos", buyer),
        (UserRole.MONITOR, "pemantau@demo.bos", None),
        (UserRole.CONTRACTOR, "penyedia@demo.bos", supplier),
    ]
    created = []
    for role, email, organisation in accounts:
        if session.scalar(select(User.id).where(User.email == email)) is None:
            create_user(
                session, email=email, name=email.split("@")[0].title(), role=role, password=DEMO_PASSWORD,
                organisation=organisation,
            )  # fmt: skip
        created.append((role.value, email))
    return created
