import hashlib
from decimal import Decimal

from sqlalchemy import func, select

from bos.contracts.models import Contract, ContractAmendment, Transaction
from bos.demo.seed import seed_database
from bos.enums import BidStatus, OrganisationKind, ProcessStage, ProcurementMethod
from bos.ocds.models import PendingEvaluation, Record
from bos.parties.models import Organisation
from bos.tenders.models import Award, Bid, Process, Tender
from tests.conftest import TODAY


def fingerprint(session) -> str:
    """A digest of the seeded content (not of ids), to compare two runs."""
    rows = session.execute(
        select(Process.ocid, Process.title, Process.stage, Tender.value_amount, Tender.tender_period_end)
        .join(Tender, Tender.process_id == Process.id, isouter=True)
        .order_by(Process.id)
    ).all()
    bids = session.execute(select(Bid.value_amount, Bid.status).order_by(Bid.id)).all()
    return hashlib.sha256(repr((rows, bids)).encode()).hexdigest()


def test_every_stage_is_present(db_session, seeded):
    assert seeded["total"] == 120
    stages = dict(db_session.execute(select(Process.stage, func.count()).group_by(Process.stage)).all())
    assert set(stages) == set(ProcessStage)
    assert sum(stages.values()) == 120
    # Every published process has a record, queued for the red-flag engine as publishing does.
    records = db_session.scalar(select(func.count()).select_from(Record))
    assert records > 0
    assert db_session.scalar(select(func.count()).select_from(PendingEvaluation).join(Record)) == records


def test_kabupaten_parties(db_session, seeded):
    kinds = dict(db_session.execute(select(Organisation.kind, func.count()).group_by(Organisation.kind)).all())
    assert kinds[OrganisationKind.SUPPLIER] == 300
    buyers = sum(n for kind, n in kinds.items() if kind not in (OrganisationKind.SUPPLIER, OrganisationKind.KABUPATEN))
    assert buyers == 20
    assert {
        OrganisationKind.DINAS,
        OrganisationKind.PUSKESMAS,
        OrganisationKind.SCHOOL,
        OrganisationKind.VILLAGE,
    } <= set(kinds)
    npwps = db_session.scalars(
        select(Organisation.identifier_id).where(Organisation.identifier_scheme == "ID-NPWP")
    ).all()
    assert all(len(n) == 20 and n[2] == "." and n[12] == "-" for n in npwps)


def test_same_seed_gives_same_data(engine):
    from sqlalchemy.orm import Session  # noqa: PLC0415

    digests = []
    for _ in range(2):
        with engine.connect() as conn:
            outer = conn.begin()
            session = Session(bind=conn, join_transaction_mode="create_savepoint")
            seed_database(session, processes=60, seed=11, today=TODAY, ocid_prefix="ocds-test00")
            session.flush()
            digests.append(fingerprint(session))
            session.close()
            outer.rollback()
    assert digests[0] == digests[1]


def test_open_tenders_close_in_the_future_and_bids_stay_sealed(db_session, seeded):
    import datetime as dt  # noqa: PLC0415

    reference = dt.datetime.combine(TODAY, dt.time(12), tzinfo=dt.UTC)
    open_tenders = db_session.scalars(select(Tender).join(Process).where(Process.stage == ProcessStage.OPEN)).all()
    assert open_tenders
    for tender in open_tenders:
        assert tender.tender_period_end > reference
        assert tender.bids_opened_at is None
        assert all(bid.status is BidStatus.PENDING for bid in tender.bids)


def test_risky_patterns_exist_in_a_larger_sample(db_session):
    seed_database(db_session, processes=1500, seed=5, today=TODAY, ocid_prefix="ocds-test00")
    db_session.flush()
    single_bid = db_session.execute(
        select(Tender.id)
        .join(Bid)
        .where(Tender.procurement_method == ProcurementMethod.OPEN, Tender.bids_opened_at.is_not(None))
        .group_by(Tender.id)
        .having(func.count(Bid.id) == 1)
    ).all()
    assert len(single_bid) >= 5
    competitive = db_session.execute(
        select(Tender.id)
        .join(Bid)
        .where(Tender.procurement_method == ProcurementMethod.OPEN)
        .group_by(Tender.id)
        .having(func.count(Bid.id) >= 2)
    ).all()
    assert len(competitive) > 3 * len(single_bid)  # most competitive tenders have several bidders
    raised = db_session.scalars(
        select(ContractAmendment).where(
            ContractAmendment.new_value_amount > ContractAmendment.old_value_amount * Decimal("1.1")
        )
    ).all()
    assert raised
    awards = db_session.scalars(select(Award)).all()
    assert all(isinstance(a.value_amount, Decimal) for a in awards)
    paid = db_session.scalar(select(func.count()).select_from(Transaction))
    assert paid and db_session.scalar(select(func.count()).select_from(Contract))


def test_worker_processes_write_the_same_releases_as_one_process(tmp_path):
    """The parallel bulk path (CLI default for big seeds) writes exactly what the sequential path writes."""
    from sqlalchemy.orm import Session  # noqa: PLC0415

    from bos import migrate  # noqa: PLC0415
    from bos.db import make_engine  # noqa: PLC0415
    from bos.ocds.models import Record, Release  # noqa: PLC0415

    contents = []
    for workers in (0, 1):
        engine = make_engine(f"sqlite:///{tmp_path / f'seed-{workers}.sqlite3'}")
        migrate.upgrade(engine)
        with Session(engine) as session:
            seed_database(
                session, processes=150, seed=4, today=TODAY, ocid_prefix="ocds-test00", on_chunk=session.commit,
                workers=workers,
            )  # fmt: skip
            session.commit()
            releases = session.execute(
                select(Release.ocid, Release.release_id, Release.json).order_by(Release.ocid, Release.release_id)
            ).all()
            records = session.execute(select(Record.ocid, Record.compiled).order_by(Record.ocid)).all()
            contents.append((releases, records))
        engine.dispose()
    assert contents[0][0]
    assert contents[0] == contents[1]


def test_demo_accounts_cover_every_role_and_can_sign_in(db_session, seeded):
    from bos.accounts.service import authenticate  # noqa: PLC0415
    from bos.demo.seed import DEMO_PASSWORD, create_demo_accounts  # noqa: PLC0415

    accounts = create_demo_accounts(db_session)
    assert {role for role, _ in accounts} == {"admin", "officer", "monitor", "contractor"}
    assert create_demo_accounts(db_session) == accounts  # idempotent: a restarted demo creates nothing twice
    for _role, email in accounts:
        assert authenticate(db_session, email, DEMO_PASSWORD, "127.0.0.1").email == email
