"""Declarative base, column types and session handling shared by every domain package."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from flask import Flask, Response, current_app, g
from sqlalchemy import DateTime, MetaData, Numeric, String, create_engine, event
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

# Stable constraint names, so Alembic migrations (and SQLite batch mode) can refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware datetime stored in UTC.

    Naive datetimes are refused: a naive value is ambiguous between WIB and UTC, and guessing wrong would shift a
    tender deadline by seven hours. SQLite keeps no offset, so values read back are marked UTC explicitly.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if not isinstance(value, dt.datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime refused: give a timezone-aware value")
        value = value.astimezone(dt.UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


# Amounts in IDR reach 10^13 (a big works contract); 20 digits with 2 decimals covers every currency BOS meets.
Money = Numeric(20, 2, asdecimal=True)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: dict[Any, Any] = {  # noqa: RUF012 - SQLAlchemy reads this class attribute
        dt.datetime: UTCDateTime(),
        Decimal: Money,
        str: String(),
    }


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def configure_sqlite(engine: Engine) -> None:
    """Foreign keys on, WAL for concurrent readers, and explicit BEGIN so SAVEPOINTs work (pysqlite quirk)."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        # Stop pysqlite's own BEGIN handling; SQLAlchemy emits BEGIN below (SQLAlchemy SQLite dialect docs).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN")


class DatabaseState:
    """The engine and session factory of one app. Tests may bind the factory to one connection instead."""

    def __init__(self, engine: Engine, bind: Any = None) -> None:
        self.engine = engine
        self.bind = bind if bind is not None else engine
        self.session_factory = sessionmaker(
            bind=self.bind,
            expire_on_commit=False,
            # In tests the bind is a connection inside an outer transaction: a commit only releases a savepoint.
            join_transaction_mode="create_savepoint",
        )


def make_engine(url: str) -> Engine:
    kwargs: dict[str, Any] = {}
    if url.startswith("postgresql"):
        kwargs["pool_pre_ping"] = True
    engine = create_engine(url, **kwargs)
    configure_sqlite(engine)
    return engine


def init_app(app: Flask) -> None:
    engine = app.config.get("BOS_ENGINE") or make_engine(app.config["DATABASE_URL"])
    app.extensions["bos_db"] = DatabaseState(engine, app.config.get("BOS_DB_BIND"))

    @app.after_request
    def _commit_or_rollback(response: Response) -> Response:
        # Commit once per request, here rather than in teardown: Flask ignores failures in teardown, so a lost
        # write would look like success (ARCHITECTURE.md principle 4).
        session: Session | None = g.pop("bos_session", None)
        if session is not None:
            try:
                if response.status_code < 400:
                    session.commit()
                else:
                    session.rollback()
            finally:
                session.close()
        return response

    @app.teardown_appcontext
    def _close(_exc: BaseException | None) -> None:
        session: Session | None = g.pop("bos_session", None)
        if session is not None:
            session.rollback()
            session.close()


def get_session() -> Session:
    """The request's session (created on first use), committed by the after-request hook."""
    if "bos_session" not in g:
        g.bos_session = current_app.extensions["bos_db"].session_factory()
    return g.bos_session


@contextmanager
def new_session(app: Flask) -> Iterator[Session]:
    """A session of its own for a CLI command or job, which commits its own unit of work."""
    session = app.extensions["bos_db"].session_factory()
    try:
        yield session
    finally:
        session.rollback()
        session.close()
