"""Fixtures: a real database per test run (SQLite file or a fresh PostgreSQL database), migrated by Alembic,
and a savepoint per test that is rolled back, so tests never see each other's rows."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.orm import Session

from bos import create_app, migrate
from bos.db import make_engine

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
os.environ.setdefault("BOS_OCDS_SCHEMA_DIR", str(SHARED / "ocds" / "schema"))
os.environ.setdefault("BOS_OCDS_EXTENSIONS_DIR", str(SHARED / "ocds" / "extensions"))
os.environ.setdefault("BOS_OCDS_SAMPLES_DIR", str(SHARED / "ocds" / "samples"))

TODAY = dt.date(2026, 11, 23)  # fixed reference day for seeded data, so tests are deterministic


def _postgres_database(admin_url: str) -> Iterator[str]:
    """Create a database of our own for this run (and xdist worker), drop it afterwards."""
    url = make_url(admin_url)
    name = f"bos_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def empty_database(directory: Path) -> Iterator[str]:
    """The URL of a new empty database of the kind the tests run on: PostgreSQL when BOS_TEST_DATABASE_URL names
    one (dropped afterwards), else a SQLite file in ``directory``."""
    configured = os.environ.get("BOS_TEST_DATABASE_URL")
    if configured and configured.startswith("postgresql"):
        yield from _postgres_database(configured)
    else:
        yield f"sqlite:///{directory / 'bos-test.sqlite3'}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from empty_database(tmp_path_factory.mktemp("db"))


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    migrate.upgrade(engine)  # the schema comes from the migrations, so they are tested too
    yield engine
    engine.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    conn = engine.connect()
    outer = conn.begin()
    try:
        yield conn
    finally:
        outer.rollback()
        conn.close()


@pytest.fixture
def db_session(connection: Connection) -> Iterator[Session]:
    session = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    yield session
    session.close()


@pytest.fixture
def app(engine: Engine, connection: Connection, tmp_path: Path) -> Flask:
    return create_app(
        {
            "TESTING": True,
            "DATABASE_URL": str(engine.url),
            "BOS_ENGINE": engine,
            "BOS_DB_BIND": connection,  # a request's commit only releases a savepoint of the test's transaction
            "CACHE_DIR": str(tmp_path / "cache"),
            "SECRET_KEY": "test-secret",
        }
    )


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def seeded(db_session: Session) -> dict[str, int]:
    """A small deterministic demo dataset in every stage."""
    from bos.demo.seed import seed_database  # noqa: PLC0415

    summary = seed_database(db_session, processes=120, seed=3, today=TODAY, ocid_prefix="ocds-test00")
    db_session.commit()
    return summary


# ---------------------------------------------------------------------------------------------------------------------
# Accounts and workflow: parties, one user per role with an API token, a controllable clock, and API/form helpers.


class Clock:
    """The services' ``utcnow``, moved by hand so a test can let a submission period end."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock(dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC))
    for module in ("bos.tenders.service", "bos.contracts.service", "bos.tenders.views", "bos.accounts.service"):
        monkeypatch.setattr(f"{module}.utcnow", clock)
    return clock


@pytest.fixture
def parties(db_session: Session) -> SimpleNamespace:
    from bos.enums import OrganisationKind  # noqa: PLC0415
    from bos.parties.models import Organisation  # noqa: PLC0415

    def org(kind: OrganisationKind, name: str, scheme: str, identifier: str) -> Organisation:
        row = Organisation(kind=kind, name=name, identifier_scheme=scheme, identifier_id=identifier)
        db_session.add(row)
        return row

    ns = SimpleNamespace(
        buyer=org(OrganisationKind.DINAS, "Dinas Uji Coba", "ID-KEMENDAGRI", "99.01"),
        other_buyer=org(OrganisationKind.PUSKESMAS, "Puskesmas Lain", "ID-KEMENDAGRI", "99.02"),
        supplier=org(OrganisationKind.SUPPLIER, "CV Satu Jaya", "ID-NPWP", "01.111.111.1-601.000"),
        supplier2=org(OrganisationKind.SUPPLIER, "PT Dua Karya", "ID-NPWP", "02.222.222.2-601.000"),
        supplier3=org(OrganisationKind.SUPPLIER, "CV Tiga Abadi", "ID-NPWP", "03.333.333.3-601.000"),
        offline=org(OrganisationKind.SUPPLIER, "UD Kertas Empat", "ID-NPWP", "04.444.444.4-601.000"),
    )
    db_session.flush()
    db_session.commit()
    return ns


PASSWORD = "correct horse battery"


@pytest.fixture
def users(db_session: Session, parties: SimpleNamespace, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """One user per role (and an officer and a contractor of other organisations), each with an API token."""
    from argon2 import PasswordHasher  # noqa: PLC0415

    from bos.accounts import service  # noqa: PLC0415
    from bos.enums import UserRole  # noqa: PLC0415

    # Argon2 with its production cost takes about half a second per hash; tests need the same code, not the cost.
    monkeypatch.setattr(service, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))

    specs = {
        "officer": (UserRole.OFFICER, parties.buyer),
        "other_officer": (UserRole.OFFICER, parties.other_buyer),
        "contractor": (UserRole.CONTRACTOR, parties.supplier),
        "contractor2": (UserRole.CONTRACTOR, parties.supplier2),
        "contractor3": (UserRole.CONTRACTOR, parties.supplier3),
        "admin": (UserRole.ADMIN, None),
        "monitor": (UserRole.MONITOR, None),
    }
    made: dict[str, Any] = {}
    for key, (role, organisation) in specs.items():
        user = service.create_user(
            db_session, email=f"{key}@bos.test", name=key, role=role, password=PASSWORD, organisation=organisation
        )
        user.token = service.create_token(db_session, user, "tests").secret  # type: ignore[attr-defined]
        made[key] = user
    db_session.commit()
    return made


def bearer(user: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {user.token}"}


@pytest.fixture
def as_user(client: FlaskClient, users: dict[str, Any]) -> Any:
    """``as_user("officer").post(url, json=...)``: API calls with that user's token (None: anonymous), in English."""
    client.set_cookie("lang", "en")

    class Caller:
        def __init__(self, key: str | None) -> None:
            self.headers = bearer(users[key]) if key else {}

        def __getattr__(self, method: str) -> Any:
            def call(url: str, **kwargs: Any) -> Any:
                return getattr(client, method)(url, headers=self.headers, **kwargs)

            return call

    return Caller


@pytest.fixture
def web_login(app: Flask, users: dict[str, Any]) -> Any:
    """A fresh test client signed in through the real login form (with its CSRF token)."""

    def login(key: str) -> FlaskClient:
        web = app.test_client()
        token = csrf_token(web.get("/account/login").get_data(as_text=True))
        response = web.post(
            "/account/login", data={"email": f"{key}@bos.test", "password": PASSWORD, "csrf_token": token}
        )
        assert response.status_code == 302, response.get_data(as_text=True)
        return web

    return login


def csrf_token(html: str) -> str:
    import re  # noqa: PLC0415

    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


@pytest.fixture
def extract_csrf() -> Any:
    """The CSRF token of a rendered form."""
    return csrf_token


@pytest.fixture
def process_at(app: Flask, db_session: Session, users: dict[str, Any], parties: SimpleNamespace, clock: Clock) -> Any:
    """``process_at("awarded")``: a process of the officer's buyer brought to that stage through the services.

    Stages: draft, planned, tender_draft, open (a sealed bid from ``contractor``), closed (period over, sealed),
    opened (bids opened, contractor's bid valid), awarded, contract_draft, contracted, implementation, completed.
    Returns a namespace with ``process``, ``bid``, ``award``, ``contract``.
    """
    from decimal import Decimal  # noqa: PLC0415

    from bos.contracts import service as contracts  # noqa: PLC0415
    from bos.enums import BidStatus, BudgetSource, ProcurementCategory, ProcurementMethod  # noqa: PLC0415
    from bos.tenders import service as tenders  # noqa: PLC0415

    order = [
        "draft", "planned", "tender_draft", "open", "closed", "opened", "awarded", "contract_draft", "contracted",
        "implementation", "completed",
    ]  # fmt: skip

    def build(stage: str) -> SimpleNamespace:
        officer, contractor = users["officer"], users["contractor"]
        ns = SimpleNamespace(process=None, bid=None, award=None, contract=None)
        reached = order.index(stage)
        with app.test_request_context():
            ns.process = tenders.create_process(
                db_session, officer,
                {"title": "Pengadaan uji", "project": "Proyek uji", "budget_amount": Decimal(100_000_000),
                 "budget_currency": "IDR", "budget_source": BudgetSource.APBD, "fiscal_year": 2026},
                "ocds-test00",
            )  # fmt: skip
            pid = ns.process.id
            if reached >= 1:
                tenders.publish_planning(db_session, officer, pid, {})
            if reached >= 2:
                tenders.save_tender(
                    db_session, officer, pid,
                    {"title": "Pengadaan uji", "procurement_method": ProcurementMethod.OPEN,
                     "procurement_method_details": "Tender", "main_procurement_category": ProcurementCategory.GOODS,
                     "value_amount": Decimal(90_000_000), "value_currency": "IDR",
                     "tender_period_start": clock.now, "tender_period_end": clock.now + dt.timedelta(days=10),
                     "items": [{"description": "Laptop", "classification_id": "45220", "quantity": Decimal(3),
                                "unit_name": "unit"}]},
                )  # fmt: skip
            if reached >= 3:
                tenders.publish_tender(db_session, officer, pid, {})
                ns.bid = tenders.submit_bid(
                    db_session, contractor, pid, {"value_amount": Decimal(80_000_000), "value_currency": "IDR"}
                )
            if reached >= 4:
                clock.advance(days=11)
            if reached >= 5:
                tenders.open_bids(db_session, officer, pid, {})
                tenders.evaluate_bid(db_session, officer, pid, ns.bid.id, {"status": BidStatus.VALID})
            if reached >= 6:
                ns.award = tenders.award_process(
                    db_session, officer, pid,
                    {"supplier_ids": [parties.supplier.id], "bid_id": ns.bid.id, "value_amount": Decimal(80_000_000),
                     "value_currency": "IDR", "rationale": "Penawaran terendah yang memenuhi syarat"},
                )  # fmt: skip
            if reached >= 7:
                ns.contract = contracts.save_contract(
                    db_session, officer, pid,
                    {"award_id": ns.award.id, "value_amount": Decimal(80_000_000), "period_start": clock.now,
                     "period_end": clock.now + dt.timedelta(days=60)},
                )  # fmt: skip
            if reached >= 8:
                contracts.sign_contract(db_session, officer, pid, ns.contract.id, {})
            if reached >= 9:
                contracts.add_transaction(
                    db_session, officer, pid, ns.contract.id, {"value_amount": Decimal(40_000_000)}
                )
            if reached >= 10:
                contracts.complete_contract(db_session, officer, pid, ns.contract.id, {})
            db_session.commit()
        return ns

    return build


@pytest.fixture
def db_snapshot(db_session: Session) -> Any:
    """Row counts of every workflow table plus each process's version and stage: equal before and after a refusal."""
    from sqlalchemy import func, select  # noqa: PLC0415

    from bos.models import Base  # noqa: PLC0415
    from bos.tenders.models import Process  # noqa: PLC0415

    def snapshot() -> dict[str, Any]:
        db_session.expire_all()
        counts = {
            table.name: db_session.scalar(select(func.count()).select_from(table))
            for table in Base.metadata.sorted_tables
            if table.name not in {"login_attempts", "job_runs", "job_leases"}
        }
        counts["processes_state"] = db_session.execute(
            select(Process.id, Process.version_id, Process.stage).order_by(Process.id)
        ).all()
        return counts

    return snapshot
