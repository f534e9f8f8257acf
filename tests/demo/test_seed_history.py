"""The demo seed's bulk history path writes exactly the releases the services publish.

The seed records each process's rows in bulk and builds its release history with ``build_release`` at each event
(``bos.ocds.publish.build_history_rows``), far faster than calling the services. This proves that shortcut honest:
every seeded process is replayed through the service functions — its buyer's officer planning, tendering, opening,
evaluating, awarding, signing, amending, paying and closing, its bidders' contractors bidding, each step at the date
the seed recorded — as a new process, and every release the services wrote must equal the seed's release of the
same rank, byte for byte once the ocid is swapped; the compiled records too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bos.accounts.models import User
from bos.contracts import service as contracts
from bos.contracts.models import Contract
from bos.demo.seed import seed_database
from bos.enums import BidStatus, ContractStatus, MilestoneStatus, ProcessStage, TenderStatus, UserRole
from bos.ocds.models import Record, Release
from bos.ocds.publish import load_graph
from bos.tenders import service as tenders
from bos.tenders.models import Bid, Process
from tests.conftest import TODAY

REPLAY_PREFIX = "ocds-replay"
ITEM_FIELDS = (
    "description",
    "classification_scheme",
    "classification_id",
    "classification_description",
    "quantity",
    "unit_name",
    "unit_value_amount",
    "unit_value_currency",
)


class Actors:
    """The buyer's officer and each bidder's contractor, created on first use."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.users: dict[tuple[UserRole, int], User] = {}

    def __call__(self, role: UserRole, organisation_id: int) -> User:
        key = (role, organisation_id)
        if key not in self.users:
            user = User(
                email=f"{role.value}-{organisation_id}@replay.test",
                name=f"{role.value} {organisation_id}",
                password_hash=None,
                role=role,
                organisation_id=organisation_id,
            )
            self.session.add(user)
            self.session.flush()
            self.users[key] = user
        return self.users[key]


def replay(session: Session, seeded: Process, actor: Actors) -> Process:
    """Run ``seeded`` through the services as a new process, each step at the date the seed recorded for it."""
    graph = load_graph(session, seeded.id)
    source, contract_rows = graph.process, graph.contracts
    planning, tender = source.planning, source.tender
    officer = actor(UserRole.OFFICER, source.buyer_id)
    assert planning is not None and planning.date_published is not None
    process = tenders.create_process(
        session,
        officer,
        {"title": source.title} | {key: getattr(planning, key) for key in tenders.PLANNING_FIELDS},
        REPLAY_PREFIX,
        now=planning.date_published,
    )
    pid = process.id
    # (date, step): run in date order; steps on the same instant keep the lifecycle order they are listed in,
    # as ``bos.ocds.release.history`` orders its events.
    steps: list[tuple[dt.datetime, Callable[[], Any]]] = [
        (planning.date_published, lambda: tenders.publish_planning(session, officer, pid, {}, planning.date_published))
    ]
    bids: dict[str, int] = {}  # the seed's bid local id → the replayed bid's row id
    if tender is not None and tender.date_published is not None:
        published = tender.date_published
        data = {key: getattr(tender, key) for key in tenders.TENDER_FIELDS}
        data["items"] = [{key: getattr(item, key) for key in ITEM_FIELDS} for item in tender.items]

        def publish_tender() -> None:
            tenders.save_tender(session, officer, pid, data, published)
            tenders.publish_tender(session, officer, pid, {}, published)

        steps.append((published, publish_tender))
        for bid in sorted(tender.bids, key=lambda b: b.id):
            contractor = actor(UserRole.CONTRACTOR, bid.supplier_id)
            payload = {"value_amount": bid.value_amount, "value_currency": bid.value_currency}

            def submit(bid: Bid = bid, contractor: User = contractor, payload: dict = payload) -> None:
                bids[bid.local_id] = tenders.submit_bid(session, contractor, pid, payload, bid.date).id

            steps.append((bid.date, submit))
        if tender.bids_opened_at is not None:
            opened = tender.bids_opened_at
            steps.append((opened, lambda: tenders.open_bids(session, officer, pid, {}, opened)))
            evaluated = [b for b in tender.bids if b.evaluated_at is not None]
            if evaluated:
                when = evaluated[0].evaluated_at
                assert all(b.evaluated_at == when for b in evaluated), "the seed publishes one evaluation report"

                def evaluate(when: dt.datetime = when) -> None:
                    report = [
                        {
                            "bid_id": bids[b.local_id],
                            "status": b.status,
                            "disqualification_reason": b.disqualification_reason,
                        }
                        for b in evaluated
                    ]
                    tenders.evaluate_bids(session, officer, pid, {"evaluations": report}, when)

                steps.append((when, evaluate))
    winning = {bid.id: bid.local_id for bid in tender.bids} if tender is not None else {}
    for award in source.awards:
        assert award.bid_id is not None

        def award_step(award: Any = award) -> None:
            tenders.award_process(
                session,
                officer,
                pid,
                {
                    "supplier_ids": [s.id for s in award.suppliers],
                    "bid_id": bids[winning[award.bid_id]],
                    "title": award.title,
                    "value_amount": award.value_amount,
                    "value_currency": award.value_currency,
                    "date": award.date,
                    "rationale": award.rationale,
                    "contract_period_start": award.contract_period_start,
                    "contract_period_end": award.contract_period_end,
                    "items": [{key: getattr(item, key) for key in ITEM_FIELDS} for item in award.items],
                },
                award.date,
            )

        steps.append((award.date, award_step))
    if source.cancelled_at is not None:
        cancelled, rationale = source.cancelled_at, source.cancellation_rationale
        steps.append(
            (cancelled, lambda: tenders.cancel_process(session, officer, pid, {"rationale": rationale}, cancelled))
        )
    for row in contract_rows:
        steps.extend(_contract_steps(session, officer, pid, row))
    for _when, step in sorted(steps, key=lambda pair: pair[0]):
        step()
    session.flush()
    return process


def _contract_steps(session: Session, officer: User, pid: int, row: Contract) -> list[tuple[dt.datetime, Any]]:
    signed = row.date_signed
    assert signed is not None
    first = row.amendments[0] if row.amendments else None
    ids: dict[str, int] = {}  # the seed's contract and milestone local ids → the replayed rows' ids

    def sign() -> None:
        draft = {
            "award_id": _award_id(session, pid),
            "local_id": row.local_id,
            "title": row.title,
            "description": row.description,
            # The value and end date the contract was signed with: before any amendment.
            "value_amount": first.old_value_amount
            if first and first.old_value_amount is not None
            else row.value_amount,
            "value_currency": row.value_currency,
            "period_start": row.period_start,
            "period_end": first.old_period_end if first and first.old_period_end is not None else row.period_end,
            "milestones": [
                {"title": m.title, "type": m.type, "due_date": m.due_date, "description": m.description}
                for m in row.milestones
                if m.added_at is None
            ],
        }
        contract = contracts.save_contract(session, officer, pid, draft, now=signed)
        contracts.sign_contract(session, officer, pid, contract.id, {"date_signed": signed}, signed)
        ids["contract"] = contract.id
        for milestone in contract.milestones:
            ids[f"milestone-{milestone.local_id}"] = milestone.id

    steps: list[tuple[dt.datetime, Any]] = [(signed, sign)]
    for amendment in row.amendments:
        change = {
            "rationale": amendment.rationale,
            "description": amendment.description,
            "new_value_amount": amendment.new_value_amount,
            "new_period_end": amendment.new_period_end,
        }
        steps.append(
            (
                amendment.date,
                lambda change=change, when=amendment.date: contracts.amend_contract(
                    session, officer, pid, ids["contract"], change, when
                ),
            )
        )
    # The seed pays each termin on its milestone: the n-th payment meets the n-th milestone, on its date.
    met = [m for m in row.milestones if m.status is MilestoneStatus.MET]
    payments = sorted(row.transactions, key=lambda t: (t.date, t.id))
    assert [m.date_met for m in met] == [t.date for t in payments[: len(met)]]
    for number, payment in enumerate(payments):
        milestone = met[number].local_id if number < len(met) else None

        def pay(payment: Any = payment, milestone: str | None = milestone) -> None:
            data = {
                "date": payment.date,
                "value_amount": payment.value_amount,
                "value_currency": payment.value_currency,
                "payee_id": payment.payee_id,
                "source": payment.source,
                "milestone_id": ids[f"milestone-{milestone}"] if milestone else None,
            }
            contracts.add_transaction(session, officer, pid, ids["contract"], data, payment.date)

        steps.append((payment.date, pay))
    if row.status is ContractStatus.TERMINATED:
        closed = row.closed_at
        assert closed is not None
        steps.append((closed, lambda: contracts.complete_contract(session, officer, pid, ids["contract"], {}, closed)))
    return steps


def _award_id(session: Session, pid: int) -> int:
    process = session.get(Process, pid)
    assert process is not None
    return process.awards[0].id


def differences(mine: Any, theirs: Any, path: str = "") -> list[str]:
    """Where two JSON values differ, as ``path: mine != theirs`` lines (a readable failure)."""
    if isinstance(mine, dict) and isinstance(theirs, dict):
        return [
            line
            for key in sorted(set(mine) | set(theirs))
            for line in differences(mine.get(key), theirs.get(key), f"{path}/{key}")
        ]
    if isinstance(mine, list) and isinstance(theirs, list) and len(mine) == len(theirs):
        return [
            line
            for i, (a, b) in enumerate(zip(mine, theirs, strict=True))
            for line in differences(a, b, f"{path}/{i}")
        ]
    return [] if mine == theirs else [f"{path}: {mine!r} != {theirs!r}"]


def releases_of(session: Session, ocid: str) -> list[dict[str, Any]]:
    rows = session.scalars(select(Release.json).where(Release.ocid == ocid).order_by(Release.id)).all()
    return [orjson.loads(body) for body in rows]


def swap_ocid(data: Any, old: str, new: str) -> Any:
    return orjson.loads(orjson.dumps(data).decode().replace(old, new))


@pytest.fixture
def seeded_processes(db_session: Session) -> list[Process]:
    seed_database(db_session, processes=120, seed=11, today=TODAY, ocid_prefix="ocds-seeded")
    db_session.flush()
    return list(db_session.scalars(select(Process).order_by(Process.id)))


def one_of_each_kind(session: Session, processes: list[Process]) -> list[Process]:
    """One process per kind of history: stage, method, the set of release tags, a disqualified bid or not.

    Replaying costs ~0.5 s a process (every step publishes); 120 seeded processes fall into ~40 kinds.
    """
    kinds: dict[tuple, Process] = {}
    for process in processes:
        tags = frozenset(tag for release in releases_of(session, process.ocid) for tag in release["tag"])
        tender = process.tender
        method = tender.procurement_method if tender is not None else None
        disqualified = tender is not None and any(b.status is BidStatus.DISQUALIFIED for b in tender.bids)
        kinds.setdefault((process.stage, method, tags, disqualified), process)
    return list(kinds.values())


def test_replayed_through_the_services_the_seed_writes_identical_releases(db_session, seeded_processes):
    """Every stage and kind of history: same releases, same order, same bytes, same compiled record."""
    actor = Actors(db_session)
    covered: set[str] = set()
    for seeded in one_of_each_kind(db_session, seeded_processes):
        expected = releases_of(db_session, seeded.ocid)
        replayed = replay(db_session, seeded, actor)
        actual = [swap_ocid(release, replayed.ocid, seeded.ocid) for release in releases_of(db_session, replayed.ocid)]
        assert [r["tag"] for r in actual] == [r["tag"] for r in expected], seeded.ocid
        for number, (mine, theirs) in enumerate(zip(actual, expected, strict=True), start=1):
            assert mine == theirs, (f"{seeded.ocid} release {number} {theirs['tag']}", differences(mine, theirs))
        record = db_session.scalars(select(Record.compiled).where(Record.ocid == replayed.ocid)).one()
        seed_record = db_session.scalars(select(Record.compiled).where(Record.ocid == seeded.ocid)).one()
        assert swap_ocid(orjson.loads(record), replayed.ocid, seeded.ocid) == orjson.loads(seed_record)
        assert replayed.stage is seeded.stage
        covered.update(tag for release in expected for tag in release["tag"])
        covered.add(seeded.stage.value)
    # The replay covered every stage and every kind of step the seed writes.
    assert {stage.value for stage in ProcessStage} <= covered
    assert {
        "planning",
        "tender",
        "tenderUpdate",
        "tenderCancellation",
        "award",
        "contract",
        "contractAmendment",
        "implementation",
        "implementationUpdate",
        "contractTermination",
    } <= covered


def test_the_seed_writes_only_what_the_workflow_allows(db_session, seeded_processes):
    """The facts behind the equivalence: no payment above the value in force, evaluations before awards."""
    for seeded in seeded_processes:
        graph = load_graph(db_session, seeded.id)
        tender = graph.process.tender
        if tender is not None and tender.bids_opened_at is not None:
            for bid in tender.bids:
                assert bid.status is not BidStatus.PENDING
                assert bid.evaluated_at is not None and bid.evaluated_at > tender.bids_opened_at
                for award in graph.process.awards:
                    assert bid.evaluated_at < award.date
        if tender is not None and tender.status is TenderStatus.COMPLETE:
            assert all(c.closed_at is not None for c in graph.contracts)
        for contract in graph.contracts:
            paid = sum((t.value_amount for t in contract.transactions), start=0)
            assert paid <= contract.value_amount
            if contract.status is ContractStatus.TERMINATED:
                assert paid == contract.value_amount
