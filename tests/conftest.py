"""Fixtures: a real database per test run (SQLite file or a fresh PostgreSQL database), migrated by Alembic,
and a savepoint per test that is rolled back, so tests never see each other's rows."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

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


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    configured = os.environ.get("BOS_TEST_DATABASE_URL")
    if configured and configured.startswith("postgresql"):
        yield from _postgres_database(configured)
    else:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'bos-test.sqlite3'}"


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
