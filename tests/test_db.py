"""The database guards the invariants itself, on SQLite and PostgreSQL alike."""

import datetime as dt
import time
from decimal import Decimal

import pytest
from marshmallow import ValidationError
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError, StatementError

from bos.db import (
    SQLITE_BACKGROUND_CHECKPOINT_SECONDS,
    SQLITE_CACHE_KIB,
    SQLITE_CHECKPOINT_PAGES,
    background_checkpoints,
    make_engine,
)
from bos.enums import OrganisationKind, ProcessStage, ProcurementCategory, ProcurementMethod, TenderStatus
from bos.parties.models import Organisation
from bos.schemas import MoneySchema, PeriodSchema
from bos.tenders.models import Process, Tender

UTC = dt.UTC


@pytest.fixture
def buyer(db_session):
    org = Organisation(kind=OrganisationKind.DINAS, name="Dinas Uji", identifier_scheme="ID-KEMENDAGRI",
                       identifier_id="99.99")  # fmt: skip
    db_session.add(org)
    db_session.flush()
    return org


@pytest.fixture
def process(db_session, buyer):
    proc = Process(ocid="ocds-test00-1", title="Uji", buyer=buyer, stage=ProcessStage.OPEN)
    db_session.add(proc)
    db_session.flush()
    return proc


def make_tender(process, **overrides):
    values = {
        "process": process,
        "local_id": "T1",
        "title": "Uji",
        "status": TenderStatus.ACTIVE,
        "procurement_method": ProcurementMethod.OPEN,
        "procurement_method_details": "Tender",
        "main_procurement_category": ProcurementCategory.GOODS,
        "value_amount": Decimal("1000000.00"),
        "value_currency": "IDR",
        "tender_period_start": dt.datetime(2026, 1, 1, tzinfo=UTC),
        "tender_period_end": dt.datetime(2026, 1, 20, tzinfo=UTC),
    }
    values.update(overrides)
    return Tender(**values)


def count(session, model):
    return session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize(
    "overrides",
    [
        {"value_amount": Decimal(-1)},
        {"value_currency": "RP"},
        {"tender_period_end": dt.datetime(2025, 12, 1, tzinfo=UTC)},
    ],
    ids=["negative-amount", "currency-not-3-letters", "period-ends-before-start"],
)
def test_constraint_violation_is_refused_and_leaves_database_unchanged(db_session, process, overrides):
    before = count(db_session, Tender)
    db_session.add(make_tender(process, **overrides))
    with pytest.raises(IntegrityError):
        db_session.flush()
    db_session.rollback()
    assert count(db_session, Tender) == before


def test_duplicate_ocid_is_refused(db_session, buyer, process):
    db_session.add(Process(ocid=process.ocid, title="Kembar", buyer=buyer, stage=ProcessStage.PLANNED))
    with pytest.raises(IntegrityError):
        db_session.flush()


def test_naive_datetime_is_refused(db_session, process):
    db_session.add(make_tender(process, tender_period_start=dt.datetime(2026, 1, 1)))  # noqa: DTZ001
    with pytest.raises(StatementError, match="naive datetime"):
        db_session.flush()


def test_datetimes_come_back_aware_utc_and_money_as_decimal(db_session, process):
    wib = dt.timezone(dt.timedelta(hours=7))
    db_session.add(make_tender(process, tender_period_start=dt.datetime(2026, 1, 1, 8, 0, tzinfo=wib)))
    db_session.flush()
    db_session.expire_all()
    tender = db_session.scalars(select(Tender)).one()
    assert tender.tender_period_start == dt.datetime(2026, 1, 1, 1, 0, tzinfo=UTC)
    assert tender.tender_period_start.utcoffset() == dt.timedelta(0)
    assert isinstance(tender.value_amount, Decimal)
    assert tender.value_amount == Decimal("1000000.00")


def test_optimistic_lock_refuses_a_stale_save(db_session, engine, process):
    from sqlalchemy.orm.exc import StaleDataError  # noqa: PLC0415

    db_session.execute(
        Process.__table__.update().where(Process.id == process.id).values(version_id=Process.version_id + 1)
    )
    process.title = "Perubahan kedua"
    with pytest.raises(StaleDataError):
        db_session.flush()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"amount": "-5", "currency": "IDR"}, "amount"),
        ({"amount": "5", "currency": "XYZ"}, "currency"),
        ({"amount": "abc"}, "amount"),
        ({"amount": "NaN"}, "amount"),
    ],
)
def test_money_schema_rejects_bad_values_with_field_messages(payload, field):
    with pytest.raises(ValidationError) as info:
        MoneySchema().load(payload)
    assert field in info.value.messages


def test_money_schema_keeps_decimal():
    assert MoneySchema().load({"amount": "1250000.50"}) == {"amount": Decimal("1250000.50"), "currency": "IDR"}


def test_period_schema_refuses_end_before_start():
    with pytest.raises(ValidationError) as info:
        PeriodSchema().load({"start_date": "2026-02-01T00:00:00+07:00", "end_date": "2026-01-01T00:00:00+07:00"})
    assert "end_date" in info.value.messages


def test_postgresql_plans_each_statement_with_its_parameters(db_session):
    """A generic plan kept from an empty table must not outlive its growth (bos.db.configure_postgresql)."""
    if db_session.get_bind().dialect.name != "postgresql":
        pytest.skip("PostgreSQL's plan cache")
    assert db_session.scalar(text("SHOW plan_cache_mode")) == "force_custom_plan"


def test_sqlite_connections_get_a_bulk_sized_cache_and_checkpoint_interval(db_session):
    """Every SQLite connection is configured for the red-flag engine's bulk writes (bos.db.configure_sqlite)."""
    if db_session.get_bind().dialect.name != "sqlite":
        pytest.skip("SQLite's pragmas")
    assert db_session.scalar(text("PRAGMA cache_size")) == -SQLITE_CACHE_KIB
    assert db_session.scalar(text("PRAGMA wal_autocheckpoint")) == SQLITE_CHECKPOINT_PAGES
    assert db_session.scalar(text("PRAGMA journal_mode")) == "wal"


def test_background_checkpoints_copy_committed_pages_into_the_database_file(tmp_path):
    """bos.db.background_checkpoints: while a bulk writer commits, another thread checkpoints the WAL, so the writer's
    commits do not have to. (An SQLite file of its own, whatever database the suite runs on.)"""
    path = tmp_path / "bulk.sqlite3"
    engine = make_engine(f"sqlite:///{path}")

    def write_two_megabytes() -> None:
        with engine.begin() as connection:
            connection.exec_driver_sql("INSERT INTO t (x) VALUES (?)", [("x" * 1000,) for _ in range(2000)])

    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE t (x TEXT)")
        write_two_megabytes()
        time.sleep(2 * SQLITE_BACKGROUND_CHECKPOINT_SECONDS)
        unchecked = path.stat().st_size
        assert unchecked < 1_000_000  # far below the automatic checkpoint, the rows are only in the WAL

        with background_checkpoints(engine):
            write_two_megabytes()
            deadline = time.monotonic() + 10
            while path.stat().st_size < 4_000_000 and time.monotonic() < deadline:
                time.sleep(0.05)
            # ...and the writer still writes beside the checkpoints.
            write_two_megabytes()
        assert path.stat().st_size >= 4_000_000  # both first writes are in the database file now
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT count(*) FROM t").scalar() == 6000
    finally:
        engine.dispose()
