"""Declarative base, column types and session handling shared by every domain package."""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from flask import Flask, Response, current_app, g, has_request_context, request
from sqlalchemy import DateTime, MetaData, Numeric, String, Table, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import QueuePool
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


def upsert(session: Session, table: Table) -> Any:
    """``INSERT`` into ``table`` in the session's dialect, whose ``on_conflict_do_update`` and ``excluded`` both
    databases run as the same ``INSERT ... ON CONFLICT``."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    return insert(table)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# Execution option read by SQLite's "begin" listener: "IMMEDIATE" takes the write lock at BEGIN. Set on the engine a
# write session is bound to (``DatabaseState.write_session_factory``); other databases never see it.
SQLITE_BEGIN = "bos_sqlite_begin"

# HTTP methods whose request session takes SQLite's write lock up front; the others read only and keep a deferred BEGIN.
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# After holding the write lock for h seconds, a thread leaves it free for h * SHARE (at most PAUSE_MAX seconds) before
# taking it again. Writers waiting in SQLite's busy handler retry at most every 100 ms, so without such a gap a batch
# that commits per chunk and at once begins its next chunk would keep the lock for its whole run and time them out.
WRITE_LOCK_SHARE = 0.1
WRITE_LOCK_PAUSE_MAX = 0.15

_LOCK_TAKEN = "bos_write_lock_taken"
_last_write_lock = threading.local()  # (held seconds, released at) of this thread's last write transaction


def _leave_write_lock_free() -> None:
    last: tuple[float, float] | None = getattr(_last_write_lock, "value", None)
    if last is None:
        return
    held, released = last
    wait = min(WRITE_LOCK_PAUSE_MAX, held * WRITE_LOCK_SHARE) - (time.monotonic() - released)
    if wait > 0:
        time.sleep(wait)


#: SQLite page cache per connection, in KiB (see configure_sqlite).
SQLITE_CACHE_KIB = 65536
#: WAL pages (4 KiB each) between automatic checkpoints (see configure_sqlite).
SQLITE_CHECKPOINT_PAGES = 16384


def configure_sqlite(engine: Engine) -> None:
    """Foreign keys on, WAL for concurrent readers, and explicit BEGIN so SAVEPOINTs work (pysqlite quirk).

    A deferred BEGIN takes no lock: the first read takes a snapshot, the first write then asks for the write lock. If
    another connection holds it, or has committed since the snapshot, that upgrade fails at once with "database is
    locked" (SQLITE_BUSY, SQLITE_BUSY_SNAPSHOT): ``busy_timeout`` does not apply there, as two readers waiting to
    write would deadlock and a stale snapshot can never write. Transactions that will write therefore begin with
    ``BEGIN IMMEDIATE`` (execution option ``SQLITE_BEGIN``), which waits up to ``busy_timeout`` for the write lock
    before reading anything. Read-only transactions keep the deferred BEGIN: in WAL mode they neither wait for a
    writer nor block one.
    """
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
        # A page cache of 64 MiB instead of SQLite's 2 MiB (negative: KiB). Grown only as pages are read, so a
        # connection that reads little stays small. The red-flag engine inserts millions of rows into indexed tables
        # at a first run; with 2 MiB every insert into an index bigger than that read its pages back from the OS
        # (an organisation contribution cost 17-24 us instead of 11 us at 100,000 processes, bench/README.md).
        cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        # Checkpoint the WAL into the database every 64 MiB of it instead of every 4 MiB (1000 pages): a page changed
        # by several commits in between is copied once, with one fsync. Committing 400,000 contributions in 50
        # transactions took 7.1/6.8 s instead of 9.2 s (bench/README.md); readers are not blocked either way.
        cursor.execute(f"PRAGMA wal_autocheckpoint={SQLITE_CHECKPOINT_PAGES}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        if conn.get_execution_options().get(SQLITE_BEGIN) == "IMMEDIATE":
            _leave_write_lock_free()
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            conn.info[_LOCK_TAKEN] = time.monotonic()
        else:
            conn.exec_driver_sql("BEGIN")

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _end(conn: Any) -> None:
        taken = conn.info.pop(_LOCK_TAKEN, None)
        if taken is not None:
            now = time.monotonic()
            _last_write_lock.value = (now - taken, now)


#: Seconds between the WAL checkpoints of ``background_checkpoints``.
SQLITE_BACKGROUND_CHECKPOINT_SECONDS = 0.5

_log = logging.getLogger(__name__)


@contextmanager
def background_checkpoints(engine: Engine) -> Iterator[None]:
    """While a bulk writer runs on a SQLite file, checkpoint the WAL from a thread and a connection of their own.

    Otherwise the commit that takes the WAL past ``SQLITE_CHECKPOINT_PAGES`` checkpoints it there and then, in the
    writer's thread: it copies the pages into the database file and waits for an fsync. That was 7.2 s of the
    writer's time in a first red-flag run of 100,000 processes (py-spy). A PASSIVE checkpoint from elsewhere copies
    what is committed without blocking the writer or the readers, and SQLite releases the GIL while it works. The
    writer then finds the WAL checkpointed when it begins its next transaction, and starts writing it from the top
    again instead of growing it.

    Other databases, and SQLite in memory (one connection, shared by the pool), are left as they are."""
    url = engine.url
    in_a_file = url.database not in (None, "", ":memory:") and not url.query
    if engine.dialect.name != "sqlite" or not isinstance(engine.pool, QueuePool) or not in_a_file:
        yield
        return
    stop = threading.Event()

    def checkpoint() -> None:
        try:
            connection = sqlite3.connect(url.database)
            try:
                while not stop.wait(SQLITE_BACKGROUND_CHECKPOINT_SECONDS):
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            finally:
                connection.close()
        except sqlite3.Error:
            # Only speed is lost: the writer's own commits still checkpoint.
            _log.warning("background WAL checkpoints stopped", exc_info=True)

    thread = threading.Thread(target=checkpoint, name="sqlite-checkpoints", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


class DatabaseState:
    """The engine and session factories of one app. Tests may bind the factories to one connection instead.

    ``session_factory`` makes sessions that begin as the database does by default; ``write_session_factory`` makes
    sessions whose transactions take SQLite's write lock at BEGIN (see ``configure_sqlite``). On PostgreSQL, or when
    bound to a connection (whose outer transaction has begun already), both are the same factory.
    """

    def __init__(self, engine: Engine, bind: Any = None) -> None:
        self.engine = engine
        self.bind = bind if bind is not None else engine
        self.session_factory = self._factory(self.bind)
        self.write_session_factory = self.session_factory
        if isinstance(self.bind, Engine) and self.bind.dialect.name == "sqlite":
            self.write_session_factory = self._factory(self.bind.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"}))

    @staticmethod
    def _factory(bind: Any) -> sessionmaker[Session]:
        return sessionmaker(
            bind=bind,
            expire_on_commit=False,
            # In tests the bind is a connection inside an outer transaction: a commit only releases a savepoint.
            join_transaction_mode="create_savepoint",
        )


def configure_postgresql(engine: Engine) -> None:
    """Plan every statement with its actual parameters (``plan_cache_mode = force_custom_plan``).

    psycopg 3 prepares a statement on its fifth execution and PostgreSQL may then keep a generic plan. The red-flag
    engine and the importer run the same statements while a table grows from empty to millions of rows: a generic
    plan chosen on the empty table (a sequential scan, with ``IN ($1, ..., $500)`` searched linearly rather than
    hashed) made each ``DELETE ... WHERE ocid IN (...)`` of a 100,000-process first run take 4.5 s. Planning a
    custom plan costs well under a millisecond here; a wrong plan costs seconds.
    """
    if engine.dialect.name != "postgresql":
        return

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        with dbapi_conn.cursor() as cursor:
            cursor.execute("SET plan_cache_mode = force_custom_plan")
        dbapi_conn.commit()  # the SET runs in psycopg's implicit transaction: keep it for the session


def make_engine(url: str) -> Engine:
    kwargs: dict[str, Any] = {}
    if url.startswith("postgresql"):
        kwargs["pool_pre_ping"] = True
    engine = create_engine(url, **kwargs)
    configure_sqlite(engine)
    configure_postgresql(engine)
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
    """The request's session (created on first use), committed by the after-request hook.

    A request with a write method (POST, PUT, PATCH, DELETE) takes SQLite's write lock when it first uses the
    database; a GET reads without locking anyone out."""
    if "bos_session" not in g:
        state: DatabaseState = current_app.extensions["bos_db"]
        g.bos_session = (state.write_session_factory if _request_writes() else state.session_factory)()
    return g.bos_session


def writes_on_get(view: Any) -> Any:
    """Mark a view (function or MethodView class) whose GET writes too, e.g. archiving the PDF it hands out: its
    session takes SQLite's write lock up front like a POST's, instead of failing to upgrade during a job's write."""
    view.bos_writes_on_get = True
    return view


def _request_writes() -> bool:
    if not has_request_context():
        return False
    if request.method in WRITE_METHODS:
        return True
    view = current_app.view_functions.get(request.endpoint or "")
    return bool(
        getattr(view, "bos_writes_on_get", False)
        or getattr(getattr(view, "view_class", None), "bos_writes_on_get", False)
    )


@contextmanager
def new_session(app: Flask, *, write: bool = False) -> Iterator[Session]:
    """A session of its own for a CLI command or job, which commits its own unit of work.

    ``write=True`` for a unit that reads and then writes beside other writers (scheduled jobs): on SQLite each of its
    transactions takes the write lock at BEGIN, waiting for it rather than failing with "database is locked". Keep it
    off for read-only work, which would otherwise block every writer for its whole length."""
    state: DatabaseState = app.extensions["bos_db"]
    session = (state.write_session_factory if write else state.session_factory)()
    try:
        yield session
    finally:
        session.rollback()
        session.close()
